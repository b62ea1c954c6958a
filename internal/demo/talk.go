package demo

import (
	"fmt"
	"time"

	"github.com/roost-hq/roost/internal/inbox"
)

// What people write to the brand, and how the team answers.
var topics = []struct {
	account, tag string
	say          []string
	answer       string // a saved reply's name, or the text
	template     bool
}{
	{"lumenoutlet", "question", []string{"@lumenoutlet is the X13 deal still on? I only see the full price on the site", "@lumenoutlet do the refurbished laptops come with a charger?"},
		"Hi! Yes: open the deal from our latest post and the price drops at checkout. Everything ships with its charger.", false},
	{"lumenhelp", "shipping", []string{"@lumenhelp ordered on Monday, any idea when it ships?", "@lumenhelp can I change the delivery address on my order?"},
		"It left our warehouse this morning: the tracking link is on its way to your email. Address changes work until it ships, just DM us.", false},
	{"lumenhelp", "codes", []string{"@lumenhelp my code says invalid at checkout 😕", "@lumenhelp I claimed the headset deal but the code didn't apply"},
		"code-help", true},
	{"lumenoutlet", "praise", []string{"Got my refurbished X13 from @lumenoutlet yesterday, honestly looks brand new 🙌", "The 4K monitor from @lumenoutlet is gorgeous. Best €/$ I've spent this year"},
		"thanks", true},
	{"lumenhelp", "", []string{"@lumenhelp the dock arrived damaged, one USB-C port is broken. How do I return it?", "@lumenhelp I'd like a refund for the sleeve, wrong size"},
		"So sorry about that! A prepaid return label is in your email; the replacement or refund goes out as soon as it's scanned.", false},
	{"lumenoutlet", "question", []string{"@lumenoutlet ¿el monitor 4K incluye cable USB-C? 🇲🇽", "@lumenoutlet est-ce que vous livrez au Québec ?"},
		"Yes / oui! The monitor comes with USB-C and HDMI cables, and we ship across the US and Canada.", false},
	{"lumenlabs", "question", []string{"@lumenlabs 日本への発送はありますか？", "@lumenlabs any news on the X13 Pro? 👀"},
		"Not yet outside North America, sorry. And the X13 Pro: very soon, watch this account this week!", false},
	{"lumenoutlet", "question", []string{"@lumenoutlet monitor-monday question: if I order two, does the code work for both? Asking because my partner and I both work from home and the old monitors are dying, and the deal is only on Mondays, and I'd rather not wait another week if only one can use it. Thanks!"},
		"monitor-deal", true},
}

// mention has a person write to a brand account on the sandbox network,
// lets the poller read it into the inbox, and queues the team's answer.
func (s *sim) mention() error {
	t := topics[s.pick(len(topics))]
	p := s.people[s.pick(len(s.people))]
	for range 3 {
		if p.bought {
			break
		}
		p = s.people[s.pick(len(s.people))]
	}
	a := s.accountNamed(t.account)
	if _, err := s.srv.Sandbox.Mention(s.ctx, a.Account, p.handle, t.say[s.pick(len(t.say))], ""); err != nil {
		return fmt.Errorf("demo: mention: %w", err)
	}
	conv, err := s.read(a, p)
	if err != nil {
		return err
	}
	s.res.Conversations++
	at := s.clk.Now()
	if at.After(s.now.Add(-20*time.Hour)) && s.chance(0.6) {
		return nil // still waiting for the team
	}
	s.at(at.Add(s.delay(6*time.Minute, 5*time.Hour)), func() error { return s.answer(a, p, conv, t.tag, t.answer, t.template) })
	return nil
}

// read runs the poller and finds the person's conversation.
func (s *sim) read(a *account, p *person) (inbox.Conversation, error) {
	if _, err := s.poller.RunOnce(s.ctx); err != nil {
		return inbox.Conversation{}, fmt.Errorf("demo: poll: %w", err)
	}
	cs, err := s.srv.Inbox.List(s.ctx, s.ws, "", inbox.Filter{Account: a.ID, Limit: 500})
	if err != nil {
		return inbox.Conversation{}, err
	}
	var found *inbox.Conversation
	for i, c := range cs {
		if c.Person.AccountID == p.handle && (found == nil || c.LastMessageAt.After(found.LastMessageAt)) {
			found = &cs[i]
		}
	}
	if found == nil {
		return inbox.Conversation{}, fmt.Errorf("demo: the mention of @%s by @%s is not in the inbox", a.Handle, p.handle)
	}
	return *found, nil
}

// answer is a member replying from the inbox under their signature, then
// closing the conversation or leaving it pending; sometimes the person
// writes back.
func (s *sim) answer(a *account, p *person, conv inbox.Conversation, tag, answer string, template bool) error {
	c, _, _, err := s.srv.Inbox.Get(s.ctx, s.ws, "", conv.ID)
	if err != nil {
		return err
	}
	member := s.members[a.runner]
	if c.AssigneeID != "" {
		for _, m := range s.members {
			if m.ID == c.AssigneeID {
				member = m
			}
		}
	} else if err := s.srv.Inbox.Assign(s.ctx, s.ws, c.ID, member.ID); err != nil {
		return err
	}
	text := answer
	if template {
		ts, err := s.srv.Inbox.Templates(s.ctx, s.ws)
		if err != nil {
			return err
		}
		for _, t := range ts {
			if t.Name == answer {
				text = t.Body
			}
		}
		if text, err = s.srv.Inbox.Expand(s.ctx, s.ws, c.ID, member.ID, text); err != nil {
			return err
		}
	}
	m, err := s.srv.Inbox.Reply(s.ctx, s.ws, c.ID, inbox.Author{MemberID: member.ID, Signature: member.Signature, Approver: member.Role.Markets()}, text)
	if err != nil {
		return fmt.Errorf("demo: reply: %w", err)
	}
	if tag != "" {
		if err := s.srv.Inbox.SetTags(s.ctx, s.ws, c.ID, append(c.Tags, tag)); err != nil {
			return err
		}
	}
	if tag == "" {
		if _, err := s.srv.Inbox.AddNote(s.ctx, s.ws, c.ID, member.ID, "Return label sent from the store's admin; refund when it's scanned."); err != nil {
			return err
		}
	}
	now := s.clk.Now()
	switch {
	case s.chance(0.25):
		s.at(now.Add(s.delay(time.Hour, 8*time.Hour)), func() error {
			if _, err := s.srv.Sandbox.Mention(s.ctx, a.Account, p.handle, []string{"Thank you, that was quick! 🙏", "Perfect, thanks!", "Got it, thanks a lot"}[s.pick(3)], m.RemoteID); err != nil {
				return err
			}
			if _, err := s.read(a, p); err != nil {
				return err
			}
			s.at(s.clk.Now().Add(s.delay(10*time.Minute, 3*time.Hour)), func() error { return s.srv.Inbox.SetStatus(s.ctx, s.ws, c.ID, inbox.Closed) })
			return nil
		})
	case s.chance(0.7):
		s.at(now.Add(s.delay(time.Minute, time.Hour)), func() error { return s.srv.Inbox.SetStatus(s.ctx, s.ws, c.ID, inbox.Closed) })
	default:
		return s.srv.Inbox.SetStatus(s.ctx, s.ws, c.ID, inbox.Pending)
	}
	return nil
}

package demo

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/posts"
)

type plannedPost struct {
	at       time.Time
	accounts []*account
	offer    *offer
	by       string
	body     string
	dest     string
}

var offerLines = []string{
	"%s. %s\n\nClaim yours: {link}",
	"%s: back in the outlet. %s {link}",
	"%s, while stock lasts. %s\n\n{link}",
	"%s, today only. %s {link}",
}

var newsLines = []struct{ body, dest string }{
	{"New in the outlet this week: refurbished X15s and 4K monitors, all tested and with the full warranty. {link}", "https://shop.lumen-outlet.example/outlet"},
	{"How we refurbish: every laptop gets a new battery, a deep clean and a 40-point check. {link}", "https://shop.lumen-outlet.example/refurbished"},
	{"Tip: cap your laptop's charge at 80% in Lumen Control and the battery lasts years longer.", ""},
	{"Our repair guides are free, with parts lists and videos. {link}", "https://shop.lumen-outlet.example/repair"},
	{"Questions about an order? Mention @lumenhelp and a real person answers, usually within the hour.", ""},
}

// publishDay writes the day's posts as members do in the composer and has
// the publisher send them to the sandbox network, then queues the day's
// orders from the store's other customers.
func (s *sim) publishDay(day time.Time) error {
	var plan []plannedPost
	outlet, labs, help := s.accountNamed("lumenoutlet"), s.accountNamed("lumenlabs"), s.accountNamed("lumenhelp")
	if s.chance(0.85) {
		p := s.plan(outlet, s.within(day.Add(10*time.Hour), 3*time.Hour), []string{"Lena", "Lena", "Marco"}[s.pick(3)], 0.8)
		if p.offer != nil && p.offer.Audience != offers.Followers && s.chance(0.25) {
			p.accounts = append(p.accounts, labs)
		}
		plan = append(plan, p)
	}
	if s.chance(0.35) {
		plan = append(plan, s.plan(labs, s.within(day.Add(15*time.Hour), 3*time.Hour), "Marco", 0.7))
	}
	if s.chance(0.35) {
		plan = append(plan, s.plan(help, s.within(day.Add(12*time.Hour), 4*time.Hour), "Priya", 0.4))
	}
	sort.Slice(plan, func(i, j int) bool { return plan[i].at.Before(plan[j].at) })
	for _, p := range plan {
		if p.at.After(s.now) {
			break
		}
		if err := s.publish(p); err != nil {
			return err
		}
	}
	for range s.n(5, 1) {
		s.at(s.within(day.Add(7*time.Hour), 16*time.Hour), s.storeOrder)
	}
	if day.Sub(s.start) > 7*24*time.Hour && s.chance(max(0.25, min(1, 0.9*s.o.Scale))) {
		s.at(s.within(day.Add(8*time.Hour), 14*time.Hour), s.mention)
	}
	return nil
}

// plan picks what an account posts: one of its live offers (share of the
// time), else news.
func (s *sim) plan(a *account, at time.Time, by string, share float64) plannedPost {
	p := plannedPost{at: at, accounts: []*account{a}, by: by}
	var live []*offer
	for _, o := range s.offers {
		if o.State(at) != offers.Live && o.State(at) != offers.SoldOut || o.Audience == offers.Followers && !contains(o.spec.accounts, a.Handle) {
			continue
		}
		live = append(live, o)
	}
	if len(live) > 0 && s.chance(share) {
		p.offer = live[s.pick(len(live))]
		for _, o := range live {
			// New deals are announced; an account favours the deals for
			// its own followers.
			if at.Sub(o.StartsAt) < 48*time.Hour && s.chance(0.7) || o.Audience == offers.Followers && s.chance(0.4) {
				p.offer = o
			}
		}
		p.body = fmt.Sprintf(offerLines[s.pick(len(offerLines))], p.offer.Title, p.offer.Description)
		if p.offer.Audience == offers.Followers {
			p.body = "For our followers: " + p.body
		}
		return p
	}
	n := newsLines[s.pick(len(newsLines))]
	p.body, p.dest = n.body, n.dest
	return p
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// publish composes the post and runs the publisher once.
func (s *sim) publish(p plannedPost) error {
	s.clk.set(p.at)
	m := s.members[p.by]
	in := posts.Compose{Body: p.body, Destination: p.dest}
	for _, a := range p.accounts {
		in.AccountIDs = append(in.AccountIDs, a.ID)
	}
	if p.offer != nil {
		in.OfferID = p.offer.ID
	}
	post, err := s.srv.Posts.Compose(s.ctx, s.ws, posts.Author{MemberID: m.ID, Signature: m.Signature}, in)
	if err != nil {
		return fmt.Errorf("demo: compose: %w", err)
	}
	if _, err := s.srv.Publisher.RunOnce(s.ctx); err != nil {
		return fmt.Errorf("demo: publish: %w", err)
	}
	post, err = s.srv.Posts.Get(s.ctx, s.ws, post.ID)
	if err != nil {
		return err
	}
	for _, c := range post.Copies {
		if c.Status != posts.Published {
			return fmt.Errorf("demo: copy to %s not published: %s", c.Handle, c.Error)
		}
		s.res.Posts++
		if c.LinkID == "" {
			continue
		}
		l, err := s.srv.Links.Store.Get(s.ctx, s.ws, c.LinkID)
		if err != nil {
			return err
		}
		lc := &liveCopy{code: l.Code, offer: p.offer, at: p.at, strength: 0.6 + 0.8*s.r.Float64()}
		for _, a := range s.accounts {
			if a.ID == c.AccountID {
				lc.account = a
			}
		}
		s.live = append(s.live, lc)
	}
	return nil
}

var instances = []string{"mastodon.social", "hachyderm.io", "fosstodon.org", "mstdn.social", "infosec.exchange", "mas.to", "techhub.social",
	"social.vivaldi.net", "mastodon.online", "universeodon.com", "mastodon.world", "toot.community", "indieweb.social", "mstdn.ca", "aus.social"}

var otherBots = []string{
	"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
	"Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
	"Twitterbot/1.0",
	"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
	"Mozilla/5.0 (compatible; Bluesky Cardyb/1.1; +mailto:support@bsky.app)",
	"TelegramBot (like TwitterBot)",
}

var crawlers = []string{
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"python-requests/2.32.3",
	"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
}

// clicks answers the day's requests for the live posts' links: the link
// previews every server that sees a post fetches, a few crawlers, and
// people, most of them followers of the account, mostly in the hours after
// the post. A person's first click may lead to a claim or an order.
func (s *sim) clicks(day, end time.Time) error {
	end = minTime(end, s.now)
	keep := s.live[:0]
	for _, lc := range s.live {
		age := int(day.Sub(lc.at.Truncate(24*time.Hour)).Hours() / 24)
		if age > 6 {
			continue
		}
		keep = append(keep, lc)
		from := maxTime(day, lc.at)
		if !from.Before(end) {
			continue
		}
		if age == 0 {
			for i := range 3 + s.pick(len(instances)-2) {
				inst := instances[i%len(instances)]
				s.clk.set(lc.at.Add(time.Duration(s.pick(300)) * time.Second))
				ua := fmt.Sprintf("http.rb/5.2.0 (Mastodon/4.3.%d; +https://%s/)", s.pick(4), inst)
				if _, err := s.redirect(lc.code, "GET", ua, fmt.Sprintf("[2001:db8:ffff::%x]", i+1), ""); err != nil {
					return err
				}
			}
			for range 1 + s.pick(3) {
				s.clk.set(lc.at.Add(time.Duration(s.pick(3600)) * time.Second))
				method := "GET"
				if s.chance(0.4) {
					method = "HEAD"
				}
				if _, err := s.redirect(lc.code, method, otherBots[s.pick(len(otherBots))], fmt.Sprintf("[2001:db8:fffe::%x]", s.pick(200)+1), ""); err != nil {
					return err
				}
			}
		}
		if s.chance(0.3) {
			s.clk.set(s.within(from, end.Sub(from)))
			if _, err := s.redirect(lc.code, "GET", crawlers[s.pick(len(crawlers))], fmt.Sprintf("[2001:db8:fffd::%x]", s.pick(50)+1), ""); err != nil {
				return err
			}
		}
		appeal := lc.account.appeal * lc.strength
		if lc.offer != nil {
			appeal *= lc.offer.spec.appeal
		}
		humans := int(math.Round(appeal * s.o.Scale * math.Pow(0.38, float64(age)) * (0.8 + 0.4*s.r.Float64())))
		for range humans {
			var t time.Time
			if age == 0 {
				t = lc.at.Add(time.Duration(s.r.ExpFloat64() * float64(3*time.Hour)))
			} else {
				t = s.within(from, end.Sub(from))
			}
			if !t.Before(end) {
				continue
			}
			p := s.people[s.pick(len(s.people))]
			if len(lc.account.fans) > 0 && s.chance(0.7) {
				p = lc.account.fans[s.pick(len(lc.account.fans))]
			}
			s.clk.set(t)
			cid, err := s.redirect(lc.code, "GET", p.ua, p.ip, p.referrer)
			if err != nil {
				return err
			}
			if s.chance(0.1) { // back again later that day
				s.clk.set(minTime(t.Add(time.Duration(s.pick(7200))*time.Second), end.Add(-time.Second)))
				if _, err := s.redirect(lc.code, "GET", p.ua, p.ip, p.referrer); err != nil {
					return err
				}
			}
			s.afterClick(p, lc, cid, t)
		}
	}
	s.live = keep
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

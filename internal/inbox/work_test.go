package inbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/inbox"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
	"github.com/roost-hq/roost/internal/team"
)

func (e env) inbox(c social.Connector) *inbox.Store {
	hub := &social.Hub{Store: e.social, Connectors: map[string]social.Connector{social.Sandbox: c}}
	return inbox.NewStore(e.db, hub, links.NewStore(e.db), e.offers, "https://go.example")
}

// refusing is a sandbox whose network refuses replies until told not to.
type refusing struct {
	social.Connector
	refuse bool
}

func (r *refusing) Publish(ctx context.Context, c *social.Conn, d social.Draft) (social.Published, error) {
	if r.refuse {
		return social.Published{}, &social.Error{Network: social.Sandbox, Kind: social.Rejected, Status: 422, Reason: "Validation failed: reply not allowed"}
	}
	return r.Connector.Publish(ctx, c, d)
}

func TestWorkingAConversation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := setup(t, db)
		a := e.account(t, "outlet")
		agent, _, err := team.New(db).AddMember(ctx, team.Owner, e.ws.ID, team.NewMember{Email: storetest.Name("a") + "@example.com", Name: "Ada", Role: team.Agent, Signature: "^AD"})
		if err != nil {
			t.Fatal(err)
		}
		net := &refusing{Connector: e.sandbox}
		in := e.inbox(net)
		if _, err := in.SaveRule(ctx, e.ws.ID, inbox.Rule{Words: []string{"Refund", "broken"}, Tag: "support", AssigneeID: agent.ID}); err != nil {
			t.Fatal(err)
		}
		if _, err := in.SaveRule(ctx, e.ws.ID, inbox.Rule{Words: []string{"x"}}); err == nil {
			t.Error("a rule with nothing to do was saved")
		}
		m := e.mention(t, a, "alice", "@outlet my XPS arrived broken 😞", "")
		e.mention(t, a, "bob", "@outlet hi", "")
		runOnce(t, e.poller(db, e.sandbox))

		list, err := in.List(ctx, e.ws.ID, agent.ID, inbox.Filter{Assignee: agent.ID})
		if err != nil || len(list) != 1 || list[0].Person.Handle != "@alice" || !list[0].Unread || strings.Join(list[0].Tags, ",") != "support" {
			t.Fatalf("routed conversation: %+v %v", list, err)
		}
		c := list[0]
		if err := in.MarkRead(ctx, c.ID, agent.ID); err != nil {
			t.Fatal(err)
		}
		if l, _ := in.List(ctx, e.ws.ID, agent.ID, inbox.Filter{Assignee: agent.ID}); l[0].Unread {
			t.Error("still unread after reading")
		}
		if err := in.SetTags(ctx, e.ws.ID, c.ID, []string{"#Support", "vip-maybe", "support"}); err != nil {
			t.Fatal(err)
		}
		if err := in.SetTags(ctx, e.ws.ID, c.ID, []string{"no spaces allowed"}); err == nil {
			t.Error("a bad tag was saved")
		}
		if _, err := in.AddNote(ctx, e.ws.ID, c.ID, agent.ID, "Check the order in Shopify first"); err != nil {
			t.Fatal(err)
		}

		// The network refuses the reply: it is kept, failed, with the reason.
		net.refuse = true
		_, err = in.Reply(ctx, e.ws.ID, c.ID, inbox.Author{MemberID: agent.ID, Signature: "^AD", Approver: true}, "Sorry to hear that! DM us your order number.")
		var ns *inbox.ErrNotSent
		if !errors.As(err, &ns) || !strings.Contains(ns.Reason, "reply not allowed") {
			t.Fatalf("refused reply: %v", err)
		}
		_, msgs, notes, _ := in.Get(ctx, e.ws.ID, agent.ID, c.ID)
		if len(msgs) != 2 || msgs[1].Status != "failed" || len(notes) != 1 {
			t.Fatalf("after the refusal: %+v %+v", msgs, notes)
		}
		net.refuse = false
		sent, err := in.Retry(ctx, e.ws.ID, msgs[1].ID)
		if err != nil || sent.Status != "sent" {
			t.Fatalf("retry: %+v %v", sent, err)
		}
		if _, err := in.Retry(ctx, e.ws.ID, msgs[1].ID); err == nil {
			t.Error("a sent reply was sent again")
		}
		// The sandbox received it in the thread, signed.
		tl, _ := e.sandbox.Timeline(ctx, a, 10)
		if tl[0].Text != "Sorry to hear that! DM us your order number. ^AD" || tl[0].ReplyTo != m.RemoteID {
			t.Fatalf("the network got %+v", tl[0])
		}
		got, _, _, _ := in.Get(ctx, e.ws.ID, agent.ID, c.ID)
		if got.Status != inbox.Pending || got.FirstResponseAt == nil {
			t.Fatalf("after the reply: %+v", got)
		}

		// With approval on, an agent's reply waits for a marketer.
		if err := in.SaveSettings(ctx, e.ws.ID, inbox.Settings{RequireApproval: true}); err != nil {
			t.Fatal(err)
		}
		waiting, err := in.Reply(ctx, e.ws.ID, c.ID, inbox.Author{MemberID: agent.ID, Signature: "^AD"}, "One more thing")
		if err != nil || waiting.Status != "pending_approval" {
			t.Fatalf("agent's reply: %+v %v", waiting, err)
		}
		if ok, err := in.Approve(ctx, e.ws.ID, waiting.ID, agent.ID); err != nil || ok.Status != "sent" {
			t.Fatalf("approve: %+v %v", ok, err)
		}
		if _, err := in.Approve(ctx, e.ws.ID, waiting.ID, agent.ID); err == nil {
			t.Error("a reply was approved twice")
		}
		// Too long for the network once signed: refused before sending.
		if _, err := in.Reply(ctx, e.ws.ID, c.ID, inbox.Author{Approver: true, Signature: "^AD"}, strings.Repeat("a", 499)); err == nil {
			t.Error("a reply over the limit was accepted")
		}

		if err := in.SetStatus(ctx, e.ws.ID, c.ID, inbox.Closed); err != nil {
			t.Fatal(err)
		}
		if l, _ := in.List(ctx, e.ws.ID, "", inbox.Filter{}); len(l) != 1 || l[0].Person.Handle != "@bob" {
			t.Fatalf("open list after closing alice's: %+v", l)
		}
		mt, err := in.Metrics(ctx, e.ws.ID, time.Now())
		if err != nil || len(mt.ByMember) == 0 || mt.OpenUnderHour != 1 {
			t.Fatalf("metrics: %+v %v", mt, err)
		}

		// Saved replies: {name}, and an offer's tracked link.
		o, err := e.offers.Create(ctx, e.ws.ID, "", offers.Input{Slug: "xps-deal", Title: "XPS", LandingURL: "https://shop.example.com/", Currency: "USD", Cap: 5,
			Audience: offers.Public, CodeMode: offers.Unique, Published: true})
		if err != nil {
			t.Fatal(err)
		}
		body, err := in.Expand(ctx, e.ws.ID, c.ID, agent.ID, "Hi {name}, here is the deal: {offer:xps-deal}")
		if err != nil || !strings.HasPrefix(body, "Hi @alice, here is the deal: https://go.example/") {
			t.Fatalf("expand: %q %v", body, err)
		}
		var offerLinks int
		db.R.QueryRow(`SELECT COUNT(*) FROM links WHERE offer_id = $1 AND account_id = $2`, o.ID, a.ID).Scan(&offerLinks)
		if offerLinks != 1 {
			t.Errorf("%d tracked links for the offer", offerLinks)
		}
		if _, err := in.Expand(ctx, e.ws.ID, c.ID, agent.ID, "{offer:nope}"); err == nil {
			t.Error("an unknown offer expanded")
		}
	})
}

func TestCustomers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := setup(t, db)
		a, b := e.account(t, "outlet"), e.account(t, "outlet_eu")
		e.mention(t, a, "alice", "@outlet hello", "")
		e.mention(t, b, "alice2", "@outlet_eu hello from my other account", "")
		runOnce(t, e.poller(db, e.sandbox))
		in := e.inbox(e.sandbox)
		cs, err := in.Customers(ctx, e.ws.ID, 0)
		if err != nil || len(cs) != 2 {
			t.Fatalf("customers: %+v %v", cs, err)
		}
		var alice string
		for _, c := range cs {
			if c.Name == "@alice" {
				alice = c.ID
			}
		}
		if err := in.Link(ctx, e.ws.ID, alice, social.Sandbox, "alice2"); err != nil {
			t.Fatal(err)
		}
		if err := in.Link(ctx, e.ws.ID, alice, social.Sandbox, "nobody"); err == nil {
			t.Error("linked an identity that never wrote")
		}
		c, err := in.Customer(ctx, e.ws.ID, "", alice)
		if err != nil || len(c.Identities) != 2 || len(c.Conversations) != 2 || c.FirstTouch == nil {
			t.Fatalf("alice: %+v %v", c, err)
		}
		if cs, _ := in.Customers(ctx, e.ws.ID, 0); len(cs) != 1 {
			t.Fatalf("after linking: %d customers", len(cs))
		}
	})
}

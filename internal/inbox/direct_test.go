package inbox_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/inbox"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
)

// dmNet is the sandbox with direct messages kept apart from posts, as
// Bluesky's chat and X's are: people write with dm, the cursor is how
// many have been read, and what the account sends is kept in sent.
type dmNet struct {
	social.Connector
	mu       sync.Mutex
	dms      []social.Message
	sent     []social.Draft
	dmCalls  int
	failDM   error // DirectMessages fails with it
	failSend error // SendDirect fails with it
	during   func()
}

var _ social.Messenger = (*dmNet)(nil)

func (n *dmNet) DirectMessages(ctx context.Context, c *social.Conn, cursor string) ([]social.Message, string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.dmCalls++
	if n.failDM != nil {
		return nil, cursor, n.failDM
	}
	if n.during != nil {
		n.during()
	}
	if cursor == "" {
		return nil, strconv.Itoa(len(n.dms)), nil // from now
	}
	i, err := strconv.Atoi(cursor)
	if err != nil || i > len(n.dms) {
		return nil, cursor, &social.Error{Network: social.Sandbox, Kind: social.Rejected, Reason: "bad cursor"}
	}
	return append([]social.Message(nil), n.dms[i:]...), strconv.Itoa(len(n.dms)), nil
}

func (n *dmNet) SendDirect(ctx context.Context, c *social.Conn, d social.Draft) (social.Published, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.failSend != nil {
		return social.Published{}, n.failSend
	}
	n.sent = append(n.sent, d)
	return social.Published{RemoteID: "sent-" + d.Key, URL: "sandbox:dm/" + d.Thread}, nil
}

func (n *dmNet) FindDirect(ctx context.Context, c *social.Conn, d social.Draft) (social.Published, bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, s := range n.sent {
		if s.Key == d.Key {
			return social.Published{RemoteID: "sent-" + d.Key}, true, nil
		}
	}
	return social.Published{}, false, nil
}

// dm is a direct message from a person in their conversation with the
// account; followers < 0 leaves the count out.
func (n *dmNet) dm(from, text string, followers int64) social.Message {
	n.mu.Lock()
	defer n.mu.Unlock()
	m := social.Message{RemoteID: "dm-" + strconv.Itoa(len(n.dms)+1), Thread: "convo-" + from, Direct: true, Text: text,
		Author: social.Identity{Network: social.Sandbox, AccountID: from, Handle: "@" + from}, At: time.Now().Add(time.Duration(len(n.dms)) * time.Millisecond)}
	if followers >= 0 {
		m.Followers = &followers
	}
	n.dms = append(n.dms, m)
	return m
}

func (n *dmNet) sends() []social.Draft {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]social.Draft(nil), n.sent...)
}

func (n *dmNet) calls() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dmCalls
}

func (n *dmNet) set(fn func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	fn()
}

// TestDirectMessages: direct messages land in conversations of their own
// (per person and network conversation), once, with their cursor saved in
// the same transaction; a reply to one is sent as a direct message in
// that conversation, never posted; a refused one is kept with the reason.
func TestDirectMessages(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := setup(t, db)
		a := e.account(t, "outlet")
		net := &dmNet{Connector: e.sandbox}
		p := e.poller(db, net)
		before := net.dm("early", "sent before Roost looked", -1)
		runOnce(t, p) // the direct-message cursor starts from now
		e.mention(t, a, "alice", "@outlet public question", "")
		net.dm("alice", "private: my order 1234 is late 📦", 12)
		net.dm("alice", "any news?", 12)
		net.dm("bob", "hello \x00\xff", -1)
		if n := runOnce(t, p); n != 4 {
			t.Fatalf("stored %d messages, want 4", n)
		}
		if n := runOnce(t, p); n != 0 {
			t.Fatalf("a second poll stored %d", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM messages WHERE remote_id = $1`, before.RemoteID); n != 0 {
			t.Errorf("a direct message from before the first poll was stored")
		}
		var cursor string
		db.R.QueryRow(`SELECT dm_cursor FROM account_pollers WHERE account_id = $1`, a.ID).Scan(&cursor)
		if cursor != "4" {
			t.Errorf("dm cursor %q, want 4", cursor)
		}
		in := e.inbox(net)
		list, err := in.List(ctx, e.ws.ID, "", inbox.Filter{})
		if err != nil || len(list) != 3 {
			t.Fatalf("conversations: %+v %v", list, err)
		}
		var dmConv, pubConv inbox.Conversation
		for _, c := range list {
			switch {
			case c.Person.AccountID == "alice" && c.Direct:
				dmConv = c
			case c.Person.AccountID == "alice":
				pubConv = c
			}
		}
		if dmConv.ID == "" || pubConv.ID == "" || dmConv.Preview != "any news?" {
			t.Fatalf("alice's conversations: %+v", list)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM messages WHERE conversation_id = $1 AND direct`, dmConv.ID); n != 2 {
			t.Errorf("%d direct messages in alice's direct conversation", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM conversations WHERE thread = 'convo-alice' AND person_id = 'alice'`); n != 1 {
			t.Errorf("the network's conversation is not the thread")
		}
		if n := count(t, db, `SELECT COUNT(*) FROM customer_identities WHERE person_id = 'alice' AND followers = 12`); n != 1 {
			t.Errorf("alice's follower count was not kept")
		}

		// The reply is a direct message in alice's conversation, signed;
		// nothing is posted in public.
		owner := inbox.Author{Signature: "^LB", Approver: true}
		sent, err := in.Reply(ctx, e.ws.ID, dmConv.ID, owner, "It ships today, tracking by email.")
		if err != nil || sent.Status != "sent" {
			t.Fatalf("reply: %+v %v", sent, err)
		}
		ss := net.sends()
		if len(ss) != 1 || ss[0].Thread != "convo-alice" || ss[0].To != "alice" || !ss[0].Direct || ss[0].Text != "It ships today, tracking by email. ^LB" {
			t.Fatalf("sent %+v", ss)
		}
		if tl, _ := e.sandbox.Timeline(ctx, a, 10); len(tl) != 1 {
			t.Fatalf("the sandbox timeline has %d posts: a direct reply was posted in public", len(tl))
		}
		// The public conversation is answered in public.
		if _, err := in.Reply(ctx, e.ws.ID, pubConv.ID, owner, "Yes!"); err != nil {
			t.Fatal(err)
		}
		if len(net.sends()) != 1 {
			t.Errorf("a public reply went as a direct message")
		}

		// A refused direct message is kept, failed, with the network's
		// reason; a retry looks for it first, then sends it.
		net.set(func() {
			net.failSend = &social.Error{Network: social.Sandbox, Kind: social.Rejected, Status: 400, Reason: "InvalidConvo: Convo not found"}
		})
		_, err = in.Reply(ctx, e.ws.ID, dmConv.ID, owner, "Are you there?")
		var ns *inbox.ErrNotSent
		if !errors.As(err, &ns) || !strings.Contains(ns.Reason, "Convo not found") {
			t.Fatalf("refused: %v", err)
		}
		_, msgs, _, _ := in.Get(ctx, e.ws.ID, "", dmConv.ID)
		last := msgs[len(msgs)-1]
		if last.Status != "failed" || last.Text != "Are you there? ^LB" || !strings.Contains(last.Error, "Convo not found") {
			t.Fatalf("kept as %+v", last)
		}
		net.set(func() { net.failSend = nil })
		if m, err := in.Retry(ctx, e.ws.ID, last.ID); err != nil || m.Status != "sent" || len(net.sends()) != 2 {
			t.Fatalf("retry: %+v %v (%d sent)", m, err, len(net.sends()))
		}
		// A direct message has the chat's length rule, not the post's.
		c, _, _, _ := in.Get(ctx, e.ws.ID, "", dmConv.ID)
		xa := a
		xa.Network = social.Bluesky
		if r, limit := inbox.ReplyRule(xa, c); limit != 1000 || r.Unit != "graphemes" {
			t.Errorf("Bluesky direct rule %d %s", limit, r.Unit)
		}
		if _, limit := inbox.ReplyRule(xa, pubConv); limit != 300 {
			t.Errorf("Bluesky post rule %d", limit)
		}
	})
}

// TestDirectMessagesRefused: when the network refuses the account its
// direct messages (an app password without that permission), mentions
// are still read, the reason is kept for people to see, the account stays
// healthy, and direct messages are not asked again at every poll; nothing
// sent meanwhile is lost once they are allowed.
func TestDirectMessagesRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := setup(t, db)
		a := e.account(t, "outlet")
		net := &dmNet{Connector: e.sandbox}
		p := e.poller(db, net)
		runOnce(t, p)
		net.set(func() {
			net.failDM = &social.Error{Network: social.Bluesky, Kind: social.Forbidden, Status: 400,
				Reason: "the app password does not allow direct messages: reconnect the account"}
		})
		net.dm("alice", "hello in private", -1)
		e.mention(t, a, "bob", "@outlet hello in public", "")
		if n := runOnce(t, p); n != 1 {
			t.Fatalf("stored %d, want the mention", n)
		}
		calls := net.calls()
		runOnce(t, p)
		if net.calls() != calls {
			t.Errorf("direct messages asked again at once after a refusal")
		}
		rs, err := e.inbox(net).Readings(ctx, e.ws.ID)
		if err != nil || !strings.Contains(rs[a.ID].DirectError, "does not allow direct messages") || rs[a.ID].Error != "" {
			t.Fatalf("readings: %+v %v", rs, err)
		}
		acc, _ := e.social.AccountByID(ctx, a.ID)
		if acc.Health != social.Healthy {
			t.Errorf("the account's health is %s after a refusal of its direct messages", acc.Health)
		}
		// Allowed again (reconnected): the message waiting is read.
		net.set(func() { net.failDM = nil })
		db.W.Exec(`UPDATE account_pollers SET dm_due_at = 0, due_at = 0 WHERE account_id = $1`, a.ID)
		if n := runOnce(t, p); n != 1 {
			t.Fatalf("stored %d after the refusal ended, want 1", n)
		}
		if rs, _ := e.inbox(net).Readings(ctx, e.ws.ID); rs[a.ID].DirectError != "" {
			t.Errorf("the refusal is still shown: %+v", rs[a.ID])
		}
		// A rate limit holds direct messages back until it resets.
		net.set(func() {
			net.failDM = &social.Error{Network: social.Bluesky, Kind: social.RateLimited, Status: 429, RetryAt: time.Now().Add(time.Hour)}
		})
		runOnce(t, p)
		var due int64
		db.R.QueryRow(`SELECT dm_due_at FROM account_pollers WHERE account_id = $1`, a.ID).Scan(&due)
		if until := time.UnixMicro(due); until.Before(time.Now().Add(50 * time.Minute)) {
			t.Errorf("rate limited direct messages due again at %v", until)
		}
	})
}

// TestDirectMessageRestart: a poll whose transaction does not commit (the
// process stops, or its lease is taken) stores nothing and leaves the
// cursor where it was, so the next poll reads the same messages: nothing
// is lost and nothing is stored twice.
func TestDirectMessageRestart(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		a := e.account(t, "outlet")
		net := &dmNet{Connector: e.sandbox}
		p := e.poller(db, net)
		runOnce(t, p)
		for i := range 5 {
			net.dm("alice", "message "+strconv.Itoa(i), -1)
		}
		net.set(func() {
			net.during = func() { db.W.Exec(`UPDATE account_pollers SET lease = 'someone-else' WHERE account_id = $1`, a.ID) }
		})
		if n := runOnce(t, p); n != 0 {
			t.Fatalf("a fenced poll stored %d", n)
		}
		var cursor string
		db.R.QueryRow(`SELECT dm_cursor FROM account_pollers WHERE account_id = $1`, a.ID).Scan(&cursor)
		if cursor != "0" {
			t.Fatalf("a fenced poll moved the dm cursor to %q", cursor)
		}
		net.set(func() { net.during = nil })
		db.W.Exec(`UPDATE account_pollers SET lease = '', lease_until = NULL, due_at = 0 WHERE account_id = $1`, a.ID)
		// A fresh poller, as after a restart.
		if n := runOnce(t, e.poller(db, net)); n != 5 {
			t.Fatalf("after the restart stored %d, want 5", n)
		}
		if n := runOnce(t, e.poller(db, net)); n != 0 {
			t.Fatalf("stored %d twice", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM messages WHERE direct`); n != 5 {
			t.Fatalf("%d direct messages stored", n)
		}
	})
}

// TestClaimTokenByDirectMessage: a claim token in a direct message
// verifies the claim as a mention does.
func TestClaimTokenByDirectMessage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := setup(t, db)
		a := e.account(t, "outlet")
		o, err := e.offers.Create(ctx, e.ws.ID, "", offers.Input{Slug: storetest.Name("xps"), Title: "XPS", LandingURL: "https://shop.example.com/xps",
			Currency: "USD", Cap: 10, Audience: offers.Followers, Accounts: []string{a.ID}, CodeMode: offers.Unique, Published: true})
		if err != nil {
			t.Fatal(err)
		}
		e.sandbox.SetFollowers(ctx, a, []string{"alice"})
		net := &dmNet{Connector: e.sandbox}
		p := e.poller(db, net)
		runOnce(t, p)
		tok, err := e.offers.NewToken(ctx, o, "visitor-1", "")
		if err != nil {
			t.Fatal(err)
		}
		net.dm("alice", "hi, my code please: "+strings.ToLower(tok.Token), -1)
		runOnce(t, p)
		got, _ := e.offers.TokenFor(ctx, o.ID, "visitor-1")
		if got.Status != offers.TokenClaimed || got.Person.AccountID != "alice" {
			t.Fatalf("token after a direct message: %+v", got)
		}

		// Alice orders with her code, then again without it: both count
		// for her, and over the revenue threshold she is a VIP.
		cs, _ := e.offers.ClaimsFor(ctx, o.ID, social.Identity{Network: social.Sandbox, AccountID: "alice"})
		keys, _ := secret.New(secret.Generate())
		os := orders.NewStore(db, keys)
		for i, codes := range [][]string{{cs[0].Code}, nil} {
			rc, err := os.Receive(ctx, e.ws.ID, orders.Event{Source: orders.API, Kind: orders.Placed, Order: &orders.Order{ExternalID: "o-" + strconv.Itoa(i),
				PlacedAt: time.Now(), Currency: "USD", Email: "alice@example.com", Codes: codes, Lines: []orders.Line{{SKU: "XPS", Quantity: 1, UnitPrice: 50000 + int64(i)}}}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Process(ctx, rc.EventID); err != nil {
				t.Fatal(err)
			}
		}
		net.dm("bob", "hi", -1)
		runOnce(t, p)
		in := e.inbox(net)
		rows, err := in.Customers(ctx, e.ws.ID, 0)
		if err != nil || len(rows) != 2 {
			t.Fatalf("customers: %+v %v", rows, err)
		}
		var alice inbox.CustomerRow
		for _, r := range rows {
			if r.Name == "@alice" {
				alice = r
			}
		}
		if alice.Net != 100001 || len(alice.Identities) != 1 || alice.Conversations != 1 {
			t.Fatalf("alice in the list: %+v", alice)
		}
		if c, err := in.Customer(ctx, e.ws.ID, "", alice.ID); err != nil || c.Deal+c.Halo != alice.Net || len(c.Orders) != 2 {
			t.Fatalf("alice's page: %+v %v", c, err)
		}
		if err := in.SaveSettings(ctx, e.ws.ID, inbox.Settings{VIPRevenue: 100001}); err != nil {
			t.Fatal(err)
		}
		l, _ := in.List(ctx, e.ws.ID, "", inbox.Filter{})
		if len(l) != 2 || l[0].Person.AccountID != "alice" || !l[0].VIP || l[1].VIP {
			t.Fatalf("revenue VIPs: %+v", l)
		}
		in.SaveSettings(ctx, e.ws.ID, inbox.Settings{VIPRevenue: 100002})
		if l, _ := in.List(ctx, e.ws.ID, "", inbox.Filter{}); l[0].VIP || l[0].Person.AccountID != "bob" {
			t.Fatalf("under the revenue threshold: %+v", l)
		}
	})
}

// TestVIPs: customers over the follower threshold (as each network gave
// the count with their messages) or the revenue threshold come first in
// the whole list, not only within a page.
func TestVIPs(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := setup(t, db)
		e.account(t, "outlet")
		net := &dmNet{Connector: e.sandbox}
		p := e.poller(db, net)
		runOnce(t, p)
		net.dm("famous", "hello", 250000)
		for i := range 30 {
			net.dm("fan"+strconv.Itoa(i), "hi", int64(i))
		}
		runOnce(t, p)
		in := e.inbox(net)
		l, err := in.List(ctx, e.ws.ID, "", inbox.Filter{Limit: 10})
		if err != nil || len(l) != 10 || l[0].Person.AccountID != "fan29" || l[0].VIP {
			t.Fatalf("without a threshold: %+v %v", l, err)
		}
		if err := in.SaveSettings(ctx, e.ws.ID, inbox.Settings{VIPFollowers: 10000}); err != nil {
			t.Fatal(err)
		}
		l, _ = in.List(ctx, e.ws.ID, "", inbox.Filter{Limit: 10})
		if len(l) != 10 || l[0].Person.AccountID != "famous" || !l[0].VIP || l[1].VIP {
			t.Fatalf("with a follower threshold, first: %+v", l[0])
		}
		// A later count below the threshold (they lost followers) ends it.
		net.dm("famous", "again", 9000)
		runOnce(t, p)
		if l, _ = in.List(ctx, e.ws.ID, "", inbox.Filter{Limit: 10}); l[0].VIP {
			t.Errorf("still a VIP with 9000 followers")
		}
		// A message without a count keeps the last one known.
		net.dm("fan3", "no count this time", -1)
		runOnce(t, p)
		if n := count(t, db, `SELECT COUNT(*) FROM customer_identities WHERE person_id = 'fan3' AND followers = 3`); n != 1 {
			t.Errorf("a message without a count erased the known one")
		}
		if err := in.SaveSettings(ctx, e.ws.ID, inbox.Settings{VIPFollowers: -1}); err == nil {
			t.Error("a negative threshold was saved")
		}
		if err := in.SaveSettings(ctx, e.ws.ID, inbox.Settings{VIPFollowers: 25}); err != nil {
			t.Fatal(err)
		}
		l, _ = in.List(ctx, e.ws.ID, "", inbox.Filter{Limit: 100})
		vips := 0
		for i, c := range l {
			if c.VIP {
				vips++
				if i >= 6 {
					t.Errorf("VIP %s at %d", c.Person.AccountID, i)
				}
			}
		}
		if vips != 6 { // famous, fan25 … fan29
			t.Errorf("%d VIPs over 25 followers, want 6", vips)
		}
		c, err := in.Customer(ctx, e.ws.ID, "", l[0].Person.CustomerID)
		if err != nil || len(c.Conversations) != 1 || !c.Conversations[0].VIP {
			t.Fatalf("customer of a VIP: %+v %v", c, err)
		}
	})
}

// TestVeryLongThread: a thread of thousands of messages is stored whole,
// in order, previewed by its latest, and answered in reply to it.
func TestVeryLongThread(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := setup(t, db)
		a := e.account(t, "outlet")
		const n = 3000
		var long []social.Message
		base := time.Now().Add(-time.Hour)
		for i := range n {
			long = append(long, social.Message{RemoteID: "long-" + strconv.Itoa(i), Thread: "root-1", Author: social.Identity{AccountID: "alice", Handle: "@alice"},
				Text: "part " + strconv.Itoa(i) + " " + strings.Repeat("ü", i%50), At: base.Add(time.Duration(i) * time.Millisecond)})
		}
		f := &flaky{Connector: e.sandbox, add: long}
		if got := runOnce(t, e.poller(db, f)); got != n {
			t.Fatalf("stored %d, want %d", got, n)
		}
		in := e.inbox(e.sandbox)
		l, err := in.List(ctx, e.ws.ID, "", inbox.Filter{})
		if err != nil || len(l) != 1 || !strings.HasPrefix(l[0].Preview, "part 2999 ") {
			t.Fatalf("list: %+v %v", l, err)
		}
		_, msgs, _, err := in.Get(ctx, e.ws.ID, "", l[0].ID)
		if err != nil || len(msgs) != n || msgs[0].RemoteID != "long-0" || msgs[n-1].RemoteID != "long-2999" {
			t.Fatalf("thread of %d (%v)", len(msgs), err)
		}
		if _, err := in.Reply(ctx, e.ws.ID, l[0].ID, inbox.Author{Approver: true}, "Thanks for all of it"); err != nil {
			t.Fatal(err)
		}
		tl, _ := e.sandbox.Timeline(ctx, a, 1)
		if len(tl) != 1 || tl[0].ReplyTo != "long-2999" {
			t.Fatalf("the reply answers %+v", tl)
		}
	})
}

package inbox_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/inbox"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/bluesky"
	"github.com/roost-hq/roost/internal/social/bluesky/blueskytest"
	"github.com/roost-hq/roost/internal/social/mastodon"
	"github.com/roost-hq/roost/internal/social/mastodon/mastodontest"
	"github.com/roost-hq/roost/internal/social/x"
	"github.com/roost-hq/roost/internal/social/x/xtest"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
)

// mastodonEnv is a workspace with a Mastodon account on the fake
// instance, its poller and its inbox.
type mastodonEnv struct {
	env
	f  *mastodontest.Server
	a  social.Account
	p  *inbox.Poller
	in *inbox.Store
}

func newMastodon(t *testing.T, db *store.DB) mastodonEnv {
	t.Helper()
	e := setup(t, db)
	f := mastodontest.New(t)
	keys, _ := secret.New(secret.Generate())
	ss := social.NewStore(db, keys)
	a, err := ss.Connect(context.Background(), e.ws.ID, social.Connection{Network: social.Mastodon, Instance: f.URL,
		Profile: social.Profile{RemoteID: "14715", Handle: "outlet"}, Creds: []byte(`{"access_token":"tok-1"}`)})
	if err != nil {
		t.Fatal(err)
	}
	hub := &social.Hub{Store: ss, Connectors: map[string]social.Connector{social.Mastodon: &mastodon.Connector{HTTP: f.Client()}}}
	p := &inbox.Poller{DB: db, Hub: hub, Offers: offers.NewStore(db), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Every: time.Millisecond}
	return mastodonEnv{env: e, f: f, a: a, p: p, in: inbox.NewStore(db, hub, links.NewStore(db), e.offers, "https://go.example")}
}

// TestMastodonDirectMessages: a Mastodon direct message (a mention of
// "direct" visibility) is answered with a direct status that names the
// person, or Mastodon would deliver it to nobody; their follower count
// is kept.
func TestMastodonDirectMessages(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		m := newMastodon(t, db)
		runOnce(t, m.p) // the cursor starts from now
		m.f.Add(t, mastodontest.Incoming{From: "ann@other.example", Text: "@outlet my order 1234?", Direct: true, Followers: 4321})
		if n := runOnce(t, m.p); n != 1 {
			t.Fatalf("stored %d", n)
		}
		l, err := m.in.List(ctx, m.ws.ID, "", inbox.Filter{})
		if err != nil || len(l) != 1 || !l[0].Direct {
			t.Fatalf("list: %+v %v", l, err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM customer_identities WHERE person_id = 'ann@other.example' AND followers = 4321`); n != 1 {
			t.Error("the follower count Mastodon gave was not kept")
		}
		if _, err := m.in.Reply(ctx, m.ws.ID, l[0].ID, inbox.Author{Signature: "^LB", Approver: true}, "It shipped today."); err != nil {
			t.Fatal(err)
		}
		m.f.Lock()
		st := m.f.Statuses[len(m.f.Statuses)-1]
		m.f.Unlock()
		if st.Visibility != "direct" || !strings.Contains(st.Content, "@ann@other.example It shipped today. ^LB") {
			t.Fatalf("the instance got %+v", st)
		}
		// A reply that names the person already is left as written.
		if _, err := m.in.Reply(ctx, m.ws.ID, l[0].ID, inbox.Author{Approver: true}, "Thanks @ann@other.example!"); err != nil {
			t.Fatal(err)
		}
		m.f.Lock()
		st = m.f.Statuses[len(m.f.Statuses)-1]
		m.f.Unlock()
		if strings.Count(st.Content, "@ann@other.example") != 1 {
			t.Fatalf("named twice: %+v", st)
		}
	})
}

// TestReplyToDeletedPost: the person deletes their post before the team
// answers; the network refuses the reply (Mastodon: 404). The reply is
// kept, failed, with the network's reason for the member to see, and is
// not lost.
func TestReplyToDeletedPost(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		m := newMastodon(t, db)
		runOnce(t, m.p)
		id := m.f.AddMention(t, "zsc@mastodon.example", "@outlet is the deal on?")
		runOnce(t, m.p)
		l, _ := m.in.List(ctx, m.ws.ID, "", inbox.Filter{})
		m.f.Delete(id)
		_, err := m.in.Reply(ctx, m.ws.ID, l[0].ID, inbox.Author{Signature: "^LB", Approver: true}, "Yes, until Friday!")
		var ns *inbox.ErrNotSent
		if !errors.As(err, &ns) || !strings.Contains(ns.Reason, "does not appear to exist") {
			t.Fatalf("reply to a deleted post: %v", err)
		}
		_, msgs, _, _ := m.in.Get(ctx, m.ws.ID, "", l[0].ID)
		last := msgs[len(msgs)-1]
		if len(msgs) != 2 || last.Status != "failed" || !strings.HasSuffix(last.Text, "Yes, until Friday! ^LB") || !strings.Contains(last.Error, "does not appear to exist") {
			t.Fatalf("the reply is kept as %+v", last)
		}
		// Tried again, it is refused again and still kept.
		if _, err := m.in.Retry(ctx, m.ws.ID, last.ID); !errors.As(err, &ns) {
			t.Fatalf("retry: %v", err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM messages WHERE id = $1 AND status = 'failed'`, last.ID); n != 1 {
			t.Fatal("the reply was lost")
		}
	})
}

// TestMastodonDownForAnHour: the instance answers nothing useful for an
// hour while people keep writing; once it is back, the poller catches up
// over several polls with every message once.
func TestMastodonDownForAnHour(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		m := newMastodon(t, db)
		runOnce(t, m.p)
		m.f.Lock()
		m.f.Garbage = true
		m.f.Unlock()
		const n = 230 // more than one poll reads (5 pages of 40)
		for i := range n {
			m.f.AddMention(t, "p"+strconv.Itoa(i%7)+"@mastodon.example", "@outlet message "+strconv.Itoa(i))
			if i%60 == 0 {
				// The poller keeps trying, backing off; an hour is
				// simulated by making it due again.
				if got := runOnce(t, m.p); got != 0 {
					t.Fatalf("stored %d while down", got)
				}
				db.W.Exec(`UPDATE account_pollers SET due_at = 0 WHERE account_id = $1`, m.a.ID)
			}
		}
		var failures int
		db.R.QueryRow(`SELECT failures FROM account_pollers WHERE account_id = $1`, m.a.ID).Scan(&failures)
		if failures < 3 {
			t.Fatalf("%d failures recorded", failures)
		}
		m.f.Lock()
		m.f.Garbage = false
		m.f.Unlock()
		db.W.Exec(`UPDATE account_pollers SET due_at = 0 WHERE account_id = $1`, m.a.ID)
		stored, polls := 0, 0
		for {
			got := runOnce(t, m.p)
			if got == 0 {
				break
			}
			stored += got
			polls++
		}
		if stored != n || polls < 2 {
			t.Fatalf("caught up %d messages in %d polls, want %d in several", stored, polls, n)
		}
		if c := count(t, db, `SELECT COUNT(DISTINCT remote_id) FROM messages WHERE account_id = $1`, m.a.ID); c != n {
			t.Fatalf("%d distinct messages", c)
		}
	})
}

// TestDirectMessagesOnBlueskyAndX: through the real connectors and the
// fakes, a direct message arrives, is stored in its conversation with the
// sender's follower count, and the reply lands in that conversation; a
// Bluesky app password without access to direct messages is shown as
// such, and mentions go on.
func TestDirectMessagesOnBlueskyAndX(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := setup(t, db)
		keys, _ := secret.New(secret.Generate())
		ss := social.NewStore(db, keys)

		bf := blueskytest.New(t)
		bf.AppPasswordDMs = true
		bc := &bluesky.Connector{}
		creds, prof, err := bc.Login(ctx, bf.URL, blueskytest.Handle, blueskytest.AppPassword)
		if err != nil {
			t.Fatal(err)
		}
		ba, err := ss.Connect(ctx, e.ws.ID, social.Connection{Network: social.Bluesky, Instance: bf.URL, Profile: prof, Creds: creds})
		if err != nil {
			t.Fatal(err)
		}
		xf := xtest.New(t)
		xc := &x.Connector{APIBase: xf.URL, ClientID: xf.ClientID, ClientSecret: xf.ClientSecret}
		xa, err := ss.Connect(ctx, e.ws.ID, social.Connection{Network: social.X, Profile: social.Profile{RemoteID: xf.Brand.ID, Handle: xf.Brand.Username},
			Creds: xf.Creds(time.Now().Add(time.Hour))})
		if err != nil {
			t.Fatal(err)
		}
		hub := &social.Hub{Store: ss, Connectors: map[string]social.Connector{social.Bluesky: bc, social.X: xc}}
		p := &inbox.Poller{DB: db, Hub: hub, Offers: offers.NewStore(db), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Every: time.Millisecond}
		in := inbox.NewStore(db, hub, links.NewStore(db), e.offers, "https://go.example")
		runOnce(t, p) // both cursors start from now

		bf.SetFollowers("zsc.bsky.social", 48213)
		convo := bf.AddDM(t, "zsc.bsky.social", "is the deal still on?")
		xf.AddDM(t, "ann", "do you ship to Zürich?")
		xf.Lock()
		xf.FollowerCounts["17001"] = 777
		xf.Unlock()
		if n := runOnce(t, p); n != 2 {
			t.Fatalf("stored %d direct messages, want 2", n)
		}
		l, err := in.List(ctx, e.ws.ID, "", inbox.Filter{})
		if err != nil || len(l) != 2 || !l[0].Direct || !l[1].Direct {
			t.Fatalf("list: %+v %v", l, err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM customer_identities WHERE followers IN (48213, 777)`); n != 2 {
			t.Errorf("%d follower counts kept, want 2", n)
		}
		for _, c := range l {
			if _, err := in.Reply(ctx, e.ws.ID, c.ID, inbox.Author{Signature: "^LB", Approver: true}, "Yes, until Friday."); err != nil {
				t.Fatalf("reply on %s: %v", c.Network, err)
			}
		}
		cm := bf.ChatMessages(convo)
		if last := cm[len(cm)-1]; last.Sender != blueskytest.DID || last.Text != "Yes, until Friday. ^LB" {
			t.Errorf("Bluesky chat got %+v", last)
		}
		dms := xf.DMs()
		if last := dms[len(dms)-1]; last.SenderID != xf.Brand.ID || last.Text != "Yes, until Friday. ^LB" {
			t.Errorf("X got %+v", last)
		}
		if len(xf.Tweets) != 0 {
			t.Errorf("a direct reply was posted on X: %+v", xf.Tweets)
		}

		// The session is made again with an app password without access
		// to direct messages: shown on the account, which stays healthy,
		// and mentions still arrive.
		bf.Lock()
		bf.AppPasswordDMs = false
		bf.Unlock()
		bf.ExpireRefresh() // Roost signs in again with the app password
		bf.AddMention(t, "mika.bsky.social", "@outlet.test hello")
		db.W.Exec(`UPDATE account_pollers SET due_at = 0`)
		if n := runOnce(t, p); n != 1 {
			t.Fatalf("stored %d, want the mention", n)
		}
		rs, _ := in.Readings(ctx, e.ws.ID)
		if !strings.Contains(rs[ba.ID].DirectError, "Allow access to your direct messages") || rs[xa.ID].DirectError != "" {
			t.Fatalf("readings: %+v", rs)
		}
		if a, _ := ss.AccountByID(ctx, ba.ID); a.Health != social.Healthy {
			t.Fatalf("the Bluesky account is %s", a.Health)
		}
	})
}

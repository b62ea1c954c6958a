package inbox_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/inbox"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/mastodon"
	"github.com/roost-hq/roost/internal/social/mastodon/mastodontest"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
	"github.com/roost-hq/roost/internal/team"
)

type env struct {
	db      *store.DB
	ws      team.Workspace
	social  *social.Store
	sandbox *social.SandboxNetwork
	offers  *offers.Store
}

func setup(t *testing.T, db *store.DB) env {
	t.Helper()
	w, _, err := team.New(db).CreateOwner(context.Background(), team.NewOwner{Workspace: storetest.Name("ws"), Email: storetest.Name("o") + "@example.com",
		Name: "O", Password: "long enough password"})
	if err != nil {
		t.Fatal(err)
	}
	return env{db: db, ws: w, social: social.NewStore(db, nil), sandbox: social.NewSandbox(db), offers: offers.NewStore(db)}
}

func (e env) account(t *testing.T, handle string) social.Account {
	t.Helper()
	a, err := e.social.CreateSandboxAccount(context.Background(), e.ws.ID, "", handle, "")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// poller polls through c (the sandbox, or a wrapper around it) with no
// waiting between polls.
func (e env) poller(db *store.DB, c social.Connector) *inbox.Poller {
	return &inbox.Poller{DB: db, Hub: &social.Hub{Store: social.NewStore(db, nil), Connectors: map[string]social.Connector{social.Sandbox: c}},
		Offers: offers.NewStore(db), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Every: time.Millisecond, SandboxEvery: time.Millisecond}
}

func (e env) mention(t *testing.T, a social.Account, from, text, replyTo string) social.Message {
	t.Helper()
	m, err := e.sandbox.Mention(context.Background(), a, from, text, replyTo)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func runOnce(t *testing.T, p *inbox.Poller) int {
	t.Helper()
	time.Sleep(2 * time.Millisecond) // past the poll interval
	n, err := p.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func count(t *testing.T, db *store.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.R.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPollStoresEachMessageOnceInItsConversation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		a := e.account(t, "outlet")
		// A network can send anything: bytes that are not UTF-8, NULs.
		f := &flaky{Connector: e.sandbox, add: []social.Message{{RemoteID: "odd-1", Author: social.Identity{AccountID: "bob", Handle: "@bob"},
			Text: "@outlet 👍🏽 ça marche? \x00\xff"}, {RemoteID: "long-1", Author: social.Identity{AccountID: "carol"}, Text: strings.Repeat("ü", 30000)}}}
		p := e.poller(db, f)
		first := e.mention(t, a, "alice", "@outlet is the XPS deal still on?", "")
		e.mention(t, a, "alice", "@outlet hello again", first.RemoteID)
		if n := runOnce(t, p); n != 4 {
			t.Fatalf("stored %d messages, want 4", n)
		}
		if n := runOnce(t, p); n != 0 {
			t.Fatalf("second poll stored %d messages, want 0", n)
		}
		// Alice's reply joins her first message's conversation.
		if n := count(t, db, `SELECT COUNT(*) FROM conversations WHERE account_id = $1 AND person_id = 'alice'`, a.ID); n != 1 {
			t.Errorf("alice has %d conversations, want 1", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM conversations WHERE account_id = $1`, a.ID); n != 3 {
			t.Errorf("%d conversations, want 3", n)
		}
		var text string
		db.R.QueryRow(`SELECT text FROM messages WHERE author_id = 'bob'`).Scan(&text)
		if text != "@outlet 👍🏽 ça marche? \uFFFD" {
			t.Errorf("bob's text stored as %q", text)
		}
		db.R.QueryRow(`SELECT text FROM messages WHERE author_id = 'carol'`).Scan(&text)
		if n := len([]rune(text)); n != 20000 {
			t.Errorf("carol's long text kept %d runes, want 20000", n)
		}
		// A new message reopens a closed conversation.
		db.W.Exec(`UPDATE conversations SET status = 'closed' WHERE person_id = 'alice'`)
		e.mention(t, a, "alice", "@outlet one more thing", first.RemoteID)
		if n := runOnce(t, p); n != 1 {
			t.Fatalf("stored %d, want 1", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM conversations WHERE person_id = 'alice' AND status = 'open'`); n != 1 {
			t.Errorf("alice's conversation was not reopened")
		}
	})
}

// flaky wraps the sandbox: it can fail, block or meddle during Mentions.
type flaky struct {
	social.Connector
	calls   atomic.Int32
	fail    atomic.Int32 // fail this many more calls
	during  func()       // runs inside Mentions
	release chan struct{}
	add     []social.Message // sent once, with the next answer
}

func (f *flaky) Mentions(ctx context.Context, c *social.Conn, cursor string) ([]social.Message, string, error) {
	f.calls.Add(1)
	if f.fail.Add(-1) >= 0 {
		return nil, cursor, &social.Error{Network: social.Sandbox, Kind: social.Unavailable, Reason: "down for maintenance"}
	}
	if f.during != nil {
		f.during()
	}
	if f.release != nil {
		<-f.release
	}
	ms, next, err := f.Connector.Mentions(ctx, c, cursor)
	ms, f.add = append(ms, f.add...), nil
	return ms, next, err
}

func TestNetworkDownThenCatchesUp(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		a := e.account(t, "outlet")
		f := &flaky{Connector: e.sandbox}
		f.fail.Store(3)
		p := e.poller(db, f)
		for i := range 5 {
			e.mention(t, a, "alice", "@outlet message "+string(rune('a'+i)), "")
		}
		for range 3 {
			if n := runOnce(t, p); n != 0 {
				t.Fatalf("stored %d while the network is down", n)
			}
		}
		var failures int
		var reason string
		db.R.QueryRow(`SELECT failures, error FROM account_pollers WHERE account_id = $1`, a.ID).Scan(&failures, &reason)
		if failures != 3 || !strings.Contains(reason, "down for maintenance") {
			t.Errorf("poller kept failures=%d error=%q", failures, reason)
		}
		// Back up: the backoff (8 ms here) passes, and nothing is missing.
		time.Sleep(20 * time.Millisecond)
		if n := runOnce(t, p); n != 5 {
			t.Fatalf("caught up %d messages, want 5", n)
		}
		if n := count(t, db, `SELECT failures FROM account_pollers WHERE account_id = $1`, a.ID); n != 0 {
			t.Errorf("failures not reset: %d", n)
		}
	})
}

func TestOnePollerPerAccountAcrossProcesses(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			u := storetest.URL(t, d)
			db1, db2 := storetest.Open(t, u), storetest.Open(t, u)
			e := setup(t, db1)
			a := e.account(t, "outlet")
			e.mention(t, a, "alice", "@outlet hi", "")
			f := &flaky{Connector: social.NewSandbox(db1), release: make(chan struct{})}
			p1, p2 := e.poller(db1, f), e.poller(db2, f)
			time.Sleep(2 * time.Millisecond)
			var wg sync.WaitGroup
			var stored atomic.Int32
			for _, p := range []*inbox.Poller{p1, p2} {
				wg.Go(func() {
					n, err := p.RunOnce(context.Background())
					if err != nil {
						t.Error(err)
					}
					stored.Add(int32(n))
				})
			}
			// Let both processes look for due accounts, then let the one
			// poll that leased the account finish.
			deadline := time.Now().Add(5 * time.Second)
			for f.calls.Load() == 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond)
			close(f.release)
			wg.Wait()
			if c := f.calls.Load(); c != 1 {
				t.Errorf("the account was polled %d times at once, want 1", c)
			}
			if n := stored.Load(); n != 1 {
				t.Errorf("stored %d messages, want 1", n)
			}
		})
	}
}

func TestPollThatLostItsLeaseStoresNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		a := e.account(t, "outlet")
		e.mention(t, a, "alice", "@outlet hi", "")
		f := &flaky{Connector: e.sandbox}
		// While this poll waits on the network, its lease runs out and
		// another process takes the account over.
		f.during = func() { db.W.Exec(`UPDATE account_pollers SET lease = 'someone-else' WHERE account_id = $1`, a.ID) }
		p := e.poller(db, f)
		if n := runOnce(t, p); n != 0 {
			t.Fatalf("a poll without its lease stored %d messages", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM messages`); n != 0 {
			t.Fatalf("%d messages stored by a fenced poll", n)
		}
		var cursor string
		db.R.QueryRow(`SELECT cursor FROM account_pollers WHERE account_id = $1`, a.ID).Scan(&cursor)
		if cursor != "" {
			t.Errorf("a fenced poll moved the cursor to %q", cursor)
		}
	})
}

func TestClaimTokenByMention(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := setup(t, db)
		a, other := e.account(t, "outlet"), e.account(t, "outlet_eu")
		o, err := e.offers.Create(ctx, e.ws.ID, "", offers.Input{Slug: storetest.Name("xps"), Title: "XPS", LandingURL: "https://shop.example.com/xps",
			Currency: "USD", Cap: 10, Audience: offers.Followers, Accounts: []string{a.ID}, CodeMode: offers.Unique, Published: true})
		if err != nil {
			t.Fatal(err)
		}
		p := e.poller(db, e.sandbox)

		tok, err := e.offers.NewToken(ctx, o, "visitor-1", "")
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := e.offers.NewToken(ctx, o, "visitor-1", ""); again.Token != tok.Token {
			t.Errorf("asking twice minted a second token: %s then %s", tok.Token, again.Token)
		}
		// Not a follower yet: refused with the reason.
		e.mention(t, a, "alice", "@outlet claim "+tok.Token, "")
		runOnce(t, p)
		got, _ := e.offers.TokenFor(ctx, o.ID, "visitor-1")
		if got.Status != offers.TokenRefused || !strings.Contains(got.Reason, "does not follow") || got.Person.AccountID != "alice" {
			t.Fatalf("token after a non-follower's mention: %+v", got)
		}
		// Following now, with a new token written in lower case without
		// its dash: claimed for alice.
		if _, err := e.sandbox.SetFollowers(ctx, a, []string{"alice"}); err != nil {
			t.Fatal(err)
		}
		tok, _ = e.offers.NewToken(ctx, o, "visitor-1", "")
		if tok.Status != offers.TokenWaiting {
			t.Fatalf("new token is %s", tok.Status)
		}
		e.mention(t, a, "alice", "@outlet code "+strings.ToLower(strings.ReplaceAll(tok.Token, "-", ""))+" please!", "")
		runOnce(t, p)
		got, _ = e.offers.TokenFor(ctx, o.ID, "visitor-1")
		if got.Status != offers.TokenClaimed || got.ClaimID == "" {
			t.Fatalf("token after a follower's mention: %+v", got)
		}
		cs, _ := e.offers.ClaimsFor(ctx, o.ID, social.Identity{Network: social.Sandbox, AccountID: "alice"})
		if len(cs) != 1 || cs[0].ID != got.ClaimID {
			t.Fatalf("alice's claims: %+v", cs)
		}
		// A token sent to an account the offer is not for, by a follower:
		// refused.
		e.sandbox.SetFollowers(ctx, other, []string{"bob"})
		tb, _ := e.offers.NewToken(ctx, o, "visitor-2", "")
		e.mention(t, other, "bob", "@outlet_eu "+tb.Token, "")
		runOnce(t, p)
		if got, _ := e.offers.TokenFor(ctx, o.ID, "visitor-2"); got.Status != offers.TokenRefused {
			t.Errorf("token sent to another account: %+v", got)
		}
		// An expired token is not taken; neither is a made-up one.
		tc, _ := e.offers.NewToken(ctx, o, "visitor-3", "")
		db.W.Exec(`UPDATE claim_tokens SET expires_at = 0 WHERE offer_id = $1 AND status = 'waiting'`, o.ID)
		e.mention(t, a, "alice", "@outlet "+tc.Token+" and 23456-789AB", "")
		runOnce(t, p)
		if got, _ := e.offers.TokenFor(ctx, o.ID, "visitor-3"); got.Status != offers.TokenWaiting || !got.Expired(time.Now()) {
			t.Errorf("expired token: %+v", got)
		}
	})
}

func TestTokensOnlyForFollowersOffers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		o, err := e.offers.Create(context.Background(), e.ws.ID, "", offers.Input{Slug: storetest.Name("pub"), Title: "Pub", LandingURL: "https://shop.example.com/",
			Currency: "USD", Cap: 10, Audience: offers.Public, CodeMode: offers.Shared, SharedCode: "SAVE10", Published: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.offers.NewToken(context.Background(), o, "v", ""); err != offers.ErrNoTokens {
			t.Errorf("token for a public offer: %v", err)
		}
	})
}

func TestFindTokens(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]string{
		"@outlet ABCDE-FGHJK":           "ABCDEFGHJK",
		"abcde-fghjk":                   "ABCDEFGHJK",
		"x ABCDEFGHJK.":                 "ABCDEFGHJK",
		"ABCDE-FGHJKM":                  "", // eleven symbols: not a token
		"ABCDE-FGHI0":                   "", // look-alikes are not in the alphabet
		"https://x.example/ABCDEFGHJKZ": "",
		"🎉ABCDE-FGHJK🎉":                 "ABCDEFGHJK",
		"ABCDE-FGHJK abcde-fghjm":       "ABCDEFGHJK,ABCDEFGHJM",
		"ABCDE--FGHJK":                  "",
	} {
		got := strings.Join(offers.FindTokens(text), ",")
		if got != want {
			t.Errorf("FindTokens(%q) = %q, want %q", text, got, want)
		}
	}
}

// TestStreamWakesThePoller: with Mastodon's streaming API, a mention is
// read at once although the polling interval is an hour; one process
// holds the stream; a stream's wake during a poll is not lost.
func TestStreamWakesThePoller(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := mastodontest.New(t)
			u := storetest.URL(t, d)
			db1, db2 := storetest.Open(t, u), storetest.Open(t, u)
			e := setup(t, db1)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			keys, _ := secret.New(secret.Generate())
			a, err := social.NewStore(db1, keys).Connect(ctx, e.ws.ID, social.Connection{Network: social.Mastodon, Instance: f.URL,
				Profile: social.Profile{RemoteID: "14715", Handle: "outlet"}, Creds: []byte(`{"access_token":"tok-1"}`)})
			if err != nil {
				t.Fatal(err)
			}
			poller := func(db *store.DB) *inbox.Poller {
				return &inbox.Poller{DB: db, Hub: &social.Hub{Store: social.NewStore(db, keys), Connectors: map[string]social.Connector{social.Mastodon: &mastodon.Connector{HTTP: f.Client()}}},
					Offers: offers.NewStore(db), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Every: time.Hour, StreamCheckEvery: 20 * time.Millisecond}
			}
			p1, p2 := poller(db1), poller(db2)
			// The first poll starts the cursor from now.
			if _, err := p1.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			go p1.RunStreams(ctx)
			go p2.RunStreams(ctx)
			waitFor(t, "a stream", func() bool { f.Lock(); defer f.Unlock(); return f.Streams == 1 })
			time.Sleep(100 * time.Millisecond) // both processes have looked
			f.Lock()
			streams := f.Streams
			f.Unlock()
			if streams != 1 {
				t.Fatalf("%d streams open for one account", streams)
			}
			runOnce(t, p1) // the wake on stream start
			f.AddMention(t, "ann@other.example", "@outlet hello, is the deal on?")
			waitFor(t, "the mention", func() bool {
				n, err := p1.RunOnce(ctx)
				return err == nil && n == 1
			})
			if n := count(t, db1, `SELECT COUNT(*) FROM messages WHERE account_id = $1`, a.ID); n != 1 {
				t.Fatalf("%d messages stored", n)
			}
		})
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 5 s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

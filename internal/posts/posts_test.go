package posts_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/posts"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
	"github.com/roost-hq/roost/internal/team"
	"github.com/roost-hq/roost/internal/valid"
)

type env struct {
	db      *store.DB
	ws      team.Workspace
	posts   *posts.Store
	social  *social.Store
	sandbox *social.SandboxNetwork
	links   *links.Store
}

func setup(t *testing.T, db *store.DB) env {
	t.Helper()
	ctx := context.Background()
	w, _, err := team.New(db).CreateOwner(ctx, team.NewOwner{Workspace: storetest.Name("ws"), Email: storetest.Name("o") + "@example.com", Name: "O", Password: "long enough password"})
	if err != nil {
		t.Fatal(err)
	}
	so := social.NewStore(db, nil)
	ls := links.NewStore(db)
	return env{db: db, ws: w, social: so, sandbox: social.NewSandbox(db), links: ls,
		posts: posts.NewStore(db, ls, offers.NewStore(db), so, "https://go.example")}
}

func (e env) account(t *testing.T, handle string) social.Account {
	t.Helper()
	a, err := e.social.CreateSandboxAccount(context.Background(), e.ws.ID, "", handle, "")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (e env) publisher(c social.Connector) *posts.Publisher {
	return &posts.Publisher{DB: e.db, Hub: &social.Hub{Store: e.social, Connectors: map[string]social.Connector{social.Sandbox: c}},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func TestRender(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ body, link, sig, want string }{
		{"Deal!", "https://go.example/abc", "^LB", "Deal!\n\nhttps://go.example/abc ^LB"},
		{"Get it {link} now", "https://go.example/abc", "", "Get it https://go.example/abc now"},
		{"  No link {link} ", "", "^LB", "No link  ^LB"},
	} {
		if got := posts.Render(c.body, c.link, c.sig); got != c.want {
			t.Errorf("Render(%q) = %q, want %q", c.body, got, c.want)
		}
	}
}

func TestComposeAndPublish(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := setup(t, db)
		a, b := e.account(t, "outlet"), e.account(t, "outlet_eu")
		o, err := offers.NewStore(db).Create(ctx, e.ws.ID, "", offers.Input{Slug: storetest.Name("xps"), Title: "XPS", LandingURL: "https://shop.example.com/xps",
			Currency: "USD", Cap: 10, Audience: offers.Public, CodeMode: offers.Unique, Published: true})
		if err != nil {
			t.Fatal(err)
		}

		// Bad input: nothing stored.
		_, err = e.posts.Compose(ctx, e.ws.ID, posts.Author{}, posts.Compose{Body: strings.Repeat("é", 600), AccountIDs: []string{a.ID, "acc_nope"}, OfferID: "off_nope"})
		ve, ok := valid.As(err)
		if !ok || ve.For("body") == "" || ve.For("account_ids") == "" || ve.For("offer_id") == "" {
			t.Fatalf("bad post: %v", err)
		}
		past := time.Now().Add(-time.Hour)
		if _, err := e.posts.Compose(ctx, e.ws.ID, posts.Author{}, posts.Compose{Body: "x", AccountIDs: []string{a.ID}, At: &past}); err == nil {
			t.Fatal("a post in the past was accepted")
		}
		var n int
		db.R.QueryRow(`SELECT COUNT(*) FROM links`).Scan(&n)
		if n != 0 {
			t.Fatalf("%d links left by refused posts", n)
		}

		// A post to two accounts: a link each, tied to post, account and offer.
		p, err := e.posts.Compose(ctx, e.ws.ID, posts.Author{MemberID: "", Signature: "^LB"}, posts.Compose{Body: "Outlet XPS 13 at $899: {link}", AccountIDs: []string{a.ID, b.ID, a.ID}, OfferID: o.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Copies) != 2 || p.Copies[0].LinkID == p.Copies[1].LinkID || p.Destination != "https://go.example/o/"+o.Slug {
			t.Fatalf("copies: %+v", p)
		}
		for _, c := range p.Copies {
			l, err := e.links.Get(ctx, e.ws.ID, c.LinkID)
			if err != nil || l.PostID != p.ID || l.AccountID != c.AccountID || l.OfferID != o.ID || l.UTMSource != "sandbox" || l.UTMCampaign != o.Slug {
				t.Fatalf("link %+v %v", l, err)
			}
			if !strings.Contains(c.Text, "https://go.example/"+l.Code+" ^LB") {
				t.Fatalf("copy text %q", c.Text)
			}
		}

		// Published once each, even with the worker run again.
		pub := e.publisher(e.sandbox)
		if k, err := pub.RunOnce(ctx); err != nil || k != 2 {
			t.Fatalf("RunOnce = %d, %v", k, err)
		}
		if k, _ := pub.RunOnce(ctx); k != 0 {
			t.Fatalf("published again: %d", k)
		}
		got, err := e.posts.Get(ctx, e.ws.ID, p.ID)
		if err != nil || got.Status() != posts.Published {
			t.Fatalf("after publishing: %+v %v", got, err)
		}
		for _, c := range got.Copies {
			if c.RemoteID == "" || c.PublishedAt == nil {
				t.Fatalf("copy not recorded: %+v", c)
			}
		}
		tl, _ := e.sandbox.Timeline(ctx, a, 10)
		if len(tl) != 1 || !strings.Contains(tl[0].Text, "^LB") {
			t.Fatalf("sandbox timeline: %+v", tl)
		}

		// Scheduled, then cancelled: never published.
		later := time.Now().Add(time.Hour)
		q, err := e.posts.Compose(ctx, e.ws.ID, posts.Author{}, posts.Compose{Body: "Later", AccountIDs: []string{a.ID}, At: &later})
		if err != nil {
			t.Fatal(err)
		}
		if k, _ := pub.RunOnce(ctx); k != 0 {
			t.Fatal("a post for later went out now")
		}
		if q, err = e.posts.Cancel(ctx, e.ws.ID, q.ID); err != nil || q.Status() != posts.Cancelled {
			t.Fatalf("cancel: %+v %v", q, err)
		}
		if _, err := e.posts.Get(ctx, "ws_other", q.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("post seen from another workspace: %v", err)
		}
		list, err := e.posts.List(ctx, e.ws.ID, posts.Filter{Status: posts.Published})
		if err != nil || len(list) != 1 || list[0].ID != p.ID {
			t.Fatalf("list published: %+v %v", list, err)
		}
	})
}

// flaky publishes, then answers as if the connection timed out: the post
// exists, but the worker cannot know.
type flaky struct {
	*social.SandboxNetwork
	mu    sync.Mutex
	calls int
	fail  error
}

func (f *flaky) Publish(ctx context.Context, c *social.Conn, d social.Draft) (social.Published, error) {
	f.mu.Lock()
	f.calls++
	first, fail := f.calls == 1, f.fail
	f.mu.Unlock()
	if fail != nil {
		return social.Published{}, fail
	}
	p, err := f.SandboxNetwork.Publish(ctx, c, d)
	if first {
		return social.Published{}, &social.Error{Network: "sandbox", Kind: social.Unavailable, Reason: "timeout", Sent: true}
	}
	return p, err
}

func TestUncertainAttemptIsNotRepeated(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := setup(t, db)
		a := e.account(t, "outlet")
		p, err := e.posts.Compose(ctx, e.ws.ID, posts.Author{}, posts.Compose{Body: "Once", AccountIDs: []string{a.ID}})
		if err != nil {
			t.Fatal(err)
		}
		f := &flaky{SandboxNetwork: e.sandbox}
		pub := e.publisher(f)
		pub.RunOnce(ctx)
		got, _ := e.posts.Get(ctx, e.ws.ID, p.ID)
		if got.Copies[0].Status != posts.Scheduled || got.Copies[0].Error == "" {
			t.Fatalf("after a timeout: %+v", got.Copies[0])
		}
		db.W.Exec(`UPDATE post_copies SET due_at = 0`)
		pub.RunOnce(ctx)
		got, _ = e.posts.Get(ctx, e.ws.ID, p.ID)
		if got.Copies[0].Status != posts.Published || f.calls != 1 {
			t.Fatalf("after the retry: %+v, %d publish calls", got.Copies[0], f.calls)
		}
		if tl, _ := e.sandbox.Timeline(ctx, a, 10); len(tl) != 1 {
			t.Fatalf("%d posts on the network, want 1", len(tl))
		}

		// A crash mid-publish (lease run out, status still publishing):
		// the next worker looks before publishing.
		q, _ := e.posts.Compose(ctx, e.ws.ID, posts.Author{}, posts.Compose{Body: "Crash", AccountIDs: []string{a.ID}})
		e.sandbox.Publish(ctx, &social.Conn{Account: a}, social.Draft{Key: q.Copies[0].ID, Text: q.Copies[0].Text})
		db.W.Exec(`UPDATE post_copies SET status = 'publishing', lease = 'dead', lease_until = 1, attempts = 1 WHERE id = $1`, q.Copies[0].ID)
		pub.RunOnce(ctx)
		got, _ = e.posts.Get(ctx, e.ws.ID, q.ID)
		if got.Copies[0].Status != posts.Published || f.calls != 1 {
			t.Fatalf("after a crash: %+v, %d publish calls", got.Copies[0], f.calls)
		}

		// Refused by the network: failed with its reason, retried on demand.
		f.fail = &social.Error{Network: "sandbox", Kind: social.Rejected, Status: 422, Reason: "Validation failed: Text character limit of 500 exceeded"}
		r, _ := e.posts.Compose(ctx, e.ws.ID, posts.Author{}, posts.Compose{Body: "Refused", AccountIDs: []string{a.ID}})
		pub.RunOnce(ctx)
		got, _ = e.posts.Get(ctx, e.ws.ID, r.ID)
		if c := got.Copies[0]; c.Status != posts.Failed || !strings.Contains(c.Error, "character limit") {
			t.Fatalf("refused copy: %+v", c)
		}
		if _, err := e.posts.Retry(ctx, e.ws.ID, r.ID, got.Copies[0].ID); err != nil {
			t.Fatal(err)
		}
		f.fail = &social.Error{Network: "sandbox", Kind: social.RateLimited, Status: 429, RetryAt: time.Now().Add(time.Hour)}
		pub.RunOnce(ctx)
		got, _ = e.posts.Get(ctx, e.ws.ID, r.ID)
		if c := got.Copies[0]; c.Status != posts.Scheduled || c.DueAt.Before(time.Now().Add(59*time.Minute)) {
			t.Fatalf("rate-limited copy: %+v", c)
		}
		acct, _ := e.social.Account(ctx, e.ws.ID, a.ID)
		if acct.RateLimitedUntil == nil {
			t.Fatal("the account's rate limit was not recorded")
		}
	})
}

// Several workers on one database, as several roost processes: every copy
// goes out exactly once.
func TestWorkersPublishOnce(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			u := storetest.URL(t, d)
			db := storetest.Open(t, u)
			e := setup(t, db)
			var ids []string
			for _, h := range []string{"a1", "a2", "a3", "a4", "a5"} {
				ids = append(ids, e.account(t, h).ID)
			}
			for i := 0; i < 8; i++ {
				if _, err := e.posts.Compose(ctx, e.ws.ID, posts.Author{}, posts.Compose{Body: "Deal", AccountIDs: ids}); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			for w := 0; w < 3; w++ {
				other := storetest.Open(t, u)
				pe := env{db: other, social: social.NewStore(other, nil), sandbox: social.NewSandbox(other)}
				pub := pe.publisher(pe.sandbox)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := 0; k < 20; k++ {
						if _, err := pub.RunOnce(ctx); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			var published, onNetwork int
			db.R.QueryRow(`SELECT COUNT(*) FROM post_copies WHERE status = 'published'`).Scan(&published)
			db.R.QueryRow(`SELECT COUNT(*) FROM sandbox_posts`).Scan(&onNetwork)
			if published != 40 || onNetwork != 40 {
				t.Fatalf("published %d, on the network %d, want 40 and 40", published, onNetwork)
			}
		})
	}
}

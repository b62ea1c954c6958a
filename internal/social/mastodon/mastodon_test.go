package mastodon_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/posts"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/mastodon"
	"github.com/roost-hq/roost/internal/social/mastodon/mastodontest"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
	"github.com/roost-hq/roost/internal/team"
)

func conn(f *mastodontest.Server) *social.Conn {
	return &social.Conn{Account: social.Account{Network: social.Mastodon, RemoteID: "14715", Handle: "outlet", Instance: f.URL},
		Creds: []byte(`{"access_token":"` + f.Token + `"}`)}
}

func wantKind(t *testing.T, err error, k social.Kind) *social.Error {
	t.Helper()
	var e *social.Error
	if !errors.As(err, &e) || e.Kind != k {
		t.Fatalf("err = %v, want kind %s", err, k)
	}
	return e
}

func TestVerifyPublishAndErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := mastodontest.New(t)
	c := &mastodon.Connector{}
	p, err := c.Verify(ctx, conn(f))
	if err != nil || p.RemoteID != "14715" || p.Handle != "outlet" || p.Followers != 1234 || p.CharLimit != 1000 {
		t.Fatalf("Verify = %+v, %v", p, err)
	}
	pub, err := c.Publish(ctx, conn(f), social.Draft{Key: "cpy_1", Text: "Deal https://go.example/abc ^LB"})
	if err != nil || pub.RemoteID != "1000" || !strings.HasSuffix(pub.URL, "/@outlet/1000") {
		t.Fatalf("Publish = %+v, %v", pub, err)
	}
	// The same key again: the server keeps one status.
	if again, _ := c.Publish(ctx, conn(f), social.Draft{Key: "cpy_1", Text: "Deal https://go.example/abc ^LB"}); again.RemoteID != pub.RemoteID || len(f.Statuses) != 1 {
		t.Fatalf("idempotent publish made %d statuses", len(f.Statuses))
	}
	dm := f.AddDirect(t, "ann", "@outlet where is my order?")
	if _, err := c.Publish(ctx, conn(f), social.Draft{Key: "dm-1", Text: "@ann your order shipped", ReplyTo: dm, Direct: true}); err != nil {
		t.Fatal(err)
	}
	// A reply to a status its author deleted: refused, with the reason.
	f.Delete(dm)
	e := wantKind(t, func() error {
		_, err := c.Publish(ctx, conn(f), social.Draft{Key: "dm-2", Text: "@ann anything else?", ReplyTo: dm, Direct: true})
		return err
	}(), social.Rejected)
	if e.Status != 404 || !strings.Contains(e.Reason, "does not appear to exist") {
		t.Fatalf("reply to a deleted status: %+v", e)
	}
	f.Lock()
	vis := []string{f.Statuses[0].Visibility, f.Statuses[len(f.Statuses)-1].Visibility}
	f.Statuses = f.Statuses[:1]
	f.Unlock()
	if vis[0] != "public" || vis[1] != "direct" {
		t.Fatalf("visibility of a post and of a reply to a direct message: %v", vis)
	}
	found, ok, err := c.FindPublished(ctx, conn(f), social.Draft{LinkURL: "https://go.example/abc"})
	if err != nil || !ok || found.RemoteID != pub.RemoteID {
		t.Fatalf("FindPublished = %+v %v %v", found, ok, err)
	}
	if _, ok, _ := c.FindPublished(ctx, conn(f), social.Draft{LinkURL: "https://go.example/zzz"}); ok {
		t.Fatal("found a post that was never made")
	}

	e = wantKind(t, func() error {
		_, err := c.Publish(ctx, conn(f), social.Draft{Key: "k2", Text: strings.Repeat("x", 1001)})
		return err
	}(), social.Rejected)
	if e.Status != 422 || !strings.Contains(e.Reason, "character limit") {
		t.Fatalf("rejected: %+v", e)
	}
	f.RateLimitedUntil = time.Now().Add(5 * time.Minute).Truncate(time.Second)
	e = wantKind(t, func() error { _, err := c.Verify(ctx, conn(f)); return err }(), social.RateLimited)
	if !e.RetryAt.Equal(f.RateLimitedUntil) {
		t.Fatalf("rate limit resets at %v, want %v", e.RetryAt, f.RateLimitedUntil)
	}
	f.RateLimitedUntil = time.Time{}
	f.Garbage = true
	wantKind(t, func() error { _, err := c.Verify(ctx, conn(f)); return err }(), social.Unavailable)
	f.Garbage = false
	f.Revoked = true
	e = wantKind(t, func() error { _, err := c.Verify(ctx, conn(f)); return err }(), social.Unauthorized)
	if !strings.Contains(e.Reason, "revoked") {
		t.Fatalf("revoked: %+v", e)
	}
	wantKind(t, func() error { _, err := c.Verify(ctx, &social.Conn{Account: conn(f).Account}); return err }(), social.Unauthorized)

	// A server that answers slowly: the deadline holds.
	f.Revoked = false
	slow := &mastodon.Connector{HTTP: &http.Client{Timeout: 100 * time.Millisecond}}
	f.SlowAfterPost = 400 * time.Millisecond
	e = wantKind(t, func() error { _, err := slow.Publish(ctx, conn(f), social.Draft{Key: "k3", Text: "slow"}); return err }(), social.Unavailable)
	if !e.Sent {
		t.Fatal("a timed-out post is not marked as possibly sent")
	}
}

func TestMentionsLookupFollows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := mastodontest.New(t)
	c := &mastodon.Connector{}
	f.AddMention(t, "early@mastodon.example", "before Roost connected")
	ms, cur, err := c.Mentions(ctx, conn(f), "")
	if err != nil || len(ms) != 0 || cur == "" {
		t.Fatalf("first read = %v %q %v", ms, cur, err)
	}
	for i := 0; i < 95; i++ {
		f.AddMention(t, "zsc@mastodon.example", "mention "+string(rune('a'+i%26)))
	}
	var all []social.Message
	for k := 0; k < 5; k++ {
		ms, cur, err = c.Mentions(ctx, conn(f), cur)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ms...)
	}
	if len(all) != 95 {
		t.Fatalf("read %d mentions, want 95", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].RemoteID <= all[i-1].RemoteID {
			t.Fatalf("mentions out of order at %d", i)
		}
	}
	m := all[0]
	if m.Author.AccountID != "zsc@mastodon.example" || m.Author.Handle != "@zsc@mastodon.example" || m.ReplyTo == "" || m.Text != "mention a" ||
		m.Direct || m.Followers == nil || *m.Followers != 12 {
		t.Fatalf("mention: %+v", m)
	}
	// A direct message is a mention of "direct" visibility.
	f.Add(t, mastodontest.Incoming{From: "vip@mastodon.example", Text: "private question", Direct: true, Followers: 250000})
	ms, cur, err = c.Mentions(ctx, conn(f), cur)
	if err != nil || len(ms) != 1 || !ms[0].Direct || ms[0].Text != "private question" || *ms[0].Followers != 250000 {
		t.Fatalf("direct message: %+v %v", ms, err)
	}
	if ms, _, _ := c.Mentions(ctx, conn(f), cur); len(ms) != 0 {
		t.Fatalf("read %d mentions again", len(ms))
	}

	ann, err := c.Lookup(ctx, conn(f), "@ann")
	host := strings.TrimPrefix(f.URL, "http://")
	if err != nil || ann.AccountID != "ann@"+host {
		t.Fatalf("Lookup(ann) = %+v, %v", ann, err)
	}
	bob, err := c.Lookup(ctx, conn(f), "@bob@other.example")
	if err != nil || bob.AccountID != "bob@other.example" {
		t.Fatalf("Lookup(bob) = %+v, %v", bob, err)
	}
	if _, err := c.Lookup(ctx, conn(f), "@nobody@nowhere.example"); !errors.Is(err, social.ErrNoSuchPerson) {
		t.Fatalf("Lookup(nobody) = %v", err)
	}
	f.Followers["99"] = true
	if ok, err := c.Follows(ctx, conn(f), bob); err != nil || !ok {
		t.Fatalf("Follows(bob) = %v, %v", ok, err)
	}
	if ok, err := c.Follows(ctx, conn(f), ann); err != nil || ok {
		t.Fatalf("Follows(ann) = %v, %v", ok, err)
	}
}

func TestPlainText(t *testing.T) {
	t.Parallel()
	got := mastodon.PlainText(`<p><span class="h-card"><a href="https://x/@outlet" class="u-url mention">@<span>outlet</span></a></span> is it on? &amp; Zürich<br />ROOST-7KQ4MX</p><p>thanks 🙏</p>`)
	if got != "@outlet is it on? & Zürich\nROOST-7KQ4MX\nthanks 🙏" {
		t.Fatalf("PlainText = %q", got)
	}
}

// TestTimeoutAfterSuccess publishes through Roost's publisher to a server
// that ignores Idempotency-Key and answers after the client has given up:
// the status exists, and the retry finds it instead of posting again.
func TestTimeoutAfterSuccess(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := mastodontest.New(t)
		f.IgnoreIdempotencyKey = true
		f.SlowAfterPost = 300 * time.Millisecond
		keys, _ := secret.New(secret.Generate())
		w, _, err := team.New(db).CreateOwner(ctx, team.NewOwner{Workspace: "Acme", Email: "o@example.com", Name: "O", Password: "long enough password"})
		if err != nil {
			t.Fatal(err)
		}
		so := social.NewStore(db, keys)
		acct, err := so.Connect(ctx, w.ID, social.Connection{Network: social.Mastodon, Instance: f.URL, Creds: []byte(`{"access_token":"tok-1"}`),
			Profile: social.Profile{RemoteID: "14715", Handle: "outlet", CharLimit: 1000}})
		if err != nil {
			t.Fatal(err)
		}
		ls := links.NewStore(db)
		ps := posts.NewStore(db, ls, offers.NewStore(db), so, "https://go.example")
		p, err := ps.Compose(ctx, w.ID, posts.Author{Signature: "^LB"}, posts.Compose{Body: "Outlet deal", AccountIDs: []string{acct.ID}, Destination: "https://shop.example.com/xps"})
		if err != nil {
			t.Fatal(err)
		}
		hub := &social.Hub{Store: so, Connectors: map[string]social.Connector{social.Mastodon: &mastodon.Connector{HTTP: &http.Client{Timeout: 100 * time.Millisecond}}}}
		pub := &posts.Publisher{DB: db, Hub: hub, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		pub.RunOnce(ctx)
		got, _ := ps.Get(ctx, w.ID, p.ID)
		if c := got.Copies[0]; c.Status != posts.Scheduled || !strings.Contains(c.Error, "no answer in time") {
			t.Fatalf("after the timeout: %+v", c)
		}
		time.Sleep(300 * time.Millisecond) // the server finishes its answer
		db.W.Exec(`UPDATE post_copies SET due_at = 0`)
		pub.RunOnce(ctx)
		got, _ = ps.Get(ctx, w.ID, p.ID)
		if c := got.Copies[0]; c.Status != posts.Published || c.RemoteID != "1000" {
			t.Fatalf("after the retry: %+v", c)
		}
		f.Lock()
		defer f.Unlock()
		if len(f.Statuses) != 1 || f.PostCalls != 1 {
			t.Fatalf("%d statuses from %d POSTs, want 1 from 1", len(f.Statuses), f.PostCalls)
		}
		// The credentials are sealed at rest.
		var raw string
		db.R.QueryRow(`SELECT credentials FROM accounts WHERE id = $1`, acct.ID).Scan(&raw)
		if strings.Contains(raw, "tok-1") || raw == "" {
			t.Fatalf("credentials stored as %q", raw)
		}
	})
}

package x_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/posts"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/x"
	"github.com/roost-hq/roost/internal/social/x/xtest"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
	"github.com/roost-hq/roost/internal/team"
)

func connector(f *xtest.Server) *x.Connector {
	return &x.Connector{APIBase: f.URL, AuthorizeBase: f.AuthorizeURL(), ClientID: f.ClientID, ClientSecret: f.ClientSecret}
}

// conn is the brand account with the fake's current tokens, the access
// token ending at expires.
func conn(f *xtest.Server, expires time.Time) *social.Conn {
	return &social.Conn{Account: social.Account{Network: social.X, RemoteID: f.Brand.ID, Handle: f.Brand.Username}, Creds: f.Creds(expires)}
}

func later() time.Time { return time.Now().Add(time.Hour) }

func wantKind(t *testing.T, err error, k social.Kind) *social.Error {
	t.Helper()
	var e *social.Error
	if !errors.As(err, &e) || e.Kind != k {
		t.Fatalf("err = %v, want kind %s", err, k)
	}
	return e
}

func set(f *xtest.Server, fn func()) {
	f.Lock()
	defer f.Unlock()
	fn()
}

// approve goes through the fake's authorize page and returns the
// callback's query.
func approve(t *testing.T, authorizeURL string) url.Values {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Get(authorizeURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), "https://roost.example/cb") {
		t.Fatalf("authorize answered %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	return loc.Query()
}

func TestConnect(t *testing.T) {
	t.Parallel()
	const redirect = "https://roost.example/cb"
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	for _, public := range []bool{false, true} {
		name := map[bool]string{false: "confidential client", true: "public client"}[public]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := xtest.New(t)
			if public {
				set(f, func() { f.ClientSecret = "" })
			}
			c := connector(f)
			u := c.AuthorizeURL(redirect, "st8", verifier, x.Scopes)
			pu, _ := url.Parse(u)
			q := pu.Query()
			if !strings.HasPrefix(u, f.AuthorizeURL()+"?") || q.Get("code_challenge") != social.Challenge(verifier) || q.Get("code_challenge_method") != "S256" ||
				q.Get("scope") != x.Scopes || q.Get("client_id") != f.ClientID || q.Get("redirect_uri") != redirect {
				t.Fatalf("AuthorizeURL = %s", u)
			}
			cb := approve(t, u)
			if cb.Get("state") != "st8" || cb.Get("code") != "good-code" {
				t.Fatalf("callback %v", cb)
			}
			// The code is worth nothing without the verifier it was asked with.
			e := wantKind(t, func() error { _, err := c.Exchange(ctx, redirect, cb.Get("code"), "another-verifier"); return err }(), social.Rejected)
			if e.Status != 400 || !strings.Contains(e.Reason, "authorization code was invalid") {
				t.Fatalf("wrong verifier: %+v", e)
			}
			if !public {
				bad := *c
				bad.ClientSecret = "not-the-secret"
				e = wantKind(t, func() error { _, err := bad.Exchange(ctx, redirect, cb.Get("code"), verifier); return err }(), social.Unauthorized)
				if !strings.Contains(e.Reason, "unauthorized_client") {
					t.Fatalf("wrong secret: %+v", e)
				}
			}
			creds, err := c.Exchange(ctx, redirect, cb.Get("code"), verifier)
			if err != nil {
				t.Fatal(err)
			}
			cr, err := x.ParseCreds(creds)
			f.Lock()
			access, refresh := f.AccessToken, f.RefreshToken
			f.Unlock()
			if err != nil || cr.AccessToken != access || cr.RefreshToken != refresh || refresh == "" || cr.Scope != x.Scopes ||
				cr.ExpiresAt.Before(time.Now().Add(119*time.Minute)) || cr.ExpiresAt.After(time.Now().Add(121*time.Minute)) {
				t.Fatalf("creds %s (%+v, %v), fake holds %s / %s", creds, cr, err, access, refresh)
			}
			p, err := c.Verify(ctx, &social.Conn{Account: social.Account{Network: social.X}, Creds: creds})
			if err != nil || p != (social.Profile{RemoteID: "2244994945", Handle: "outlet", DisplayName: "Outlet", Followers: 4321}) {
				t.Fatalf("Verify = %+v, %v", p, err)
			}
		})
	}
	t.Run("denied", func(t *testing.T) {
		t.Parallel()
		f := xtest.New(t)
		set(f, func() { f.Deny = true })
		cb := approve(t, connector(f).AuthorizeURL(redirect, "st8", verifier, x.Scopes))
		if cb.Get("error") != "access_denied" || cb.Get("code") != "" || cb.Get("state") != "st8" {
			t.Fatalf("callback %v", cb)
		}
	})
	t.Run("shopper", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		f := xtest.New(t)
		bob, _ := f.AddPerson(t, "bob")
		set(f, func() { f.SignInAs, f.Followers[bob.ID] = bob.ID, true })
		c := connector(f)
		cb := approve(t, c.AuthorizeURL(redirect, "st9", verifier, x.PersonScopes))
		tok, err := c.ExchangeToken(ctx, redirect, cb.Get("code"), verifier)
		if err != nil || tok.AccessToken == "" || tok.RefreshToken != "" || tok.Scope != x.PersonScopes {
			t.Fatalf("ExchangeToken = %+v, %v", tok, err)
		}
		me, err := c.Me(ctx, tok.AccessToken)
		if err != nil || me != (social.Identity{Network: social.X, AccountID: bob.ID, Handle: "@bob"}) {
			t.Fatalf("Me = %+v, %v", me, err)
		}
		if ok, err := c.PersonFollows(ctx, tok.AccessToken, f.Brand.ID); err != nil || !ok {
			t.Fatalf("PersonFollows = %v, %v", ok, err)
		}
		// Roost is done with the token: it ends it.
		if err := c.Revoke(ctx, tok.AccessToken); err != nil {
			t.Fatal(err)
		}
		wantKind(t, func() error { _, err := c.Me(ctx, tok.AccessToken); return err }(), social.Unauthorized)
	})
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := xtest.New(t)
	c := connector(f)

	// An access token ending within the margin is renewed before the call,
	// and the rotated pair is handed back through the Conn.
	cn := conn(f, time.Now().Add(30*time.Second))
	if _, err := c.Verify(ctx, cn); err != nil {
		t.Fatal(err)
	}
	cr, err := x.ParseCreds(cn.Creds)
	f.Lock()
	access, refresh, calls := f.AccessToken, f.RefreshToken, f.RefreshCalls
	f.Unlock()
	if !cn.Changed || err != nil || cr.AccessToken != access || cr.RefreshToken != refresh || refresh == "xrt-1" || calls != 1 ||
		cr.ExpiresAt.Before(time.Now().Add(time.Hour)) || cn.ExpiresAt != nil {
		t.Fatalf("after the refresh: changed %v, creds %+v (%v), fake %s / %s, %d refreshes, conn expires %v", cn.Changed, cr, err, access, refresh, calls, cn.ExpiresAt)
	}

	// X's token endpoint is down: a token ending soon but still good is
	// used as it is; one that has ended cannot be.
	set(f, func() { f.TokenDown = true })
	soon := conn(f, time.Now().Add(time.Minute))
	if _, err := c.Verify(ctx, soon); err != nil || soon.Changed {
		t.Fatalf("renewal down, token still good: %v (changed %v)", err, soon.Changed)
	}
	wantKind(t, func() error { _, err := c.Verify(ctx, conn(f, time.Now().Add(-time.Minute))); return err }(), social.Unavailable)
	set(f, func() { f.TokenDown = false })

	// Another process renewed with this refresh token (X rotates it): it
	// is spent here, and the account must be connected again.
	refreshElsewhere(t, f, cr.RefreshToken)
	spent := &social.Conn{Account: cn.Account, Creds: cn.Creds}
	set(f, func() { f.Expired = true })
	e := wantKind(t, func() error { _, err := c.Verify(ctx, spent); return err }(), social.Unauthorized)
	if !strings.Contains(e.Reason, "Value passed for the token was invalid") || spent.Changed {
		t.Fatalf("spent refresh token: %+v, changed %v", e, spent.Changed)
	}

	// A token X refuses before its time (401) is renewed, and the call
	// made once more: one post, not two.
	again := conn(f, later())
	pub, err := c.Publish(ctx, again, social.Draft{Key: "cpy_1", Text: "Made after a refresh"})
	if err != nil || pub.RemoteID == "" || !again.Changed {
		t.Fatalf("Publish = %+v, %v (changed %v)", pub, err, again.Changed)
	}
	f.Lock()
	defer f.Unlock()
	if f.RefreshCalls != 3 || len(f.Tweets) != 1 || f.PostCalls != 1 {
		t.Fatalf("%d refreshes, %d posts from %d calls", f.RefreshCalls, len(f.Tweets), f.PostCalls)
	}
}

// refreshElsewhere renews the brand's tokens as another Roost process
// would, behind this one's back.
func refreshElsewhere(t *testing.T, f *xtest.Server, refreshToken string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.URL+"/2/oauth2/token", strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(f.ClientID, f.ClientSecret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("refresh elsewhere: %s", res.Status)
	}
}

func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := xtest.New(t)
	c := connector(f)
	creds := f.Creds(time.Now().Add(10 * time.Second))
	conns := make([]*social.Conn, 6)
	errs := make(chan error, len(conns))
	for i := range conns {
		conns[i] = &social.Conn{Account: social.Account{Network: social.X, RemoteID: f.Brand.ID, Handle: "outlet"}, Creds: creds}
		go func() {
			_, err := c.Verify(ctx, conns[i])
			errs <- err
		}()
	}
	for range conns {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// And one that comes late with the old token.
	late := &social.Conn{Account: conns[0].Account, Creds: creds}
	if _, err := c.Verify(ctx, late); err != nil {
		t.Fatal(err)
	}
	f.Lock()
	defer f.Unlock()
	for _, cn := range append(conns, late) {
		if cr, _ := x.ParseCreds(cn.Creds); !cn.Changed || cr.AccessToken != f.AccessToken || cr.RefreshToken != f.RefreshToken {
			t.Fatalf("conn kept %s, fake holds %s / %s", cn.Creds, f.AccessToken, f.RefreshToken)
		}
	}
	if f.RefreshCalls != 1 {
		t.Fatalf("%d refreshes, want 1", f.RefreshCalls)
	}
}

func TestRevokedAndErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := xtest.New(t)
	c := connector(f)

	e := wantKind(t, func() error {
		_, err := c.Publish(ctx, conn(f, later()), social.Draft{Text: strings.Repeat("é", 281)})
		return err
	}(), social.Rejected)
	if e.Status != 400 || !strings.Contains(e.Reason, "too long") {
		t.Fatalf("too long: %+v", e)
	}

	until := time.Now().Add(5 * time.Minute).Truncate(time.Second)
	set(f, func() { f.RateLimitedUntil = until })
	e = wantKind(t, func() error { _, err := c.Verify(ctx, conn(f, later())); return err }(), social.RateLimited)
	if !e.RetryAt.Equal(until) || e.Status != 429 {
		t.Fatalf("rate limited: %+v, want retry at %v", e, until)
	}
	// Posting's 24-hour limit ends later than the 15-minute window.
	day := time.Now().Add(20 * time.Hour).Truncate(time.Second)
	set(f, func() { f.RateLimitedUntil, f.DailyLimitUntil = time.Time{}, day })
	e = wantKind(t, func() error { _, err := c.Publish(ctx, conn(f, later()), social.Draft{Text: "hi"}); return err }(), social.RateLimited)
	if !e.RetryAt.Equal(day) {
		t.Fatalf("daily limit: retry at %v, want %v", e.RetryAt, day)
	}

	set(f, func() { f.DailyLimitUntil, f.CreditsDepleted = time.Time{}, true })
	e = wantKind(t, func() error { _, err := c.Verify(ctx, conn(f, later())); return err }(), social.Unavailable)
	if e.Status != 402 || !strings.Contains(e.Reason, "credits") {
		t.Fatalf("credits depleted: %+v", e)
	}

	set(f, func() { f.CreditsDepleted, f.Garbage = false, true })
	wantKind(t, func() error { _, err := c.Verify(ctx, conn(f, later())); return err }(), social.Unavailable)
	e = wantKind(t, func() error { _, err := c.Publish(ctx, conn(f, later()), social.Draft{Text: "garbled"}); return err }(), social.Unavailable)
	if !e.Sent {
		t.Fatal("a post answered with garbage is not marked as possibly sent")
	}

	// A slow answer: the deadline holds, and the post may exist.
	set(f, func() { f.Garbage, f.SlowAfterPost = false, 400*time.Millisecond })
	slow := connector(f)
	slow.HTTP = &http.Client{Timeout: 100 * time.Millisecond}
	e = wantKind(t, func() error { _, err := slow.Publish(ctx, conn(f, later()), social.Draft{Text: "slow"}); return err }(), social.Unavailable)
	if !e.Sent || !strings.Contains(e.Reason, "no answer in time") {
		t.Fatalf("slow: %+v", e)
	}

	// Revoked: X refuses the token, then the refresh token.
	set(f, func() { f.SlowAfterPost, f.Revoked = 0, true })
	cn := conn(f, later())
	e = wantKind(t, func() error { _, err := c.Verify(ctx, cn); return err }(), social.Unauthorized)
	if !strings.Contains(e.Reason, "reconnect") || cn.Changed {
		t.Fatalf("revoked: %+v, changed %v", e, cn.Changed)
	}
	// No refresh token: nothing to try.
	noRefresh := &social.Conn{Account: cn.Account, Creds: []byte(`{"access_token":"xat-1"}`)}
	wantKind(t, func() error { _, err := c.Verify(ctx, noRefresh); return err }(), social.Unauthorized)
	wantKind(t, func() error { _, err := c.Verify(ctx, &social.Conn{Account: cn.Account}); return err }(), social.Unauthorized)
}

func TestPublishExactlyOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := xtest.New(t)
	c := connector(f)
	d := social.Draft{Key: "cpy_1", Text: "XPS 13 outlet deal https://go.example/abc ^LB", LinkURL: "https://go.example/abc", Created: time.Now()}

	// The post lands, but its answer comes after the client gave up.
	set(f, func() { f.SlowAfterPost = 300 * time.Millisecond })
	slow := connector(f)
	slow.HTTP = &http.Client{Timeout: 100 * time.Millisecond}
	if e := wantKind(t, func() error { _, err := slow.Publish(ctx, conn(f, later()), d); return err }(), social.Unavailable); !e.Sent {
		t.Fatal("the timed-out post is not marked as possibly sent")
	}
	set(f, func() { f.SlowAfterPost = 0 })
	found, ok, err := c.FindPublished(ctx, conn(f, later()), d)
	f.Lock()
	first := f.Tweets[0]
	f.Unlock()
	if err != nil || !ok || found.RemoteID != first.ID || found.URL != "https://x.com/outlet/status/"+first.ID {
		t.Fatalf("FindPublished = %+v %v %v", found, ok, err)
	}
	if !strings.Contains(first.Text, "https://t.co/") || strings.Contains(first.Text, "go.example") {
		t.Fatalf("the fake kept the link as posted: %q", first.Text)
	}
	// Publishing again anyway: X refuses the duplicate and Publish finds
	// the first.
	again, err := c.Publish(ctx, conn(f, later()), d)
	if err != nil || again != found {
		t.Fatalf("Publish again = %+v, %v", again, err)
	}
	if _, ok, _ := c.FindPublished(ctx, conn(f, later()), social.Draft{LinkURL: "https://go.example/zzz", Created: time.Now()}); ok {
		t.Fatal("found a post that was never made")
	}

	// Without a link, the text is matched as X shows it (&amp; and all).
	plain := social.Draft{Key: "cpy_2", Text: "Thanks & see you soon, @ann 🙏", Created: time.Now()}
	pub, err := c.Publish(ctx, conn(f, later()), plain)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, err := c.FindPublished(ctx, conn(f, later()), plain); err != nil || !ok || got != pub {
		t.Fatalf("FindPublished(text) = %+v %v %v, want %+v", got, ok, err, pub)
	}

	// A duplicate of a post made long before (by hand, say) is not this
	// copy: it stays refused.
	set(f, func() {
		f.Tweets = append([]xtest.Tweet{{ID: "20", AuthorID: f.Brand.ID, Raw: "Same words", Text: "Same words", CreatedAt: time.Now().Add(-48 * time.Hour)}}, f.Tweets...)
	})
	_, err = c.Publish(ctx, conn(f, later()), social.Draft{Key: "cpy_3", Text: "Same words", Created: time.Now()})
	if e := wantKind(t, err, social.Rejected); e.Status != 403 || !x.IsDuplicate(err) {
		t.Fatalf("old duplicate: %+v", e)
	}

	f.Lock()
	defer f.Unlock()
	if len(f.Tweets) != 3 || f.PostCalls != 4 {
		t.Fatalf("%d posts from %d calls, want 3 from 4", len(f.Tweets), f.PostCalls)
	}
}

// TestPublisher publishes through Roost's publisher to an X that answers
// after the client has given up, with credentials about to end: the
// token is renewed and the new pair kept sealed, the post exists once,
// and the retry finds it instead of posting again.
func TestPublisher(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := xtest.New(t)
		set(f, func() { f.SlowAfterPost = 300 * time.Millisecond })
		keys, _ := secret.New(secret.Generate())
		w, _, err := team.New(db).CreateOwner(ctx, team.NewOwner{Workspace: "Acme", Email: "o@example.com", Name: "O", Password: "long enough password"})
		if err != nil {
			t.Fatal(err)
		}
		so := social.NewStore(db, keys)
		acct, err := so.Connect(ctx, w.ID, social.Connection{Network: social.X, Creds: f.Creds(time.Now().Add(30 * time.Second)),
			Profile: social.Profile{RemoteID: f.Brand.ID, Handle: "outlet"}})
		if err != nil {
			t.Fatal(err)
		}
		ps := posts.NewStore(db, links.NewStore(db), offers.NewStore(db), so, "https://go.example")
		p, err := ps.Compose(ctx, w.ID, posts.Author{Signature: "^LB"}, posts.Compose{Body: "Outlet deal", AccountIDs: []string{acct.ID}, Destination: "https://shop.example.com/xps"})
		if err != nil {
			t.Fatal(err)
		}
		c := connector(f)
		c.HTTP = &http.Client{Timeout: 100 * time.Millisecond}
		hub := &social.Hub{Store: so, Connectors: map[string]social.Connector{social.X: c}}
		pub := &posts.Publisher{DB: db, Hub: hub, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		pub.RunOnce(ctx)
		got, _ := ps.Get(ctx, w.ID, p.ID)
		if cp := got.Copies[0]; cp.Status != posts.Scheduled || !strings.Contains(cp.Error, "no answer in time") {
			t.Fatalf("after the timeout: %+v", cp)
		}
		time.Sleep(300 * time.Millisecond) // X finishes its answer
		db.W.Exec(`UPDATE post_copies SET due_at = 0`)
		pub.RunOnce(ctx)
		got, _ = ps.Get(ctx, w.ID, p.ID)
		f.Lock()
		defer f.Unlock()
		if cp := got.Copies[0]; cp.Status != posts.Published || len(f.Tweets) != 1 || cp.RemoteID != f.Tweets[0].ID {
			t.Fatalf("after the retry: %+v", cp)
		}
		if len(f.Tweets) != 1 || f.PostCalls != 1 || f.RefreshCalls != 1 {
			t.Fatalf("%d posts from %d POSTs and %d refreshes, want 1, 1, 1", len(f.Tweets), f.PostCalls, f.RefreshCalls)
		}
		// The renewed tokens were kept, sealed.
		var raw string
		db.R.QueryRow(`SELECT credentials FROM accounts WHERE id = $1`, acct.ID).Scan(&raw)
		if raw == "" || strings.Contains(raw, "xat-") || strings.Contains(raw, "xrt-") {
			t.Fatalf("credentials stored as %q", raw)
		}
	})
}

func TestMentions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := xtest.New(t)
	c := connector(f)
	cn := conn(f, later())

	// No mention yet: the cursor still starts from now.
	ms, cur, err := c.Mentions(ctx, cn, "")
	if err != nil || len(ms) != 0 || cur == "" {
		t.Fatalf("first read = %v %q %v", ms, cur, err)
	}
	first := f.AddMention(t, "early", "@outlet hello")
	if ms, cur, err = c.Mentions(ctx, cn, cur); err != nil || len(ms) != 1 || ms[0].RemoteID != first || cur != first {
		t.Fatalf("after one mention = %+v %q %v", ms, cur, err)
	}

	// With mentions already there, an empty cursor starts after the newest.
	if ms, cur2, err := c.Mentions(ctx, cn, ""); err != nil || len(ms) != 0 || cur2 != first {
		t.Fatalf("empty cursor = %v %q %v, want %q", ms, cur2, err, first)
	}

	brandPost, err := c.Publish(ctx, cn, social.Draft{Text: "XPS 13 outlet deal, followers only"})
	if err != nil {
		t.Fatal(err)
	}
	reply := f.AddReply(t, "zsc", "@outlet is it still on? & do you ship to Zürich? https://shop.example/cart\nROOST-7KQ4MX", brandPost.RemoteID)
	for i := range 249 {
		f.AddMention(t, "zsc", "@outlet mention "+string(rune('a'+i%26)))
	}
	// 250 mentions: three pages of at most 100, read in one call.
	ms, cur, err = c.Mentions(ctx, cn, cur)
	if err != nil || len(ms) != 250 {
		t.Fatalf("read %d mentions (%v), want 250", len(ms), err)
	}
	seen := map[string]bool{}
	for i, m := range ms {
		if seen[m.RemoteID] || i > 0 && len(m.RemoteID) == len(ms[i-1].RemoteID) && m.RemoteID <= ms[i-1].RemoteID {
			t.Fatalf("mention %d (%s) out of order or twice", i, m.RemoteID)
		}
		seen[m.RemoteID] = true
	}
	if cur != ms[len(ms)-1].RemoteID {
		t.Fatalf("cursor %q, newest %q", cur, ms[len(ms)-1].RemoteID)
	}
	m := ms[0]
	zsc := m.Author.AccountID
	if m.RemoteID != reply || m.ReplyTo != brandPost.RemoteID || m.Thread != brandPost.RemoteID || m.Direct ||
		m.Author.Network != social.X || zsc == "" || m.Author.Handle != "@zsc" || m.URL != "https://x.com/zsc/status/"+reply ||
		!strings.HasPrefix(m.Text, "@outlet is it still on? & do you ship to Zürich? https://t.co/") || !strings.HasSuffix(m.Text, "\nROOST-7KQ4MX") ||
		time.Since(m.At) > time.Minute || m.At.Location() != time.UTC {
		t.Fatalf("reply: %+v", m)
	}
	if ms[1].ReplyTo != "" || ms[1].Thread != ms[1].RemoteID || ms[1].Text != "@outlet mention a" {
		t.Fatalf("mention: %+v", ms[1])
	}

	// Nothing twice: the next read has only what came since.
	if ms, again, err := c.Mentions(ctx, cn, cur); err != nil || len(ms) != 0 || again != cur {
		t.Fatalf("read again = %d, %q, %v", len(ms), again, err)
	}
	late := f.AddMention(t, "ann", "@outlet one more")
	if ms, next, err := c.Mentions(ctx, cn, cur); err != nil || len(ms) != 1 || ms[0].RemoteID != late || next != late || ms[0].Author.AccountID != "17001" {
		t.Fatalf("late mention = %+v, %q, %v", ms, next, err)
	}

	// A failure part way gives nothing and the same cursor.
	set(f, func() { f.RateLimitedUntil = time.Now().Add(time.Minute) })
	if ms, same, err := c.Mentions(ctx, cn, cur); err == nil || len(ms) != 0 || same != cur {
		t.Fatalf("rate limited = %v, %q, %v", ms, same, err)
	}
	set(f, func() { f.RateLimitedUntil = time.Time{} })
	wantKind(t, func() error { _, _, err := c.Mentions(ctx, cn, "not-an-id"); return err }(), social.Rejected)
}

func TestLookupAndFollows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := xtest.New(t)
	c := connector(f)
	cn := conn(f, later())

	ann, err := c.Lookup(ctx, cn, " @Ann ")
	if err != nil || ann != (social.Identity{Network: social.X, AccountID: "17001", Handle: "@ann"}) {
		t.Fatalf("Lookup(ann) = %+v, %v", ann, err)
	}
	for _, h := range []string{"@nobody", "not a handle", "@a/../../2/tweets", "@waytoolongforanxhandle", ""} {
		if _, err := c.Lookup(ctx, cn, h); !errors.Is(err, social.ErrNoSuchPerson) {
			t.Fatalf("Lookup(%q) = %v", h, err)
		}
	}

	bob, bobTok := f.AddPerson(t, "bob")
	_, annTok := f.AddPerson(t, "ann")
	set(f, func() { f.Followers[bob.ID] = true })
	for _, tc := range []struct {
		person social.Identity
		want   bool
	}{
		{social.Identity{Network: social.X, AccountID: bob.ID, Handle: "@bob"}, true},
		{ann, false},
		{social.Identity{Network: social.X, AccountID: "999999"}, false}, // unknown to X
		{social.Identity{Network: social.Mastodon, AccountID: bob.ID}, false},
	} {
		if ok, err := c.Follows(ctx, cn, tc.person); err != nil || ok != tc.want {
			t.Fatalf("Follows(%+v) = %v, %v", tc.person, ok, err)
		}
	}

	// The same question with the person's own token.
	if ok, err := c.PersonFollows(ctx, bobTok, f.Brand.ID); err != nil || !ok {
		t.Fatalf("PersonFollows(bob) = %v, %v", ok, err)
	}
	if ok, err := c.PersonFollows(ctx, annTok, f.Brand.ID); err != nil || ok {
		t.Fatalf("PersonFollows(ann) = %v, %v", ok, err)
	}
	if me, err := c.Me(ctx, annTok); err != nil || me != ann {
		t.Fatalf("Me(ann) = %+v, %v", me, err)
	}
	wantKind(t, func() error { _, err := c.PersonFollows(ctx, "xpt-forged", f.Brand.ID); return err }(), social.Unauthorized)
	wantKind(t, func() error { _, err := c.PersonFollows(ctx, bobTok, ""); return err }(), social.Rejected)
}

func TestPostCost(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]x.Cost{
		"Outlet deal today ^LB":                  x.CreatePost,
		"Outlet deal https://go.example/abc ^LB": x.CreatePostWithURL,
		"see http://shop.example":                x.CreatePostWithURL,
		"see example.com for more":               x.CreatePostWithURL,
		"see shop.example/deal":                  x.CreatePostWithURL,
		"write to help@example.com":              x.CreatePost,
		"e.g. the XPS, v2.0 or node.js":          x.CreatePost,
		"":                                       x.CreatePost,
	} {
		if got := x.PostCost(text); got != want {
			t.Errorf("PostCost(%q) = %v, want %v", text, got, want)
		}
	}
	for c, want := range map[x.Cost]string{x.CreatePost: "$0.015", x.CreatePostWithURL: "$0.20", x.OwnedRead: "$0.001", 1_500_000: "$1.50", 0: "$0.00", -x.CreatePost: "-$0.015"} {
		if c.String() != want {
			t.Errorf("Cost(%d) = %q, want %q", int64(c), c.String(), want)
		}
	}
}

package web_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/server"
	"github.com/roost-hq/roost/internal/server/servertest"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/bluesky"
	"github.com/roost-hq/roost/internal/social/bluesky/blueskytest"
	"github.com/roost-hq/roost/internal/social/mastodon/mastodontest"
	"github.com/roost-hq/roost/internal/social/x"
	"github.com/roost-hq/roost/internal/social/x/xtest"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
)

// TestShopperSignsInWithMastodon: a shopper types their handle, approves
// Roost on their own server (the smallest scope it offers), comes back
// signed in, and claims because they follow the brand account.
func TestShopperSignsInWithMastodon(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d *store.DB) {
		f := mastodontest.NewTLS(t)
		host := strings.TrimPrefix(f.URL, "https://")
		f.Lock()
		f.APIVersion = 2
		f.PersonToken = "ptok-1"
		f.Person = mastodontest.Account{ID: "77", Username: "ann", Acct: "ann"}
		f.Accounts["ann@"+host] = mastodontest.Account{ID: "77", Username: "ann", Acct: "ann"}
		f.Followers["77"] = true
		f.Unlock()
		e := servertest.NewWith(t, d.Dialect, func(o *server.Options) { o.NetworkHTTP, o.PersonHTTP = f.Client(), f.Client() })
		ctx := context.Background()
		w, _ := e.Owner("Dell Outlet", "lena@example.com")
		acct, err := e.Social.Connect(ctx, w.ID, social.Connection{Network: social.Mastodon, Instance: f.URL,
			Profile: social.Profile{RemoteID: "14715", Handle: "outlet", DisplayName: "Outlet"}, Creds: []byte(`{"access_token":"tok-1"}`)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Offers.Create(ctx, w.ID, "", offers.Input{Slug: "fans", Title: "Fans only", LandingURL: "https://shop.example.com/",
			Currency: "USD", Cap: 5, Audience: offers.Followers, Accounts: []string{acct.ID}, CodeMode: offers.Unique, Published: true}); err != nil {
			t.Fatal(err)
		}
		ann := e.Browser()
		want(t, ann.Get("/o/fans"), 200, "Sign in with Mastodon", "@you@mastodon.social")
		want(t, ann.Post("/o/fans", "/o/fans", url.Values{"action": {"signin-mastodon"}, "mastodon_handle": {"ann"}}), 422, "full Mastodon handle")
		r := ann.Post("/o/fans", "/o/fans", url.Values{"action": {"signin-mastodon"}, "mastodon_handle": {"@ann@" + host}})
		loc, _ := url.Parse(r.Header.Get("Location"))
		q := loc.Query()
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc.String(), f.URL+"/oauth/authorize?") || q.Get("scope") != "profile" ||
			q.Get("redirect_uri") != e.URL+"/signin/mastodon/callback" || q.Get("code_challenge_method") != "S256" {
			t.Fatalf("sign-in: %d %s", r.Status, loc)
		}
		// Denied, then approved.
		wantRedirect(t, ann.Get("/signin/mastodon/callback?"+url.Values{"error": {"access_denied"}, "state": {q.Get("state")}}.Encode()), "/o/fans")
		want(t, ann.Get("/o/fans"), 200, "You did not sign in: access_denied")
		r = ann.Post("/o/fans", "/o/fans", url.Values{"action": {"signin-mastodon"}, "mastodon_handle": {"@ann@" + host}})
		loc, _ = url.Parse(r.Header.Get("Location"))
		state := loc.Query().Get("state")
		wantRedirect(t, ann.Get("/signin/mastodon/callback?"+url.Values{"code": {"good-code"}, "state": {state}}.Encode()), "/o/fans")
		want(t, ann.Get("/o/fans"), 200, "Signed in as <strong>@ann@"+host+"</strong>")
		f.Lock()
		revoked := slices.Contains(f.RevokedTokens, "ptok-1")
		f.Unlock()
		if !revoked {
			t.Error("the shopper's token was not given back")
		}
		wantRedirect(t, ann.Post("/o/fans", "/o/fans", url.Values{"action": {"claim"}}), "/o/fans")
		if codeOn(t, ann.Get("/o/fans").Body) == "" {
			t.Fatal("a follower signed in with Mastodon got no code")
		}
		// A state is used once.
		want(t, ann.Get("/signin/mastodon/callback?"+url.Values{"code": {"good-code"}, "state": {state}}.Encode()), 400, "Sign-in expired")
	})
}

// The shopper's server is reached on public addresses only: a handle
// naming a server inside Roost's network is refused.
func TestShopperServerMustBePublic(t *testing.T) {
	t.Parallel()
	e := servertest.New(t, store.SQLite)
	ctx := context.Background()
	w, _ := e.Owner("Dell Outlet", "lena@example.com")
	acct, _ := e.Social.Connect(ctx, w.ID, social.Connection{Network: social.Mastodon, Instance: "https://mastodon.example",
		Profile: social.Profile{RemoteID: "1", Handle: "outlet"}, Creds: []byte(`{"access_token":"x"}`)})
	e.Offers.Create(ctx, w.ID, "", offers.Input{Slug: "fans", Title: "Fans", LandingURL: "https://shop.example.com/", Currency: "USD", Cap: 5,
		Audience: offers.Followers, Accounts: []string{acct.ID}, CodeMode: offers.Unique, Published: true})
	b := e.Browser()
	for _, h := range []string{"@x@127.0.0.1:6379", "@x@localhost", "@x@10.0.0.5", "@x@169.254.169.254"} {
		want(t, b.Post("/o/fans", "/o/fans", url.Values{"action": {"signin-mastodon"}, "mastodon_handle": {h}}), http.StatusBadGateway, "not a public address")
	}
}

// TestShopperSignsInWithBluesky goes through AT Protocol OAuth against a
// fake PDS and authorization server (PAR, DPoP with its nonce, the
// callback with iss), and claims as a follower.
func TestShopperSignsInWithBluesky(t *testing.T) {
	t.Parallel()
	f := blueskytest.NewTLS(t)
	ann := f.AddPerson("ann.test", "Ann")
	f.Lock()
	f.Followers[ann] = true
	f.Unlock()
	e := servertest.NewWith(t, store.SQLite, func(o *server.Options) {
		o.NetworkHTTP, o.PersonHTTP, o.BlueskyResolver, o.BlueskyPLC = f.Client(), f.Client(), f.URL, f.URL
	})
	ctx := context.Background()
	w, _ := e.Owner("Dell Outlet", "lena@example.com")
	creds, p, err := (&bluesky.Connector{HTTP: f.Client()}).Login(ctx, f.URL, blueskytest.Handle, blueskytest.AppPassword)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := e.Social.Connect(ctx, w.ID, social.Connection{Network: social.Bluesky, Instance: f.URL, Profile: p, Creds: creds})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Offers.Create(ctx, w.ID, "", offers.Input{Slug: "fans", Title: "Fans only", LandingURL: "https://shop.example.com/",
		Currency: "USD", Cap: 5, Audience: offers.Followers, Accounts: []string{acct.ID}, CodeMode: offers.Unique, Published: true}); err != nil {
		t.Fatal(err)
	}
	if r := e.Browser().Get(bluesky.ClientMetadataPath); r.Status != 200 || !strings.Contains(r.Body, `"dpop_bound_access_tokens": true`) {
		t.Fatalf("client metadata: %d %s", r.Status, r.Body)
	}
	b := e.Browser()
	want(t, b.Get("/o/fans"), 200, "Sign in with Bluesky")
	want(t, b.Post("/o/fans", "/o/fans", url.Values{"action": {"signin-bluesky"}, "bluesky_handle": {"nobody.test"}}), http.StatusBadGateway, "Bluesky sign-in did not start")
	r := b.Post("/o/fans", "/o/fans", url.Values{"action": {"signin-bluesky"}, "bluesky_handle": {"@ann.test"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s", r.Status, r.Body)
	}
	// The authorization server approves and sends the browser back.
	c := f.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	approve := func(loc string) *url.URL {
		t.Helper()
		req, _ := http.NewRequest("GET", loc, nil)
		req.Header.Set("User-Agent", "Mozilla/5.0 (test browser)")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		back, _ := url.Parse(resp.Header.Get("Location"))
		if back.Path != "/signin/bluesky/callback" || back.Query().Get("iss") == "" {
			t.Fatalf("authorize: %d %s", resp.StatusCode, body)
		}
		return back
	}
	back := approve(r.Header.Get("Location"))
	// Another browser cannot finish it: the session cookie is this one's.
	wantRedirect(t, e.Browser().Get(back.RequestURI()), "/o/fans")
	r = b.Post("/o/fans", "/o/fans", url.Values{"action": {"signin-bluesky"}, "bluesky_handle": {"ann.test"}})
	back = approve(r.Header.Get("Location"))
	wantRedirect(t, b.Get(back.RequestURI()), "/o/fans")
	want(t, b.Get("/o/fans"), 200, "Signed in as <strong>@ann.test</strong>")
	wantRedirect(t, b.Post("/o/fans", "/o/fans", url.Values{"action": {"claim"}}), "/o/fans")
	if codeOn(t, b.Get("/o/fans").Body) == "" {
		t.Fatal("a follower signed in with Bluesky got no code")
	}
}

// TestShopperSignsInWithX: the follow check is made at sign-in with the
// shopper's own token (connection_status), so the claim needs no call on
// the brand's token (revoked here to prove it).
func TestShopperSignsInWithX(t *testing.T) {
	t.Parallel()
	f := xtest.New(t)
	e := servertest.NewWith(t, store.SQLite, func(o *server.Options) {
		o.X = x.Connector{APIBase: f.URL, AuthorizeBase: f.AuthorizeURL(), ClientID: f.ClientID, ClientSecret: f.ClientSecret}
	})
	ctx := context.Background()
	w, _ := e.Owner("Dell Outlet", "lena@example.com")
	acct, err := e.Social.Connect(ctx, w.ID, social.Connection{Network: social.X, Profile: social.Profile{RemoteID: f.Brand.ID, Handle: "outlet"},
		Creds: f.Creds(time.Now().Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Offers.Create(ctx, w.ID, "", offers.Input{Slug: "fans", Title: "Fans only", LandingURL: "https://shop.example.com/",
		Currency: "USD", Cap: 5, Audience: offers.Followers, Accounts: []string{acct.ID}, CodeMode: offers.Unique, Published: true}); err != nil {
		t.Fatal(err)
	}
	ann, _ := f.AddPerson(t, "ann")
	f.Lock()
	f.SignInAs, f.Followers[ann.ID] = ann.ID, true
	f.Unlock()

	b := e.Browser()
	want(t, b.Get("/o/fans"), 200, "Sign in with X")
	r := b.Post("/o/fans", "/o/fans", url.Values{"action": {"signin-x"}})
	resp, err := servertest.NoRedirects(nil).Get(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	if back.Path != "/signin/x/callback" {
		t.Fatalf("authorize sent the browser to %s", back)
	}
	wantRedirect(t, b.Get(back.RequestURI()), "/o/fans")
	want(t, b.Get("/o/fans"), 200, "Signed in as <strong>@ann</strong>")
	f.Lock()
	f.Revoked = true
	f.Unlock()
	wantRedirect(t, b.Post("/o/fans", "/o/fans", url.Values{"action": {"claim"}}), "/o/fans")
	if codeOn(t, b.Get("/o/fans").Body) == "" {
		t.Fatal("a follower signed in with X got no code")
	}

	// Bob did not follow at sign-in; asking X with the brand's (revoked)
	// token fails: he is told so, and nothing is claimed.
	bob, _ := f.AddPerson(t, "bob")
	f.Lock()
	f.SignInAs, f.Revoked = bob.ID, false
	f.Unlock()
	bb := e.Browser()
	r = bb.Post("/o/fans", "/o/fans", url.Values{"action": {"signin-x"}})
	resp, err = servertest.NoRedirects(nil).Get(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, _ = url.Parse(resp.Header.Get("Location"))
	wantRedirect(t, bb.Get(back.RequestURI()), "/o/fans")
	f.Lock()
	f.Revoked = true
	f.Unlock()
	want(t, bb.Post("/o/fans", "/o/fans", url.Values{"action": {"claim"}}), http.StatusServiceUnavailable, "X could not confirm that you follow just now")
	if codeOn(t, bb.Get("/o/fans").Body) != "" {
		t.Fatal("a claim was made without a follow check")
	}
}

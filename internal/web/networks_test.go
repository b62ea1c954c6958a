package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/roost-hq/roost/internal/server"
	"github.com/roost-hq/roost/internal/server/servertest"
	"github.com/roost-hq/roost/internal/social/bluesky/blueskytest"
	"github.com/roost-hq/roost/internal/social/x"
	"github.com/roost-hq/roost/internal/social/x/xtest"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
)

// TestConnectX goes through X's authorization (a fake api.x.com and its
// approval page) with the brand's app from the configuration.
func TestConnectX(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d *store.DB) {
		f := xtest.New(t)
		unset := servertest.New(t, d.Dialect)
		unset.Owner("No App", "no@example.com")
		b := unset.Browser()
		b.Login("no@example.com")
		want(t, b.Get("/app/settings/accounts"), 200, "ROOST_X_CLIENT_ID", "/app/settings/accounts/callback/x")

		e := servertest.NewWith(t, d.Dialect, func(o *server.Options) {
			o.X = x.Connector{APIBase: f.URL, AuthorizeBase: f.AuthorizeURL(), ClientID: f.ClientID, ClientSecret: f.ClientSecret}
		})
		e.Owner("Dell Outlet", "lena@example.com")
		owner := e.Browser()
		owner.Login("lena@example.com")
		const page = "/app/settings/accounts"
		want(t, owner.Get(page), 200, "Connect X", "$0.20")
		r := owner.Post(page, page+"/x", nil)
		loc := r.Header.Get("Location")
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, f.AuthorizeURL()+"?") {
			t.Fatalf("connect: %d %s", r.Status, loc)
		}
		// The fake approves and sends the browser back with the code.
		resp, err := servertest.NoRedirects(nil).Get(loc)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		back, _ := url.Parse(resp.Header.Get("Location"))
		r = owner.Get(back.RequestURI())
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), page+"/acc_") {
			t.Fatalf("callback: %d %s\n%s", r.Status, r.Header.Get("Location"), r.Body)
		}
		want(t, owner.Get(r.Header.Get("Location")), 200, "@outlet connected", "healthy")
		// The composer says what a post costs on X.
		want(t, owner.Get("/app/posts"), 200, "a paid X API call: $0.20 with a link")
		// A state works once.
		wantRedirect(t, owner.Get(back.RequestURI()), page)
	})
}

// TestConnectBluesky signs in with a handle and an app password against a
// fake PDS, and refuses the main password and bad input.
func TestConnectBluesky(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d *store.DB) {
		f := blueskytest.New(t)
		e := servertest.New(t, d.Dialect)
		e.Owner("Dell Outlet", "lena@example.com")
		owner := e.Browser()
		owner.Login("lena@example.com")
		const page = "/app/settings/accounts"
		form := func(handle, pass string) url.Values {
			return url.Values{"bluesky_handle": {handle}, "app_password": {pass}, "service": {f.URL}}
		}
		want(t, owner.Post(page, page+"/bluesky", url.Values{"bluesky_handle": {""}, "app_password": {""}}), 422, "your Bluesky handle", "an app password")
		want(t, owner.Post(page, page+"/bluesky", url.Values{"bluesky_handle": {"a"}, "app_password": {"b"}, "service": {"ftp://x"}}), 422, "https")
		want(t, owner.Post(page, page+"/bluesky", form(blueskytest.Handle, "wrong")), 422, "Bluesky refused")
		want(t, owner.Post(page, page+"/bluesky", form(blueskytest.Handle, blueskytest.MainPassword)), 422, "the account&#39;s own password")
		r := owner.Post(page, page+"/bluesky", form("@"+blueskytest.Handle, blueskytest.AppPassword))
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), page+"/acc_") {
			t.Fatalf("connect: %d %s\n%s", r.Status, r.Header.Get("Location"), r.Body)
		}
		acct := r.Header.Get("Location")
		want(t, owner.Get(acct), 200, "@"+blueskytest.Handle+" connected", "healthy", "300")
		want(t, owner.Get(page), 200, "Allow access to your direct messages")

		// The app password was made without access to direct messages:
		// the inbox says so, and so does the account, which stays healthy.
		e.Poller.RunOnce(context.Background())
		want(t, owner.Get("/app/inbox"), 200, "Direct messages to @"+blueskytest.Handle+" are not being read", "Allow access to your direct messages")
		want(t, owner.Get(acct), 200, "direct messages not read", "Allow access to your direct messages", "healthy")
	})
}

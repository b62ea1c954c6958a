package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/roost-hq/roost/internal/server/servertest"
	"github.com/roost-hq/roost/internal/social/mastodon/mastodontest"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
)

// TestConnectMastodon connects a brand account through the OAuth flow
// against a fake instance: app registration, the approval redirect with
// PKCE, the callback, and the refusals.
func TestConnectMastodon(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d *store.DB) {
		e := servertest.New(t, d.Dialect)
		e.Owner("Dell Outlet", "lena@example.com")
		f := mastodontest.New(t)
		owner := e.Browser()
		owner.Login("lena@example.com")
		const page = "/app/settings/accounts"
		want(t, owner.Post(page, page+"/mastodon", url.Values{"instance": {"ftp://mastodon.example"}}), 422, "must use https")
		want(t, owner.Post(page, page+"/mastodon", url.Values{"instance": {"http://mastodon.example"}}), 422, "must use https")

		r := owner.Post(page, page+"/mastodon", url.Values{"instance": {f.URL + "/"}})
		loc, _ := url.Parse(r.Header.Get("Location"))
		q := loc.Query()
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc.String(), f.URL+"/oauth/authorize?") || q.Get("client_id") != "cid-1" ||
			q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("scope") != "read write:statuses" ||
			q.Get("redirect_uri") != e.URL+"/app/settings/accounts/callback/mastodon" {
			t.Fatalf("connect: %d %s", r.Status, loc)
		}
		cb := "/app/settings/accounts/callback/mastodon?"
		// Another person's browser cannot finish this flow.
		e.Owner("Other Shop", "sam@example.com")
		other := e.Browser()
		other.Login("sam@example.com")
		wantRedirect(t, other.Get(cb+url.Values{"code": {"good-code"}, "state": {q.Get("state")}}.Encode()), page)
		want(t, other.Get(page), 200, "already used or expired")

		// The admin denies, then approves.
		r = owner.Post(page, page+"/mastodon", url.Values{"instance": {f.URL}})
		loc, _ = url.Parse(r.Header.Get("Location"))
		wantRedirect(t, owner.Get(cb+url.Values{"error": {"access_denied"}, "state": {loc.Query().Get("state")}}.Encode()), page)
		want(t, owner.Get(page), 200, "did not connect the account: access_denied")
		r = owner.Post(page, page+"/mastodon", url.Values{"instance": {f.URL}})
		loc, _ = url.Parse(r.Header.Get("Location"))
		wantRedirect(t, owner.Get(cb+url.Values{"code": {"bad-code"}, "state": {loc.Query().Get("state")}}.Encode()), page)
		want(t, owner.Get(page), 200, "invalid_grant")
		r = owner.Post(page, page+"/mastodon", url.Values{"instance": {f.URL}})
		loc, _ = url.Parse(r.Header.Get("Location"))
		state := loc.Query().Get("state")
		r = owner.Get(cb + url.Values{"code": {"good-code"}, "state": {state}}.Encode())
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/app/settings/accounts/acc_") {
			t.Fatalf("callback: %d %s\n%s", r.Status, r.Header.Get("Location"), r.Body)
		}
		host := strings.TrimPrefix(f.URL, "http://")
		want(t, owner.Get(r.Header.Get("Location")), 200, "@outlet@"+host+" connected", "1234", "posts up to 1000 characters", "healthy")
		// A state works once.
		wantRedirect(t, owner.Get(cb+url.Values{"code": {"good-code"}, "state": {state}}.Encode()), page)
		f.Lock()
		f.Revoked = true
		f.Unlock()
		acct := r.Header.Get("Location")
		wantRedirect(t, owner.Post(acct, acct+"/refresh", nil), acct)
		want(t, owner.Get(acct), 200, "The access token was revoked", "revoked: reconnect")
	})
}

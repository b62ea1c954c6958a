package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

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
		acct := r.Header.Get("Location")

		// A direct message arrives; the reply is a direct status naming
		// the person.
		ctx := context.Background()
		e.Poller.Every = time.Millisecond
		e.Poller.RunOnce(ctx) // the cursor starts from now
		want(t, owner.Get(acct), 200, "mentions read")
		f.AddDirect(t, "ann@other.example", "@outlet where is my order?")
		time.Sleep(2 * time.Millisecond)
		if n, err := e.Poller.RunOnce(ctx); n != 1 || err != nil {
			t.Fatalf("poll: %d %v", n, err)
		}
		inboxPage := owner.Get("/app/inbox")
		want(t, inboxPage, 200, "@ann@other.example", `<span class="badge">direct</span>`)
		conv := regexp.MustCompile(`/app/inbox/(cnv_[a-z0-9]+)`).FindStringSubmatch(inboxPage.Body)
		convPath := "/app/inbox/" + conv[1]
		want(t, owner.Get(convPath), 200, "direct message", "Sent as a direct message")
		wantRedirect(t, owner.Post(convPath, convPath, url.Values{"action": {"reply"}, "text": {"It shipped today."}}), convPath)
		f.Lock()
		last := f.Statuses[len(f.Statuses)-1]
		f.Unlock()
		if last.Visibility != "direct" || !strings.Contains(last.Content, "@ann@other.example It shipped today. ^OW") {
			t.Fatalf("the instance got %+v", last)
		}

		f.Lock()
		f.Revoked = true
		f.Unlock()
		wantRedirect(t, owner.Post(acct, acct+"/refresh", nil), acct)
		want(t, owner.Get(acct), 200, "The access token was revoked", "revoked: reconnect")
	})
}

package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/server/servertest"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
)

var codeRE = regexp.MustCompile(`id="claim-code">([A-Z0-9-]+)<`)

func codeOn(t *testing.T, page string) string {
	t.Helper()
	m := codeRE.FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return m[1]
}

func TestClaimPage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d *store.DB) {
		e := servertest.New(t, d.Dialect)
		db := e.DB
		ctx := context.Background()
		w, _ := e.Owner("Dell Outlet", "o@example.com")
		mk := func(slug string, aud offers.Audience, cap int64, accounts ...string) offers.Offer {
			end := time.Now().Add(72 * time.Hour)
			o, err := e.Offers.Create(ctx, w.ID, "", offers.Input{Slug: slug, Title: "XPS 13 for " + slug, LandingURL: "https://shop.example.com/xps?ref=x",
				Currency: "USD", Products: []offers.Product{{SKU: "XPS13", Name: "XPS 13", RegularPrice: 129900, DealPrice: 99900}},
				Cap: cap, Audience: aud, Accounts: accounts, CodeMode: offers.Unique, CodePrefix: "OUT-", EndsAt: &end, Published: true})
			if err != nil {
				t.Fatal(err)
			}
			return o
		}

		// Public: claim, see the code again, another browser gets another code, then sold out.
		mk("public", offers.Public, 2)
		ann := e.Browser()
		page := ann.Get("/o/public")
		want(t, page, 200, "XPS 13 for public", "1,299.00 USD", "999.00 USD", "2</strong><span>of 2 left", "2 days", "Dell Outlet")
		if codeOn(t, page.Body) != "" {
			t.Fatal("a code shown before claiming")
		}
		wantRedirect(t, ann.Post("/o/public", "/o/public", url.Values{"action": {"claim"}}), "/o/public")
		code := codeOn(t, ann.Get("/o/public").Body)
		if !strings.HasPrefix(code, "OUT-") {
			t.Fatalf("no code after claiming: %q", code)
		}
		// The form sent again (a double tap, a back button) claims nothing new.
		wantRedirect(t, ann.Post("/app/login", "/o/public", url.Values{"action": {"claim"}}), "/o/public")
		if again := ann.Get("/o/public"); codeOn(t, again.Body) != code || strings.Contains(again.Body, "Claim my code") {
			t.Fatal("the same person did not get the same code back")
		}
		bob := e.Browser()
		wantRedirect(t, bob.Post("/o/public", "/o/public", url.Values{"action": {"claim"}}), "/o/public")
		if c := codeOn(t, bob.Get("/o/public").Body); c == "" || c == code {
			t.Fatalf("second person's code %q", c)
		}
		carl := e.Browser()
		want(t, carl.Get("/o/public"), 200, "sold out")
		want(t, carl.Post("/app/login", "/o/public", url.Values{"action": {"claim"}}), http.StatusConflict, "sold out")

		// Link audience: only with a click of the workspace's links, which
		// also goes to the store with the Shop now button.
		mk("via-link", offers.Link, 5)
		dan := e.Browser()
		want(t, dan.Post("/o/via-link", "/o/via-link", url.Values{"action": {"claim"}}), http.StatusConflict, "open it from one of its posts")
		cid := id.New("")
		if err := links.StoreClick(context.Background(), db.W, links.Click{ID: cid, WorkspaceID: w.ID, LinkID: "lnk_1", At: time.UnixMicro(1), Visitor: "v"}, links.Classified{}, false); err != nil {
			t.Fatal(err)
		}
		want(t, dan.Get("/o/via-link?roost_cid="+cid), 200)
		if r := dan.Post("/o/via-link", "/o/via-link", url.Values{"action": {"claim"}}); r.Status != http.StatusSeeOther {
			t.Fatalf("claim via link: %d %s", r.Status, regexp.MustCompile(`id="refusal">[^<]*`).FindString(r.Body))
		}
		page = dan.Get("/o/via-link")
		if codeOn(t, page.Body) == "" || !strings.Contains(page.Body, "https://shop.example.com/xps?ref=x&amp;roost_cid="+cid) {
			t.Fatalf("link claim or Shop now URL missing:\n%s", page.Body)
		}
		// A workspace that renamed its click parameter: the claim page
		// reads the click under the new name.
		if _, err := e.Links.SaveSettings(ctx, w.ID, links.Settings{ClickParam: "cid"}); err != nil {
			t.Fatal(err)
		}
		eve := e.Browser()
		want(t, eve.Get("/o/via-link?roost_cid="+cid), 200)
		want(t, eve.Post("/o/via-link", "/o/via-link", url.Values{"action": {"claim"}}), http.StatusConflict, "open it from one of its posts")
		want(t, eve.Get("/o/via-link?cid="+cid), 200)
		wantRedirect(t, eve.Post("/o/via-link", "/o/via-link", url.Values{"action": {"claim"}}), "/o/via-link")
		if page := eve.Get("/o/via-link"); !strings.Contains(page.Body, "https://shop.example.com/xps?ref=x&amp;cid="+cid) {
			t.Fatalf("Shop now URL with the renamed parameter missing:\n%s", page.Body)
		}

		// Followers: sign in with the sandbox, followers only.
		acct, err := e.Social.CreateSandboxAccount(ctx, w.ID, "", "dellhome", "Dell Home")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := social.NewSandbox(e.DB).SetFollowers(ctx, acct, []string{"ann"}); err != nil {
			t.Fatal(err)
		}
		mk("fans", offers.Followers, 5, acct.ID)
		fan := e.Browser()
		want(t, fan.Get("/o/fans"), 200, "For followers of @dellhome", "Sign in with Sandbox")
		want(t, fan.Post("/o/fans", "/o/fans", url.Values{"action": {"signin"}, "handle": {"not a handle"}}), 422, "not a handle")
		wantRedirect(t, fan.Post("/o/fans", "/o/fans", url.Values{"action": {"signin"}, "handle": {"@ann"}}), "/o/fans")
		want(t, fan.Get("/o/fans"), 200, "Signed in as <strong>@ann</strong>")
		wantRedirect(t, fan.Post("/o/fans", "/o/fans", url.Values{"action": {"claim"}}), "/o/fans")
		if codeOn(t, fan.Get("/o/fans").Body) == "" {
			t.Fatal("a follower got no code")
		}
		stranger := e.Browser()
		wantRedirect(t, stranger.Post("/o/fans", "/o/fans", url.Values{"action": {"signin"}, "handle": {"zed"}}), "/o/fans")
		want(t, stranger.Post("/app/login", "/o/fans", url.Values{"action": {"claim"}}), http.StatusConflict, "for followers")
		// A forged person cookie is ignored.
		forger := e.Browser()
		u, _ := url.Parse(e.URL)
		forger.C.Jar.SetCookies(u, []*http.Cookie{{Name: "roost_person", Value: "sandbox\nann\n@ann"}})
		want(t, forger.Get("/o/fans"), 200, "Sign in with Sandbox")

		// Unknown and draft offers have no page.
		want(t, ann.Get("/o/nothing"), 404, "Offer not found")
		draft := mk("draft", offers.Public, 5)
		draft.Published = false
		in := offers.Input{Slug: draft.Slug, Title: draft.Title, LandingURL: draft.LandingURL, Currency: "USD", Cap: 5, Audience: offers.Public, CodeMode: offers.Unique}
		if _, err := e.Offers.Update(ctx, w.ID, draft.ID, in); err != nil {
			t.Fatal(err)
		}
		want(t, ann.Get("/o/draft"), 404, "Offer not found")
		var stored int
		db.R.QueryRow(`SELECT COUNT(*) FROM claims`).Scan(&stored)
		if stored != 5 { // ann, bob, dan, eve and the follower
			t.Fatalf("%d claims stored, want 5", stored)
		}
	})
}

var tokenRE = regexp.MustCompile(`value="@dellhome ([A-Z0-9]{5}-[A-Z0-9]{5})"`)

// A shopper who cannot sign in proves who they are by mentioning the
// brand account with a one-time token; the page follows along by itself.
func TestClaimByToken(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d *store.DB) {
		e := servertest.New(t, d.Dialect)
		ctx := context.Background()
		w, _ := e.Owner("Dell Outlet", "o@example.com")
		acct, err := e.Social.CreateSandboxAccount(ctx, w.ID, "", "dellhome", "Dell Home")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Sandbox.SetFollowers(ctx, acct, []string{"ann"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Offers.Create(ctx, w.ID, "", offers.Input{Slug: "fans", Title: "Fans only", LandingURL: "https://shop.example.com/",
			Currency: "USD", Cap: 5, Audience: offers.Followers, Accounts: []string{acct.ID}, CodeMode: offers.Unique, Published: true}); err != nil {
			t.Fatal(err)
		}
		poll := func() {
			time.Sleep(5 * time.Millisecond)
			if _, err := e.Poller.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		status := func(b *servertest.Browser) string {
			var s struct{ Status string }
			b.Get("/o/fans/token").JSON(t, &s)
			return s.Status
		}

		ann := e.Browser()
		want(t, ann.Get("/o/fans"), 200, "Prove it with a post instead", "Get a token")
		if s := status(ann); s != "" {
			t.Fatalf("status before asking: %q", s)
		}
		wantRedirect(t, ann.Post("/o/fans", "/o/fans", url.Values{"action": {"token"}}), "/o/fans#token")
		page := ann.Get("/o/fans")
		m := tokenRE.FindStringSubmatch(page.Body)
		if m == nil {
			t.Fatalf("no token on the page:\n%s", page.Body)
		}
		want(t, page, 200, "Waiting for your post", `data-token-status="/o/fans/token"`)
		// Asking again keeps the same token.
		ann.Post("/o/fans", "/o/fans", url.Values{"action": {"token"}})
		if again := tokenRE.FindStringSubmatch(ann.Get("/o/fans").Body); again == nil || again[1] != m[1] {
			t.Fatalf("a second token: %v then %v", m, again)
		}

		// Someone else posts the token they saw: nothing changes for them,
		// and Ann's browser alone learns the outcome.
		if _, err := e.Sandbox.Mention(ctx, acct, "ann", "@dellhome "+m[1], ""); err != nil {
			t.Fatal(err)
		}
		poll()
		if s := status(ann); s != "claimed" {
			t.Fatalf("status after the mention: %q", s)
		}
		page = ann.Get("/o/fans")
		want(t, page, 200, "Signed in as <strong>@ann</strong>")
		if codeOn(t, page.Body) == "" {
			t.Fatalf("no code after the token's mention:\n%s", page.Body)
		}
		bob := e.Browser()
		if s := status(bob); s != "" || codeOn(t, bob.Get("/o/fans").Body) != "" {
			t.Fatal("another browser saw the token's outcome")
		}
		// Signing out sticks: the claimed token does not sign in again.
		wantRedirect(t, ann.Post("/o/fans", "/o/fans", url.Values{"action": {"signout"}}), "/o/fans")
		if page := ann.Get("/o/fans"); strings.Contains(page.Body, "Signed in as") || codeOn(t, page.Body) != "" {
			t.Fatal("signed in again after signing out")
		}

		// Bob does not follow: his token is refused with the reason, and he
		// can ask for a new one.
		bob.Post("/o/fans", "/o/fans", url.Values{"action": {"token"}})
		bt := tokenRE.FindStringSubmatch(bob.Get("/o/fans").Body)
		if bt == nil {
			t.Fatal("no token for bob")
		}
		e.Sandbox.Mention(ctx, acct, "bob", "@dellhome "+bt[1], "")
		poll()
		want(t, bob.Get("/o/fans"), 200, "@bob does not follow the account yet", "Get a new token")

		// Minting tokens is rate limited on its own (all browsers here come
		// from one address): at most five at once.
		limited := false
		for range 8 {
			if r := e.Browser().Post("/o/fans", "/o/fans", url.Values{"action": {"token"}}); r.Status == http.StatusTooManyRequests {
				limited = true
				want(t, r, 429, "Too many tokens")
				break
			}
		}
		if !limited {
			t.Fatal("token requests are not rate limited")
		}
	})
}

package web_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/roost-hq/roost/internal/browsertest"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/server/servertest"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
)

// signIn goes to the dashboard and signs in through the form, as a person does.
func signIn(t *testing.T, ctx context.Context, e *servertest.Env, email string) {
	t.Helper()
	browsertest.Do(t, ctx,
		chromedp.Navigate(e.URL+"/app/"),
		chromedp.WaitVisible(`input[name=email]`),
		chromedp.SendKeys(`input[name=email]`, email),
		chromedp.SendKeys(`input[name=password]`, servertest.Password),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`main h1`),
	)
}

const sidewaysScroll = `document.documentElement.scrollWidth > window.innerWidth`

// TestBrowserSignIn signs in through the real login form in Chromium, on a
// laptop and on a phone, and checks the dashboard shell.
func TestBrowserSignIn(t *testing.T) {
	t.Parallel()
	for name, vp := range map[string]browsertest.Viewport{"laptop": browsertest.Laptop, "phone": browsertest.Phone} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := servertest.New(t, store.SQLite)
			e.Owner("Dell Outlet", "lena@example.com")
			ctx := browsertest.New(t, vp)
			signIn(t, ctx, e, "lena@example.com")
			browsertest.Screenshot(t, ctx, "overview")
			heading := browsertest.Get(t, ctx, chromedp.Text(`main h1`))
			ws := browsertest.Get(t, ctx, chromedp.Text(`.switcher .ws-name`))
			nav := browsertest.Get(t, ctx, chromedp.Text(`nav.main`))
			settingsShown := browsertest.Get(t, ctx, chromedp.Evaluate[bool](`(() => { const r = document.querySelector('nav.main a[href="/app/settings/workspace"]').getBoundingClientRect(); return r.width > 0 && r.height > 0 })()`))
			if heading != "Overview" || ws != "Dell Outlet" || !strings.Contains(nav, "Settings") || !settingsShown {
				t.Fatalf("after sign-in: heading %q, workspace %q, nav %q (settings shown %v)", heading, ws, nav, settingsShown)
			}
			if browsertest.Get(t, ctx, chromedp.Evaluate[bool](sidewaysScroll)) {
				t.Fatal("the overview scrolls sideways")
			}
			// Settings from the menu, then the members tab.
			browsertest.Do(t, ctx,
				chromedp.Click(`nav.main a[href="/app/settings/workspace"]`),
				chromedp.WaitVisible(`nav.tabs`),
				chromedp.Click(`nav.tabs a[href="/app/settings/members"]`),
				chromedp.WaitVisible(`#add`),
			)
			browsertest.Screenshot(t, ctx, "members")
			title := browsertest.Get(t, ctx, chromedp.Title())
			if !strings.HasPrefix(title, "Members · Dell Outlet") {
				t.Fatalf("members page title %q", title)
			}
			if browsertest.Get(t, ctx, chromedp.Evaluate[bool](sidewaysScroll)) {
				t.Fatal("the members page scrolls sideways")
			}
			// The links page, with a long destination, fits too.
			w, _ := e.Team.WorkspaceBySlug(context.Background(), "dell-outlet")
			if _, err := e.Links.Create(context.Background(), w.ID, links.NewLink{Destination: "https://shop.example.com/" + strings.Repeat("very-long-path-segment/", 12), Title: "Long one", Tags: []string{"outlet"}}); err != nil {
				t.Fatal(err)
			}
			browsertest.Do(t, ctx, chromedp.Click(`nav.main a[href="/app/links"]`), chromedp.WaitVisible(`table`))
			browsertest.Screenshot(t, ctx, "links")
			if browsertest.Get(t, ctx, chromedp.Evaluate[bool](sidewaysScroll)) {
				t.Fatal("the links page scrolls sideways")
			}
		})
	}
}

// TestBrowserLinkClick creates a link in the dashboard, opens the short
// link as a visitor would, lands on the store with the click ID, and sees
// the click counted on the link's page.
func TestBrowserLinkClick(t *testing.T) {
	t.Parallel()
	e := servertest.New(t, store.SQLite)
	e.Owner("Dell Outlet", "lena@example.com")
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><title>Shop</title><h1 id="cid">%s</h1>`, html.EscapeString(r.URL.Query().Get("roost_cid")))
	}))
	t.Cleanup(shop.Close)
	ctx := browsertest.New(t, browsertest.Laptop)
	signIn(t, ctx, e, "lena@example.com")
	browsertest.Do(t, ctx,
		chromedp.Click(`nav.main a[href="/app/links"]`),
		chromedp.WaitVisible(`input[name=destination]`),
		chromedp.SendKeys(`input[name=destination]`, shop.URL+"/xps-13?ref=social"),
		chromedp.SendKeys(`input[name=title]`, "XPS 13 outlet deal"),
		chromedp.Click(`#new button[type=submit]`),
		chromedp.WaitVisible(`#stat-clicks`),
	)
	browsertest.Screenshot(t, ctx, "link-created")
	short := browsertest.Get(t, ctx, chromedp.Text(`.page-head .short`))
	linkPage := browsertest.Get(t, ctx, chromedp.Location())
	if !strings.HasPrefix(short, e.URL+"/") {
		t.Fatalf("short URL %q", short)
	}
	browsertest.Do(t, ctx, chromedp.Navigate(short), chromedp.WaitVisible(`#cid`))
	landed := browsertest.Get(t, ctx, chromedp.Location())
	cid := browsertest.Get(t, ctx, chromedp.Text(`#cid`))
	if !strings.HasPrefix(landed, shop.URL+"/xps-13?ref=social&roost_cid=") || len(cid) != 26 || !strings.Contains(landed, "utm_medium=social") {
		t.Fatalf("landed on %q with click ID %q", landed, cid)
	}
	// The click is written in the background; the page shows it once stored.
	deadline := time.Now().Add(10 * time.Second)
	for {
		browsertest.Do(t, ctx, chromedp.Navigate(linkPage), chromedp.WaitVisible(`#stat-human`))
		if browsertest.Get(t, ctx, chromedp.Text(`#stat-human`)) == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the click never showed on the link page")
		}
		time.Sleep(50 * time.Millisecond)
	}
	browsertest.Screenshot(t, ctx, "link-clicked")
	if u := browsertest.Get(t, ctx, chromedp.Text(`#stat-unique`)); u != "1" {
		t.Fatalf("unique visitors %q, want 1", u)
	}
}

// TestBrowserClaimOnPhone claims a followers-only offer through the sandbox
// network on a phone, as a shopper does: sign in with the handle, claim,
// see the code and the Shop now button. (The offer is made through the API
// until the dashboard's offer editor exists.)
func TestBrowserClaimOnPhone(t *testing.T) {
	t.Parallel()
	e := servertest.New(t, store.SQLite)
	w, _ := e.Owner("Dell Outlet", "lena@example.com")
	ctxb := context.Background()
	acct, err := e.Social.CreateSandboxAccount(ctxb, w.ID, "", "delloutlet", "Dell Outlet")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := social.NewSandbox(e.DB).SetFollowers(ctxb, acct, []string{"shopper"}); err != nil {
		t.Fatal(err)
	}
	key := e.Key(w.ID)
	r := e.API(key, "POST", "/api/v1/offers", `{"slug":"xps-13","title":"XPS 13 for followers","description":"Outlet price, this week only.",
		"landing_url":"https://shop.example.com/xps","currency":"USD","products":[{"sku":"XPS13","name":"XPS 13 (2024)","regular_price":129900,"deal_price":89900}],
		"cap":50,"audience":"followers","accounts":["`+acct.ID+`"],"code_mode":"unique","code_prefix":"OUT-","published":true,"ends_at":"`+time.Now().Add(72*time.Hour).UTC().Format(time.RFC3339)+`"}`)
	if r.Status != 201 {
		t.Fatalf("offer: %d %s", r.Status, r.Body)
	}
	ctx := browsertest.New(t, browsertest.Phone)
	browsertest.Do(t, ctx,
		chromedp.Navigate(e.URL+"/o/xps-13"),
		chromedp.WaitVisible(`input[name=handle]`),
	)
	browsertest.Screenshot(t, ctx, "offer")
	if browsertest.Get(t, ctx, chromedp.Evaluate[bool](sidewaysScroll)) {
		t.Fatal("the offer page scrolls sideways on a phone")
	}
	browsertest.Do(t, ctx,
		chromedp.SendKeys(`input[name=handle]`, "@shopper"),
		chromedp.Click(`form.stack button[type=submit]`),
		chromedp.WaitVisible(`.offer-claim form button[type=submit]`),
		chromedp.Click(`.offer-claim form button[type=submit]`),
		chromedp.WaitVisible(`#claim-code`),
	)
	browsertest.Screenshot(t, ctx, "claimed")
	code := browsertest.Get(t, ctx, chromedp.Text(`#claim-code`))
	left := browsertest.Get(t, ctx, chromedp.Text(`#units-left`))
	if !strings.HasPrefix(code, "OUT-") || left != "49" {
		t.Fatalf("code %q, units left %q", code, left)
	}
	if shop := browsertest.Get(t, ctx, chromedp.Evaluate[string](`document.querySelector('.offer-code a').href`)); !strings.HasPrefix(shop, "https://shop.example.com/xps") {
		t.Fatalf("Shop now goes to %q", shop)
	}
}

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
	"github.com/roost-hq/roost/internal/posts"
	"github.com/roost-hq/roost/internal/server/servertest"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/team"
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

// TestBrowserClaimOnPhone does the whole followers-only flow on a phone:
// a marketer adds a sandbox account and its followers and creates the
// offer in the dashboard; a shopper opens the offer page, signs in with
// the handle, claims, and sees the code and the Shop now button.
func TestBrowserClaimOnPhone(t *testing.T) {
	t.Parallel()
	e := servertest.New(t, store.SQLite)
	e.Owner("Dell Outlet", "lena@example.com")
	ctx := browsertest.New(t, browsertest.Phone)
	signIn(t, ctx, e, "lena@example.com")
	browsertest.Do(t, ctx,
		chromedp.Navigate(e.URL+"/app/settings/accounts"),
		chromedp.WaitVisible(`input[name=handle]`),
		chromedp.SendKeys(`input[name=handle]`, "@delloutlet"),
		chromedp.SendKeys(`input[name=display_name]`, "Dell Outlet"),
		chromedp.Click(`#sandbox button[type=submit]`),
		chromedp.WaitVisible(`textarea[name=followers]`),
		chromedp.SendKeys(`textarea[name=followers]`, "@shopper\n@another"),
		chromedp.Click(`#followers button[type=submit]`),
		chromedp.WaitVisible(`#followers[data-count="2"]`),
	)
	browsertest.Screenshot(t, ctx, "account")
	if browsertest.Get(t, ctx, chromedp.Evaluate[bool](sidewaysScroll)) {
		t.Fatal("the account page scrolls sideways on a phone")
	}
	ends := time.Now().Add(72 * time.Hour).UTC()
	browsertest.Do(t, ctx,
		chromedp.Navigate(e.URL+"/app/offers/new"),
		chromedp.WaitVisible(`input[name=title]`),
		chromedp.SendKeys(`input[name=title]`, "XPS 13 for followers"),
		chromedp.SendKeys(`input[name=slug]`, "xps-13"),
		chromedp.SendKeys(`textarea[name=description]`, "Outlet price, this week only."),
		chromedp.SendKeys(`input[name=landing_url]`, "https://shop.example.com/xps"),
		chromedp.SetValue(`input[name=cap]`, "50"),
		chromedp.SendKeys(`textarea[name=products]`, "XPS13, XPS 13 (2024), 1299.00, 899.00"),
		chromedp.SetValue(`input[name=ends_at]`, ends.Format("2006-01-02T15:04")),
		chromedp.SendKeys(`input[name=code_prefix]`, "OUT-"),
		chromedp.Click(`fieldset.accounts input[type=checkbox]`),
		chromedp.Click(`input[name=published]`),
		chromedp.Click(`form.stack button.primary[type=submit]`),
		chromedp.WaitVisible(`.badge.state-live`),
	)
	browsertest.Screenshot(t, ctx, "offer-created")

	shopper := browsertest.New(t, browsertest.Phone)
	browsertest.Do(t, shopper,
		chromedp.Navigate(e.URL+"/o/xps-13"),
		chromedp.WaitVisible(`input[name=handle]`),
	)
	browsertest.Screenshot(t, shopper, "offer")
	if browsertest.Get(t, shopper, chromedp.Evaluate[bool](sidewaysScroll)) {
		t.Fatal("the offer page scrolls sideways on a phone")
	}
	browsertest.Do(t, shopper,
		chromedp.SendKeys(`input[name=handle]`, "@shopper"),
		chromedp.Click(`form.stack button[type=submit]`),
		chromedp.WaitVisible(`.offer-claim form button[type=submit]`),
		chromedp.Click(`.offer-claim form button[type=submit]`),
		chromedp.WaitVisible(`#claim-code`),
	)
	browsertest.Screenshot(t, shopper, "claimed")
	code := browsertest.Get(t, shopper, chromedp.Text(`#claim-code`))
	left := browsertest.Get(t, shopper, chromedp.Text(`#units-left`))
	if !strings.HasPrefix(code, "OUT-") || left != "49" {
		t.Fatalf("code %q, units left %q", code, left)
	}
	if shop := browsertest.Get(t, shopper, chromedp.Evaluate[string](`document.querySelector('.offer-code a').href`)); !strings.HasPrefix(shop, "https://shop.example.com/xps") {
		t.Fatalf("Shop now goes to %q", shop)
	}
	// The marketer's offer page counts the claim without a reload.
	deadline := time.Now().Add(15 * time.Second)
	for browsertest.Get(t, ctx, chromedp.Text(`[data-field=claimed]`)) != "1" {
		if time.Now().After(deadline) {
			t.Fatal("the offer page never showed the claim")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestBrowserComposePublish writes a post in the composer, watches the
// live length counter, publishes to a sandbox account and sees the copy
// land on the sandbox network with the tracked link and the signature.
func TestBrowserComposePublish(t *testing.T) {
	t.Parallel()
	e := servertest.New(t, store.SQLite)
	w, owner := e.Owner("Dell Outlet", "lena@example.com")
	ctxb, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	if _, err := e.Team.UpdateMember(ctxb, team.Owner, w.ID, owner.ID, team.MemberUpdate{Signature: ptr("^LB")}); err != nil {
		t.Fatal(err)
	}
	acct, err := e.Social.CreateSandboxAccount(ctxb, w.ID, "", "delloutlet", "Dell Outlet")
	if err != nil {
		t.Fatal(err)
	}
	go e.Publisher.Run(ctxb)
	ctx := browsertest.New(t, browsertest.Laptop)
	signIn(t, ctx, e, "lena@example.com")
	browsertest.Do(t, ctx,
		chromedp.Click(`nav.main a[href="/app/posts"]`),
		chromedp.WaitVisible(`textarea[name=body]`),
		chromedp.SendKeys(`textarea[name=body]`, "Outlet XPS 13 at $899 for followers 🎉 {link}"),
		chromedp.SendKeys(`input[name=destination]`, "https://shop.example.com/xps"),
		chromedp.Click(`input[name=accounts]`),
	)
	counter := browsertest.Get(t, ctx, chromedp.Text(`.counter`))
	want := fmt.Sprintf("%d / 500", len([]rune(posts.Render("Outlet XPS 13 at $899 for followers 🎉 {link}", e.Posts.SampleLink(), "^LB"))))
	if counter != want {
		t.Fatalf("live counter %q, want %q", counter, want)
	}
	browsertest.Screenshot(t, ctx, "composer")
	browsertest.Do(t, ctx, chromedp.Click(`#compose button.primary`), chromedp.WaitVisible(`.post`))
	deadline := time.Now().Add(15 * time.Second)
	for {
		browsertest.Do(t, ctx, chromedp.Navigate(e.URL+"/app/posts"), chromedp.WaitVisible(`.post`))
		if browsertest.Get(t, ctx, chromedp.Text(`.copies .badge`)) == "published" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the post was never published")
		}
		time.Sleep(200 * time.Millisecond)
	}
	browsertest.Screenshot(t, ctx, "published")
	tl, err := e.Sandbox.Timeline(ctxb, acct, 5)
	if err != nil || len(tl) != 1 || !strings.HasSuffix(tl[0].Text, " ^LB") || !strings.Contains(tl[0].Text, e.URL+"/") {
		t.Fatalf("on the sandbox network: %+v %v", tl, err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestBrowserInboxReply: a sandbox mention arrives, an agent takes it,
// replies with the live counter, and the sandbox network receives the
// reply in the thread, signed.
func TestBrowserInboxReply(t *testing.T) {
	t.Parallel()
	e := servertest.New(t, store.SQLite)
	w, owner := e.Owner("Dell Outlet", "lena@example.com")
	ctxb := context.Background()
	if _, err := e.Team.UpdateMember(ctxb, team.Owner, w.ID, owner.ID, team.MemberUpdate{Signature: ptr("^LB")}); err != nil {
		t.Fatal(err)
	}
	acct, err := e.Social.CreateSandboxAccount(ctxb, w.ID, "", "delloutlet", "Dell Outlet")
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.Sandbox.Mention(ctxb, acct, "shopper", "@delloutlet is the XPS deal still on? 🤔", "")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if _, err := e.Poller.RunOnce(ctxb); err != nil {
		t.Fatal(err)
	}
	ctx := browsertest.New(t, browsertest.Phone)
	signIn(t, ctx, e, "lena@example.com")
	browsertest.Do(t, ctx,
		chromedp.Navigate(e.URL+"/app/inbox"),
		chromedp.WaitVisible(`.conv.unread a`),
		chromedp.Click(`.conv a`),
		chromedp.WaitVisible(`textarea[name=text]`),
		chromedp.SetValue(`select[name=assignee]`, owner.ID),
		chromedp.Click(`form:has(select[name=assignee]) button`),
		chromedp.WaitVisible(`.notice`),
		chromedp.SendKeys(`textarea[name=text]`, "Yes, until Friday!"),
	)
	if c := browsertest.Get(t, ctx, chromedp.Text(`.reply .counter`)); c != fmt.Sprintf("%d / 500", len([]rune("Yes, until Friday! ^LB"))) {
		t.Fatalf("reply counter %q", c)
	}
	browsertest.Screenshot(t, ctx, "conversation")
	if browsertest.Get(t, ctx, chromedp.Evaluate[bool](sidewaysScroll)) {
		t.Fatal("the conversation scrolls sideways on a phone")
	}
	browsertest.Do(t, ctx, chromedp.Click(`.reply button[type=submit]`), chromedp.WaitVisible(`.msg-out`))
	if s := browsertest.Get(t, ctx, chromedp.Text(`.msg-out .badge`)); s != "sent" {
		t.Fatalf("reply status %q", s)
	}
	tl, err := e.Sandbox.Timeline(ctxb, acct, 5)
	if err != nil || tl[0].Text != "Yes, until Friday! ^LB" || tl[0].ReplyTo != m.RemoteID {
		t.Fatalf("on the sandbox network: %+v %v", tl, err)
	}
	if a := browsertest.Get(t, ctx, chromedp.Evaluate[string](`document.querySelector('select[name=assignee]').value`)); a != owner.ID {
		t.Fatalf("assignee %q", a)
	}
}

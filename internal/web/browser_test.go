package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/roost-hq/roost/internal/browsertest"
	"github.com/roost-hq/roost/internal/server/servertest"
	"github.com/roost-hq/roost/internal/store"
)

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
			browsertest.Do(t, ctx,
				chromedp.Navigate(e.URL+"/app/"),
				chromedp.WaitVisible(`input[name=email]`),
				chromedp.SendKeys(`input[name=email]`, "lena@example.com"),
				chromedp.SendKeys(`input[name=password]`, servertest.Password),
				chromedp.Click(`button[type=submit]`),
				chromedp.WaitVisible(`main h1`),
			)
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
		})
	}
}

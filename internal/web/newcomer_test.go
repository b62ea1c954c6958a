package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/roost-hq/roost/internal/browsertest"
	"github.com/roost-hq/roost/internal/demo"
	"github.com/roost-hq/roost/internal/money"
	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/server"
	"github.com/roost-hq/roost/internal/server/servertest"
	"github.com/roost-hq/roost/internal/store"
)

// TestBrowserNewcomer does what a person trying Roost does: the demo is
// seeded, they sign in, read the Overview, and follow the top post through
// to its orders. The Overview's figures must be the API's, and the orders
// the API's for that post.
func TestBrowserNewcomer(t *testing.T) {
	t.Parallel()
	if browsertest.Chromium() == "" {
		browsertest.New(t, browsertest.Laptop) // skips, or fails where browsers are required
	}
	clk := &demo.Clock{}
	e := servertest.NewWith(t, store.SQLite, func(o *server.Options) { o.DB.Clock = clk.Now })
	// ROOST_DEMO_SCALE=1 seeds the full demo (for the README's screenshot).
	scale := 0.05
	if v, err := strconv.ParseFloat(os.Getenv("ROOST_DEMO_SCALE"), 64); err == nil && v > 0 {
		scale = v
	}
	res, err := demo.Seed(context.Background(), e.Server, clk, demo.Options{Scale: scale, Password: servertest.Password})
	if err != nil {
		t.Fatal(err)
	}
	key := e.Key(res.Workspace.ID)
	api := func(path string, v any) {
		t.Helper()
		r := e.Do(nil, "GET", path, "", "Authorization: Bearer "+key)
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
		r.JSON(t, v)
	}

	ctx := browsertest.New(t, browsertest.Laptop)
	signIn(t, ctx, e, demo.Email)
	browsertest.Do(t, ctx, chromedp.WaitVisible(`#top-posts`))
	browsertest.Screenshot(t, ctx, "overview")
	text := func(sel string) string { return strings.TrimSpace(browsertest.Get(t, ctx, chromedp.Text(sel))) }
	attr := func(sel, name string) string {
		return browsertest.Get(t, ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).getAttribute(%q)`, sel, name)))
	}
	period := "from=" + url.QueryEscape(attr("#period", "data-from")) + "&to=" + url.QueryEscape(attr("#period", "data-to"))

	var rep orders.Report
	api("/api/v1/reports/revenue?by=post&"+period, &rep)
	for sel, want := range map[string]int64{"#ov-total": rep.Total.Total.Net, "#ov-deal": rep.Total.Deal.Net, "#ov-halo": rep.Total.Halo.Net} {
		if got, w := text(sel), money.Display(want, rep.Currency); got != w {
			t.Errorf("Overview %s shows %q, the API says %s", sel, got, w)
		}
	}
	if rep.Total.Deal.Net <= 0 || rep.Total.Halo.Net <= 0 {
		t.Fatalf("the demo's last 30 days have no deal or halo revenue: %+v", rep.Total)
	}
	var fn struct{ Funnel orders.Funnel }
	api("/api/v1/reports/funnel?"+period, &fn)
	for sel, want := range map[string]int64{"#fn-posts": fn.Funnel.Posts, "#fn-clicks": fn.Funnel.Clicks, "#fn-claims": fn.Funnel.Claims, "#fn-orders": fn.Funnel.Orders} {
		if got := text(sel); got != strconv.FormatInt(want, 10) {
			t.Errorf("Overview %s shows %q, the API says %d", sel, got, want)
		}
	}
	// The top post is the API's first row, and leads to the orders it reached.
	var top string
	for _, r := range rep.Rows {
		if r.Key != "" {
			top = r.Key
			break
		}
	}
	href := attr("#top-posts li a", "href")
	if !strings.Contains(href, "post="+top) {
		t.Fatalf("the top post links to %q; the API's top post is %s", href, top)
	}
	browsertest.Do(t, ctx, chromedp.Click(`#top-posts li a`), chromedp.WaitVisible(`#reached`))
	browsertest.Screenshot(t, ctx, "top-post-orders")
	shown := browsertest.Get(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#orders tbody tr td:first-child strong')].map(e => e.textContent)`))
	var list struct{ Data []orders.View }
	api("/api/v1/orders?limit=25&post="+top, &list)
	if len(list.Data) == 0 || len(shown) != len(list.Data) {
		t.Fatalf("the page lists %d orders for the top post, the API %d", len(shown), len(list.Data))
	}
	for i, o := range list.Data {
		if shown[i] != o.ExternalID {
			t.Errorf("order %d: the page shows %s, the API %s", i, shown[i], o.ExternalID)
		}
		reached := false
		for _, tc := range o.Touches {
			reached = reached || tc.PostID == top
		}
		if !reached {
			t.Errorf("order %s is listed for post %s but was not reached by it", o.ExternalID, top)
		}
	}

	// On a phone, the Overview fits the screen.
	phone := browsertest.New(t, browsertest.Phone)
	signIn(t, phone, e, demo.Email)
	browsertest.Do(t, phone, chromedp.WaitVisible(`#top-posts`))
	browsertest.Screenshot(t, phone, "overview-phone")
	if browsertest.Get(t, phone, chromedp.Evaluate[bool](sidewaysScroll)) {
		t.Error("the Overview scrolls sideways on a phone")
	}
}

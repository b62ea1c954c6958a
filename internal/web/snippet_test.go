package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/roost-hq/roost/internal/browsertest"
	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/server/servertest"
	"github.com/roost-hq/roost/internal/store"
)

// TestSnippetServed checks /t.js: a small public script, cached for an
// hour, and answered 304 when the browser already has it.
func TestSnippetServed(t *testing.T) {
	t.Parallel()
	e := servertest.New(t, store.SQLite)
	r := e.Do(nil, "GET", "/t.js", "")
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "text/javascript; charset=utf-8" ||
		r.Header.Get("Cache-Control") != "public, max-age=3600" || r.Header.Get("Set-Cookie") != "" {
		t.Fatalf("GET /t.js: %d %v", r.Status, r.Header)
	}
	if len(r.Body) == 0 || len(r.Body) >= 4<<10 || !strings.Contains(r.Body, "roost_cid") {
		t.Fatalf("snippet is %d bytes, want under 4 KB", len(r.Body))
	}
	etag := r.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if r := e.Do(nil, "GET", "/t.js", "", "If-None-Match: "+etag); r.Status != http.StatusNotModified {
		t.Fatalf("revalidation: status %d, want 304", r.Status)
	}
	if r := e.Do(nil, "GET", "/static/t.js", ""); r.Status != http.StatusOK || r.Body != e.Do(nil, "GET", "/t.js", "").Body {
		t.Fatalf("/static/t.js: %d", r.Status)
	}
}

// TestBrowserSnippet loads the snippet from Roost into a fake store's
// pages, on another host as in real life, and checks what it does: the
// cookie, the Shopify cart attribute (sent once), the hidden field in
// checkout forms (also one added later), and that bad IDs are ignored.
func TestBrowserSnippet(t *testing.T) {
	t.Parallel()
	e := servertest.New(t, store.SQLite)
	var (
		mu    sync.Mutex
		posts []string
	)
	sent := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), posts...)
	}
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cart/update.js" {
			var body struct {
				Attributes map[string]string `json:"attributes"`
			}
			if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&body) != nil {
				http.Error(w, "bad request", http.StatusBadRequest)
				return
			}
			mu.Lock()
			posts = append(posts, body.Attributes["roost_cid"])
			mu.Unlock()
			// Shopify keeps the cart's token in a cookie.
			if _, err := r.Cookie("cart"); err != nil {
				http.SetCookie(w, &http.Cookie{Name: "cart", Value: "c1-test", Path: "/"})
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"token":"c1-test","attributes":{}}`)
			return
		}
		// /plain is a store that is not Shopify and renames everything.
		shopify, attrs := `<script>window.Shopify = {}</script>`, `data-param="roost_cid"`
		if r.URL.Path == "/plain" {
			shopify, attrs = "", `data-param="ref" data-days="7" data-cookie="rid"`
		}
		fmt.Fprintf(w, `<!doctype html><title>Shop</title>%s
<script src="%s/t.js" %s defer></script>
<form id="co" action="/checkout" method="post"><button>Pay</button></form>
<form id="search" action="/search"><input name="q"></form>
<script>setTimeout(function () { var f = document.createElement("form"); f.id = "late"; f.className = "checkout woocommerce-checkout"; document.body.appendChild(f) }, 30)</script>`,
			shopify, e.URL, attrs)
	}))
	t.Cleanup(shop.Close)
	// The store on localhost, Roost on 127.0.0.1: two sites, as in production.
	site := strings.Replace(shop.URL, "127.0.0.1", "localhost", 1)

	type state struct {
		ID, Form, Cookie string
		Search           bool
	}
	cid1, cid2, cid3 := id.New(""), id.New(""), id.New("")
	b := browsertest.New(t, browsertest.Laptop)
	look := func() state {
		t.Helper()
		return browsertest.Get(t, b, chromedp.Evaluate[state](`({
			ID: window.roost.clickId(),
			Form: (document.querySelector("#co [name=roost_cid]") || {}).value || "",
			Search: !!document.querySelector("#search [name=roost_cid]"),
			Cookie: document.cookie})`))
	}
	type cookie struct {
		Name, Value, Path, SameSite string
		Expires                     float64
	}
	// cookieStore shows the attributes document.cookie hides.
	jar := func(name string) cookie {
		t.Helper()
		return browsertest.Get(t, b, chromedp.Evaluate[cookie](`cookieStore.get("`+name+`").then(c => c && {Name: c.name, Value: c.value, Path: c.path, SameSite: c.sameSite, Expires: c.expires})`, chromedp.EvalAwaitPromise))
	}
	lifetime := func(c cookie) time.Duration {
		return time.Until(time.UnixMilli(int64(c.Expires))).Round(time.Hour)
	}

	// A click lands: cookie, hidden fields, one cart update.
	browsertest.Do(t, b, chromedp.Navigate(site+"/products/xps-13?utm_source=x&roost_cid="+cid1))
	if s := look(); s.ID != cid1 || s.Form != cid1 || s.Search || !strings.Contains(s.Cookie, "roost_cid="+cid1) {
		t.Fatalf("after the click: %+v", s)
	}
	if c := jar("roost_cid"); c.Value != cid1 || c.Path != "/" || c.SameSite != "lax" || lifetime(c) != 30*24*time.Hour {
		t.Fatalf("cookie %+v (lifetime %v)", c, lifetime(c))
	}
	late := browsertest.Get(t, b, chromedp.Poll[string](`(document.querySelector("#late [name=roost_cid]") || {}).value`, chromedp.WithPollingTimeout(5*time.Second)))
	if late != cid1 {
		t.Fatalf("the form added later has %q", late)
	}
	browsertest.Do(t, b, chromedp.Poll[chromedp.Void](`sessionStorage.getItem("roost_cid_sent")`, chromedp.WithPollingTimeout(5*time.Second)))
	if p := sent(); len(p) != 1 || p[0] != cid1 {
		t.Fatalf("cart updates %q, want one with %s", p, cid1)
	}

	// A reload and a later page without the parameter: the cookie keeps the
	// ID, and the cart is not updated again.
	browsertest.Do(t, b, chromedp.Reload())
	if s := look(); s.ID != cid1 || s.Form != cid1 {
		t.Fatalf("after a reload: %+v", s)
	}
	browsertest.Do(t, b, chromedp.Navigate(site+"/cart"))
	if s := look(); s.ID != cid1 || s.Form != cid1 {
		t.Fatalf("on a later page: %+v", s)
	}
	// A new cart (after an order, say) gets the attribute again.
	browsertest.Do(t, b,
		chromedp.Evaluate[chromedp.Void](`document.cookie = "cart=c1-next; path=/"`),
		chromedp.Navigate(site+"/"),
		chromedp.Poll[chromedp.Void](`sessionStorage.getItem("roost_cid_sent") === "`+cid1+`|c1-next"`, chromedp.WithPollingTimeout(5*time.Second)),
	)

	// IDs that Roost did not make are ignored; the cookie's stays.
	for _, bad := range []string{"not-a-click-id", strings.ToUpper(cid2), cid2[:25], cid2[:25] + "u", "%3Cscript%3E"} {
		browsertest.Do(t, b, chromedp.Navigate(site+"/?roost_cid="+bad))
		if s := look(); s.ID != cid1 || s.Form != cid1 || !strings.Contains(s.Cookie, "roost_cid="+cid1) {
			t.Fatalf("after ?roost_cid=%s: %+v", bad, s)
		}
	}

	// The latest click wins, and its ID goes to the cart too.
	browsertest.Do(t, b, chromedp.Navigate(site+"/?roost_cid="+cid2))
	if s := look(); s.ID != cid2 || s.Form != cid2 || !strings.Contains(s.Cookie, "roost_cid="+cid2) {
		t.Fatalf("after a second click: %+v", s)
	}
	browsertest.Do(t, b, chromedp.Poll[chromedp.Void](`sessionStorage.getItem("roost_cid_sent").indexOf("`+cid2+`") === 0`, chromedp.WithPollingTimeout(5*time.Second)))

	// Another store's settings: parameter, cookie name and lifetime.
	browsertest.Do(t, b, chromedp.Navigate(site+"/plain?roost_cid="+cid1+"&ref="+cid3))
	if s := look(); s.ID != cid3 || s.Form != cid3 {
		t.Fatalf("with data-param=ref: %+v", s)
	}
	if c := jar("rid"); c.Value != cid3 || lifetime(c) != 7*24*time.Hour {
		t.Fatalf("cookie rid %+v (lifetime %v)", c, lifetime(c))
	}

	// A visitor with no click: nothing is added, nothing is sent.
	browsertest.Do(t, b,
		chromedp.Evaluate[chromedp.Void](`document.cookie = "roost_cid=; path=/; max-age=0"; sessionStorage.clear()`),
		chromedp.Navigate(site+"/?roost_cid=nope"),
	)
	if s := look(); s.ID != "" || s.Form != "" || strings.Contains(s.Cookie, "roost_cid") {
		t.Fatalf("without a click: %+v", s)
	}
	// Give a stray cart update time to arrive before counting.
	time.Sleep(200 * time.Millisecond)
	if p := sent(); len(p) != 3 || p[0] != cid1 || p[1] != cid1 || p[2] != cid2 {
		t.Fatalf("cart updates %q, want %s twice (two carts), then %s", p, cid1, cid2)
	}
}

package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/server/servertest"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
)

type linkJSON struct {
	ID          string
	Code        string
	ShortURL    string `json:"short_url"`
	Destination string
	Title       string
	Tags        []string
	ExpiresAt   *time.Time `json:"expires_at"`
	QRPNG       string     `json:"qr_png_url"`
}

func TestLinksEndpoints(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d *store.DB) {
		e := servertest.New(t, d.Dialect)
		w, _ := e.Owner("Acme", "o@example.com")
		key := e.Key(w.ID)
		body := `{"destination":"https://shop.example.com/xps?ref=1#top","title":"XPS","tags":["Outlet"],"code":"XPS-13"}`
		r := e.API(key, "POST", "/api/v1/links", body, "Idempotency-Key: l1")
		var l linkJSON
		r.JSON(t, &l)
		if r.Status != 201 || l.Code != "xps-13" || l.ShortURL != e.URL+"/xps-13" || l.Tags[0] != "outlet" || r.Header.Get("Location") != "/api/v1/links/"+l.ID {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		if again := e.API(key, "POST", "/api/v1/links", body, "Idempotency-Key: l1"); again.Body != r.Body || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("idempotent retry: %d %s", again.Status, again.Body)
		}
		wantProblem(t, e.API(key, "POST", "/api/v1/links", body), 409, "conflict")
		p := wantProblem(t, e.API(key, "POST", "/api/v1/links", `{"destination":"javascript:alert(1)"}`), 422, "validation_failed")
		if p.Errors[0].Field != "destination" {
			t.Fatalf("errors %+v", p.Errors)
		}
		wantProblem(t, e.API(key, "POST", "/api/v1/links", `{"destination":"https://x.example/","expires_at":"tomorrow"}`), 400, "invalid_json")

		// The redirect works at once, with the click ID and UTM fields.
		res := e.Do(nil, "GET", "/XPS-13", "", "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0 Safari/537.36")
		if loc := res.Header.Get("Location"); res.Status != http.StatusFound || !strings.HasPrefix(loc, "https://shop.example.com/xps?ref=1&roost_cid=") || !strings.HasSuffix(loc, "&utm_medium=social#top") {
			t.Fatalf("redirect: %d %q", res.Status, loc)
		}

		// List, filter, page.
		for i := range 3 {
			e.API(key, "POST", "/api/v1/links", fmt.Sprintf(`{"destination":"https://shop.example.com/%d","tags":["other"]}`, i))
		}
		var page struct {
			Data       []linkJSON
			NextCursor string `json:"next_cursor"`
		}
		e.API(key, "GET", "/api/v1/links?tag=outlet", "").JSON(t, &page)
		if len(page.Data) != 1 || page.Data[0].ID != l.ID {
			t.Fatalf("tag filter: %+v", page)
		}
		e.API(key, "GET", "/api/v1/links?limit=3", "").JSON(t, &page)
		if len(page.Data) != 3 || page.NextCursor == "" {
			t.Fatalf("page 1: %+v", page)
		}
		cursor := page.NextCursor
		page.Data, page.NextCursor = nil, ""
		e.API(key, "GET", "/api/v1/links?limit=3&cursor="+cursor, "").JSON(t, &page)
		if len(page.Data) != 1 || page.Data[0].ID != l.ID || page.NextCursor != "" {
			t.Fatalf("page 2: %+v", page)
		}

		// Update: an expiry, then clear it with null; absent fields stay.
		r = e.API(key, "PATCH", "/api/v1/links/"+l.ID, `{"expires_at":"2030-01-01T00:00:00Z","title":"XPS 13"}`)
		r.JSON(t, &l)
		if r.Status != 200 || l.ExpiresAt == nil || l.Title != "XPS 13" || l.Destination != "https://shop.example.com/xps?ref=1#top" {
			t.Fatalf("patch: %d %s", r.Status, r.Body)
		}
		e.API(key, "PATCH", "/api/v1/links/"+l.ID, `{"expires_at":null}`).JSON(t, &l)
		if l.ExpiresAt != nil || l.Title != "XPS 13" {
			t.Fatalf("clear expiry: %+v", l)
		}
		wantProblem(t, e.API(key, "PATCH", "/api/v1/links/"+l.ID, `{"code":"new"}`), 400, "invalid_json")

		// Stats: the click above, once it is written.
		var st struct {
			Total   struct{ Clicks, Human, Unique int }
			Series  []struct{ Time time.Time }
			Devices []struct {
				Name   string
				Clicks int
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			r = e.API(key, "GET", "/api/v1/links/"+l.ID+"/stats?interval=hour&from="+time.Now().Add(-2*time.Hour).UTC().Format(time.RFC3339), "")
			r.JSON(t, &st)
			if st.Total.Clicks == 1 || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if r.Status != 200 || st.Total.Clicks != 1 || st.Total.Human != 1 || st.Total.Unique != 1 || len(st.Series) != 3 || st.Devices[0].Name != "desktop" {
			t.Fatalf("stats: %d %s", r.Status, r.Body)
		}
		e.API(key, "GET", "/api/v1/stats/clicks?from=2026-01-01", "").JSON(t, &st)
		if st.Total.Clicks != 1 {
			t.Fatalf("workspace stats %+v", st.Total)
		}
		wantProblem(t, e.API(key, "GET", "/api/v1/stats/clicks?interval=week", ""), 422, "validation_failed")
		wantProblem(t, e.API(key, "GET", "/api/v1/stats/clicks?from=yesterday", ""), 422, "validation_failed")

		// QR codes.
		if r := e.API(key, "GET", l.QRPNG+"?size=128", ""); r.Status != 200 || r.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("QR PNG: %d %s", r.Status, r.Header.Get("Content-Type"))
		}
		if r := e.API(key, "GET", "/api/v1/links/"+l.ID+"/qr.svg", ""); r.Status != 200 || !strings.HasPrefix(r.Body, "<svg") {
			t.Fatalf("QR SVG: %d", r.Status)
		}
		wantProblem(t, e.API(key, "GET", l.QRPNG+"?size=5", ""), 400, "invalid_parameter")

		// Settings: another click parameter, used by the next redirect.
		r = e.API(key, "PUT", "/api/v1/link-settings", `{"click_param":"cid","allowed_domains":["shop.example.com"]}`)
		if r.Status != 200 || !strings.Contains(r.Body, `"click_param":"cid"`) {
			t.Fatalf("settings: %d %s", r.Status, r.Body)
		}
		if loc := e.Do(nil, "GET", "/xps-13", "").Header.Get("Location"); !strings.Contains(loc, "&cid=") {
			t.Fatalf("new click parameter not used: %q", loc)
		}
		wantProblem(t, e.API(key, "POST", "/api/v1/links", `{"destination":"https://elsewhere.example/"}`), 422, "validation_failed")
		wantProblem(t, e.API(key, "PUT", "/api/v1/link-settings", `{"click_param":""}`), 422, "validation_failed")

		// Delete: 404 on the API and on the short link.
		if r := e.API(key, "DELETE", "/api/v1/links/"+l.ID, ""); r.Status != 204 {
			t.Fatalf("delete: %d", r.Status)
		}
		wantProblem(t, e.API(key, "GET", "/api/v1/links/"+l.ID, ""), 404, "not_found")
		if r := e.Do(nil, "GET", "/xps-13", ""); r.Status != 404 {
			t.Fatalf("deleted short link answered %d", r.Status)
		}
	})
}

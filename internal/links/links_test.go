package links_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
	"github.com/roost-hq/roost/internal/team"
	"github.com/roost-hq/roost/internal/valid"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func workspace(t testing.TB, db *store.DB, name string) team.Workspace {
	t.Helper()
	w, _, err := team.New(db).CreateOwner(context.Background(), team.NewOwner{Workspace: name, Email: strings.ToLower(name) + "@example.com", Name: name, Password: "long enough password"})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func service(t *testing.T, db *store.DB) *links.Service {
	t.Helper()
	s, err := links.New(context.Background(), links.Options{DB: db, Log: quiet,
		Recorder: links.RecorderConfig{FlushEvery: 5 * time.Millisecond, SpillDir: t.TempDir()}, PollEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func fieldErr(t *testing.T, err error, field string) {
	t.Helper()
	ve, ok := valid.As(err)
	if !ok || ve.For(field) == "" {
		t.Fatalf("want an error about %s, got %v", field, err)
	}
}

func TestCreateAndValidate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := links.NewStore(db)
		w := workspace(t, db, "Acme")
		l, err := s.Create(ctx, w.ID, links.NewLink{Destination: "https://Shop.Example.com/xps?ref=1", Title: " XPS 13 ", Tags: []string{"Outlet", "outlet", " laptops "}})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Code) != links.CodeLen || l.Custom || l.Destination != "https://shop.example.com/xps?ref=1" || l.Title != "XPS 13" ||
			strings.Join(l.Tags, ",") != "laptops,outlet" {
			t.Fatalf("created %+v", l)
		}
		got, err := s.Get(ctx, w.ID, l.ID)
		if err != nil || got.Code != l.Code || strings.Join(got.Tags, ",") != "laptops,outlet" || !got.CreatedAt.Equal(l.CreatedAt) {
			t.Fatalf("Get = %+v, %v", got, err)
		}
		c, err := s.Create(ctx, w.ID, links.NewLink{Code: "XPS-Deal", Destination: "https://shop.example.com/"})
		if err != nil || c.Code != "xps-deal" || !c.Custom {
			t.Fatalf("custom code: %+v %v", c, err)
		}
		if byCode, err := s.ByCode(ctx, w.ID, "XPS-DEAL"); err != nil || byCode.ID != c.ID {
			t.Fatalf("ByCode is not case-insensitive: %v", err)
		}
		other := workspace(t, db, "Other")
		_, err = s.Create(ctx, other.ID, links.NewLink{Code: "xps-deal", Destination: "https://x.example/"})
		if ve, ok := valid.As(err); !ok || !ve.Conflict {
			t.Fatalf("a code taken by another workspace: %v", err)
		}
		for _, tc := range []struct {
			in    links.NewLink
			field string
		}{
			{links.NewLink{Destination: "javascript:alert(1)"}, "destination"},
			{links.NewLink{Destination: "data:text/html,hi"}, "destination"},
			{links.NewLink{Destination: "/relative"}, "destination"},
			{links.NewLink{Destination: ""}, "destination"},
			{links.NewLink{Destination: "https://x.example/?roost_cid=abc"}, "destination"},
			{links.NewLink{Code: "api", Destination: "https://x.example/"}, "code"},
			{links.NewLink{Code: "healthz", Destination: "https://x.example/"}, "code"},
			{links.NewLink{Code: "a/b", Destination: "https://x.example/"}, "code"},
			{links.NewLink{Code: "x", Destination: "https://x.example/"}, "code"},
			{links.NewLink{Destination: "https://x.example/", FallbackURL: "ftp://x"}, "fallback_url"},
			{links.NewLink{Destination: "https://x.example/", Title: strings.Repeat("t", 201)}, "title"},
		} {
			_, err := s.Create(ctx, w.ID, tc.in)
			fieldErr(t, err, tc.field)
		}
		// A unicode destination of some length.
		long := "https://bücher.example/" + strings.Repeat("ä", 1500) + "?q=✓#frag"
		u, err := s.Create(ctx, w.ID, links.NewLink{Destination: long})
		if err != nil || !strings.HasPrefix(u.Destination, "https://xn--bcher-kva.example/") {
			t.Fatalf("unicode destination: %v %q", err, u.Destination)
		}
		if _, err := s.Get(ctx, other.ID, l.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("link seen from another workspace: %v", err)
		}
	})
}

func TestListUpdateDelete(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := links.NewStore(db)
		w := workspace(t, db, "Acme")
		var ids []string
		for i := range 5 {
			tags := []string{"all"}
			if i%2 == 0 {
				tags = append(tags, "even")
			}
			l, err := s.Create(ctx, w.ID, links.NewLink{Destination: fmt.Sprintf("https://shop.example.com/%d", i), Title: fmt.Sprintf("Deal %d", i), Tags: tags})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, l.ID)
		}
		page, _ := s.List(ctx, w.ID, links.Filter{Limit: 2})
		if len(page) != 2 || page[0].ID != ids[4] || page[1].ID != ids[3] {
			t.Fatalf("first page %v", page)
		}
		page, _ = s.List(ctx, w.ID, links.Filter{Limit: 10, Before: page[1].ID})
		if len(page) != 3 || page[0].ID != ids[2] {
			t.Fatalf("second page %v", page)
		}
		even, _ := s.List(ctx, w.ID, links.Filter{Limit: 10, Tag: "EVEN"})
		if len(even) != 3 || len(even[0].Tags) != 2 {
			t.Fatalf("tag filter: %+v", even)
		}
		found, _ := s.List(ctx, w.ID, links.Filter{Limit: 10, Search: "deal 3"})
		if len(found) != 1 || found[0].ID != ids[3] {
			t.Fatalf("search: %+v", found)
		}
		exp := time.Now().Add(time.Hour)
		dest := "https://shop.example.com/new"
		tags := []string{"moved"}
		u, err := s.Update(ctx, w.ID, ids[0], links.Update{Destination: &dest, Tags: &tags, ExpiresAt: &exp})
		if err != nil || u.Destination != dest || u.ExpiresAt == nil || strings.Join(u.Tags, ",") != "moved" {
			t.Fatalf("update: %+v %v", u, err)
		}
		u, err = s.Update(ctx, w.ID, ids[0], links.Update{ClearExpiry: true})
		if err != nil || u.ExpiresAt != nil || strings.Join(u.Tags, ",") != "moved" {
			t.Fatalf("clear expiry: %+v %v", u, err)
		}
		bad := "javascript:x"
		_, err = s.Update(ctx, w.ID, ids[0], links.Update{Destination: &bad})
		fieldErr(t, err, "destination")
		if got, _ := s.Get(ctx, w.ID, ids[0]); got.Destination != dest {
			t.Fatal("a refused update changed the link")
		}
		if err := s.Delete(ctx, w.ID, ids[0]); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, w.ID, ids[0]); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if _, err := s.Get(ctx, w.ID, ids[0]); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted link found: %v", err)
		}
		other := workspace(t, db, "Other")
		if _, err := s.Update(ctx, other.ID, ids[1], links.Update{Destination: &dest}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("update from another workspace: %v", err)
		}
		if err := s.Delete(ctx, other.ID, ids[1]); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete from another workspace: %v", err)
		}
	})
}

func TestSettings(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := links.NewStore(db)
		w := workspace(t, db, "Acme")
		st, err := s.Settings(ctx, w.ID)
		if err != nil || st.ClickParam != "roost_cid" || len(st.AllowedDomains) != 0 {
			t.Fatalf("defaults: %+v %v", st, err)
		}
		_, err = s.SaveSettings(ctx, w.ID, links.Settings{ClickParam: "utm_id"})
		fieldErr(t, err, "click_param")
		_, err = s.SaveSettings(ctx, w.ID, links.Settings{ClickParam: "cid", AllowedDomains: []string{"https://x"}})
		fieldErr(t, err, "allowed_domains")
		st, err = s.SaveSettings(ctx, w.ID, links.Settings{ClickParam: "cid", AllowedDomains: []string{" Shop.Example.com ", "shop.example.com", "bücher.example"}})
		if err != nil || strings.Join(st.AllowedDomains, " ") != "shop.example.com xn--bcher-kva.example" {
			t.Fatalf("save: %+v %v", st, err)
		}
		if _, err := s.Create(ctx, w.ID, links.NewLink{Destination: "https://eu.shop.example.com/x"}); err != nil {
			t.Fatalf("allowed subdomain: %v", err)
		}
		_, err = s.Create(ctx, w.ID, links.NewLink{Destination: "https://evil.example/x"})
		fieldErr(t, err, "destination")
	})
}

// get requests path from the service's redirect handler.
func get(s *links.Service, method, path string, hdr ...string) *httptest.ResponseRecorder {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{code}", s.Redirect)
	r := httptest.NewRequest(method, path, nil)
	r.RemoteAddr = "203.0.113.7:4321"
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w
}

const iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"

func TestRedirect(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := service(t, db)
		w := workspace(t, db, "Acme")
		l, err := s.Create(ctx, w.ID, links.NewLink{Code: "Deal", Destination: "https://shop.example.com/p?x=1#buy", UTMSource: "mastodon", UTMCampaign: "xps", UTMContent: "pst_1"})
		if err != nil {
			t.Fatal(err)
		}
		res := get(s, "GET", "/DEAL", "User-Agent", iphone, "Referer", "https://mastodon.social/@acme/1?secret=1")
		loc := res.Header().Get("Location")
		if res.Code != http.StatusFound || !strings.HasPrefix(loc, "https://shop.example.com/p?x=1&roost_cid=") ||
			!strings.HasSuffix(loc, "&utm_source=mastodon&utm_medium=social&utm_campaign=xps&utm_content=pst_1#buy") {
			t.Fatalf("redirect: %d %q", res.Code, loc)
		}
		if res.Header().Get("Cache-Control") == "" || !strings.Contains(res.Header().Get("Cache-Control"), "no-store") {
			t.Fatal("redirect may be cached by the browser: later clicks would not be counted")
		}
		cid := loc[strings.Index(loc, "roost_cid=")+10 : strings.Index(loc, "&utm_source")]
		if len(cid) != 26 {
			t.Fatalf("click id %q", cid)
		}
		if r := get(s, "HEAD", "/deal"); r.Code != http.StatusFound {
			t.Fatalf("HEAD: %d", r.Code)
		}
		if r := get(s, "GET", "/deal", "User-Agent", "Twitterbot/1.0"); r.Code != http.StatusFound {
			t.Fatalf("preview: %d", r.Code)
		}
		if r := get(s, "GET", "/nothing"); r.Code != http.StatusNotFound || !strings.Contains(r.Body.String(), "Link not found") {
			t.Fatalf("unknown: %d %s", r.Code, r.Body)
		}
		if r := get(s, "GET", "/"+strings.Repeat("x", 100)); r.Code != http.StatusNotFound {
			t.Fatalf("very long code: %d", r.Code)
		}
		waitClicks(t, db, 3)
		var id, visitor, ref, device, reason string
		var bot, unique bool
		err = db.R.QueryRowContext(ctx, `SELECT id, visitor, referrer_host, device, bot, bot_reason, is_unique FROM clicks WHERE id = $1`, cid).
			Scan(&id, &visitor, &ref, &device, &bot, &reason, &unique)
		if err != nil || ref != "mastodon.social" || device != "mobile" || bot || !unique || len(visitor) != 32 || strings.Contains(visitor, "203.0.113.7") {
			t.Fatalf("stored click: %v ref=%q device=%q bot=%v unique=%v visitor=%q", err, ref, device, bot, unique, visitor)
		}
		var bots int
		db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM clicks WHERE link_id = $1 AND bot AND NOT is_unique`, l.ID).Scan(&bots)
		if bots != 2 {
			t.Fatalf("HEAD and preview stored as %d bot clicks, want 2", bots)
		}
		// Nothing anywhere holds the IP address.
		var n int
		db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM clicks WHERE visitor LIKE '%203.0.113%' OR referrer_host LIKE '%203.0.113%'`).Scan(&n)
		if n != 0 {
			t.Fatal("an IP address was stored")
		}
	})
}

func waitClicks(t *testing.T, db *store.DB, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		db.R.QueryRow(`SELECT COUNT(*) FROM clicks`).Scan(&n)
		if n == want {
			return
		}
		if n > want || time.Now().After(deadline) {
			t.Fatalf("%d clicks stored, want %d", n, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestExpiryFallbackAndDelete(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := service(t, db)
		w := workspace(t, db, "Acme")
		past := time.Now().Add(-time.Minute)
		gone, _ := s.Create(ctx, w.ID, links.NewLink{Destination: "https://shop.example.com/a", ExpiresAt: &past})
		fb, _ := s.Create(ctx, w.ID, links.NewLink{Destination: "https://shop.example.com/b", ExpiresAt: &past, FallbackURL: "https://shop.example.com/outlet"})
		if r := get(s, "GET", "/"+gone.Code); r.Code != http.StatusGone || !strings.Contains(r.Body.String(), "expired") {
			t.Fatalf("expired: %d", r.Code)
		}
		if r := get(s, "GET", "/"+fb.Code); r.Code != http.StatusFound || !strings.HasPrefix(r.Header().Get("Location"), "https://shop.example.com/outlet?roost_cid=") {
			t.Fatalf("fallback: %d %q", r.Code, r.Header().Get("Location"))
		}
		live, _ := s.Create(ctx, w.ID, links.NewLink{Destination: "https://shop.example.com/c"})
		if r := get(s, "GET", "/"+live.Code); r.Code != http.StatusFound {
			t.Fatal(r.Code)
		}
		if err := s.Delete(ctx, w.ID, live.ID); err != nil {
			t.Fatal(err)
		}
		if r := get(s, "GET", "/"+live.Code); r.Code != http.StatusNotFound {
			t.Fatalf("deleted link still redirects: %d", r.Code)
		}
		dest := "https://shop.example.com/d"
		if _, err := s.Update(ctx, w.ID, fb.ID, links.Update{Destination: &dest, ClearExpiry: true}); err != nil {
			t.Fatal(err)
		}
		if r := get(s, "GET", "/"+fb.Code); !strings.HasPrefix(r.Header().Get("Location"), dest+"?roost_cid=") {
			t.Fatalf("edit not seen at once on this node: %q", r.Header().Get("Location"))
		}
	})
}

// TestEditSeenByAnotherNode runs two services on one database, as two roost
// processes would, and checks that an edit or delete on one is seen by the
// other within two seconds.
func TestEditSeenByAnotherNode(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			u := storetest.URL(t, d)
			db1, db2 := storetest.Open(t, u), storetest.Open(t, u)
			n1 := service(t, db1)
			n2 := service(t, db2)
			ctx := context.Background()
			w := workspace(t, db1, "Acme")
			if r := get(n2, "GET", "/later"); r.Code != http.StatusNotFound {
				t.Fatal("unknown code redirects")
			}
			l, err := n1.Create(ctx, w.ID, links.NewLink{Code: "later", Destination: "https://shop.example.com/one"})
			if err != nil {
				t.Fatal(err)
			}
			seen := func(what string, ok func(*httptest.ResponseRecorder) bool) {
				t.Helper()
				start := time.Now()
				for !ok(get(n2, "GET", "/later")) {
					if time.Since(start) > 2*time.Second {
						t.Fatalf("node 2 did not see the %s within 2s", what)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			seen("new link", func(r *httptest.ResponseRecorder) bool { return r.Code == http.StatusFound })
			dest := "https://shop.example.com/two"
			if _, err := n1.Update(ctx, w.ID, l.ID, links.Update{Destination: &dest}); err != nil {
				t.Fatal(err)
			}
			seen("edit", func(r *httptest.ResponseRecorder) bool { return strings.HasPrefix(r.Header().Get("Location"), dest) })
			if _, err := n1.SaveSettings(ctx, w.ID, links.Settings{ClickParam: "cid"}); err != nil {
				t.Fatal(err)
			}
			seen("new click parameter", func(r *httptest.ResponseRecorder) bool {
				return strings.HasPrefix(r.Header().Get("Location"), dest+"?cid=")
			})
			if err := n1.Delete(ctx, w.ID, l.ID); err != nil {
				t.Fatal(err)
			}
			seen("delete", func(r *httptest.ResponseRecorder) bool { return r.Code == http.StatusNotFound })
		})
	}
}

package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/api"
	"github.com/roost-hq/roost/internal/httpx"
	"github.com/roost-hq/roost/internal/server/servertest"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
)

type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Errors []struct{ Field, Message string }
}

func wantProblem(t *testing.T, r servertest.Response, status int, code string) problem {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json", ct)
	}
	var p problem
	r.JSON(t, &p)
	if p.Status != status || p.Code != code || p.Title == "" || p.Type == "" {
		t.Fatalf("problem = %+v, want status %d code %s", p, status, code)
	}
	return p
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d *store.DB) {
		e := servertest.New(t, d.Dialect)
		w, _ := e.Owner("Acme", "o@example.com")
		key := e.Key(w.ID)
		for name, hdr := range map[string]string{
			"missing":      "",
			"basic":        "Authorization: Basic dXNlcjpwYXNz",
			"unknown":      "Authorization: Bearer roost_nothingnothingnothing",
			"not roost":    "Authorization: Bearer abc",
			"empty bearer": "Authorization: Bearer ",
		} {
			r := e.Do(nil, "GET", "/api/v1/workspace", "", hdr)
			p := wantProblem(t, r, http.StatusUnauthorized, "unauthorized")
			if r.Header.Get("WWW-Authenticate") == "" || p.Detail == "" {
				t.Errorf("%s: no WWW-Authenticate or detail", name)
			}
		}
		r := e.API(key, "GET", "/api/v1/workspace", "")
		var got struct{ ID, Slug, Name string }
		r.JSON(t, &got)
		if r.Status != 200 || got.ID != w.ID || got.Slug != "acme" {
			t.Fatalf("GET workspace = %d %s", r.Status, r.Body)
		}
		// lower-case scheme is accepted, as RFC 9110 says schemes are case-insensitive
		if r := e.Do(nil, "GET", "/api/v1/workspace", "", "Authorization: bearer "+key); r.Status != 200 {
			t.Fatalf("lower-case bearer: %d", r.Status)
		}
		var k struct{ ID string }
		e.API(key, "POST", "/api/v1/api-keys", `{"name":"second"}`).JSON(t, &k)
		if r := e.API(key, "DELETE", "/api/v1/api-keys/"+k.ID, ""); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		keys := e.API(key, "GET", "/api/v1/api-keys", "")
		if !strings.Contains(keys.Body, `"revoked_at":"`) {
			t.Fatalf("revoked key not shown revoked: %s", keys.Body)
		}
		// A key can revoke itself, and then it no longer works.
		var list struct{ Data []struct{ ID, Name string } }
		keys.JSON(t, &list)
		self := list.Data[len(list.Data)-1]
		e.API(key, "DELETE", "/api/v1/api-keys/"+self.ID, "")
		wantProblem(t, e.API(key, "GET", "/api/v1/workspace", ""), http.StatusUnauthorized, "unauthorized")
	})
}

func TestMembersEndpoints(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d *store.DB) {
		e := servertest.New(t, d.Dialect)
		w, owner := e.Owner("Acme", "o@example.com")
		key := e.Key(w.ID)
		r := e.API(key, "POST", "/api/v1/members", `{"email":"Lena@Example.com","name":"Lena Berg","role":"marketer","signature":"^LB"}`)
		var m struct {
			ID, Email, Name, Role, Signature string
			Pending                          bool
			InviteURL                        string `json:"invite_url"`
		}
		r.JSON(t, &m)
		if r.Status != 201 || m.Email != "lena@example.com" || !m.Pending || !strings.HasPrefix(m.InviteURL, e.URL+"/app/invite/") || r.Header.Get("Location") != "/api/v1/members/"+m.ID {
			t.Fatalf("create member: %d %s", r.Status, r.Body)
		}
		if r := e.API(key, "GET", "/api/v1/members/"+m.ID, ""); r.Status != 200 || strings.Contains(r.Body, "invite_url") || strings.Contains(r.Body, "password") {
			t.Fatalf("get member: %d %s", r.Status, r.Body)
		}
		r = e.API(key, "PATCH", "/api/v1/members/"+m.ID, `{"signature":"^LBe"}`)
		if r.Status != 200 || !strings.Contains(r.Body, `"signature":"^LBe"`) || !strings.Contains(r.Body, `"role":"marketer"`) {
			t.Fatalf("patch: %d %s", r.Status, r.Body)
		}
		// API keys act as admins: no owners made or unmade.
		p := wantProblem(t, e.API(key, "PATCH", "/api/v1/members/"+m.ID, `{"role":"owner"}`), 422, "validation_failed")
		if len(p.Errors) != 1 || p.Errors[0].Field != "role" {
			t.Fatalf("errors = %+v", p.Errors)
		}
		wantProblem(t, e.API(key, "DELETE", "/api/v1/members/"+owner.ID, ""), 422, "validation_failed")
		wantProblem(t, e.API(key, "POST", "/api/v1/members", `{"email":"lena@example.com","name":"L","role":"agent"}`), 409, "conflict")

		// Pages.
		for i := range 3 {
			e.API(key, "POST", "/api/v1/members", fmt.Sprintf(`{"email":"p%d@example.com","name":"P%d","role":"agent"}`, i, i))
		}
		var seen []string
		cursor := ""
		for pages := 0; ; pages++ {
			var pg struct {
				Data       []struct{ ID string }
				NextCursor string `json:"next_cursor"`
			}
			e.API(key, "GET", "/api/v1/members?limit=2&cursor="+cursor, "").JSON(t, &pg)
			for _, x := range pg.Data {
				seen = append(seen, x.ID)
			}
			if pg.NextCursor == "" {
				break
			}
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
			cursor = pg.NextCursor
		}
		if len(seen) != 5 || !slices.IsSorted(seen) || seen[0] != owner.ID {
			t.Fatalf("paged members = %v", seen)
		}
		wantProblem(t, e.API(key, "GET", "/api/v1/members?limit=0", ""), 400, "invalid_parameter")
		wantProblem(t, e.API(key, "GET", "/api/v1/members?limit=x", ""), 400, "invalid_parameter")

		if r := e.API(key, "DELETE", "/api/v1/members/"+m.ID, ""); r.Status != 204 {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		wantProblem(t, e.API(key, "GET", "/api/v1/members/"+m.ID, ""), 404, "not_found")
		wantProblem(t, e.API(key, "GET", "/api/v1/nothing", ""), 404, "not_found")
	})
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	e := servertest.New(t, store.SQLite)
	w, _ := e.Owner("Acme", "o@example.com")
	key := e.Key(w.ID)
	huge := `{"name":"` + strings.Repeat("x", api.MaxBody) + `"}`
	for _, tc := range []struct {
		name, body, ctype string
		status            int
		code, detail      string
	}{
		{"unknown field", `{"name":"k","admin":true}`, "", 400, "invalid_json", `Unknown field "admin"`},
		{"wrong type", `{"name":42}`, "", 400, "invalid_json", `Field "name" must be a string`},
		{"not an object", `[1,2]`, "", 400, "invalid_json", "must be a JSON object"},
		{"syntax", `{"name":`, "", 400, "invalid_json", "truncated"},
		{"garbage", `{"name" "x"}`, "", 400, "invalid_json", "not valid JSON"},
		{"trailing", `{"name":"a"} {"name":"b"}`, "", 400, "invalid_json", "after the JSON object"},
		{"trailing brace", `{"name":"a"}}`, "", 400, "invalid_json", "after the JSON object"},
		{"trailing bracket", `{"name":"a"}]`, "", 400, "invalid_json", "after the JSON object"},
		{"empty", ``, "", 400, "invalid_json", "must be a JSON object"},
		{"too large", huge, "", 400, "body_too_large", "larger than"},
		{"form body", `name=x`, "application/x-www-form-urlencoded", 415, "unsupported_media_type", "application/json"},
		{"invalid value", `{"name":"  "}`, "", 422, "validation_failed", "name: is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := []string{"Authorization: Bearer " + key}
			if tc.ctype != "" {
				hdr = append(hdr, "Content-Type: "+tc.ctype)
			}
			r := e.Do(nil, "POST", "/api/v1/api-keys", tc.body, hdr...)
			p := wantProblem(t, r, tc.status, tc.code)
			if !strings.Contains(p.Detail, tc.detail) {
				t.Fatalf("detail %q does not mention %q", p.Detail, tc.detail)
			}
		})
	}
	var list struct{ Data []any }
	e.API(key, "GET", "/api/v1/api-keys", "").JSON(t, &list)
	if len(list.Data) != 1 {
		t.Fatalf("bad requests created keys: %d keys", len(list.Data))
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d *store.DB) {
		e := servertest.New(t, d.Dialect)
		w, _ := e.Owner("Acme", "o@example.com")
		key := e.Key(w.ID)
		body := `{"email":"a@example.com","name":"A","role":"agent"}`
		first := e.API(key, "POST", "/api/v1/members", body, "Idempotency-Key: k1")
		again := e.API(key, "POST", "/api/v1/members", body, "Idempotency-Key: k1")
		if first.Status != 201 || again.Status != 201 || first.Body != again.Body || again.Header.Get("Idempotent-Replayed") != "true" ||
			again.Header.Get("Location") != first.Header.Get("Location") {
			t.Fatalf("replay:\n%d %s\n%d %s %v", first.Status, first.Body, again.Status, again.Body, again.Header)
		}
		wantProblem(t, e.API(key, "POST", "/api/v1/members", `{"email":"b@example.com","name":"B","role":"agent"}`, "Idempotency-Key: k1"), 422, "idempotency_key_reused")
		wantProblem(t, e.API(key, "POST", "/api/v1/members", body, "Idempotency-Key: clé"), 400, "invalid_idempotency_key")
		wantProblem(t, e.API(key, "POST", "/api/v1/members", body, "Idempotency-Key: "+strings.Repeat("k", 256)), 400, "invalid_idempotency_key")
		// A client error is kept too: the retry gets the same 422.
		bad := `{"email":"nope","name":"B","role":"agent"}`
		r1 := e.API(key, "POST", "/api/v1/members", bad, "Idempotency-Key: k2")
		r2 := e.API(key, "POST", "/api/v1/members", bad, "Idempotency-Key: k2")
		if r1.Status != 422 || r2.Status != 422 || r1.Body != r2.Body || r2.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("kept error: %d %d %s", r1.Status, r2.Status, r2.Header.Get("Content-Type"))
		}
		// The same key in another workspace is another key.
		w2, _ := e.Owner("Beta", "b@example.com")
		if r := e.API(e.Key(w2.ID), "POST", "/api/v1/members", body, "Idempotency-Key: k1"); r.Status != 201 || r.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("other workspace got a replay: %d %v", r.Status, r.Header)
		}
		// Kept responses carry secrets (a new API key) and are stored encrypted.
		created := e.API(key, "POST", "/api/v1/api-keys", `{"name":"x"}`, "Idempotency-Key: k3")
		var k struct{ Secret string }
		created.JSON(t, &k)
		var clear, kept int
		if err := e.DB.R.QueryRow(`SELECT COUNT(*) FROM idempotency_keys WHERE response LIKE $1`, "%"+k.Secret+"%").Scan(&clear); err != nil {
			t.Fatal(err)
		}
		if err := e.DB.R.QueryRow(`SELECT COUNT(*) FROM idempotency_keys WHERE key = 'k3' AND status = 201 AND response <> ''`).Scan(&kept); err != nil {
			t.Fatal(err)
		}
		if k.Secret == "" || clear != 0 || kept != 1 {
			t.Fatalf("kept response: %d in clear, %d kept", clear, kept)
		}
		// Concurrent retries of a create that nothing else dedupes (API keys
		// may share a name): exactly one key is created.
		var wg sync.WaitGroup
		statuses := make([]int, 8)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = e.API(key, "POST", "/api/v1/api-keys", `{"name":"concurrent"}`, "Idempotency-Key: k4").Status
			}()
		}
		wg.Wait()
		answered := 0
		for _, s := range statuses {
			switch s {
			case 201:
				answered++
			case 409:
			default:
				t.Fatalf("concurrent statuses %v", statuses)
			}
		}
		var list struct{ Data []struct{ Name string } }
		e.API(key, "GET", "/api/v1/api-keys?limit=200", "").JSON(t, &list)
		count := 0
		for _, k := range list.Data {
			if k.Name == "concurrent" {
				count++
			}
		}
		if count != 1 || answered == 0 {
			t.Fatalf("%d keys created by concurrent retries (%d answered 201)", count, answered)
		}
		// Another API key of the workspace reusing the Idempotency-Key is
		// refused, never shown the first key's response.
		other := e.Key(w.ID)
		wantProblem(t, e.API(other, "POST", "/api/v1/api-keys", `{"name":"x"}`, "Idempotency-Key: k3"), 422, "idempotency_key_reused")
		// A request whose process died holds its key only until abandonAfter.
		if _, err := e.DB.W.Exec(`INSERT INTO idempotency_keys (workspace_id, key, request_hash, status, created_at) VALUES ($1, 'dead', 'h', 0, $2)`,
			w.ID, time.Now().UnixMicro()); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, e.API(key, "POST", "/api/v1/api-keys", `{"name":"y"}`, "Idempotency-Key: dead"), 422, "idempotency_key_reused")
	})
}

// TestAbandonedKeyIsTakenOver simulates a process that died after claiming
// an Idempotency-Key: once the claim is old, a retry runs the request.
func TestAbandonedKeyIsTakenOver(t *testing.T) {
	t.Parallel()
	e := servertest.New(t, store.SQLite)
	w, _ := e.Owner("Acme", "o@example.com")
	key := e.Key(w.ID)
	first := e.API(key, "POST", "/api/v1/api-keys", `{"name":"z"}`, "Idempotency-Key: fresh")
	if first.Status != 201 {
		t.Fatal(first.Status)
	}
	// Make the kept response look like an unfinished claim: recent, then old.
	e.DB.W.Exec(`UPDATE idempotency_keys SET status = 0, response = '', created_at = $1 WHERE key = 'fresh'`, time.Now().UnixMicro())
	wantProblem(t, e.API(key, "POST", "/api/v1/api-keys", `{"name":"z"}`, "Idempotency-Key: fresh"), 409, "idempotency_in_progress")
	e.DB.W.Exec(`UPDATE idempotency_keys SET created_at = $1 WHERE key = 'fresh'`, time.Now().Add(-time.Hour).UnixMicro())
	if r := e.API(key, "POST", "/api/v1/api-keys", `{"name":"z"}`, "Idempotency-Key: fresh"); r.Status != 201 || r.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("abandoned key not taken over: %d %v", r.Status, r.Header)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	e := servertest.New(t, store.SQLite)
	w, _ := e.Owner("Acme", "o@example.com")
	key := e.Key(w.ID)
	r := e.API(key, "DELETE", "/api/v1/workspace", "")
	wantProblem(t, r, 405, "method_not_allowed")
	if r.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("Allow = %q", r.Header.Get("Allow"))
	}
	r = e.API(key, "PUT", "/api/v1/members/mem_x", "{}")
	wantProblem(t, r, 405, "method_not_allowed")
	if r.Header.Get("Allow") != "GET, HEAD, PATCH, DELETE" {
		t.Fatalf("Allow = %q", r.Header.Get("Allow"))
	}
	wantProblem(t, e.API(key, "POST", "/api/v1/nothing", "{}"), 404, "not_found")
}

// TestOpenAPIMatchesRoutes holds the document and the router to each other:
// every API route is documented with its method, and nothing documented is
// missing.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	e := servertest.New(t, store.SQLite)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	r := e.Do(nil, "GET", "/api/v1/openapi.json", "")
	if r.Status != 200 {
		t.Fatalf("openapi.json: %d", r.Status)
	}
	r.JSON(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	registered := map[string]bool{}
	for _, rt := range e.Mux.Routes() {
		if !strings.HasPrefix(rt.Path, "/api/v1/") || rt.Path == "/api/v1/" {
			continue
		}
		k := rt.Method + " " + rt.Path
		registered[k] = true
		if !documented[k] {
			t.Errorf("route %s is not in openapi.json", k)
		}
		if rt.Access != httpx.APIKey && rt.Path != "/api/v1/openapi.json" {
			t.Errorf("route %s does not require an API key", k)
		}
	}
	for k := range documented {
		if !registered[k] {
			t.Errorf("openapi.json documents %s, which is not registered", k)
		}
	}
}

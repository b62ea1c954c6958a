package httpx

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/roost-hq/roost/internal/metrics"
)

func TestMiddleware(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	reg := metrics.NewRegistry()
	mux := NewMux()
	mux.HandleFunc("GET /ok/{id}", Public, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("fine")) })
	mux.HandleFunc("GET /boom", Public, func(w http.ResponseWriter, r *http.Request) { panic("kaboom") })
	mux.HandleFunc("GET /app/invite/{token}", Public, func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /odd", Public, func(w http.ResponseWriter, r *http.Request) {
		// Handlers may add to the security headers, which are shared values.
		w.Header().Add("X-Content-Type-Options", "odd")
		w.Header().Add("Referrer-Policy", "no-referrer")
		w.WriteHeader(799)
	})
	h := Middleware(mux, slog.New(slog.NewJSONHandler(&logs, nil)), NewObserver(reg))

	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w
	}
	if w := get("/ok/1"); w.Code != 200 || w.Body.String() != "fine" || w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("ok: %d %q %v", w.Code, w.Body, w.Header())
	}
	if w := get("/odd"); w.Code != 799 || len(w.Header().Values("X-Content-Type-Options")) != 2 || w.Header().Values("Referrer-Policy")[1] != "no-referrer" {
		t.Fatalf("odd: %d %v", w.Code, w.Header())
	}
	if w := get("/ok/1"); w.Header().Get("Referrer-Policy") != "strict-origin-when-cross-origin" || len(w.Header().Values("X-Content-Type-Options")) != 1 ||
		len(w.Header().Values("Referrer-Policy")) != 1 {
		t.Fatalf("a handler's additions leaked into the next answer: %v", w.Header())
	}
	if w := get("/boom"); w.Code != 500 {
		t.Fatalf("panic answered %d", w.Code)
	}
	get("/app/invite/sekrit-token")
	get("/nowhere/" + strings.Repeat("x", 10))
	for _, m := range []string{"BREW", "WHEN", "XYZ"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(m, "/ok/1", nil))
	}
	if strings.Contains(logs.String(), "sekrit") {
		t.Fatalf("a one-time token was logged:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `"panic":"kaboom"`) || !strings.Contains(logs.String(), `"route":"GET /ok/{id}"`) {
		t.Fatalf("log lacks the panic or the route:\n%s", logs.String())
	}
	var out bytes.Buffer
	reg.WriteTo(&out)
	for _, want := range []string{
		`roost_http_requests_total{route="GET /boom",method="GET",code="500"} 1`,
		`roost_http_requests_total{route="unmatched",method="GET",code="404"} 1`,
		`roost_http_requests_total{route="GET /ok/{id}",method="GET",code="200"} 2`,
		`roost_http_requests_total{route="GET /odd",method="GET",code="799"} 1`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "BREW") || !strings.Contains(out.String(), `method="other"`) {
		t.Error("client-chosen methods became metric labels")
	}
	if strings.Contains(out.String(), "/ok/1") {
		t.Error("metrics are labelled by raw path")
	}
	if len(mux.Routes()) != 4 || mux.Routes()[0] != (Route{Method: "GET", Path: "/ok/{id}", Access: Public}) {
		t.Fatalf("routes = %+v", mux.Routes())
	}
}

// TestClientIP is not parallel: it sets the process-wide trusted proxies.
func TestClientIP(t *testing.T) {
	ip := func(addr, xff string) string {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		return ClientIP(r)
	}
	for _, tc := range [][3]string{{"1.2.3.4:5", "", "1.2.3.4"}, {"[::1]:80", "", "::1"}, {"weird", "", "weird"}, {"1.2.3.4:5", "9.9.9.9", "1.2.3.4"}} {
		if got := ip(tc[0], tc[1]); got != tc[2] {
			t.Errorf("untrusted ClientIP(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
	p, err := ParsePrefixes("10.0.0.0/8, 127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	TrustProxies(p)
	defer TrustProxies(nil)
	for _, tc := range [][3]string{
		{"127.0.0.1:5", "203.0.113.9", "203.0.113.9"},
		{"127.0.0.1:5", "6.6.6.6, 203.0.113.9, 10.1.2.3", "203.0.113.9"}, // the client's own entry is ignored
		{"127.0.0.1:5", "not-an-ip", "127.0.0.1"},
		{"127.0.0.1:5", "", "127.0.0.1"},
		{"8.8.8.8:5", "203.0.113.9", "8.8.8.8"}, // not a trusted peer
	} {
		if got := ip(tc[0], tc[1]); got != tc[2] {
			t.Errorf("trusted ClientIP(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
	if _, err := ParsePrefixes("10.0.0.0/8, nope"); err == nil {
		t.Error("bad proxy list accepted")
	}
}

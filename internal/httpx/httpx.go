// Package httpx holds the HTTP plumbing the dashboard, the API and the
// public pages share: a mux that remembers its routes (so tests can walk
// them all), request logging, metrics, panic recovery and security headers.
package httpx

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/roost-hq/roost/internal/metrics"
)

// Access says who may call a route.
type Access string

const (
	Public  Access = "public"  // anyone
	Session Access = "session" // a signed-in dashboard user
	APIKey  Access = "apikey"  // a bearer API key
)

// Route is one registered pattern.
type Route struct {
	Method string
	Path   string
	Access Access
}

// Mux is an http.ServeMux that records what is registered on it.
type Mux struct {
	mux    *http.ServeMux
	routes []Route
	quiet  map[string]bool
}

// NewMux returns an empty Mux.
func NewMux() *Mux { return &Mux{mux: http.NewServeMux(), quiet: map[string]bool{}} }

// Quiet marks a registered pattern as a hot path: its requests are logged
// at debug level only, so the log does not cost more than the request.
func (m *Mux) Quiet(pattern string) { m.quiet[pattern] = true }

// Handle registers h for pattern ("GET /app/settings/members/{id}"). A
// pattern without a method matches every method; its Route says "ANY".
func (m *Mux) Handle(pattern string, access Access, h http.Handler) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "ANY", pattern
	}
	m.mux.Handle(pattern, h)
	m.routes = append(m.routes, Route{Method: method, Path: path, Access: access})
}

// HandleFunc is Handle for a function.
func (m *Mux) HandleFunc(pattern string, access Access, h http.HandlerFunc) {
	m.Handle(pattern, access, h)
}

// Allowed lists the methods that have a route of their own for the
// request's path, ignoring the catch-all pattern fallback: what a 405
// answer puts in its Allow header.
func (m *Mux) Allowed(r *http.Request, fallback string) []string {
	var out []string
	for _, method := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = method
		if _, pattern := m.mux.Handler(probe); pattern != "" && pattern != fallback {
			out = append(out, method)
		}
	}
	return out
}

// Routes returns what has been registered, in order.
func (m *Mux) Routes() []Route { return append([]Route(nil), m.routes...) }

func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.mux.ServeHTTP(w, r) }

// Recorder wraps a ResponseWriter to remember the status and size written,
// and, when Body is set, a copy of the body.
type Recorder struct {
	http.ResponseWriter
	Status int
	Bytes  int64
	Body   *bytes.Buffer
}

func (r *Recorder) WriteHeader(code int) {
	if r.Status == 0 {
		r.Status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *Recorder) Write(b []byte) (int, error) {
	if r.Status == 0 {
		r.Status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.Bytes += int64(n)
	if r.Body != nil {
		r.Body.Write(b[:n])
	}
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Hijack is passed through for protocols that need the connection.
func (r *Recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("httpx: hijack not supported")
	}
	return h.Hijack()
}

// Observer counts and times requests by route pattern (never by raw path,
// which would let visitors create unbounded series).
type Observer struct {
	requests *metrics.Counter
	duration *metrics.Histogram
}

// NewObserver registers the HTTP metrics on reg.
func NewObserver(reg *metrics.Registry) *Observer {
	return &Observer{
		requests: reg.Counter("roost_http_requests_total", "HTTP requests answered, by route pattern, method and status code.", "route", "method", "code"),
		duration: reg.Histogram("roost_http_request_duration_seconds", "Time to answer HTTP requests, by route pattern.", metrics.DefBuckets, "route"),
	}
}

// sensitive paths carry one-time secrets; the log shows only their prefix.
var sensitive = []string{"/app/setup/", "/app/invite/"}

func logPath(p string) string {
	for _, s := range sensitive {
		if strings.HasPrefix(p, s) {
			return s + "…"
		}
	}
	return p
}

// Middleware wraps the mux with panic recovery, security headers, metrics
// and a request log line.
func Middleware(h *Mux, log *slog.Logger, obs *Observer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &Recorder{ResponseWriter: w}
		hdr := w.Header()
		hdr["X-Content-Type-Options"] = nosniff[:1:1]
		hdr["Referrer-Policy"] = referrerPolicy[:1:1]
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic serving request", "method", r.Method, "path", logPath(r.URL.Path), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if rec.Status == 0 {
					http.Error(rec, "internal server error", http.StatusInternalServerError)
				}
			}
			d := time.Since(start)
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			if rec.Status == 0 {
				rec.Status = http.StatusOK
			}
			if obs != nil {
				obs.requests.Inc(route, metricMethod(r.Method), statusLabel(rec.Status))
				obs.duration.Observe(d.Seconds(), route)
			}
			level := slog.LevelInfo
			if h.quiet[r.Pattern] {
				level = slog.LevelDebug
			}
			if rec.Status >= 500 {
				level = slog.LevelError
			}
			if !log.Enabled(r.Context(), level) {
				return
			}
			log.LogAttrs(r.Context(), level, "request",
				slog.String("method", r.Method), slog.String("path", logPath(r.URL.Path)), slog.String("route", route),
				slog.Int("status", rec.Status), slog.Int64("bytes", rec.Bytes), slog.Duration("duration", d))
		}()
		h.ServeHTTP(rec, r)
	})
}

// The security headers every answer carries, set as shared values: no
// allocation per request, and safe because a Header never writes into a
// value slice (Add appends to a full one, which copies it).
var (
	nosniff        = []string{"nosniff"}
	referrerPolicy = []string{"strict-origin-when-cross-origin"}
)

// statusLabels are the status codes as metric labels, made once.
var statusLabels = func() (l [600]string) {
	for i := 100; i < len(l); i++ {
		l[i] = strconv.Itoa(i)
	}
	return l
}()

func statusLabel(code int) string {
	if code >= 100 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}

// metricMethod keeps the method label to a fixed set: clients choose the
// method, and each new label value would be a new series kept forever.
func metricMethod(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return m
	}
	return "other"
}

var trusted atomic.Pointer[[]netip.Prefix]

// TrustProxies sets the reverse proxies (load balancers, TLS terminators)
// whose X-Forwarded-For header ClientIP believes. By default none is.
func TrustProxies(prefixes []netip.Prefix) { trusted.Store(&prefixes) }

func isTrusted(a netip.Addr) bool {
	p := trusted.Load()
	if p == nil {
		return false
	}
	for _, pr := range *p {
		if pr.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// ClientIP is the address of the visitor, without port: the peer, or, when
// the peer is a trusted proxy, the last address in X-Forwarded-For that is
// not one (the first hop a trusted proxy saw; earlier entries are whatever
// the client chose to send).
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(peer) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return host
		}
		if !isTrusted(a) {
			return a.Unmap().String()
		}
	}
	return host
}

// ParsePrefixes reads a list of addresses and CIDR ranges separated by
// commas or spaces ("10.0.0.0/8, 192.168.1.5").
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR range", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

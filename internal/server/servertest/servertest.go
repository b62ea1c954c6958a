// Package servertest runs a whole Roost server on a fresh database for
// tests that speak HTTP to it, the way browsers and API clients do.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/server"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
	"github.com/roost-hq/roost/internal/team"
)

// Password is the password of every person New's helpers create.
const Password = "correct horse battery staple"

// Env is a running server and its database.
type Env struct {
	*server.Server
	URL string
	t   testing.TB
}

// New starts a server on a fresh database of dialect d.
func New(t testing.TB, d store.Dialect) *Env {
	t.Helper()
	return NewWith(t, d, nil)
}

// NewWith is New with options changed by set (pointing a network at a
// fake, say) before the server starts.
func NewWith(t testing.TB, d store.Dialect, set func(*server.Options)) *Env {
	t.Helper()
	db := storetest.New(t, d)
	keys, err := secret.New(secret.Generate())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	o := server.Options{DB: db, Keys: keys, Log: log, BaseURL: base,
		Clicks: links.RecorderConfig{FlushEvery: 10 * time.Millisecond, SpillDir: t.TempDir()}, LinkPollEvery: 100 * time.Millisecond}
	if set != nil {
		set(&o)
	}
	srv, err := server.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-first: the HTTP server stops, then the clicks are
	// written, then the database closes.
	t.Cleanup(func() { srv.Close(context.Background()) })
	ts.Config.Handler = srv.Handler
	ts.Start()
	t.Cleanup(ts.Close)
	return &Env{Server: srv, URL: base, t: t}
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Owner creates a workspace with an owner who has Password.
func (e *Env) Owner(wsName, email string) (team.Workspace, team.Member) {
	e.t.Helper()
	w, m, err := e.Team.CreateOwner(context.Background(), team.NewOwner{Workspace: wsName, Email: email, Name: "Owner of " + wsName, Password: Password, Signature: "^OW"})
	if err != nil {
		e.t.Fatal(err)
	}
	return w, m
}

// Key creates an API key for the workspace and returns its secret.
func (e *Env) Key(wsID string) string {
	e.t.Helper()
	_, secret, err := e.Auth.CreateAPIKey(context.Background(), wsID, "test key", "")
	if err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// Response is a finished request.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// JSON decodes the body into v, failing the test if it is not JSON.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.Body), v); err != nil {
		t.Fatalf("body is not JSON (%v): %s", err, r.Body)
	}
}

// Do sends a request with optional headers ("Name: value") and body.
func (e *Env) Do(c *http.Client, method, path, body string, headers ...string) Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, h := range headers {
		if h == "" {
			continue
		}
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	if c == nil {
		c = NoRedirects(nil)
	}
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return Response{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

// API calls the API with a key.
func (e *Env) API(key, method, path, body string, headers ...string) Response {
	e.t.Helper()
	if key != "" {
		headers = append(headers, "Authorization: Bearer "+key)
	}
	if body != "" {
		headers = append(headers, "Content-Type: application/json")
	}
	return e.Do(nil, method, path, body, headers...)
}

// NoRedirects returns a client that keeps cookies in jar (a new one when
// nil) and does not follow redirects, so tests see them.
func NoRedirects(jar http.CookieJar) *http.Client {
	if jar == nil {
		jar, _ = cookiejar.New(nil)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// CSRF returns the form token on a page.
func CSRF(t testing.TB, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on page:\n%s", page)
	}
	return m[1]
}

// Browser is a cookie-keeping client that signs in through the login form.
type Browser struct {
	e *Env
	C *http.Client
}

// Browser returns a client with an empty cookie jar.
func (e *Env) Browser() *Browser { return &Browser{e: e, C: NoRedirects(nil)} }

// Get fetches a page.
func (b *Browser) Get(path string) Response {
	b.e.t.Helper()
	return b.e.Do(b.C, "GET", path, "")
}

// Post sends a form as a same-origin browser would, with the CSRF token of
// the page at from (or none when from is "").
func (b *Browser) Post(from, path string, form url.Values) Response {
	b.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if from != "" && form.Get("csrf") == "" {
		form.Set("csrf", CSRF(b.e.t, b.Get(from).Body))
	}
	return b.e.Do(b.C, "POST", path, form.Encode(), "Content-Type: application/x-www-form-urlencoded", "Origin: "+b.e.URL, "Sec-Fetch-Site: same-origin")
}

// PostFile sends a multipart form with one file, as a same-origin browser
// would, with the CSRF token of the page at from.
func (b *Browser) PostFile(from, path, field, filename, content string, form url.Values) Response {
	b.e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf", CSRF(b.e.t, b.Get(from).Body))
	for k, vs := range form {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	fw, _ := mw.CreateFormFile(field, filename)
	io.WriteString(fw, content)
	mw.Close()
	return b.e.Do(b.C, "POST", path, body.String(), "Content-Type: "+mw.FormDataContentType(), "Origin: "+b.e.URL, "Sec-Fetch-Site: same-origin")
}

// Login signs in and fails the test if that does not work.
func (b *Browser) Login(email string) {
	b.e.t.Helper()
	r := b.Post("/app/login", "/app/login", url.Values{"email": {email}, "password": {Password}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/app/" {
		b.e.t.Fatalf("login as %s: %d %s\n%s", email, r.Status, r.Header.Get("Location"), r.Body)
	}
}

// Post is a helper for JSON bodies.
func JSONBody(v any) string {
	var b bytes.Buffer
	json.NewEncoder(&b).Encode(v)
	return b.String()
}

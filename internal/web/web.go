// Package web is the dashboard: server-rendered pages from embedded
// templates and CSS, signed-in sessions in an HttpOnly cookie, and CSRF
// protection on every form.
package web

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/roost-hq/roost/internal/auth"
	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/inbox"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/money"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/posts"
	"github.com/roost-hq/roost/internal/ratelimit"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/team"
	"github.com/roost-hq/roost/internal/valid"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Web serves the dashboard under /app and its static files under /static.
type Web struct {
	Team   *team.Store
	Auth   *auth.Store
	Links  *links.Service
	Offers *offers.Store
	Social *social.Store
	// Hub calls the networks: claim pages sign people in and check follows.
	Hub    *social.Hub
	Posts  *posts.Store
	Orders *orders.Store
	Inbox  *inbox.Store
	// PersonHTTP calls the servers shoppers name (their Mastodon server);
	// nil means a client that reaches public addresses only.
	PersonHTTP *http.Client
	// BlueskyResolver and BlueskyPLC resolve Bluesky handles and DIDs for
	// shoppers' sign-in ("": the public AppView and plc.directory).
	BlueskyResolver, BlueskyPLC string
	Keys                        *secret.Keys
	Log                         *slog.Logger
	BaseURL                     string
	Secure                      bool // set Secure on cookies (the public URL is HTTPS)

	loginByIP    *ratelimit.Limiter
	loginByEmail *ratelimit.Limiter
	claimsByIP   *ratelimit.Limiter
	tokensByIP   *ratelimit.Limiter
	pages        map[string]*template.Template
	static       map[string]string // file name → content hash, for cache busting
	csrf         *http.CrossOriginProtection

	rendered sync.Map // page name → true once rendered, for tests
}

// Init parses the templates and prepares the limiters. It must be called
// before Register.
func (s *Web) Init() error {
	s.loginByIP = ratelimit.New(20, time.Minute)
	s.loginByEmail = ratelimit.New(5, 3*time.Minute)
	s.claimsByIP = ratelimit.New(20, 6*time.Second)
	// Claim tokens are minted more rarely than claims are tried (a browser
	// keeps its waiting token): five at once, then one every 30 s.
	s.tokensByIP = ratelimit.New(5, 30*time.Second)
	s.csrf = http.NewCrossOriginProtection()
	s.csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.message(w, r, http.StatusForbidden, "Request refused", "This form was sent from another site, so Roost refused it. Go back, reload the page and try again.")
	}))
	s.static = map[string]string{}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		s.static[strings.TrimPrefix(p, "static/")] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		return err
	}
	funcs := template.FuncMap{
		"static": func(name string) (string, error) {
			h, ok := s.static[name]
			if !ok {
				return "", fmt.Errorf("no static file %q", name)
			}
			return "/static/" + name + "?v=" + h, nil
		},
		"initials":  initials,
		"date":      func(t any) string { return fmtTime(t, "2 Jan 2006") },
		"ago":       ago,
		"list":      func(v ...string) []string { return v },
		"hasPrefix": strings.HasPrefix,
		"money":     money.Display,
		"duration":  duration,
		"mul100":    func(f float64) float64 { return f * 100 },
		"pctf": func(part, total int64) string {
			if total <= 0 {
				return "—"
			}
			return strconv.FormatFloat(float64(part)*100/float64(total), 'f', 1, 64) + "%"
		},
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		},
		"div": func(a, b int64) string {
			if b <= 0 {
				return "—"
			}
			return strconv.FormatFloat(float64(a)/float64(b), 'f', 1, 64)
		},
		"pct": func(part, total int64) int64 {
			if total <= 0 {
				return 0
			}
			return part * 100 / total
		},
	}
	s.pages = map[string]*template.Template{}
	entries, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := strings.TrimSuffix(strings.TrimPrefix(e, "templates/"), ".html")
		if name == "base" || name == "settings_tabs" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/base.html", "templates/settings_tabs.html", e)
		if err != nil {
			return fmt.Errorf("web: parse %s: %w", e, err)
		}
		s.pages[name] = t
	}
	return nil
}

// Pages lists the page templates, and Rendered those rendered so far: a
// test checks that none is left unrendered.
func (s *Web) Pages() []string {
	var out []string
	for n := range s.pages {
		out = append(out, n)
	}
	return out
}

// Rendered reports whether the page template has been rendered.
func (s *Web) Rendered(name string) bool {
	_, ok := s.rendered.Load(name)
	return ok
}

// navItem is one entry of the main menu; an empty Href marks an area that
// is not built yet.
type navItem struct {
	Name, Href, Icon string
	Active           bool
}

var nav = []navItem{
	{Name: "Overview", Href: "/app/", Icon: "overview"},
	{Name: "Offers", Href: "/app/offers", Icon: "offers"},
	{Name: "Posts", Href: "/app/posts", Icon: "posts"},
	{Name: "Links", Href: "/app/links", Icon: "links"},
	{Name: "Inbox", Href: "/app/inbox", Icon: "inbox"},
	{Name: "Orders", Href: "/app/orders", Icon: "orders"},
	{Name: "Customers", Href: "/app/customers", Icon: "customers"},
	{Name: "Settings", Href: "/app/settings/workspace", Icon: "settings"},
}

// viewer is the signed-in person and the workspace the dashboard shows.
type viewer struct {
	Token       string
	User        team.User
	Member      team.Member
	Workspace   team.Workspace
	Memberships []team.Membership
}

type flash struct{ Kind, Text string }

// view is what every page template receives.
type view struct {
	Title  string
	Nav    []navItem
	Tab    string
	V      *viewer
	CSRF   string
	Flash  *flash
	Form   map[string]string
	Errors *valid.Errors
	Data   any
	// Layout overrides the layout: "public" for pages visitors see.
	Layout string
}

type viewerCtx struct{}

func viewerFrom(r *http.Request) *viewer {
	v, _ := r.Context().Value(viewerCtx{}).(*viewer)
	return v
}

// render writes a page in the app layout (signed in) or the auth layout.
func (s *Web) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	t, ok := s.pages[page]
	if !ok {
		panic("web: no page " + page)
	}
	v.CSRF = s.csrfToken(w, r)
	if v.Errors == nil {
		v.Errors = &valid.Errors{}
	}
	if v.Flash == nil {
		v.Flash = s.takeFlash(w, r)
	}
	layout := "auth"
	if v.V = viewerFrom(r); v.V != nil && v.V.Workspace.ID != "" {
		layout = "app"
		for _, n := range nav {
			switch {
			case v.Tab != "":
				n.Active = n.Icon == "settings"
			case n.Href == "/app/":
				n.Active = r.URL.Path == "/app/"
			default:
				n.Active = n.Href != "" && strings.HasPrefix(r.URL.Path, n.Href)
			}
			v.Nav = append(v.Nav, n)
		}
	}
	if v.Layout != "" {
		layout = v.Layout
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, layout, v); err != nil {
		s.Log.Error("web: render", "page", page, "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	s.rendered.Store(page, true)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	// Scripts only from Roost's own files. Inline style attributes are
	// allowed: the bar widths of reports are data, and style cannot run code.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

type messageData struct {
	Code                          int
	Heading, Text, Link, LinkText string
}

// message renders a full-page message such as a 404 in the current layout.
func (s *Web) message(w http.ResponseWriter, r *http.Request, status int, heading, text string) {
	d := messageData{Code: status, Heading: heading, Text: text, Link: "/app/", LinkText: "Back to the dashboard"}
	if viewerFrom(r) == nil {
		d.LinkText = "Go to sign-in"
		d.Link = "/app/login"
	}
	s.render(w, r, status, "message", view{Title: heading, Data: d})
}

func (s *Web) notFound(w http.ResponseWriter, r *http.Request) {
	s.message(w, r, http.StatusNotFound, "Page not found", "There is nothing here, or it belongs to another workspace.")
}

// fail answers an unexpected error.
func (s *Web) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) {
		s.notFound(w, r)
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	s.Log.Error("web: request failed", "route", r.Pattern, "err", err)
	s.message(w, r, http.StatusInternalServerError, "Something went wrong", "Roost could not finish this request. It has been logged; please try again.")
}

// Cookies.
const (
	sessionCookie = "roost_session"
	csrfCookie    = "roost_csrf"
	flashCookie   = "roost_flash"
)

func (s *Web) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode}
	if maxAge < 0 {
		c.MaxAge = -1
	} else if maxAge > 0 {
		c.MaxAge = int(maxAge.Seconds())
	}
	http.SetCookie(w, c)
}

// csrfParts is what a form token is bound to: the browser's CSRF cookie
// and, when someone is signed in, their session and the workspace shown.
// A site that plants a cookie still lacks the session, and a form from a
// tab showing another workspace no longer matches.
func (s *Web) csrfParts(r *http.Request, cookie string) []string {
	parts := []string{"csrf", cookie}
	if v := viewerFrom(r); v != nil {
		parts = append(parts, secret.Hash(v.Token), v.Workspace.ID)
	}
	return parts
}

// csrfToken returns the form token for this page, setting the CSRF cookie
// on a browser that has none.
func (s *Web) csrfToken(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(csrfCookie)
	val := ""
	if err == nil && len(c.Value) == 32 {
		val = c.Value
	} else {
		val = id.Token(20)
		s.setCookie(w, csrfCookie, val, 0)
	}
	return s.Keys.Sign(s.csrfParts(r, val)...)
}

// checkCSRF refuses a form whose token does not match.
func (s *Web) checkCSRF(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil {
		return false
	}
	return s.Keys.Verify(r.PostFormValue("csrf"), s.csrfParts(r, c.Value)...)
}

// setFlash keeps a one-line message for the next page, sealed so it cannot
// be forged.
func (s *Web) setFlash(w http.ResponseWriter, kind, text string) {
	s.setCookie(w, flashCookie, url.QueryEscape(s.Keys.Seal(kind+"\n"+text, "flash")), time.Minute)
}

func (s *Web) takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	s.setCookie(w, flashCookie, "", -1)
	raw, err := url.QueryUnescape(c.Value)
	if err != nil {
		return nil
	}
	plain, err := s.Keys.Open(raw, "flash")
	if err != nil {
		return nil
	}
	kind, text, _ := strings.Cut(plain, "\n")
	return &flash{Kind: kind, Text: text}
}

// redirect answers a form with a redirect and an optional flash message.
func (s *Web) redirect(w http.ResponseWriter, r *http.Request, to, kind, text string) {
	if text != "" {
		s.setFlash(w, kind, text)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func initials(name string) string {
	var out []rune
	for _, f := range strings.Fields(name) {
		for _, r := range f {
			out = append(out, r)
			break
		}
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return strings.ToUpper(string(out))
}

func fmtTime(v any, layout string) string {
	switch t := v.(type) {
	case time.Time:
		return t.UTC().Format(layout)
	case *time.Time:
		if t != nil {
			return t.UTC().Format(layout)
		}
	}
	return ""
}

func ago(v any) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x == nil {
			return ""
		}
		t = *x
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d.Minutes()), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d.Hours()), "hour") + " ago"
	case d < 30*24*time.Hour:
		return plural(int(d.Hours()/24), "day") + " ago"
	}
	return t.UTC().Format("2 Jan 2006")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

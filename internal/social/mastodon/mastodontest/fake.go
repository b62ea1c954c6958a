// Package mastodontest is a fake Mastodon server for tests: an httptest
// server that behaves like the documented Mastodon REST API, with
// switches to make it misbehave the ways real servers do.
package mastodontest

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is an httptest server that behaves like the Mastodon REST
// API as documented (docs.joinmastodon.org): bearer tokens, statuses with
// Idempotency-Key, notifications newest first with Link-header
// pagination, accounts/lookup, v2/search with resolve, relationships,
// X-RateLimit-* headers and 429s, {"error": …} bodies. Switches make it
// misbehave the ways real servers do.
type Server struct {
	*httptest.Server
	sync.Mutex           // held by the handler; tests that read fields lock it
	Token                string
	Revoked              bool
	IgnoreIdempotencyKey bool          // some Mastodon-API servers do
	SlowAfterPost        time.Duration // answer late, after the status exists
	RateLimitedUntil     time.Time     // 429 until then
	Garbage              bool          // 200 with a body that is not JSON
	Statuses             []Status      // newest last
	PostCalls            int
	Followers            map[string]bool    // local account IDs following @outlet
	Accounts             map[string]Account // found by accounts/lookup
	Remote               map[string]Account // found only by search with resolve
	FollowersCount       int64
	// A shopper signing in: the token the code gives when the app asks
	// no write scope, the account it belongs to, and the tokens revoked.
	PersonToken   string
	Person        Account
	RevokedTokens []string
	APIVersion    int // api_versions.mastodon in /api/v2/instance (2 from Mastodon 4.3)
	Streams       int // streaming connections open now
	streams       map[chan []byte]bool
	idem          map[string]int
	notes         []json.RawMessage // newest last, ids ascending
	noteIDs       []int
	others        map[string]bool // other people's statuses the instance knows, by ID
}

//go:embed testdata/notifications.json
var notificationsJSON []byte

// Status is a status the fake holds.
type Status struct {
	ID, Content, URL, Visibility string
}

// Account is an account the fake knows.
type Account struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Acct     string `json:"acct"`
	URL      string `json:"url"`
}

// New starts a fake instance whose brand account is @outlet (ID 14715),
// with the access token "tok-1" and the OAuth code "good-code".
func New(t testing.TB) *Server {
	f := &Server{Token: "tok-1", idem: map[string]int{}, Followers: map[string]bool{}, FollowersCount: 1234,
		Accounts: map[string]Account{"ann": {ID: "7", Username: "ann", Acct: "ann"}},
		Remote:   map[string]Account{"bob@other.example": {ID: "99", Username: "bob", Acct: "bob@other.example"}}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// NewTLS is New over HTTPS (a self-signed certificate: call with
// f.Client(), which trusts it), for flows where the server's address
// comes from a person's handle and so must be https.
func NewTLS(t testing.TB) *Server {
	f := New(t)
	f.Close()
	f.Server = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *Server) fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":%q}`, msg)
}

func (f *Server) json(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(v)
}

func (f *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("User-Agent") == "" || strings.HasPrefix(r.Header.Get("User-Agent"), "Go-http-client") {
		f.fail(w, http.StatusForbidden, "Requests without a User-Agent are not accepted")
		return
	}
	if r.URL.Path == "/api/v1/streaming/user/notification" {
		f.stream(w, r)
		return
	}
	f.Lock()
	defer f.Unlock()
	w.Header().Set("X-RateLimit-Limit", "300")
	w.Header().Set("X-RateLimit-Remaining", "299")
	if r.URL.Path == "/api/v2/instance" {
		inst := map[string]any{"domain": "outlet.example", "configuration": map[string]any{"statuses": map[string]any{"max_characters": 1000, "characters_reserved_per_url": 23}}}
		if f.APIVersion > 0 {
			inst["api_versions"] = map[string]any{"mastodon": f.APIVersion}
		}
		f.json(w, inst)
		return
	}
	if f.PersonToken != "" && r.Header.Get("Authorization") == "Bearer "+f.PersonToken && r.URL.Path == "/api/v1/accounts/verify_credentials" {
		f.json(w, f.Person)
		return
	}
	switch r.URL.Path {
	case "/api/v1/apps":
		if r.PostFormValue("redirect_uris") == "" || r.PostFormValue("scopes") == "" {
			f.fail(w, http.StatusUnprocessableEntity, "Validation failed: Redirect URI must be an absolute URI.")
			return
		}
		f.json(w, map[string]any{"id": "1", "name": r.PostFormValue("client_name"), "client_id": "cid-1", "client_secret": "csecret-1", "redirect_uri": r.PostFormValue("redirect_uris")})
		return
	case "/oauth/token":
		if r.PostFormValue("code") != "good-code" || r.PostFormValue("client_secret") != "csecret-1" || r.PostFormValue("code_verifier") == "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_grant","error_description":"The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."}`))
			return
		}
		tok := f.Token
		if f.PersonToken != "" && !strings.Contains(r.PostFormValue("scope"), "write") {
			tok = f.PersonToken
		}
		f.json(w, map[string]any{"access_token": tok, "token_type": "Bearer", "scope": r.PostFormValue("scope"), "created_at": time.Now().Unix()})
		return
	case "/oauth/revoke":
		f.RevokedTokens = append(f.RevokedTokens, r.PostFormValue("token"))
		f.json(w, map[string]any{})
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.Token {
		f.fail(w, http.StatusUnauthorized, "The access token is invalid")
		return
	}
	if f.Revoked {
		f.fail(w, http.StatusUnauthorized, "The access token was revoked")
		return
	}
	if time.Now().Before(f.RateLimitedUntil) {
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", f.RateLimitedUntil.UTC().Format(time.RFC3339Nano))
		f.fail(w, http.StatusTooManyRequests, "Too many requests")
		return
	}
	if f.Garbage {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><body>502 Bad Gateway</body></html>"))
		return
	}
	q := r.URL.Query()
	switch {
	case r.Method == "GET" && r.URL.Path == "/api/v1/accounts/verify_credentials":
		f.json(w, map[string]any{"id": "14715", "username": "outlet", "acct": "outlet", "display_name": "Outlet", "followers_count": f.FollowersCount})
	case r.Method == "POST" && r.URL.Path == "/api/v1/statuses":
		f.PostCalls++
		text := r.PostFormValue("status")
		if text == "" {
			f.fail(w, http.StatusUnprocessableEntity, "Validation failed: Text can't be blank")
			return
		}
		if len([]rune(text)) > 1000 {
			f.fail(w, http.StatusUnprocessableEntity, "Validation failed: Text character limit of 1000 exceeded")
			return
		}
		// A reply to a status the instance does not know (never seen, or
		// deleted since) is refused as Mastodon's StatusesController does.
		if to := r.PostFormValue("in_reply_to_id"); to != "" && !f.known(to) {
			f.fail(w, http.StatusNotFound, "The post you are trying to reply to does not appear to exist.")
			return
		}
		key := r.Header.Get("Idempotency-Key")
		i, seen := f.idem[key]
		if !seen || f.IgnoreIdempotencyKey || key == "" {
			id := strconv.Itoa(1000 + len(f.Statuses))
			f.Statuses = append(f.Statuses, Status{ID: id, URL: f.URL + "/@outlet/" + id, Content: "<p>" + linkify(text) + "</p>", Visibility: r.PostFormValue("visibility")})
			i = len(f.Statuses) - 1
			f.idem[key] = i
		}
		st := f.Statuses[i]
		if f.SlowAfterPost > 0 {
			f.Unlock()
			time.Sleep(f.SlowAfterPost)
			f.Lock()
		}
		f.json(w, map[string]any{"id": st.ID, "url": st.URL, "content": st.Content, "visibility": "public"})
	case r.Method == "GET" && r.URL.Path == "/api/v1/accounts/14715/statuses":
		out := []map[string]any{}
		for i := len(f.Statuses) - 1; i >= 0 && len(out) < 40; i-- {
			out = append(out, map[string]any{"id": f.Statuses[i].ID, "url": f.Statuses[i].URL, "content": f.Statuses[i].Content})
		}
		f.json(w, out)
	case r.Method == "GET" && r.URL.Path == "/api/v1/notifications":
		f.notifications(w, r)
	case r.Method == "GET" && r.URL.Path == "/api/v1/accounts/lookup":
		a, ok := f.Accounts[q.Get("acct")]
		if !ok {
			f.fail(w, http.StatusNotFound, "Record not found")
			return
		}
		f.json(w, a)
	case r.Method == "GET" && r.URL.Path == "/api/v2/search":
		res := map[string]any{"accounts": []Account{}, "statuses": []any{}, "hashtags": []any{}}
		if a, ok := f.Remote[strings.TrimPrefix(q.Get("q"), "@")]; ok && q.Get("resolve") == "true" {
			res["accounts"] = []Account{a}
		}
		f.json(w, res)
	case r.Method == "GET" && r.URL.Path == "/api/v1/accounts/relationships":
		out := []map[string]any{}
		for _, id := range q["id[]"] {
			out = append(out, map[string]any{"id": id, "following": false, "followed_by": f.Followers[id]})
		}
		f.json(w, out)
	default:
		f.fail(w, http.StatusNotFound, "Record not found")
	}
}

// notifications pages as Mastodon does: newest first; min_id returns the
// page immediately newer than it; Link carries next (max_id) and prev
// (min_id).
func (f *Server) notifications(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 40 {
		limit = 40
	}
	var idx []int
	if m := q.Get("min_id"); m != "" {
		min, _ := strconv.Atoi(m)
		for i, id := range f.noteIDs {
			if id > min && len(idx) < limit {
				idx = append(idx, i)
			}
		}
	} else {
		for i := len(f.noteIDs) - 1; i >= 0 && len(idx) < limit; i-- {
			idx = append(idx, i)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(idx)))
	out := make([]json.RawMessage, len(idx))
	for k, i := range idx {
		out[k] = f.notes[i]
	}
	if len(idx) > 0 {
		newest, oldest := f.noteIDs[idx[0]], f.noteIDs[idx[len(idx)-1]]
		w.Header().Set("Link", fmt.Sprintf(`<%s/api/v1/notifications?max_id=%d&types%%5B%%5D=mention>; rel="next", <%s/api/v1/notifications?min_id=%d&types%%5B%%5D=mention>; rel="prev"`,
			"https://evil.example", oldest, "https://evil.example", newest))
	}
	f.json(w, out)
}

// Incoming is a status someone sends the brand account.
type Incoming struct {
	From      string // acct: user@domain, or user for a local account
	Text      string
	Direct    bool   // visibility "direct": a direct message
	InReplyTo string // the status answered ("": the fixture's)
	Followers int64  // the author's followers_count (0: the fixture's)
}

// AddMention adds a mention notification from the documented fixture,
// with new IDs, and returns the status's ID.
func (f *Server) AddMention(t testing.TB, from, text string) string {
	t.Helper()
	return f.Add(t, Incoming{From: from, Text: text})
}

// AddDirect adds a direct message (a mention of "direct" visibility) from
// the documented fixture, and returns the status's ID.
func (f *Server) AddDirect(t testing.TB, from, text string) string {
	t.Helper()
	return f.Add(t, Incoming{From: from, Text: text, Direct: true})
}

// Add adds a notification for an incoming status, made from the
// documented fixture's public or direct mention, and returns the status's
// ID.
func (f *Server) Add(t testing.TB, in Incoming) string {
	t.Helper()
	var ns []map[string]any
	if err := json.Unmarshal(notificationsJSON, &ns); err != nil {
		t.Fatal(err)
	}
	n := ns[0]
	if in.Direct {
		n = ns[1]
	}
	f.Lock()
	defer f.Unlock()
	id := 35000000 + len(f.noteIDs)
	n["id"] = strconv.Itoa(id)
	st := n["status"].(map[string]any)
	st["id"] = strconv.Itoa(200000 + id)
	st["content"] = "<p>" + html.EscapeString(in.Text) + "</p>"
	if in.InReplyTo != "" {
		st["in_reply_to_id"] = in.InReplyTo
	}
	acc := n["account"].(map[string]any)
	acc["acct"] = in.From
	if in.Followers != 0 {
		acc["followers_count"] = in.Followers
	}
	raw, _ := json.Marshal(n)
	f.notes = append(f.notes, raw)
	f.noteIDs = append(f.noteIDs, id)
	if f.others == nil {
		f.others = map[string]bool{}
	}
	f.others[st["id"].(string)] = true
	for ch := range f.streams {
		select {
		case ch <- raw:
		default:
		}
	}
	return st["id"].(string)
}

// Delete deletes someone's status, as its author would: a reply to it is
// refused from then on.
func (f *Server) Delete(statusID string) {
	f.Lock()
	defer f.Unlock()
	delete(f.others, statusID)
}

// known reports whether the instance has the status. The caller holds f.
func (f *Server) known(id string) bool {
	for _, st := range f.Statuses {
		if st.ID == id {
			return true
		}
	}
	return f.others[id]
}

// stream serves the user notification stream as server-sent events: a
// heartbeat, then a notification event for each mention added.
func (f *Server) stream(w http.ResponseWriter, r *http.Request) {
	f.Lock()
	ok := r.Header.Get("Authorization") == "Bearer "+f.Token && !f.Revoked
	ch := make(chan []byte, 16)
	if ok {
		if f.streams == nil {
			f.streams = map[chan []byte]bool{}
		}
		f.streams[ch] = true
		f.Streams++
	}
	f.Unlock()
	if !ok {
		f.fail(w, http.StatusUnauthorized, "Error: Invalid access token")
		return
	}
	defer func() {
		f.Lock()
		delete(f.streams, ch)
		f.Streams--
		f.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	fmt.Fprint(w, ":)\n\n")
	fl.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case raw := <-ch:
			fmt.Fprintf(w, "event: notification\ndata: %s\n\n", raw)
			fl.Flush()
		}
	}
}

var urlRE = regexp.MustCompile(`https?://\S+`)

// linkify renders text as Mastodon does: escaped, links as anchors.
func linkify(text string) string {
	esc := html.EscapeString(text)
	return urlRE.ReplaceAllStringFunc(esc, func(u string) string {
		return fmt.Sprintf(`<a href="%s" rel="nofollow noopener" target="_blank">%s</a>`, u, u)
	})
}

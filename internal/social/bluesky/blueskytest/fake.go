// Package blueskytest is a fake Bluesky server for tests: an httptest
// server that behaves like a PDS (with the AppView behind it, as a PDS
// proxies app.bsky.* calls) following the documented XRPC behaviour, and
// like the PLC directory and the PDS's OAuth authorization server
// (oauth.go), with switches to make it misbehave the ways real servers do.
package blueskytest

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rivo/uniseg"
)

// The brand account every fake serves.
const (
	Handle       = "outlet.test"
	DID          = "did:plc:o7tletr2ubr5wkzxq4jm3sda"
	Email        = "social@outlet.example"
	AppPassword  = "app-pass-1"
	MainPassword = "main-pass-1" // the account's own password, which Roost refuses
)

//go:embed testdata/createSession.json
var createSessionJSON []byte

//go:embed testdata/getProfile.json
var getProfileJSON []byte

//go:embed testdata/listNotifications.json
var listNotificationsJSON []byte

//go:embed testdata/getProfiles.json
var getProfilesJSON []byte

// Server is an httptest server that behaves like a PDS and the AppView
// behind it, as documented (docs.bsky.app, the atproto lexicons and the
// reference PDS): sessions with 2-hour access JWTs and rotating refresh
// JWTs (400 ExpiredToken, "Token has been revoked"); createSession rate
// limited to 30 per 5 minutes; createRecord with a client-chosen TID
// record key, answering a key already taken with a 500 as the reference
// PDS does; getRecord's 400 RecordNotFound; listNotifications newest first
// with cursors, limit and reasons; getProfile's 400 "Profile not found";
// getRelationships; RateLimit-* headers and 429s; {"error", "message"}
// bodies.
type Server struct {
	*httptest.Server
	sync.Mutex // held by the handler; tests that read or change fields lock it

	DisplayName    string
	FollowersCount int64
	AccessTTL      time.Duration // access tokens' lifetime (default 2 h, as on the PDS)

	RateLimitedUntil time.Time     // every call answers 429 until then
	Garbage          bool          // 200 with a body that is not JSON
	Slow             time.Duration // every answer this late
	SlowAfterPost    time.Duration // createRecord answers this late, after the post exists
	// DuplicateError is how createRecord answers a record key already
	// taken: "" as the reference PDS does today (500 InternalServerError),
	// else a 400 with this error name (the explicit error being added).
	DuplicateError string
	IgnoreReasons  bool // listNotifications ignores reasons, as older AppViews did
	// AppPasswordDMs: the app password was made with "Allow access to your
	// direct messages"; without it the PDS refuses chat.bsky.* calls.
	AppPasswordDMs bool
	LogPage        int              // getLog's most events an answer (default 100)
	Now            func() time.Time // the clock for new notifications (nil: time.Now)

	Posts     map[string]Post   // the brand account's posts, by record key
	Followers map[string]bool   // DIDs that follow the brand account
	People    map[string]Person // accounts known to the AppView, by DID

	CreateCalls  int // createRecord requests
	SessionCalls int // createSession requests
	RefreshCalls int // refreshSession requests
	Refused      int // calls refused for their access token

	// The authorization server (AT Protocol OAuth) on the same host, for
	// people signing in; see oauth.go.
	AuthServer   string              // the authorization server the PDS names ("": itself, as a self-hosted PDS)
	Issuer       string              // the issuer its metadata claims ("": its own URL)
	NoOAuth      bool                // no authorization server metadata (404), as a PDS without OAuth
	NoRevocation bool                // no revocation_endpoint in its metadata
	SignIn       string              // the account that signs in on the authorization page ("": the login_hint's)
	Deny         bool                // the person refuses on the authorization page
	GrantedScope string              // the scope the token endpoint grants ("": the scope asked for)
	AlsoKnownAs  map[string][]string // DID documents' alsoKnownAs by DID, where not at://handle
	Revoked      []string            // tokens given back at the revocation endpoint
	PARCalls     int                 // pushed authorization requests
	TokenCalls   int                 // token requests
	// NonceRefusals counts requests refused with use_dpop_nonce.
	NonceRefusals int
	oauth         oauthState

	tokens         map[string]*token
	appPassRevoked bool
	sessionTimes   []time.Time
	others         map[string]Post // other people's posts, by URI
	notes          []note
	seq            int
	chat           chatState
}

// Post is a post the fake holds.
type Post struct {
	URI, CID, Text string
	Author         string          // DID
	Record         json.RawMessage // as written
	Facets         []Facet
	ReplyRoot      string // URIs, for replies
	ReplyParent    string
	IndexedAt      time.Time
}

// Facet is a facet of a post, flattened to its first feature.
type Facet struct {
	ByteStart, ByteEnd int
	Type               string // "link", "mention", "tag"
	URI, DID, Tag      string
}

// Person is an account the AppView knows.
type Person struct {
	DID, Handle, DisplayName string
	Followers                int64 // followersCount in their profile
}

type token struct {
	refresh    bool
	main       bool // made with the main password
	privileged bool // made with an app password allowed direct messages
	exp        time.Time
	expired    bool
	revoked    bool
	rotated    bool
}

type note struct {
	raw    json.RawMessage
	at     time.Time
	cid    string
	reason string
}

// New starts a fake PDS whose brand account is outlet.test (DID), with the
// app password AppPassword.
func New(t testing.TB) *Server { return start(t, httptest.NewServer) }

// NewTLS starts the fake on https, as OAuth needs (every server on a
// sign-in's path must be https): use its Client, which trusts it.
func NewTLS(t testing.TB) *Server { return start(t, httptest.NewTLSServer) }

func start(t testing.TB, serve func(http.Handler) *httptest.Server) *Server {
	f := &Server{DisplayName: "Outlet", FollowersCount: 1234, AccessTTL: 2 * time.Hour,
		Posts: map[string]Post{}, Followers: map[string]bool{}, People: map[string]Person{},
		AlsoKnownAs: map[string][]string{}, tokens: map[string]*token{}, others: map[string]Post{}}
	f.Server = serve(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// DIDOf is the DID the fake gives a handle: stable, and valid did:plc syntax.
func DIDOf(handle string) string {
	h := sha256.Sum256([]byte(strings.ToLower(handle)))
	return "did:plc:" + strings.ToLower(base32.StdEncoding.EncodeToString(h[:]))[:24]
}

// AddPerson makes an account known to the AppView and returns its DID.
func (f *Server) AddPerson(handle, displayName string) string {
	f.Lock()
	defer f.Unlock()
	return f.person(handle, displayName).DID
}

func (f *Server) person(handle, displayName string) Person {
	p := Person{DID: DIDOf(handle), Handle: strings.ToLower(handle), DisplayName: displayName}
	if old, ok := f.People[p.DID]; ok {
		p.Followers = old.Followers
		if displayName == "" {
			p.DisplayName = old.DisplayName
		}
	}
	f.People[p.DID] = p
	return p
}

// SetFollowers sets how many followers a person's profile shows.
func (f *Server) SetFollowers(handle string, n int64) {
	f.Lock()
	defer f.Unlock()
	p := f.person(handle, "")
	p.Followers = n
	f.People[p.DID] = p
}

// ExpireAccess makes every access token issued so far expired, as two
// hours later.
func (f *Server) ExpireAccess() {
	f.Lock()
	defer f.Unlock()
	for _, t := range f.tokens {
		if !t.refresh {
			t.expired = true
		}
	}
}

// ExpireRefresh makes every refresh token issued so far expired (and
// every access token too), as months later.
func (f *Server) ExpireRefresh() {
	f.Lock()
	defer f.Unlock()
	for _, t := range f.tokens {
		t.expired = true
	}
}

// RevokeAppPassword revokes the app password as its owner would in
// Bluesky's settings: it no longer signs in and its refresh tokens are
// revoked; access tokens already issued last until they expire.
func (f *Server) RevokeAppPassword() {
	f.Lock()
	defer f.Unlock()
	f.appPassRevoked = true
	for _, t := range f.tokens {
		if t.refresh && !t.main {
			t.revoked = true
		}
	}
}

func (f *Server) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// Errors and answers.

func (f *Server) fail(w http.ResponseWriter, status int, name, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": name, "message": msg})
}

func (f *Server) json(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(v)
}

// procedures are the methods called with POST; the rest are queries.
var procedures = map[string]bool{
	"com.atproto.server.createSession":  true,
	"com.atproto.server.refreshSession": true,
	"com.atproto.server.deleteSession":  true,
	"com.atproto.repo.createRecord":     true,
	"chat.bsky.convo.sendMessage":       true,
}

func (f *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("User-Agent") == "" || strings.HasPrefix(r.Header.Get("User-Agent"), "Go-http-client") {
		f.fail(w, http.StatusBadRequest, "InvalidRequest", "requests without a User-Agent are not accepted")
		return
	}
	f.Lock()
	slow := f.Slow
	f.Unlock()
	if slow > 0 {
		time.Sleep(slow)
	}
	f.Lock()
	defer f.Unlock()
	now := time.Now()
	w.Header().Set("RateLimit-Limit", "3000")
	w.Header().Set("RateLimit-Remaining", "2999")
	w.Header().Set("RateLimit-Reset", strconv.FormatInt(now.Add(5*time.Minute).Unix(), 10))
	w.Header().Set("RateLimit-Policy", "3000;w=300")
	if now.Before(f.RateLimitedUntil) {
		w.Header().Set("RateLimit-Remaining", "0")
		w.Header().Set("RateLimit-Reset", strconv.FormatInt(f.RateLimitedUntil.Unix(), 10))
		f.fail(w, http.StatusTooManyRequests, "RateLimitExceeded", "Rate Limit Exceeded")
		return
	}
	if f.Garbage {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
		return
	}
	nsid, ok := strings.CutPrefix(r.URL.Path, "/xrpc/")
	if !ok {
		f.serveOAuth(w, r)
		return
	}
	want := http.MethodGet
	if procedures[nsid] {
		want = http.MethodPost
	}
	if r.Method != want {
		f.fail(w, http.StatusBadRequest, "InvalidRequest", fmt.Sprintf("Incorrect HTTP method (%s) expected %s", r.Method, want))
		return
	}
	switch nsid {
	case "com.atproto.server.createSession":
		f.createSession(w, r)
		return
	case "com.atproto.server.refreshSession":
		f.refreshSession(w, r)
		return
	case "com.atproto.server.deleteSession":
		if t := f.tokens[bearer(r)]; t != nil && t.refresh {
			t.revoked = true
		}
		w.WriteHeader(http.StatusOK)
		return
	case "com.atproto.identity.resolveHandle":
		f.resolveHandle(w, r)
		return
	}
	if !f.authorized(w, r) {
		return
	}
	if strings.HasPrefix(nsid, "chat.bsky.") {
		f.serveChat(w, r, nsid)
		return
	}
	switch nsid {
	case "app.bsky.actor.getProfile":
		f.getProfile(w, r)
	case "app.bsky.actor.getProfiles":
		f.getProfiles(w, r)
	case "com.atproto.repo.createRecord":
		f.createRecord(w, r)
	case "com.atproto.repo.getRecord":
		f.getRecord(w, r)
	case "app.bsky.feed.getPosts":
		f.getPosts(w, r)
	case "app.bsky.notification.listNotifications":
		f.listNotifications(w, r)
	case "app.bsky.graph.getRelationships":
		f.getRelationships(w, r)
	default:
		f.fail(w, http.StatusNotImplemented, "MethodNotImplemented", "Method Not Implemented")
	}
}

// Sessions.

func bearer(r *http.Request) string {
	t, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return t
}

// authorized checks an access token as the PDS's auth verifier does: a
// missing one is a 401, one it cannot verify or past its time a 400.
func (f *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	tok := bearer(r)
	t := f.tokens[tok]
	switch {
	case tok == "":
		f.fail(w, http.StatusUnauthorized, "AuthMissing", "Authentication Required")
	case t == nil:
		f.fail(w, http.StatusBadRequest, "InvalidToken", "Token could not be verified")
	case t.refresh:
		f.fail(w, http.StatusBadRequest, "InvalidToken", "Invalid token type")
	case t.expired || time.Now().After(t.exp):
		f.fail(w, http.StatusBadRequest, "ExpiredToken", "Token has expired")
	default:
		return true
	}
	f.Refused++
	return false
}

func (f *Server) createSession(w http.ResponseWriter, r *http.Request) {
	f.SessionCalls++
	now := time.Now()
	recent := f.sessionTimes[:0]
	for _, at := range f.sessionTimes {
		if now.Sub(at) < 5*time.Minute {
			recent = append(recent, at)
		}
	}
	f.sessionTimes = recent
	if len(recent) >= 30 {
		w.Header().Set("RateLimit-Limit", "30")
		w.Header().Set("RateLimit-Remaining", "0")
		w.Header().Set("RateLimit-Reset", strconv.FormatInt(recent[0].Add(5*time.Minute).Unix(), 10))
		w.Header().Set("RateLimit-Policy", "30;w=300")
		f.fail(w, http.StatusTooManyRequests, "RateLimitExceeded", "Rate Limit Exceeded")
		return
	}
	f.sessionTimes = append(f.sessionTimes, now)
	var in struct {
		Identifier string `json:"identifier"`
		Password   string `json:"password"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Identifier == "" || in.Password == "" {
		f.fail(w, http.StatusBadRequest, "InvalidRequest", `Input must have the property "identifier"`)
		return
	}
	id := strings.ToLower(in.Identifier)
	known := id == Handle || id == DID || id == Email
	switch {
	case known && in.Password == AppPassword && !f.appPassRevoked:
		f.session(w, false, f.AppPasswordDMs)
	case known && in.Password == MainPassword:
		f.session(w, true, true)
	default:
		f.fail(w, http.StatusUnauthorized, "AuthenticationRequired", "Invalid identifier or password")
	}
}

func (f *Server) refreshSession(w http.ResponseWriter, r *http.Request) {
	f.RefreshCalls++
	t := f.tokens[bearer(r)]
	switch {
	case bearer(r) == "":
		f.fail(w, http.StatusUnauthorized, "AuthMissing", "Authentication Required")
	case t == nil:
		f.fail(w, http.StatusBadRequest, "InvalidToken", "Token could not be verified")
	case !t.refresh:
		f.fail(w, http.StatusBadRequest, "InvalidToken", "Invalid token type")
	case t.expired || time.Now().After(t.exp):
		f.fail(w, http.StatusBadRequest, "ExpiredToken", "Token has expired")
	case t.revoked || t.rotated:
		f.fail(w, http.StatusBadRequest, "ExpiredToken", "Token has been revoked")
	default:
		t.rotated = true
		f.session(w, t.main, t.privileged)
	}
}

// session answers createSession and refreshSession from the documented
// fixture, with new tokens and the fake's own address as the PDS.
func (f *Server) session(w http.ResponseWriter, main, privileged bool) {
	var out map[string]any
	if err := json.Unmarshal(createSessionJSON, &out); err != nil {
		panic(err)
	}
	access, refresh := f.issue(main, privileged)
	out["accessJwt"], out["refreshJwt"], out["did"], out["handle"] = access, refresh, DID, Handle
	out["didDoc"].(map[string]any)["service"].([]any)[0].(map[string]any)["serviceEndpoint"] = f.URL
	f.json(w, out)
}

// issue makes a pair of JWT-shaped tokens (the fake does not sign them),
// scoped as the PDS scopes them: the main password's full access, an app
// password's, or a privileged app password's (allowed direct messages).
func (f *Server) issue(main, privileged bool) (access, refresh string) {
	now := time.Now()
	scope := "com.atproto.appPass"
	switch {
	case main:
		scope = "com.atproto.access"
	case privileged:
		scope = "com.atproto.appPassPrivileged"
	}
	f.seq++
	jwt := func(typ string, claims map[string]any) string {
		enc := base64.RawURLEncoding
		h, _ := json.Marshal(map[string]string{"typ": typ, "alg": "ES256K"})
		c, _ := json.Marshal(claims)
		return enc.EncodeToString(h) + "." + enc.EncodeToString(c) + "." + enc.EncodeToString([]byte("sig-"+strconv.Itoa(f.seq)))
	}
	aexp, rexp := now.Add(f.AccessTTL), now.Add(90*24*time.Hour)
	access = jwt("at+jwt", map[string]any{"scope": scope, "sub": DID, "aud": "did:web:fake.pds", "iat": now.Unix(), "exp": aexp.Unix()})
	refresh = jwt("refresh+jwt", map[string]any{"scope": "com.atproto.refresh", "sub": DID, "aud": "did:web:fake.pds",
		"jti": fmt.Sprintf("jti-%d", f.seq), "iat": now.Unix(), "exp": rexp.Unix()})
	f.tokens[access] = &token{main: main, privileged: main || privileged, exp: aexp}
	f.tokens[refresh] = &token{refresh: true, main: main, privileged: main || privileged, exp: rexp}
	return access, refresh
}

// Identities.

var (
	handleRE = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)
	didRE    = regexp.MustCompile(`^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$`)
	tidRE    = regexp.MustCompile(`^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$`)
)

// actor finds an account by DID or handle: the brand account or a person.
func (f *Server) actor(id string) (Person, bool) {
	id = strings.ToLower(id)
	if id == DID || id == Handle {
		return Person{DID: DID, Handle: Handle, DisplayName: f.DisplayName}, true
	}
	if p, ok := f.People[id]; ok {
		return p, true
	}
	for _, p := range f.People {
		if p.Handle == id {
			return p, true
		}
	}
	return Person{}, false
}

func (f *Server) resolveHandle(w http.ResponseWriter, r *http.Request) {
	h := r.URL.Query().Get("handle")
	if !handleRE.MatchString(h) {
		f.fail(w, http.StatusBadRequest, "InvalidRequest", "Error: handle must be a valid handle")
		return
	}
	p, ok := f.actor(h)
	if !ok || strings.HasPrefix(h, "did:") {
		f.fail(w, http.StatusBadRequest, "InvalidRequest", "Unable to resolve handle")
		return
	}
	f.json(w, map[string]string{"did": p.DID})
}

func (f *Server) getProfile(w http.ResponseWriter, r *http.Request) {
	a := r.URL.Query().Get("actor")
	if a == "" {
		f.fail(w, http.StatusBadRequest, "InvalidRequest", `Error: Params must have the property "actor"`)
		return
	}
	if !handleRE.MatchString(a) && !didRE.MatchString(a) {
		f.fail(w, http.StatusBadRequest, "InvalidRequest", "Error: actor must be a valid did or a handle")
		return
	}
	p, ok := f.actor(a)
	if !ok {
		f.fail(w, http.StatusBadRequest, "InvalidRequest", "Profile not found")
		return
	}
	var out map[string]any
	if err := json.Unmarshal(getProfileJSON, &out); err != nil {
		panic(err)
	}
	out["did"], out["handle"], out["displayName"] = p.DID, p.Handle, p.DisplayName
	if p.DID == DID {
		out["followersCount"] = f.FollowersCount
	} else {
		out["followersCount"], out["description"] = p.Followers, ""
	}
	f.json(w, out)
}

// getProfiles answers app.bsky.actor.getProfiles: up to 25 actors, the
// unknown ones left out.
func (f *Server) getProfiles(w http.ResponseWriter, r *http.Request) {
	actors := r.URL.Query()["actors"]
	if len(actors) == 0 {
		f.fail(w, http.StatusBadRequest, "InvalidRequest", `Error: Params must have the property "actors"`)
		return
	}
	if len(actors) > 25 {
		f.fail(w, http.StatusBadRequest, "InvalidRequest", "Error: Params actors must not have more than 25 elements")
		return
	}
	var tpl struct {
		Profiles []map[string]any `json:"profiles"`
	}
	if err := json.Unmarshal(getProfilesJSON, &tpl); err != nil {
		panic(err)
	}
	profiles := []map[string]any{}
	for _, a := range actors {
		p, ok := f.actor(a)
		if !ok {
			continue
		}
		out := map[string]any{}
		for k, v := range tpl.Profiles[0] {
			out[k] = v
		}
		out["did"], out["handle"], out["displayName"], out["followersCount"] = p.DID, p.Handle, p.DisplayName, p.Followers
		if p.DID == DID {
			out["followersCount"] = f.FollowersCount
		}
		profiles = append(profiles, out)
	}
	f.json(w, map[string]any{"profiles": profiles})
}

func (f *Server) getRelationships(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	actor, ok := f.actor(q.Get("actor"))
	if !ok {
		f.fail(w, http.StatusBadRequest, "ActorNotFound", "Actor not found: "+q.Get("actor"))
		return
	}
	if len(q["others"]) > 30 {
		f.fail(w, http.StatusBadRequest, "InvalidRequest", "Error: Params others must not have more than 30 elements")
		return
	}
	rels := []any{}
	for _, o := range q["others"] {
		p, ok := f.actor(o)
		if !ok {
			rels = append(rels, map[string]any{"$type": "app.bsky.graph.defs#notFoundActor", "actor": o, "notFound": true})
			continue
		}
		rel := map[string]any{"$type": "app.bsky.graph.defs#relationship", "did": p.DID}
		if actor.DID == DID && f.Followers[p.DID] {
			rel["followedBy"] = "at://" + p.DID + "/app.bsky.graph.follow/" + f.tid(time.Now())
		}
		rels = append(rels, rel)
	}
	f.json(w, map[string]any{"actor": actor.DID, "relationships": rels})
}

// Records.

// tid makes a record key for a time, as a PDS does.
func (f *Server) tid(at time.Time) string {
	f.seq++
	v := uint64(at.UnixMicro())<<10 | uint64(f.seq&0x3ff)
	const alphabet = "234567abcdefghijklmnopqrstuvwxyz"
	var b [13]byte
	for i := 12; i >= 0; i-- {
		b[i] = alphabet[v&31]
		v >>= 5
	}
	return string(b[:])
}

// cid makes a CID-shaped content hash (dag-cbor, sha-256, base32).
func cid(b []byte) string {
	h := sha256.Sum256(b)
	return "bafyrei" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(h[:]))[:52]
}

// postRecord is app.bsky.feed.post as the fake reads it.
type postRecord struct {
	Type      string  `json:"$type"`
	Text      *string `json:"text"`
	CreatedAt string  `json:"createdAt"`
	Facets    []struct {
		Index *struct {
			ByteStart *int `json:"byteStart"`
			ByteEnd   *int `json:"byteEnd"`
		} `json:"index"`
		Features []struct {
			Type string `json:"$type"`
			URI  string `json:"uri"`
			DID  string `json:"did"`
			Tag  string `json:"tag"`
		} `json:"features"`
	} `json:"facets"`
	Reply *struct {
		Root   strongRef `json:"root"`
		Parent strongRef `json:"parent"`
	} `json:"reply"`
}

type strongRef struct {
	URI string `json:"uri"`
	CID string `json:"cid"`
}

// validate checks a post as the lexicon does, with the PDS's messages.
func validate(rec postRecord) string {
	switch {
	case rec.Type != "app.bsky.feed.post":
		return "Invalid $type: expected app.bsky.feed.post, got " + rec.Type
	case rec.Text == nil:
		return `Invalid app.bsky.feed.post record: Record must have the property "text"`
	case len(*rec.Text) > 3000:
		return "Invalid app.bsky.feed.post record: Record/text must not be longer than 3000 characters"
	case uniseg.GraphemeClusterCount(*rec.Text) > 300:
		return "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes"
	}
	if _, err := time.Parse(time.RFC3339Nano, rec.CreatedAt); err != nil {
		return "Invalid app.bsky.feed.post record: Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)"
	}
	for i, fc := range rec.Facets {
		if fc.Index == nil || fc.Index.ByteStart == nil || fc.Index.ByteEnd == nil || *fc.Index.ByteStart < 0 || *fc.Index.ByteEnd < 0 {
			return fmt.Sprintf("Invalid app.bsky.feed.post record: Record/facets/%d/index must have the properties \"byteStart\" and \"byteEnd\" (integers >= 0)", i)
		}
		if len(fc.Features) == 0 {
			return fmt.Sprintf(`Invalid app.bsky.feed.post record: Record/facets/%d must have the property "features"`, i)
		}
	}
	if rp := rec.Reply; rp != nil {
		for name, ref := range map[string]struct{ URI, CID string }{"root": {rp.Root.URI, rp.Root.CID}, "parent": {rp.Parent.URI, rp.Parent.CID}} {
			if ref.URI == "" || ref.CID == "" {
				return fmt.Sprintf(`Invalid app.bsky.feed.post record: Record/reply/%s must have the properties "uri" and "cid"`, name)
			}
		}
	}
	return ""
}

func (f *Server) createRecord(w http.ResponseWriter, r *http.Request) {
	f.CreateCalls++
	var in struct {
		Repo       string          `json:"repo"`
		Collection string          `json:"collection"`
		RKey       string          `json:"rkey"`
		Record     json.RawMessage `json:"record"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Repo == "" || in.Collection == "" || len(in.Record) == 0 {
		f.fail(w, http.StatusBadRequest, "InvalidRequest", `Input must have the properties "repo", "collection" and "record"`)
		return
	}
	if p, ok := f.actor(in.Repo); !ok {
		f.fail(w, http.StatusBadRequest, "InvalidRequest", "Could not find repo: "+in.Repo)
		return
	} else if p.DID != DID {
		f.fail(w, http.StatusUnauthorized, "AuthenticationRequired", "Authentication Required")
		return
	}
	if in.Collection != "app.bsky.feed.post" {
		f.fail(w, http.StatusBadRequest, "InvalidRequest", "the fake PDS only keeps app.bsky.feed.post records")
		return
	}
	var rec postRecord
	if err := json.Unmarshal(in.Record, &rec); err != nil {
		f.fail(w, http.StatusBadRequest, "InvalidRequest", "Invalid app.bsky.feed.post record: "+err.Error())
		return
	}
	if rec.Type == "" {
		rec.Type = in.Collection
	}
	if msg := validate(rec); msg != "" {
		f.fail(w, http.StatusBadRequest, "InvalidRequest", msg)
		return
	}
	rkey := in.RKey
	if rkey == "" {
		rkey = f.tid(time.Now())
	} else if !tidRE.MatchString(rkey) {
		f.fail(w, http.StatusBadRequest, "InvalidRequest", "Invalid record key for app.bsky.feed.post: must be a valid TID")
		return
	}
	uri := "at://" + DID + "/app.bsky.feed.post/" + rkey
	if _, taken := f.Posts[rkey]; taken {
		if f.DuplicateError == "" {
			f.fail(w, http.StatusInternalServerError, "InternalServerError", "Internal Server Error")
		} else {
			f.fail(w, http.StatusBadRequest, f.DuplicateError, "Record already exists: "+uri)
		}
		return
	}
	p := Post{URI: uri, CID: cid(in.Record), Text: *rec.Text, Author: DID, Record: in.Record, IndexedAt: time.Now()}
	for _, fc := range rec.Facets {
		ft := fc.Features[0]
		p.Facets = append(p.Facets, Facet{ByteStart: *fc.Index.ByteStart, ByteEnd: *fc.Index.ByteEnd,
			Type: strings.TrimPrefix(ft.Type, "app.bsky.richtext.facet#"), URI: ft.URI, DID: ft.DID, Tag: ft.Tag})
	}
	if rec.Reply != nil {
		p.ReplyRoot, p.ReplyParent = rec.Reply.Root.URI, rec.Reply.Parent.URI
	}
	f.Posts[rkey] = p
	if f.SlowAfterPost > 0 {
		d := f.SlowAfterPost
		f.Unlock()
		time.Sleep(d)
		f.Lock()
	}
	f.json(w, map[string]any{"uri": uri, "cid": p.CID, "commit": map[string]string{"cid": cid([]byte(uri + "commit")), "rev": f.tid(time.Now())},
		"validationStatus": "valid"})
}

func (f *Server) getRecord(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	uri := "at://" + q.Get("repo") + "/" + q.Get("collection") + "/" + q.Get("rkey")
	p, ok := f.Posts[q.Get("rkey")]
	if a, known := f.actor(q.Get("repo")); !known || a.DID != DID || q.Get("collection") != "app.bsky.feed.post" || !ok {
		f.fail(w, http.StatusBadRequest, "RecordNotFound", "Could not locate record: "+uri)
		return
	}
	f.json(w, map[string]any{"uri": p.URI, "cid": p.CID, "value": p.Record})
}

// post finds any post by URI.
func (f *Server) post(uri string) (Post, bool) {
	if p, ok := f.others[uri]; ok {
		return p, true
	}
	prefix := "at://" + DID + "/app.bsky.feed.post/"
	if rkey, ok := strings.CutPrefix(uri, prefix); ok {
		p, ok := f.Posts[rkey]
		return p, ok
	}
	return Post{}, false
}

func (f *Server) getPosts(w http.ResponseWriter, r *http.Request) {
	uris := r.URL.Query()["uris"]
	if len(uris) > 25 {
		f.fail(w, http.StatusBadRequest, "InvalidRequest", "Error: Params uris must not have more than 25 elements")
		return
	}
	posts := []any{}
	for _, u := range uris {
		p, ok := f.post(u)
		if !ok {
			continue // the AppView leaves out what it cannot find
		}
		author, _ := f.actor(p.Author)
		posts = append(posts, map[string]any{"uri": p.URI, "cid": p.CID, "record": p.Record,
			"author":     map[string]any{"did": author.DID, "handle": author.Handle, "displayName": author.DisplayName, "labels": []any{}},
			"replyCount": 0, "repostCount": 0, "likeCount": 0, "quoteCount": 0, "indexedAt": p.IndexedAt.UTC().Format(stamp), "labels": []any{}})
	}
	f.json(w, map[string]any{"posts": posts})
}

// Notifications.

const stamp = "2006-01-02T15:04:05.000Z" // the AppView's times: UTC, milliseconds

// listNotifications pages as the AppView does: newest first (by time,
// then CID), the cursor naming the last one sent, limit 1 to 100
// (default 50), reasons filtering.
func (f *Server) listNotifications(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 50
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			f.fail(w, http.StatusBadRequest, "InvalidRequest", "Error: Params limit must be an integer from 1 to 100")
			return
		}
		limit = n
	}
	notes := append([]note(nil), f.notes...)
	sort.Slice(notes, func(i, j int) bool {
		if !notes[i].at.Equal(notes[j].at) {
			return notes[i].at.After(notes[j].at)
		}
		return notes[i].cid > notes[j].cid
	})
	reasons := map[string]bool{}
	for _, r := range q["reasons"] {
		reasons[r] = true
	}
	var afterAt time.Time
	var afterCID string
	if c := q.Get("cursor"); c != "" {
		ms, id, ok := strings.Cut(c, "::")
		n, err := strconv.ParseInt(ms, 10, 64)
		if !ok || err != nil {
			f.fail(w, http.StatusBadRequest, "InvalidRequest", "Malformed cursor")
			return
		}
		afterAt, afterCID = time.UnixMilli(n), id
	}
	out := []json.RawMessage{}
	var last note
	for _, n := range notes {
		if afterCID != "" && (n.at.After(afterAt) || n.at.Equal(afterAt) && n.cid >= afterCID) {
			continue
		}
		if len(reasons) > 0 && !f.IgnoreReasons && !reasons[n.reason] {
			continue
		}
		if len(out) == limit {
			break
		}
		out = append(out, n.raw)
		last = n
	}
	res := map[string]any{"notifications": out, "priority": false}
	if len(out) > 0 {
		res["cursor"] = fmt.Sprintf("%d::%s", last.at.UnixMilli(), last.cid)
	}
	f.json(w, res)
}

// template is the fixture's first notification with the reason, as a map.
func template(t testing.TB, reason string) map[string]any {
	t.Helper()
	var list struct {
		Notifications []map[string]any `json:"notifications"`
	}
	if err := json.Unmarshal(listNotificationsJSON, &list); err != nil {
		t.Fatal(err)
	}
	for _, n := range list.Notifications {
		if n["reason"] == reason {
			return n
		}
	}
	t.Fatalf("no %s notification in the fixture", reason)
	return nil
}

// notify adds a notification for a post (or like) by a person, made from
// the fixture's notification of that reason.
func (f *Server) notify(t testing.TB, reason string, from Person, collection string, record map[string]any, subject string) string {
	t.Helper()
	at := f.now().UTC().Truncate(time.Millisecond)
	record["createdAt"] = at.Add(-300 * time.Millisecond).Format(stamp)
	raw, _ := json.Marshal(record)
	uri := "at://" + from.DID + "/" + collection + "/" + f.tid(at)
	c := cid(append(raw, uri...))
	n := template(t, reason)
	n["uri"], n["cid"], n["record"], n["indexedAt"], n["isRead"] = uri, c, record, at.Format(stamp), false
	author := n["author"].(map[string]any)
	author["did"], author["handle"], author["displayName"] = from.DID, from.Handle, from.DisplayName
	if subject != "" {
		n["reasonSubject"] = subject
	} else {
		delete(n, "reasonSubject")
	}
	b, _ := json.Marshal(n)
	f.notes = append(f.notes, note{raw: b, at: at, cid: c, reason: reason})
	if collection == "app.bsky.feed.post" {
		text, _ := record["text"].(string)
		f.others[uri] = Post{URI: uri, CID: c, Text: text, Author: from.DID, Record: raw, IndexedAt: at}
	}
	return uri
}

// mentionFacets marks the brand's handle in text, as the author's client would.
func mentionFacets(text string) []any {
	i := strings.Index(text, "@"+Handle)
	if i < 0 {
		return nil
	}
	return []any{map[string]any{"index": map[string]int{"byteStart": i, "byteEnd": i + 1 + len(Handle)},
		"features": []any{map[string]string{"$type": "app.bsky.richtext.facet#mention", "did": DID}}}}
}

func postRecordMap(text string) map[string]any {
	rec := map[string]any{"$type": "app.bsky.feed.post", "text": text, "langs": []string{"en"}}
	if fs := mentionFacets(text); fs != nil {
		rec["facets"] = fs
	}
	return rec
}

// AddMention adds a post by fromHandle that mentions the brand account,
// and its notification; it returns the post's URI.
func (f *Server) AddMention(t testing.TB, fromHandle, text string) string {
	t.Helper()
	f.Lock()
	defer f.Unlock()
	return f.notify(t, "mention", f.person(fromHandle, ""), "app.bsky.feed.post", postRecordMap(text), "")
}

// AddReply adds a reply by fromHandle to the post at parentURI (a brand
// post, or any post the fake holds), and its notification; it returns the
// reply's URI.
func (f *Server) AddReply(t testing.TB, fromHandle, text, parentURI string) string {
	t.Helper()
	f.Lock()
	defer f.Unlock()
	parent, ok := f.post(parentURI)
	if !ok {
		t.Fatalf("AddReply: no post %s", parentURI)
	}
	root := map[string]string{"uri": parent.URI, "cid": parent.CID}
	if parent.ReplyRoot != "" {
		if rp, ok := f.post(parent.ReplyRoot); ok {
			root = map[string]string{"uri": rp.URI, "cid": rp.CID}
		}
	}
	rec := postRecordMap(text)
	rec["reply"] = map[string]any{"root": root, "parent": map[string]string{"uri": parent.URI, "cid": parent.CID}}
	uri := f.notify(t, "reply", f.person(fromHandle, ""), "app.bsky.feed.post", rec, parent.URI)
	p := f.others[uri]
	p.ReplyRoot, p.ReplyParent = root["uri"], parent.URI
	f.others[uri] = p
	return uri
}

// AddQuote adds a post by fromHandle quoting the post at quotedURI, and
// its notification; it returns the quote's URI.
func (f *Server) AddQuote(t testing.TB, fromHandle, text, quotedURI string) string {
	t.Helper()
	f.Lock()
	defer f.Unlock()
	q, ok := f.post(quotedURI)
	if !ok {
		t.Fatalf("AddQuote: no post %s", quotedURI)
	}
	rec := postRecordMap(text)
	rec["embed"] = map[string]any{"$type": "app.bsky.embed.record", "record": map[string]string{"uri": q.URI, "cid": q.CID}}
	return f.notify(t, "quote", f.person(fromHandle, ""), "app.bsky.feed.post", rec, q.URI)
}

// AddLike adds a like by fromHandle of the post at subjectURI: a
// notification that is not a message.
func (f *Server) AddLike(t testing.TB, fromHandle, subjectURI string) {
	t.Helper()
	f.Lock()
	defer f.Unlock()
	rec := map[string]any{"$type": "app.bsky.feed.like", "subject": map[string]string{"uri": subjectURI, "cid": cid([]byte(subjectURI))}}
	f.notify(t, "like", f.person(fromHandle, ""), "app.bsky.feed.like", rec, subjectURI)
}

// Notifications counts the notifications the fake holds.
func (f *Server) Notifications() int {
	f.Lock()
	defer f.Unlock()
	return len(f.notes)
}

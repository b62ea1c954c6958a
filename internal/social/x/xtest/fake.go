// Package xtest is a fake of X for tests: an httptest server that
// behaves like the documented API v2 (api.x.com) and its OAuth 2.0 pages,
// with switches to make it misbehave the ways X does.
package xtest

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/roost-hq/roost/internal/social"
)

// Server is an httptest server that behaves like X as documented
// (docs.x.com): OAuth 2.0 Authorization Code with PKCE at
// /i/oauth2/authorize and /2/oauth2/token (two-hour access tokens,
// rotating refresh tokens, HTTP Basic for a confidential app), users/me,
// user lookups with connection_status, POST /2/tweets (t.co links,
// weighted length, duplicate content refused), the user's posts and
// mentions timelines newest first with since_id, start_time and
// next_token pages, problem JSON errors, x-rate-limit-* headers and
// 429s. Switches make it misbehave the ways X does.
//
// Its URL serves both the API and the authorize page: point a
// connector's APIBase at URL and its AuthorizeBase at AuthorizeURL.
type Server struct {
	*httptest.Server
	sync.Mutex // held by the handler; tests that read or set fields lock it

	// The app: a confidential client unless ClientSecret is "".
	ClientID, ClientSecret string
	// Code is the authorization code the authorize page gives.
	Code string
	// SignInAs is the user the next authorization signs in (default the
	// brand); another user gets a person token.
	SignInAs string
	// Deny makes the authorize page answer error=access_denied.
	Deny bool

	// The brand account's current tokens.
	AccessToken, RefreshToken string
	Brand                     User
	FollowersCount            int64

	Expired          bool          // the brand's access token answers 401 until refreshed
	Revoked          bool          // the brand's tokens, access and refresh, are refused
	RateLimitedUntil time.Time     // every API call answers 429 until then
	DailyLimitUntil  time.Time     // posts answer 429 with the 24-hour user limit spent until then
	Garbage          bool          // API calls answer 200 with a body that is not JSON
	CreditsDepleted  bool          // API calls answer 402, as when the app's credits are spent
	SlowAfterPost    time.Duration // a post answers this late, after it exists
	TokenDown        bool          // the token endpoint answers 503

	Tweets       []Tweet         // the brand's posts, oldest first
	PostCalls    int             // POST /2/tweets received
	RefreshCalls int             // refresh grants honoured
	Users        map[string]User // everyone X knows, by ID
	Followers    map[string]bool // IDs of users following the brand
	// FollowerCounts are users' public_metrics.followers_count, by ID.
	FollowerCounts map[string]int64
	// BrandScope is what the brand's tokens were granted (default every
	// scope Roost asks, dm.read and dm.write included).
	BrandScope string
	People     map[string]string // person access tokens → user ID
	RevokedTok []string          // tokens revoked through /2/oauth2/revoke

	mentions                   []Tweet // oldest first
	deleted                    map[string]bool
	dm                         dmState
	lastID                     uint64
	seq                        int
	challenge, method, redir   string
	scope                      string
	grantedAt                  time.Time
	userSeq                    int
	conversations, replyAuthor map[string]string
}

// User is an account X knows.
type User struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Username string `json:"username"`
}

// Tweet is a post the fake holds.
type Tweet struct {
	ID, AuthorID    string
	Text            string // as X shows it: links as t.co, &<> escaped
	Raw             string // as posted
	ConversationID  string
	InReplyToUserID string
	ReplyTo         string
	CreatedAt       time.Time
	URLs            []URL
}

// URL is a link in a post, as X's entities.urls reports it.
type URL struct {
	Start       int    `json:"start"`
	End         int    `json:"end"`
	URL         string `json:"url"`
	ExpandedURL string `json:"expanded_url"`
	DisplayURL  string `json:"display_url"`
}

//go:embed testdata/*.json
var fixtures embed.FS

// Fixture returns a documented response from testdata (name without
// ".json").
func Fixture(name string) []byte {
	b, err := fixtures.ReadFile("testdata/" + name + ".json")
	if err != nil {
		panic(err)
	}
	return b
}

// New starts a fake X whose brand account is @outlet (ID 2244994945),
// followed by 4321 people, with an app "xcid-1" / "xsecret-1", the
// authorization code "good-code", the brand's tokens "xat-1" and
// "xrt-1", and one other known user, @ann (ID 17001).
func New(t testing.TB) *Server {
	f := &Server{ClientID: "xcid-1", ClientSecret: "xsecret-1", Code: "good-code", AccessToken: "xat-1", RefreshToken: "xrt-1", seq: 1,
		Brand: User{ID: "2244994945", Name: "Outlet", Username: "outlet"}, FollowersCount: 4321,
		Users: map[string]User{}, Followers: map[string]bool{}, People: map[string]string{}, FollowerCounts: map[string]int64{},
		BrandScope:    "tweet.read tweet.write users.read follows.read dm.read dm.write offline.access",
		conversations: map[string]string{}, replyAuthor: map[string]string{}}
	f.Users[f.Brand.ID] = f.Brand
	f.Users["17001"] = User{ID: "17001", Name: "Ann", Username: "ann"}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// AuthorizeURL is the fake's authorize page.
func (f *Server) AuthorizeURL() string { return f.URL + "/i/oauth2/authorize" }

// Creds are the brand's current tokens as the x connector keeps them,
// the access token ending at expires.
func (f *Server) Creds(expires time.Time) []byte {
	f.Lock()
	defer f.Unlock()
	b, _ := json.Marshal(map[string]any{"access_token": f.AccessToken, "refresh_token": f.RefreshToken,
		"expires_at": expires.UTC().Format(time.RFC3339), "scope": f.BrandScope})
	return b
}

// AddPerson adds a user and gives them a person access token, as if they
// had signed in with X.
func (f *Server) AddPerson(t testing.TB, username string) (User, string) {
	t.Helper()
	f.Lock()
	defer f.Unlock()
	u := f.user(username)
	f.seq++
	tok := fmt.Sprintf("xpt-%d", f.seq)
	f.People[tok] = u.ID
	return u, tok
}

// AddMention adds a post by a user (made up if X does not know them)
// mentioning the brand, and returns its ID.
func (f *Server) AddMention(t testing.TB, from, text string) string {
	t.Helper()
	return f.AddReply(t, from, text, "")
}

// AddReply adds a post by a user replying to the post inReplyTo (in the
// brand's mentions, as X puts replies to the brand there), and returns
// its ID.
func (f *Server) AddReply(t testing.TB, from, text, inReplyTo string) string {
	t.Helper()
	f.Lock()
	defer f.Unlock()
	u := f.user(from)
	tw := f.newTweet(u.ID, text, inReplyTo)
	f.mentions = append(f.mentions, tw)
	return tw.ID
}

// Mentions lists the posts mentioning the brand, oldest first.
func (f *Server) Mentions() []Tweet {
	f.Lock()
	defer f.Unlock()
	return slices.Clone(f.mentions)
}

// user finds a user by username, or makes one up. The caller holds f.
func (f *Server) user(username string) User {
	for _, u := range f.Users {
		if strings.EqualFold(u.Username, username) {
			return u
		}
	}
	f.userSeq++
	u := User{ID: strconv.Itoa(1501990432180408000 + f.userSeq), Name: username, Username: username}
	f.Users[u.ID] = u
	return u
}

// twepoch is the start of X's snowflake IDs.
const twepoch = 1288834974657

// nextID makes a snowflake ID: time-ordered, increasing. The caller holds f.
func (f *Server) nextID() string {
	id := uint64(time.Now().UnixMilli()-twepoch) << 22
	if id <= f.lastID {
		id = f.lastID + 1
	}
	f.lastID = id
	return strconv.FormatUint(id, 10)
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// newTweet makes a post as X stores it. The caller holds f.
func (f *Server) newTweet(author, raw, inReplyTo string) Tweet {
	tw := Tweet{ID: f.nextID(), AuthorID: author, Raw: raw, ReplyTo: inReplyTo, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	var b strings.Builder
	last := 0
	for _, u := range social.URLs(raw) {
		b.WriteString(escaper.Replace(raw[last:u[0]]))
		f.seq++
		tco := "https://t.co/" + fmt.Sprintf("%010x", f.seq*7919)
		start := utf8.RuneCountInString(b.String())
		long := raw[u[0]:u[1]]
		display := strings.TrimPrefix(strings.TrimPrefix(long, "https://"), "http://")
		if len(display) > 26 {
			display = display[:25] + "…"
		}
		tw.URLs = append(tw.URLs, URL{Start: start, End: start + len(tco), URL: tco, ExpandedURL: long, DisplayURL: display})
		b.WriteString(tco)
		last = u[1]
	}
	b.WriteString(escaper.Replace(raw[last:]))
	tw.Text = b.String()
	tw.ConversationID = tw.ID
	if inReplyTo != "" {
		tw.ConversationID, tw.InReplyToUserID = inReplyTo, f.replyAuthor[inReplyTo]
		if c, ok := f.conversations[inReplyTo]; ok {
			tw.ConversationID = c
		}
	}
	f.conversations[tw.ID], f.replyAuthor[tw.ID] = tw.ConversationID, author
	return tw
}

func (f *Server) json(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if b, ok := v.([]byte); ok {
		w.Write(b)
		return
	}
	json.NewEncoder(w).Encode(v)
}

func (f *Server) serve(w http.ResponseWriter, r *http.Request) {
	f.Lock()
	defer f.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/i/oauth2/authorize":
		f.authorize(w, r)
		return
	case r.Method == http.MethodPost && r.URL.Path == "/2/oauth2/token" && f.TokenDown:
		f.json(w, http.StatusServiceUnavailable, map[string]any{"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503})
		return
	case r.Method == http.MethodPost && r.URL.Path == "/2/oauth2/token":
		f.token(w, r)
		return
	case r.Method == http.MethodPost && r.URL.Path == "/2/oauth2/revoke":
		f.revoke(w, r)
		return
	}
	if ua := r.Header.Get("User-Agent"); ua == "" || strings.HasPrefix(ua, "Go-http-client") {
		f.json(w, http.StatusForbidden, map[string]any{"title": "Forbidden", "detail": "Requests need a User-Agent.", "type": "about:blank", "status": 403})
		return
	}
	h := w.Header()
	h.Set("x-rate-limit-limit", "900")
	h.Set("x-rate-limit-remaining", "899")
	h.Set("x-rate-limit-reset", strconv.FormatInt(time.Now().Add(15*time.Minute).Unix(), 10))
	viewer, ok := f.who(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	if !ok {
		f.json(w, http.StatusUnauthorized, Fixture("unauthorized"))
		return
	}
	if time.Now().Before(f.RateLimitedUntil) {
		h.Set("x-rate-limit-remaining", "0")
		h.Set("x-rate-limit-reset", strconv.FormatInt(f.RateLimitedUntil.Unix(), 10))
		f.json(w, http.StatusTooManyRequests, Fixture("rate_limited"))
		return
	}
	if f.CreditsDepleted {
		f.json(w, http.StatusPaymentRequired, Fixture("credits_depleted"))
		return
	}
	if f.Garbage {
		h.Set("Content-Type", "text/html")
		w.Write([]byte("<html><body>Something went wrong, but don’t fret — let’s give it another shot.</body></html>"))
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	q := r.URL.Query()
	fields := strings.Split(q.Get("user.fields"), ",")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/2/tweets":
		f.post(w, r, viewer)
	case len(parts) >= 2 && parts[0] == "2" && (parts[1] == "dm_events" || parts[1] == "dm_conversations"):
		f.serveDM(w, r, viewer, parts)
	case r.Method != http.MethodGet || len(parts) < 3 || parts[0] != "2" || parts[1] != "users":
		f.json(w, http.StatusNotFound, map[string]any{"errors": []any{map[string]any{"message": "Sorry, that page does not exist", "code": 34}}})
	case len(parts) == 3 && parts[2] == "me":
		f.json(w, http.StatusOK, map[string]any{"data": f.userJSON(f.Users[viewer], fields, viewer)})
	case len(parts) == 5 && parts[2] == "by" && parts[3] == "username":
		for _, u := range f.Users {
			if strings.EqualFold(u.Username, parts[4]) {
				f.json(w, http.StatusOK, map[string]any{"data": f.userJSON(u, fields, viewer)})
				return
			}
		}
		f.notFound(w, "username", parts[4])
	case len(parts) == 3:
		u, ok := f.Users[parts[2]]
		if !ok {
			f.notFound(w, "id", parts[2])
			return
		}
		f.json(w, http.StatusOK, map[string]any{"data": f.userJSON(u, fields, viewer)})
	case len(parts) == 4 && parts[3] == "tweets":
		var own []Tweet
		for _, tw := range f.Tweets {
			if tw.AuthorID == parts[2] && (tw.ReplyTo == "" || !strings.Contains(q.Get("exclude"), "replies")) {
				own = append(own, tw)
			}
		}
		f.timeline(w, q, own)
	case len(parts) == 4 && parts[3] == "mentions":
		var ms []Tweet
		if parts[2] == f.Brand.ID {
			// X serves only the 800 latest mentions.
			ms = f.mentions[max(0, len(f.mentions)-800):]
		}
		f.timeline(w, q, ms)
	default:
		f.json(w, http.StatusNotFound, map[string]any{"errors": []any{map[string]any{"message": "Sorry, that page does not exist", "code": 34}}})
	}
}

// Delete deletes a post, as its author would: replies to it are refused.
func (f *Server) Delete(id string) {
	f.Lock()
	defer f.Unlock()
	if f.deleted == nil {
		f.deleted = map[string]bool{}
	}
	f.deleted[id] = true
}

// exists reports whether a post is there to be answered. The caller holds f.
func (f *Server) exists(id string) bool {
	if f.deleted[id] {
		return false
	}
	for _, ts := range [][]Tweet{f.Tweets, f.mentions} {
		for _, tw := range ts {
			if tw.ID == id {
				return true
			}
		}
	}
	return false
}

// who is the user a bearer token acts for. The caller holds f.
func (f *Server) who(tok string) (string, bool) {
	switch {
	case tok == "":
		return "", false
	case tok == f.AccessToken:
		return f.Brand.ID, !f.Expired && !f.Revoked
	}
	id, ok := f.People[tok]
	return id, ok
}

// notFound is X's answer for an unknown user: 200 with an errors array.
func (f *Server) notFound(w http.ResponseWriter, param, value string) {
	var body map[string]any
	json.Unmarshal(Fixture("user_not_found"), &body)
	e := body["errors"].([]any)[0].(map[string]any)
	e["value"], e["resource_id"], e["parameter"] = value, value, param
	e["detail"] = fmt.Sprintf("Could not find user with %s: [%s].", param, value)
	f.json(w, http.StatusOK, body)
}

// userJSON renders a user with the fields asked, as seen by viewer. The
// caller holds f.
func (f *Server) userJSON(u User, fields []string, viewer string) map[string]any {
	m := map[string]any{"id": u.ID, "name": u.Name, "username": u.Username}
	if slices.Contains(fields, "public_metrics") {
		var me struct {
			Data struct {
				PublicMetrics map[string]any `json:"public_metrics"`
			} `json:"data"`
		}
		json.Unmarshal(Fixture("users_me"), &me)
		pm := me.Data.PublicMetrics
		pm["followers_count"] = f.FollowerCounts[u.ID]
		if u.ID == f.Brand.ID {
			pm["followers_count"] = f.FollowersCount
		}
		m["public_metrics"] = pm
	}
	if slices.Contains(fields, "connection_status") {
		// Relative to the viewer; left out when there is none.
		var cs []string
		if u.ID == f.Brand.ID && f.Followers[viewer] {
			cs = append(cs, "following")
		}
		if viewer == f.Brand.ID && f.Followers[u.ID] {
			cs = append(cs, "followed_by")
		}
		if len(cs) > 0 {
			m["connection_status"] = cs
		}
	}
	return m
}

func (f *Server) invalid(w http.ResponseWriter, param, value, msg string) {
	var body map[string]any
	json.Unmarshal(Fixture("invalid_request"), &body)
	body["errors"] = []any{map[string]any{"parameters": map[string]any{param: []string{value}}, "message": msg}}
	f.json(w, http.StatusBadRequest, body)
}

// timeline pages posts as X does: newest first, at most max_results
// (5–100, default 10) a page, since_id and start_time bounding the oldest,
// next_token carrying on down. The caller holds f.
func (f *Server) timeline(w http.ResponseWriter, q url.Values, all []Tweet) {
	limit := 10
	if s := q.Get("max_results"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 5 || n > 100 {
			f.invalid(w, "max_results", s, fmt.Sprintf("The `max_results` query parameter value [%s] is not between 5 and 100", s))
			return
		}
		limit = n
	}
	var since, until uint64
	if s := q.Get("since_id"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			f.invalid(w, "since_id", s, fmt.Sprintf("The `since_id` query parameter value [%s] is not valid", s))
			return
		}
		since = n
	}
	if s := q.Get("pagination_token"); s != "" {
		n, err := strconv.ParseUint(strings.TrimPrefix(s, "7140dibdnow9c7btw"), 36, 64)
		if err != nil || !strings.HasPrefix(s, "7140dibdnow9c7btw") {
			f.invalid(w, "pagination_token", s, fmt.Sprintf("The `pagination_token` query parameter value [%s] is not valid", s))
			return
		}
		until = n
	}
	var start time.Time
	if s := q.Get("start_time"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			f.invalid(w, "start_time", s, fmt.Sprintf("Invalid 'start_time':'%s'. 'start_time' must be a valid RFC3339 date-time.", s))
			return
		}
		start = t
	}
	var page []Tweet
	next := ""
	for i := len(all) - 1; i >= 0; i-- {
		tw := all[i]
		id, _ := strconv.ParseUint(tw.ID, 10, 64)
		if id <= since || until != 0 && id >= until || tw.CreatedAt.Before(start) {
			continue
		}
		if len(page) == limit {
			last, _ := strconv.ParseUint(page[len(page)-1].ID, 10, 64)
			next = "7140dibdnow9c7btw" + strconv.FormatUint(last, 36)
			break
		}
		page = append(page, tw)
	}
	tf := strings.Split(q.Get("tweet.fields"), ",")
	data := make([]map[string]any, len(page))
	authors := map[string]bool{}
	var users []map[string]any
	for i, tw := range page {
		data[i] = tweetJSON(tw, tf)
		if slices.Contains(strings.Split(q.Get("expansions"), ","), "author_id") && !authors[tw.AuthorID] {
			authors[tw.AuthorID] = true
			users = append(users, f.userJSON(f.Users[tw.AuthorID], strings.Split(q.Get("user.fields"), ","), ""))
		}
	}
	meta := map[string]any{"result_count": len(page)}
	body := map[string]any{"meta": meta}
	if len(page) > 0 {
		body["data"] = data
		meta["newest_id"], meta["oldest_id"] = page[0].ID, page[len(page)-1].ID
	}
	if next != "" {
		meta["next_token"] = next
	}
	if len(users) > 0 {
		body["includes"] = map[string]any{"users": users}
	}
	f.json(w, http.StatusOK, body)
}

func tweetJSON(tw Tweet, fields []string) map[string]any {
	m := map[string]any{"id": tw.ID, "text": tw.Text, "edit_history_tweet_ids": []string{tw.ID}}
	for _, fd := range fields {
		switch fd {
		case "author_id":
			m["author_id"] = tw.AuthorID
		case "created_at":
			m["created_at"] = tw.CreatedAt.Format("2006-01-02T15:04:05.000Z")
		case "conversation_id":
			m["conversation_id"] = tw.ConversationID
		case "in_reply_to_user_id":
			if tw.InReplyToUserID != "" {
				m["in_reply_to_user_id"] = tw.InReplyToUserID
			}
		case "referenced_tweets":
			if tw.ReplyTo != "" {
				m["referenced_tweets"] = []map[string]string{{"type": "replied_to", "id": tw.ReplyTo}}
			}
		case "entities":
			if len(tw.URLs) > 0 {
				m["entities"] = map[string]any{"urls": tw.URLs}
			}
		}
	}
	return m
}

// post creates a post (POST /2/tweets). The caller holds f.
func (f *Server) post(w http.ResponseWriter, r *http.Request, viewer string) {
	f.PostCalls++
	if time.Now().Before(f.DailyLimitUntil) {
		h := w.Header()
		h.Set("x-user-limit-24hour-limit", "100")
		h.Set("x-user-limit-24hour-remaining", "0")
		h.Set("x-user-limit-24hour-reset", strconv.FormatInt(f.DailyLimitUntil.Unix(), 10))
		f.json(w, http.StatusTooManyRequests, Fixture("rate_limited"))
		return
	}
	var body struct {
		Text  *string `json:"text"`
		Reply *struct {
			InReplyToTweetID string `json:"in_reply_to_tweet_id"`
		} `json:"reply"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.invalid(w, "body", "", "The request body is not valid JSON")
		return
	}
	if viewer != f.Brand.ID {
		f.json(w, http.StatusForbidden, map[string]any{"title": "Forbidden", "detail": "You are not permitted to perform this action.", "type": "about:blank", "status": 403})
		return
	}
	if body.Text == nil || strings.TrimSpace(*body.Text) == "" {
		f.invalid(w, "text", "", "Post text must not be empty when there is no media")
		return
	}
	text := *body.Text
	if social.Rules(social.X).Count(text) > 280 {
		f.json(w, http.StatusBadRequest, Fixture("too_long"))
		return
	}
	for _, tw := range f.Tweets {
		if tw.Raw == text {
			f.json(w, http.StatusForbidden, Fixture("duplicate"))
			return
		}
	}
	reply := ""
	if body.Reply != nil {
		reply = body.Reply.InReplyToTweetID
		if !f.exists(reply) {
			f.json(w, http.StatusForbidden, Fixture("deleted_reply"))
			return
		}
	}
	tw := f.newTweet(viewer, text, reply)
	f.Tweets = append(f.Tweets, tw)
	if f.SlowAfterPost > 0 {
		d := f.SlowAfterPost
		f.Unlock()
		time.Sleep(d)
		f.Lock()
	}
	var out map[string]map[string]any
	json.Unmarshal(Fixture("tweets_create"), &out)
	out["data"]["id"], out["data"]["text"], out["data"]["edit_history_tweet_ids"] = tw.ID, tw.Text, []string{tw.ID}
	f.json(w, http.StatusCreated, out)
}

// authorize is X's consent page, approved at once: it redirects back with
// the code and the state, or error=access_denied. The caller holds f.
func (f *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	m := q.Get("code_challenge_method")
	back, err := url.Parse(q.Get("redirect_uri"))
	if q.Get("response_type") != "code" || q.Get("client_id") != f.ClientID || err != nil || back.Scheme == "" || q.Get("state") == "" ||
		q.Get("code_challenge") == "" || m != "S256" && m != "plain" || q.Get("scope") == "" {
		http.Error(w, "Something went wrong. You weren’t able to give access to the App. Go back and try logging in again.", http.StatusBadRequest)
		return
	}
	f.challenge, f.method, f.redir, f.scope, f.grantedAt = q.Get("code_challenge"), m, q.Get("redirect_uri"), q.Get("scope"), time.Now()
	v := back.Query()
	v.Set("state", q.Get("state"))
	if f.Deny {
		v.Set("error", "access_denied")
	} else {
		v.Set("code", f.Code)
	}
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// clientOK checks the app's authentication on the token endpoints: HTTP
// Basic for a confidential client, client_id in the body for a public
// one. The caller holds f.
func (f *Server) clientOK(w http.ResponseWriter, r *http.Request) bool {
	if id, secret, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		if f.ClientSecret != "" && id == f.ClientID && secret == f.ClientSecret {
			return true
		}
		f.json(w, http.StatusUnauthorized, Fixture("unauthorized_client"))
		return false
	}
	if f.ClientSecret != "" {
		f.json(w, http.StatusUnauthorized, Fixture("unauthorized_client"))
		return false
	}
	if r.PostForm.Get("client_id") != f.ClientID {
		f.json(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "Missing required parameter [client_id]."})
		return false
	}
	return true
}

// form reads a token endpoint's form and checks the app. The caller
// holds f.
func (f *Server) form(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		f.json(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "Malformed request."})
		return false
	}
	return f.clientOK(w, r)
}

func (f *Server) token(w http.ResponseWriter, r *http.Request) {
	if !f.form(w, r) {
		return
	}
	form := r.PostForm
	switch form.Get("grant_type") {
	case "authorization_code":
		ok := form.Get("code") == f.Code && form.Get("code_verifier") != "" && (f.redir == "" || form.Get("redirect_uri") == f.redir)
		if ok && f.challenge != "" {
			ok = time.Since(f.grantedAt) < 30*time.Second && pkce(f.method, form.Get("code_verifier")) == f.challenge
		}
		if !ok {
			f.json(w, http.StatusBadRequest, Fixture("token_invalid_code"))
			return
		}
		scope := f.scope
		if scope == "" {
			scope = f.BrandScope
		}
		who := f.SignInAs
		if who == "" {
			who = f.Brand.ID
		}
		f.challenge, f.redir, f.scope = "", "", ""
		f.issue(w, who, scope)
	case "refresh_token":
		if f.Revoked || form.Get("refresh_token") == "" || form.Get("refresh_token") != f.RefreshToken {
			f.json(w, http.StatusBadRequest, Fixture("token_invalid_refresh"))
			return
		}
		f.RefreshCalls++
		f.issue(w, f.Brand.ID, f.BrandScope)
	default:
		f.json(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type", "error_description": "Grant type is not supported."})
	}
}

// issue gives new tokens: the brand's replace the old pair (the old
// refresh token stops working); a person gets an access token. The
// caller holds f.
func (f *Server) issue(w http.ResponseWriter, who, scope string) {
	var out map[string]any
	json.Unmarshal(Fixture("token"), &out)
	f.seq++
	offline := slices.Contains(strings.Fields(scope), "offline.access")
	if who == f.Brand.ID {
		f.AccessToken, f.RefreshToken, f.Expired, f.Revoked, f.BrandScope = fmt.Sprintf("xat-%d", f.seq), "", false, false, scope
		if offline {
			f.RefreshToken = fmt.Sprintf("xrt-%d", f.seq)
		}
		out["access_token"], out["refresh_token"] = f.AccessToken, f.RefreshToken
	} else {
		tok := fmt.Sprintf("xpt-%d", f.seq)
		f.People[tok] = who
		out["access_token"] = tok
		offline = false
	}
	if !offline {
		delete(out, "refresh_token")
	}
	out["scope"] = scope
	f.json(w, http.StatusOK, out)
}

func (f *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if !f.form(w, r) {
		return
	}
	tok := r.PostForm.Get("token")
	delete(f.People, tok)
	if tok == f.AccessToken {
		f.AccessToken = ""
	}
	if tok == f.RefreshToken {
		f.RefreshToken = ""
	}
	f.RevokedTok = append(f.RevokedTok, tok)
	f.json(w, http.StatusOK, map[string]bool{"revoked": true})
}

// pkce is the challenge for a verifier by method.
func pkce(method, verifier string) string {
	if method == "plain" {
		return verifier
	}
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Package x connects Roost to X through the documented API v2
// (api.x.com) with a thin typed client of our own: Roost needs a dozen
// calls, exact control of deadlines and retries (one token refresh and
// nothing else), and X's pay-per-use prices in view, which general
// clients hide.
//
// A brand account connects with OAuth 2.0 Authorization Code with PKCE
// through the brand's own X app (see oauth.go). Access tokens last two
// hours: the connector renews one that is about to end, or that X refuses
// with a 401, keeps the rotated refresh token through Conn.SetCreds, and
// tries the call once more.
//
// X has no idempotency key for posts, so publishing exactly once rests on
// FindPublished: the tracked link of each copy is unique, and X reports
// the link as posted (entities.urls[].expanded_url) even though the text
// carries a t.co link instead.
package x

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/netclient"
)

// Default addresses of X.
const (
	DefaultAPIBase       = "https://api.x.com"
	DefaultAuthorizeBase = "https://x.com/i/oauth2/authorize"
)

// Connector implements social.Connector for X.
type Connector struct {
	HTTP *http.Client // nil: a default with a 30 s timeout
	// APIBase is where the API answers (default DefaultAPIBase).
	APIBase string
	// AuthorizeBase is the page where people approve the app (default
	// DefaultAuthorizeBase).
	AuthorizeBase string
	// ClientID and ClientSecret are the brand's X app (its OAuth 2.0 keys
	// from the X Developer Console). An app without a secret is a public
	// client: its ID then goes in the token requests' bodies, where a
	// confidential client authenticates with HTTP Basic instead.
	ClientID, ClientSecret string
}

var _ social.Connector = (*Connector)(nil)

// Network is "x".
func (c *Connector) Network() string { return social.X }

func (c *Connector) api() string {
	if c.APIBase == "" {
		return DefaultAPIBase
	}
	return strings.TrimRight(c.APIBase, "/")
}

func (c *Connector) client() *netclient.Client {
	return &netclient.Client{Network: social.X, HTTP: c.HTTP, Reason: reason, Reset: reset}
}

// reason reads X's error bodies: problem JSON ({"title", "detail",
// "type"}), often with an "errors" array whose messages say more than the
// detail ("One or more parameters to your request was invalid."), and the
// token endpoint's OAuth errors ({"error", "error_description"}).
func reason(b []byte) string {
	var e map[string]any
	if json.Unmarshal(b, &e) != nil {
		return ""
	}
	if s := str(e, "error"); s != "" {
		if d := str(e, "error_description"); d != "" {
			return s + ": " + d
		}
		return s
	}
	var msgs []string
	if list, ok := e["errors"].([]any); ok {
		for _, it := range list {
			m, _ := it.(map[string]any)
			s := firstOf(str(m, "message"), str(m, "detail"), str(m, "title"))
			if s != "" && !slices.Contains(msgs, s) && len(msgs) < 3 {
				msgs = append(msgs, s)
			}
		}
	}
	if len(msgs) > 0 {
		return strings.Join(msgs, "; ")
	}
	return firstOf(str(e, "detail"), str(e, "title"))
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return strings.TrimSpace(s)
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// reset reads when a 429 ends. X sends the 15-minute window's reset in
// x-rate-limit-reset (Unix seconds); posting also has 24-hour limits per
// user and per app, whose own reset counts when they are the ones spent.
func reset(h http.Header) time.Time {
	var t time.Time
	for _, p := range []string{"x-user-limit-24hour", "x-app-limit-24hour"} {
		if strings.TrimSpace(h.Get(p+"-remaining")) == "0" {
			if r := netclient.UnixReset(h, p+"-reset"); r.After(t) {
				t = r
			}
		}
	}
	if t.IsZero() {
		t = netclient.UnixReset(h, "x-rate-limit-reset")
	}
	return t
}

// classify adjusts netclient's sorting to X: a 402 means the app's
// pay-per-use credits are spent, which heals when someone tops them up,
// so it is Unavailable rather than a refusal of the request itself.
func classify(err error) error {
	var e *social.Error
	if errors.As(err, &e) && e.Status == http.StatusPaymentRequired {
		e.Kind = social.Unavailable
		e.Reason = "the X app's API credits are used up (" + e.Reason + "): add credits in the X Developer Console"
	}
	return err
}

// do makes one API call with a bearer token; path includes the query.
func (c *Connector) do(ctx context.Context, token, method, path string, body, out any) error {
	return classify(c.client().Do(ctx, netclient.Request{Method: method, URL: c.api() + path,
		Header: http.Header{"Authorization": {"Bearer " + token}}, JSON: body, Out: out}))
}

// call makes an API call for a brand account. It renews the access token
// first when it ends within refreshMargin (going on with the old one,
// still good for a moment, if the renewal fails), or after a 401, and
// then tries the call once more: a 401 means X did not act on the
// request, so trying a POST again cannot make a second post.
func (c *Connector) call(ctx context.Context, conn *social.Conn, method, path string, body, out any) error {
	cr, err := ParseCreds(conn.Creds)
	if err != nil {
		return err
	}
	var early error // a failed renewal before the token's end
	renewed := false
	if cr.expiring(time.Now()) {
		fresh, err := c.refresh(ctx, conn, cr)
		switch {
		case err == nil:
			cr, renewed = fresh, true
		case time.Now().Before(cr.ExpiresAt):
			early = err
		default:
			return err
		}
	}
	err = c.do(ctx, cr.AccessToken, method, path, body, out)
	if !unauthorized(err) {
		return err
	}
	if early != nil {
		return early // says why better than the 401
	}
	if renewed || cr.RefreshToken == "" {
		return err
	}
	if cr, err = c.refresh(ctx, conn, cr); err != nil {
		return err
	}
	return c.do(ctx, cr.AccessToken, method, path, body, out)
}

func unauthorized(err error) bool {
	var e *social.Error
	return errors.As(err, &e) && e.Kind == social.Unauthorized
}

// user is X's user object, with the fields Roost asks for.
type user struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Username      string `json:"username"`
	PublicMetrics *struct {
		FollowersCount *int64 `json:"followers_count"`
	} `json:"public_metrics"`
	ConnectionStatus []string `json:"connection_status"`
}

// followers is the user's follower count, 0 when X did not give it.
func (u *user) followers() int64 {
	if n := u.followersKnown(); n != nil {
		return *n
	}
	return 0
}

// followersKnown is the user's follower count, nil when X did not give
// it (the request did not ask for public_metrics, or X left it out).
func (u *user) followersKnown() *int64 {
	if u.PublicMetrics == nil || u.PublicMetrics.FollowersCount == nil || *u.PublicMetrics.FollowersCount < 0 {
		return nil
	}
	n := *u.PublicMetrics.FollowersCount
	return &n
}

// userAnswer is a user lookup: data, or an errors array (X answers 200
// with "Not Found Error" for an unknown or suspended user).
type userAnswer struct {
	Data   *user             `json:"data"`
	Errors []json.RawMessage `json:"errors"`
}

// Verify reads the account (users/me) with its follower count.
func (c *Connector) Verify(ctx context.Context, conn *social.Conn) (social.Profile, error) {
	var a userAnswer
	if err := c.call(ctx, conn, http.MethodGet, "/2/users/me?user.fields=public_metrics", nil, &a); err != nil {
		return social.Profile{}, err
	}
	if a.Data == nil || a.Data.ID == "" {
		return social.Profile{}, &social.Error{Network: social.X, Kind: social.Unavailable, Status: http.StatusOK, Reason: "X answered without the account"}
	}
	// CharLimit stays 0 (the 280 rule): X Premium accounts may post longer,
	// but Roost keeps copies within what every account can post.
	return social.Profile{RemoteID: a.Data.ID, Handle: a.Data.Username, DisplayName: a.Data.Name, Followers: a.Data.followers()}, nil
}

// tweet is X's post object, with the fields Roost asks for.
type tweet struct {
	ID               string `json:"id"`
	Text             string `json:"text"`
	AuthorID         string `json:"author_id"`
	ConversationID   string `json:"conversation_id"`
	InReplyToUserID  string `json:"in_reply_to_user_id"`
	CreatedAt        string `json:"created_at"`
	ReferencedTweets []struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"referenced_tweets"`
	Entities struct {
		URLs []struct {
			URL         string `json:"url"`
			ExpandedURL string `json:"expanded_url"`
			UnwoundURL  string `json:"unwound_url"`
		} `json:"urls"`
	} `json:"entities"`
}

// page is a timeline page (a user's posts, or their mentions).
type page struct {
	Data     []tweet `json:"data"`
	Includes struct {
		Users []user `json:"users"`
	} `json:"includes"`
	Meta struct {
		ResultCount int    `json:"result_count"`
		NewestID    string `json:"newest_id"`
		OldestID    string `json:"oldest_id"`
		NextToken   string `json:"next_token"`
	} `json:"meta"`
}

// PostURL is where a post can be read.
func PostURL(username, id string) string {
	if username == "" {
		return "https://x.com/i/web/status/" + id
	}
	return "https://x.com/" + username + "/status/" + id
}

// Publish creates a post (a reply when ReplyTo is set). X takes no
// idempotency key: a post whose answer was lost is found by FindPublished
// before any retry. When X refuses a post as a duplicate of a recent one,
// an earlier attempt most likely landed without Roost hearing of it, so
// Publish looks for it and returns it; a duplicate it cannot find (the
// same text posted by hand, say) stays Rejected.
func (c *Connector) Publish(ctx context.Context, conn *social.Conn, d social.Draft) (social.Published, error) {
	body := map[string]any{"text": d.Text}
	if d.ReplyTo != "" {
		body["reply"] = map[string]string{"in_reply_to_tweet_id": d.ReplyTo}
	}
	var out struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	err := c.call(ctx, conn, http.MethodPost, "/2/tweets", body, &out)
	if IsDuplicate(err) {
		got, found, ferr := c.FindPublished(ctx, conn, d)
		if ferr == nil && found {
			return got, nil
		}
		return social.Published{}, err
	}
	if err != nil {
		return social.Published{}, err
	}
	if out.Data.ID == "" {
		return social.Published{}, &social.Error{Network: social.X, Kind: social.Unavailable, Status: http.StatusCreated, Reason: "X answered without a post ID", Sent: true}
	}
	return social.Published{RemoteID: out.Data.ID, URL: PostURL(conn.Handle, out.Data.ID)}, nil
}

// IsDuplicate reports whether X refused a post as a duplicate of a recent
// one (403 "You are not allowed to create a Tweet with duplicate
// content.").
func IsDuplicate(err error) bool {
	var e *social.Error
	return errors.As(err, &e) && e.Status == http.StatusForbidden && strings.Contains(strings.ToLower(e.Reason), "duplicate content")
}

// FindPublished looks through the account's latest posts (replies
// included, reposts not) for the draft's tracked link, or, without one,
// its text. Only posts made since the copy was composed are read: each is
// a paid read, and older ones cannot be this copy.
func (c *Connector) FindPublished(ctx context.Context, conn *social.Conn, d social.Draft) (social.Published, bool, error) {
	if conn.RemoteID == "" {
		return social.Published{}, false, c.client().Errorf("the account has no X user ID: reconnect it")
	}
	q := url.Values{"max_results": {"100"}, "exclude": {"retweets"}, "tweet.fields": {"entities,created_at"}}
	if !d.Created.IsZero() {
		q.Set("start_time", d.Created.Add(-time.Minute).UTC().Format("2006-01-02T15:04:05Z"))
	}
	var p page
	if err := c.call(ctx, conn, http.MethodGet, "/2/users/"+url.PathEscape(conn.RemoteID)+"/tweets?"+q.Encode(), nil, &p); err != nil {
		return social.Published{}, false, err
	}
	for _, t := range p.Data {
		if t.ID != "" && madeFrom(t, d) {
			return social.Published{RemoteID: t.ID, URL: PostURL(conn.Handle, t.ID)}, true, nil
		}
	}
	return social.Published{}, false, nil
}

// madeFrom reports whether a post is the draft: by its tracked link as X
// expanded it, or else by its text with the links set aside (X shows them
// as t.co links).
func madeFrom(t tweet, d social.Draft) bool {
	if d.LinkURL != "" {
		want := strings.TrimRight(d.LinkURL, "/")
		for _, u := range t.Entities.URLs {
			if strings.TrimRight(u.ExpandedURL, "/") == want || strings.TrimRight(u.UnwoundURL, "/") == want {
				return true
			}
		}
		return strings.Contains(t.Text, d.LinkURL)
	}
	return d.Text != "" && comparable(html.UnescapeString(t.Text)) == comparable(d.Text)
}

// comparable is text as X keeps it (NFC), with links and spacing set
// aside.
func comparable(s string) string {
	s = norm.NFC.String(s)
	var b strings.Builder
	last := 0
	for _, u := range social.URLs(s) {
		b.WriteString(s[last:u[0]])
		b.WriteString(" <link> ")
		last = u[1]
	}
	b.WriteString(s[last:])
	return strings.Join(strings.Fields(b.String()), " ")
}

const (
	// pageSize is the most posts X gives in one timeline page.
	pageSize = 100
	// maxPages bounds one Mentions call. X serves only the 800 latest
	// mentions, so 8 pages of 100 read all it would give.
	maxPages = 8
)

// Mentions reads posts mentioning the account newer than the cursor (a
// post ID), oldest first, and returns the newest ID as the next cursor.
// X pages from the newest down, so every page down to the cursor is read
// before any message is returned: a failure part way returns nothing and
// the same cursor, so nothing is lost or read twice.
//
// Without a cursor it starts from now: it reads the newest mention only to
// set the cursor; with none at all, the cursor is an ID made from the
// clock (X's IDs are time-ordered snowflakes).
//
// Authors are asked as an expansion, with their follower counts (for the
// VIP threshold); referenced posts are not (each expanded post is a paid
// read, and the replied-to ID is in referenced_tweets anyway).
func (c *Connector) Mentions(ctx context.Context, conn *social.Conn, cursor string) ([]social.Message, string, error) {
	if conn.RemoteID == "" {
		return nil, cursor, c.client().Errorf("the account has no X user ID: reconnect it")
	}
	path := "/2/users/" + url.PathEscape(conn.RemoteID) + "/mentions?"
	if cursor == "" {
		var p page
		if err := c.call(ctx, conn, http.MethodGet, path+"max_results=5", nil, &p); err != nil {
			return nil, "", err
		}
		if newest := latest("", p.Meta.NewestID); newest != "" {
			return nil, newest, nil
		}
		for _, t := range p.Data {
			cursor = latest(cursor, t.ID)
		}
		if cursor == "" {
			cursor = snowflake(time.Now().Add(-time.Minute))
		}
		return nil, cursor, nil
	}
	if !isID(cursor) {
		return nil, cursor, c.client().Errorf("the mentions cursor %q is not an X post ID", cursor)
	}
	q := url.Values{"since_id": {cursor}, "max_results": {strconv.Itoa(pageSize)}, "expansions": {"author_id"},
		"tweet.fields": {"author_id,created_at,conversation_id,in_reply_to_user_id,referenced_tweets"}, "user.fields": {"username,public_metrics"}}
	var all page
	for range maxPages {
		var p page
		if err := c.call(ctx, conn, http.MethodGet, path+q.Encode(), nil, &p); err != nil {
			return nil, cursor, err
		}
		all.Data = append(all.Data, p.Data...)
		all.Includes.Users = append(all.Includes.Users, p.Includes.Users...)
		all.Meta.NewestID = latest(all.Meta.NewestID, p.Meta.NewestID)
		if p.Meta.NextToken == "" || len(p.Data) == 0 {
			break
		}
		q.Set("pagination_token", p.Meta.NextToken)
	}
	ms := messages(all, conn.RemoteID, cursor)
	next := latest(cursor, all.Meta.NewestID)
	for _, m := range ms {
		next = latest(next, m.RemoteID)
	}
	return ms, next, nil
}

// messages maps a timeline of mentions to messages newer than since,
// oldest first, each once; the account's own posts are left out.
func messages(p page, self, since string) []social.Message {
	users := make(map[string]user, len(p.Includes.Users))
	for _, u := range p.Includes.Users {
		users[u.ID] = u
	}
	var out []social.Message
	seen := map[string]bool{}
	for _, t := range p.Data {
		if !isID(t.ID) || seen[t.ID] || !idLess(since, t.ID) || t.AuthorID == self && self != "" {
			continue
		}
		seen[t.ID] = true
		out = append(out, message(t, users[t.AuthorID]))
	}
	slices.SortFunc(out, func(a, b social.Message) int {
		if idLess(a.RemoteID, b.RemoteID) {
			return -1
		}
		return 1
	})
	return out
}

func message(t tweet, author user) social.Message {
	m := social.Message{RemoteID: t.ID, Thread: t.ConversationID, Text: html.UnescapeString(t.Text), URL: PostURL(author.Username, t.ID),
		Author: social.Identity{Network: social.X, AccountID: t.AuthorID}, Followers: author.followersKnown()}
	if author.Username != "" {
		m.Author.Handle = "@" + author.Username
	}
	for _, r := range t.ReferencedTweets {
		if r.Type == "replied_to" {
			m.ReplyTo = r.ID
		}
	}
	m.At, _ = time.Parse(time.RFC3339Nano, t.CreatedAt)
	m.At = m.At.UTC()
	return m
}

var idRE = regexp.MustCompile(`^[0-9]{1,19}$`)

// isID reports whether s looks like an X ID (a 64-bit number in decimal).
func isID(s string) bool { return idRE.MatchString(s) }

// idLess orders X IDs numerically; "" comes first.
func idLess(a, b string) bool {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// latest is the newer of two IDs, ignoring anything that is not one.
func latest(a, b string) string {
	if !isID(b) {
		return a
	}
	if !isID(a) || idLess(a, b) {
		return b
	}
	return a
}

// twepoch is the start of X's snowflake IDs (2010-11-04, in Unix ms).
const twepoch = 1288834974657

// snowflake is the smallest X ID made at t: posts made after t have
// greater IDs.
func snowflake(t time.Time) string {
	ms := t.UnixMilli() - twepoch
	if ms < 0 {
		ms = 0
	}
	return strconv.FormatUint(uint64(ms)<<22, 10)
}

var usernameRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,15}$`)

// Lookup finds a person by handle (@username).
func (c *Connector) Lookup(ctx context.Context, conn *social.Conn, handle string) (social.Identity, error) {
	h := strings.TrimPrefix(strings.TrimSpace(handle), "@")
	if !usernameRE.MatchString(h) {
		return social.Identity{}, social.ErrNoSuchPerson
	}
	var a userAnswer
	if err := c.call(ctx, conn, http.MethodGet, "/2/users/by/username/"+h, nil, &a); err != nil {
		return social.Identity{}, err
	}
	if a.Data == nil || a.Data.ID == "" {
		return social.Identity{}, social.ErrNoSuchPerson
	}
	return social.Identity{Network: social.X, AccountID: a.Data.ID, Handle: "@" + a.Data.Username}, nil
}

// Follows asks X, with the brand account's token, whether the person
// follows it: a lookup of the person with user.fields=connection_status
// answers "followed_by" when they do. One user read per check, where
// listing the brand's followers would be billed per follower. When the
// person has signed in with X, PersonFollows asks with their own token.
func (c *Connector) Follows(ctx context.Context, conn *social.Conn, person social.Identity) (bool, error) {
	if person.Network != social.X || !isID(person.AccountID) || person.AccountID == conn.RemoteID {
		return false, nil
	}
	var a userAnswer
	if err := c.call(ctx, conn, http.MethodGet, "/2/users/"+person.AccountID+"?user.fields=connection_status", nil, &a); err != nil {
		return false, err
	}
	return a.Data != nil && slices.Contains(a.Data.ConnectionStatus, "followed_by"), nil
}

// Package mastodon connects Roost to Mastodon (and servers speaking its
// API) with a thin typed client of our own over the documented REST API:
// Roost needs a dozen calls, exact control of deadlines (no client-side
// 429 retries that block), the Idempotency-Key header, and Link-header
// pagination read as max_id / min_id, which general clients hide.
package mastodon

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/netclient"
)

// Creds are what Roost keeps (sealed) for a Mastodon account.
type Creds struct {
	AccessToken string `json:"access_token"`
}

// Connector implements social.Connector for Mastodon.
type Connector struct {
	HTTP *http.Client // nil: a default with a 30 s timeout
}

// Network is "mastodon".
func (c *Connector) Network() string { return social.Mastodon }

func (c *Connector) client() *netclient.Client {
	return &netclient.Client{Network: social.Mastodon, HTTP: c.HTTP, Reason: reason, Reset: reset}
}

// reason reads Mastodon's {"error": "…"} bodies.
func reason(b []byte) string {
	var e struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if json.Unmarshal(b, &e) != nil {
		return ""
	}
	if e.ErrorDescription != "" {
		return e.Error + ": " + e.ErrorDescription
	}
	return e.Error
}

// reset reads X-RateLimit-Reset, an ISO 8601 time on Mastodon.
func reset(h http.Header) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, h.Get("X-RateLimit-Reset"))
	return t
}

func (c *Connector) call(ctx context.Context, conn *social.Conn, method, path string, form url.Values, out any, hdr *http.Header) error {
	var cr Creds
	if err := json.Unmarshal(conn.Creds, &cr); err != nil || cr.AccessToken == "" {
		return &social.Error{Network: social.Mastodon, Kind: social.Unauthorized, Reason: "no access token: reconnect the account"}
	}
	h := http.Header{"Authorization": {"Bearer " + cr.AccessToken}}
	if hdr != nil && *hdr != nil {
		for k, v := range *hdr {
			h[k] = v
		}
	}
	return c.client().Do(ctx, netclient.Request{Method: method, URL: strings.TrimRight(conn.Instance, "/") + path, Header: h, Form: form, Out: out, Headers: hdr})
}

type account struct {
	ID             string `json:"id"`
	Username       string `json:"username"`
	Acct           string `json:"acct"`
	DisplayName    string `json:"display_name"`
	FollowersCount *int64 `json:"followers_count"`
	URL            string `json:"url"`
}

type status struct {
	ID          string  `json:"id"`
	URL         string  `json:"url"`
	URI         string  `json:"uri"`
	Content     string  `json:"content"`
	InReplyToID *string `json:"in_reply_to_id"`
	Visibility  string  `json:"visibility"`
	CreatedAt   string  `json:"created_at"`
	Account     account `json:"account"`
}

// Verify reads the account (verify_credentials) and the instance's
// character limit.
func (c *Connector) Verify(ctx context.Context, conn *social.Conn) (social.Profile, error) {
	var a account
	if err := c.call(ctx, conn, http.MethodGet, "/api/v1/accounts/verify_credentials", nil, &a, nil); err != nil {
		return social.Profile{}, err
	}
	p := social.Profile{RemoteID: a.ID, Handle: a.Username, DisplayName: a.DisplayName}
	if a.FollowersCount != nil {
		p.Followers = *a.FollowersCount
	}
	var inst struct {
		Configuration struct {
			Statuses struct {
				MaxCharacters int `json:"max_characters"`
			} `json:"statuses"`
		} `json:"configuration"`
	}
	// The limit is nice to have: an instance without v2 keeps the default.
	if err := c.client().Do(ctx, netclient.Request{Method: http.MethodGet, URL: strings.TrimRight(conn.Instance, "/") + "/api/v2/instance", Out: &inst}); err == nil {
		p.CharLimit = inst.Configuration.Statuses.MaxCharacters
	}
	return p, nil
}

// Publish posts a public status. The copy's key goes as Idempotency-Key,
// which Mastodon honours for an hour; servers that ignore it are covered
// by FindPublished before any retry.
func (c *Connector) Publish(ctx context.Context, conn *social.Conn, d social.Draft) (social.Published, error) {
	form := url.Values{"status": {d.Text}, "visibility": {"public"}}
	if d.Direct {
		form.Set("visibility", "direct")
	}
	if d.ReplyTo != "" {
		form.Set("in_reply_to_id", d.ReplyTo)
	}
	hdr := http.Header{"Idempotency-Key": {d.Key}}
	var st status
	if err := c.call(ctx, conn, http.MethodPost, "/api/v1/statuses", form, &st, &hdr); err != nil {
		return social.Published{}, err
	}
	if st.ID == "" {
		return social.Published{}, &social.Error{Network: social.Mastodon, Kind: social.Unavailable, Reason: "the server answered without a status ID", Sent: true}
	}
	return social.Published{RemoteID: st.ID, URL: st.URL}, nil
}

// FindPublished looks through the account's latest statuses for the
// draft's tracked link (or, without one, its text).
func (c *Connector) FindPublished(ctx context.Context, conn *social.Conn, d social.Draft) (social.Published, bool, error) {
	var sts []status
	if err := c.call(ctx, conn, http.MethodGet, "/api/v1/accounts/"+url.PathEscape(conn.RemoteID)+"/statuses?limit=40&exclude_reblogs=true", nil, &sts, nil); err != nil {
		return social.Published{}, false, err
	}
	for _, st := range sts {
		text := PlainText(st.Content)
		if d.LinkURL != "" && strings.Contains(st.Content, html.EscapeString(d.LinkURL)) || d.LinkURL == "" && sameText(text, d.Text) {
			return social.Published{RemoteID: st.ID, URL: st.URL}, true, nil
		}
	}
	return social.Published{}, false, nil
}

func sameText(a, b string) bool {
	return strings.Join(strings.Fields(a), " ") == strings.Join(strings.Fields(b), " ")
}

type notification struct {
	ID        string  `json:"id"`
	Type      string  `json:"type"`
	CreatedAt string  `json:"created_at"`
	Account   account `json:"account"`
	Status    *status `json:"status"`
}

// maxPages bounds one Mentions call; the cursor carries on next time.
const maxPages = 5

// Mentions reads mention notifications newer than the cursor (a
// notification ID), oldest first. Without a cursor it starts from now.
// Pages are walked with the min_id read from the Link header's "prev"
// link, never by following the URL the server gives.
func (c *Connector) Mentions(ctx context.Context, conn *social.Conn, cursor string) ([]social.Message, string, error) {
	if cursor == "" {
		var ns []notification
		if err := c.call(ctx, conn, http.MethodGet, "/api/v1/notifications?types[]=mention&limit=1", nil, &ns, nil); err != nil {
			return nil, "", err
		}
		if len(ns) == 0 {
			return nil, "0", nil
		}
		return nil, ns[0].ID, nil
	}
	var out []social.Message
	for page := 0; page < maxPages; page++ {
		var ns []notification
		var hdr http.Header
		q := url.Values{"types[]": {"mention"}, "limit": {"40"}, "min_id": {cursor}}
		if err := c.call(ctx, conn, http.MethodGet, "/api/v1/notifications?"+q.Encode(), nil, &ns, &hdr); err != nil {
			return out, cursor, err
		}
		// A page comes newest first.
		for i := len(ns) - 1; i >= 0; i-- {
			n := ns[i]
			if n.Type != "mention" || n.Status == nil {
				continue
			}
			// A direct message is a mention of "direct" visibility; the
			// author's follower count comes with their account.
			m := social.Message{RemoteID: n.Status.ID, Text: PlainText(n.Status.Content), URL: n.Status.URL, Direct: n.Status.Visibility == "direct",
				Author:    social.Identity{Network: social.Mastodon, AccountID: canonical(n.Account, conn.Instance), Handle: "@" + canonical(n.Account, conn.Instance)},
				Followers: n.Account.FollowersCount}
			if n.Status.InReplyToID != nil {
				m.ReplyTo = *n.Status.InReplyToID
			}
			m.At, _ = time.Parse(time.RFC3339Nano, n.CreatedAt)
			out = append(out, m)
		}
		if len(ns) > 0 {
			cursor = ns[0].ID
		}
		next := linkParam(hdr.Get("Link"), "prev", "min_id")
		if len(ns) < 40 || next == "" {
			break
		}
		cursor = next
	}
	return out, cursor, nil
}

// canonical is the person's full handle, user@domain: stable across
// instances, unlike the instance-local account ID.
func canonical(a account, instance string) string {
	acct := strings.ToLower(a.Acct)
	if !strings.Contains(acct, "@") {
		if u, err := url.Parse(instance); err == nil {
			acct += "@" + strings.ToLower(u.Host)
		}
	}
	return acct
}

var linkRE = regexp.MustCompile(`<([^>]+)>\s*;\s*rel="([^"]+)"`)

// linkParam reads a query parameter of the Link header's link with rel.
func linkParam(header, rel, param string) string {
	for _, m := range linkRE.FindAllStringSubmatch(header, -1) {
		if m[2] != rel {
			continue
		}
		if u, err := url.Parse(m[1]); err == nil {
			return u.Query().Get(param)
		}
	}
	return ""
}

// Lookup finds a person by handle (@user or @user@domain) through the
// brand account's instance, resolving remote accounts.
func (c *Connector) Lookup(ctx context.Context, conn *social.Conn, handle string) (social.Identity, error) {
	h := strings.TrimPrefix(strings.TrimSpace(handle), "@")
	if h == "" || strings.ContainsAny(h, " /?#") {
		return social.Identity{}, social.ErrNoSuchPerson
	}
	a, err := c.resolve(ctx, conn, h)
	if err != nil {
		return social.Identity{}, err
	}
	id := canonical(a, conn.Instance)
	return social.Identity{Network: social.Mastodon, AccountID: id, Handle: "@" + id}, nil
}

func (c *Connector) resolve(ctx context.Context, conn *social.Conn, h string) (account, error) {
	var a account
	err := c.call(ctx, conn, http.MethodGet, "/api/v1/accounts/lookup?acct="+url.QueryEscape(h), nil, &a, nil)
	if se, ok := err.(*social.Error); ok && se.Status == http.StatusNotFound {
		// Not known to the instance yet: ask it to resolve the remote account.
		var res struct {
			Accounts []account `json:"accounts"`
		}
		q := url.Values{"q": {"@" + h}, "type": {"accounts"}, "resolve": {"true"}, "limit": {"1"}}
		if err := c.call(ctx, conn, http.MethodGet, "/api/v2/search?"+q.Encode(), nil, &res, nil); err != nil {
			return a, err
		}
		if len(res.Accounts) == 0 {
			return a, social.ErrNoSuchPerson
		}
		return res.Accounts[0], nil
	}
	return a, err
}

// Follows asks the brand account's instance whether the person follows
// it (relationships → followed_by).
func (c *Connector) Follows(ctx context.Context, conn *social.Conn, person social.Identity) (bool, error) {
	if person.Network != social.Mastodon {
		return false, nil
	}
	a, err := c.resolve(ctx, conn, person.AccountID)
	if err == social.ErrNoSuchPerson {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var rels []struct {
		ID         string `json:"id"`
		FollowedBy bool   `json:"followed_by"`
	}
	if err := c.call(ctx, conn, http.MethodGet, "/api/v1/accounts/relationships?id[]="+url.QueryEscape(a.ID), nil, &rels, nil); err != nil {
		return false, err
	}
	for _, r := range rels {
		if r.ID == a.ID {
			return r.FollowedBy, nil
		}
	}
	return false, nil
}

var (
	breakRE = regexp.MustCompile(`(?i)<br\s*/?>|</p>\s*<p[^>]*>`)
	tagRE   = regexp.MustCompile(`<[^>]*>`)
)

// PlainText turns a status's HTML into text: paragraphs and line breaks
// become newlines, tags go, entities are decoded.
func PlainText(content string) string {
	s := breakRE.ReplaceAllString(content, "\n")
	s = tagRE.ReplaceAllString(s, "")
	return strings.TrimSpace(html.UnescapeString(s))
}

// Scopes are what Roost asks of a brand account: reading (notifications,
// accounts, relationships, search) and posting statuses.
const Scopes = "read write:statuses"

// PersonScopes are what a shopper signing in is asked for: "profile"
// (Mastodon 4.3 and later: who they are, nothing else) or, on servers
// without it, "read:accounts".
const (
	ProfileScope     = "profile"
	ReadAccountScope = "read:accounts"
)

// PersonScope returns the smallest scope the instance offers that proves
// who someone is: "profile" where the server's API version has it.
func (c *Connector) PersonScope(ctx context.Context, instance string) string {
	var inst struct {
		APIVersions struct {
			Mastodon int `json:"mastodon"`
		} `json:"api_versions"`
	}
	if err := c.client().Do(ctx, netclient.Request{Method: http.MethodGet, URL: instance + "/api/v2/instance", Out: &inst}); err == nil && inst.APIVersions.Mastodon >= 2 {
		return ProfileScope
	}
	return ReadAccountScope
}

// Me returns who a person's token belongs to, as Roost names people on
// Mastodon (user@domain).
func (c *Connector) Me(ctx context.Context, instance, token string) (social.Identity, error) {
	var a account
	err := c.client().Do(ctx, netclient.Request{Method: http.MethodGet, URL: instance + "/api/v1/accounts/verify_credentials",
		Header: http.Header{"Authorization": {"Bearer " + token}}, Out: &a})
	if err != nil {
		return social.Identity{}, err
	}
	if a.Acct == "" {
		return social.Identity{}, c.client().Errorf("the server did not say who signed in")
	}
	id := canonical(a, instance)
	return social.Identity{Network: social.Mastodon, AccountID: id, Handle: "@" + id}, nil
}

// Revoke gives a token back: a shopper's sign-in needs it only once.
func (c *Connector) Revoke(ctx context.Context, instance string, app social.App, token string) error {
	form := url.Values{"client_id": {app.ClientID}, "client_secret": {app.ClientSecret}, "token": {token}}
	return c.client().Do(ctx, netclient.Request{Method: http.MethodPost, URL: instance + "/oauth/revoke", Form: form})
}

// Token reads the access token out of credentials made by Exchange.
func Token(creds []byte) string {
	var cr Creds
	json.Unmarshal(creds, &cr)
	return cr.AccessToken
}

// RegisterApp registers Roost with an instance (POST /api/v1/apps) for
// the given scopes (Scopes for brand accounts).
func (c *Connector) RegisterApp(ctx context.Context, instance, redirectURI, website, scopes string) (social.App, error) {
	var out struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	form := url.Values{"client_name": {"Roost"}, "redirect_uris": {redirectURI}, "scopes": {scopes}, "website": {website}}
	if err := c.client().Do(ctx, netclient.Request{Method: http.MethodPost, URL: instance + "/api/v1/apps", Form: form, Out: &out}); err != nil {
		return social.App{}, err
	}
	if out.ClientID == "" {
		return social.App{}, c.client().Errorf("the server registered no app")
	}
	return social.App{ClientID: out.ClientID, ClientSecret: out.ClientSecret}, nil
}

// AuthorizeURL is the instance's page where a person approves Roost
// (authorization code with PKCE) for the scopes the app was registered with.
func AuthorizeURL(instance string, app social.App, redirectURI, scopes, state, verifier string) string {
	q := url.Values{"response_type": {"code"}, "client_id": {app.ClientID}, "redirect_uri": {redirectURI}, "scope": {scopes},
		"state": {state}, "code_challenge": {social.Challenge(verifier)}, "code_challenge_method": {"S256"}}
	return instance + "/oauth/authorize?" + q.Encode()
}

// Exchange trades the code from the callback for credentials.
func (c *Connector) Exchange(ctx context.Context, instance string, app social.App, redirectURI, scopes, code, verifier string) ([]byte, error) {
	var out struct {
		AccessToken string `json:"access_token"`
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {app.ClientID}, "client_secret": {app.ClientSecret},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier}, "scope": {scopes}}
	if err := c.client().Do(ctx, netclient.Request{Method: http.MethodPost, URL: instance + "/oauth/token", Form: form, Out: &out}); err != nil {
		return nil, err
	}
	if out.AccessToken == "" {
		return nil, c.client().Errorf("the server gave no access token")
	}
	return json.Marshal(Creds{AccessToken: out.AccessToken})
}

package x

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/netclient"
)

// Scopes are what Roost asks of a brand account: reading posts and users
// (the account itself, its timeline and mentions, people it looks up),
// posting, follow relationships, reading and sending direct messages, and
// offline.access, without which X gives no refresh token and the
// connection ends after two hours. (The brand's X app must itself have
// the "Read and write and Direct message" permission for the dm scopes.)
const Scopes = "tweet.read tweet.write users.read follows.read dm.read dm.write offline.access"

// PersonScopes are what Roost asks of a shopper signing in with X: the
// least that reads who they are (users/me) and a user with
// connection_status (both documented as needing tweet.read and
// users.read). No offline.access: Roost uses the token once, at once.
const PersonScopes = "tweet.read users.read"

// Creds are what Roost keeps (sealed) for an X account.
type Creds struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	// ExpiresAt is when the access token ends (about two hours after it
	// was issued). The connection itself lasts until it is revoked: the
	// refresh token renews it.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Scope     string    `json:"scope,omitempty"`
}

// refreshMargin is how long before its end an access token is renewed,
// so it does not end during a call.
const refreshMargin = 2 * time.Minute

func (cr Creds) expiring(now time.Time) bool {
	return !cr.ExpiresAt.IsZero() && now.Add(refreshMargin).After(cr.ExpiresAt)
}

// ParseCreds reads stored credentials.
func ParseCreds(b []byte) (Creds, error) {
	var cr Creds
	if err := json.Unmarshal(b, &cr); err != nil || cr.AccessToken == "" {
		return cr, &social.Error{Network: social.X, Kind: social.Unauthorized, Reason: "no access token: reconnect the account"}
	}
	return cr, nil
}

// AuthorizeURL is X's page where a person approves the app
// (authorization code with PKCE, S256). scopes is Scopes for a brand
// account, PersonScopes for a shopper.
func (c *Connector) AuthorizeURL(redirectURI, state, verifier, scopes string) string {
	base := c.AuthorizeBase
	if base == "" {
		base = DefaultAuthorizeBase
	}
	q := url.Values{"response_type": {"code"}, "client_id": {c.ClientID}, "redirect_uri": {redirectURI}, "scope": {scopes},
		"state": {state}, "code_challenge": {social.Challenge(verifier)}, "code_challenge_method": {"S256"}}
	return base + "?" + q.Encode()
}

// Exchange trades the code from the callback for credentials, as the JSON
// Roost keeps. X's codes last 30 seconds.
func (c *Connector) Exchange(ctx context.Context, redirectURI, code, verifier string) ([]byte, error) {
	cr, err := c.ExchangeToken(ctx, redirectURI, code, verifier)
	if err != nil {
		return nil, err
	}
	return json.Marshal(cr)
}

// ExchangeToken trades the code from the callback for tokens, for a
// sign-in that uses them at once (a shopper's).
func (c *Connector) ExchangeToken(ctx context.Context, redirectURI, code, verifier string) (Creds, error) {
	return c.token(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}})
}

// clientAuth authenticates the app to the token endpoints as X documents:
// a confidential client with HTTP Basic (ID and secret), a public one by
// its client_id in the body.
func (c *Connector) clientAuth(form url.Values) http.Header {
	if c.ClientSecret == "" {
		form.Set("client_id", c.ClientID)
		return nil
	}
	// RFC 6749 §2.3.1: each part form-encoded, then Basic.
	pair := url.QueryEscape(c.ClientID) + ":" + url.QueryEscape(c.ClientSecret)
	return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(pair))}}
}

// token calls POST /2/oauth2/token.
func (c *Connector) token(ctx context.Context, form url.Values) (Creds, error) {
	var out struct {
		TokenType    string `json:"token_type"`
		ExpiresIn    int64  `json:"expires_in"`
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		Scope        string `json:"scope"`
	}
	h := c.clientAuth(form)
	start := time.Now()
	if err := c.client().Do(ctx, netclient.Request{Method: http.MethodPost, URL: c.api() + "/2/oauth2/token", Header: h, Form: form, Out: &out}); err != nil {
		return Creds{}, err
	}
	if out.AccessToken == "" {
		return Creds{}, c.client().Errorf("X gave no access token")
	}
	cr := Creds{AccessToken: out.AccessToken, RefreshToken: out.RefreshToken, Scope: out.Scope}
	if out.ExpiresIn > 0 && out.ExpiresIn < 10*365*24*3600 {
		cr.ExpiresAt = start.Add(time.Duration(out.ExpiresIn) * time.Second).UTC().Truncate(time.Second)
	}
	return cr, nil
}

// refresh renews the access token with the refresh token. X rotates
// refresh tokens (the old one stops working), so the new pair is kept
// through conn.SetCreds at once, whatever the call it serves then does.
// The credentials get no end date: renewed this way they last until the
// person revokes them (the access token's own end is in the JSON).
//
// X refuses a spent or revoked refresh token with 400 invalid_request
// ("Value passed for the token was invalid."), where RFC 6749 says
// invalid_grant; any 400 or 401 here means the account must be connected
// again.
//
// Calls in this process that hold the same refresh token share one
// renewal (see renewals); processes on other machines do not.
func (c *Connector) refresh(ctx context.Context, conn *social.Conn, old Creds) (Creds, error) {
	if old.RefreshToken == "" {
		return old, &social.Error{Network: social.X, Kind: social.Unauthorized, Reason: "the access token ended and there is no refresh token (offline.access was not granted): reconnect the account"}
	}
	cr, err := renewals.do(ctx, c.api()+"\x00"+c.ClientID+"\x00"+old.RefreshToken, func() (Creds, error) {
		return c.token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old.RefreshToken}})
	})
	var e *social.Error
	if errors.As(err, &e) && (e.Status == http.StatusBadRequest || e.Status == http.StatusUnauthorized) {
		return old, &social.Error{Network: social.X, Kind: social.Unauthorized, Status: e.Status, Reason: "X refused to renew the access (" + e.Reason + "): reconnect the account"}
	}
	if err != nil {
		return old, err
	}
	if cr.RefreshToken == "" {
		cr.RefreshToken = old.RefreshToken
	}
	if cr.Scope == "" {
		cr.Scope = old.Scope
	}
	b, err := json.Marshal(cr)
	if err != nil {
		return old, err
	}
	conn.SetCreds(b, nil)
	return cr, nil
}

// renewals shares refreshes: X rotates refresh tokens, so two calls that
// renewed with the same one (the publisher and the inbox poller, say)
// would leave the second refused and the account marked revoked. The
// outcome is kept a minute for calls that started with the old token and
// come late.
var renewals = renewalSet{m: map[string]*renewal{}}

type renewalSet struct {
	sync.Mutex
	m map[string]*renewal
}

type renewal struct {
	done chan struct{}
	at   time.Time
	cr   Creds
	err  error
}

func (s *renewalSet) do(ctx context.Context, key string, fn func() (Creds, error)) (Creds, error) {
	s.Lock()
	for k, r := range s.m {
		if !r.at.IsZero() && time.Since(r.at) > time.Minute {
			delete(s.m, k)
		}
	}
	r, ok := s.m[key]
	if !ok {
		r = &renewal{done: make(chan struct{})}
		s.m[key] = r
		s.Unlock()
		r.cr, r.err = fn()
		s.Lock()
		r.at = time.Now()
		if r.err != nil {
			delete(s.m, key) // a failure is not shared with later calls
		}
		s.Unlock()
		close(r.done)
		return r.cr, r.err
	}
	s.Unlock()
	select {
	case <-r.done:
		return r.cr, r.err
	case <-ctx.Done():
		return Creds{}, &social.Error{Network: social.X, Kind: social.Unavailable, Reason: "no answer in time (waiting for a token renewal)"}
	}
}

// Revoke ends a token (POST /2/oauth2/revoke): a shopper's, once Roost
// has learnt what it needed, or a brand's on disconnect.
func (c *Connector) Revoke(ctx context.Context, token string) error {
	form := url.Values{"token": {token}}
	h := c.clientAuth(form)
	return c.client().Do(ctx, netclient.Request{Method: http.MethodPost, URL: c.api() + "/2/oauth2/revoke", Header: h, Form: form})
}

// Me reads who signed in, with their own token (GET /2/users/me).
func (c *Connector) Me(ctx context.Context, token string) (social.Identity, error) {
	var a userAnswer
	if err := c.do(ctx, token, http.MethodGet, "/2/users/me", nil, &a); err != nil {
		return social.Identity{}, err
	}
	if a.Data == nil || a.Data.ID == "" {
		return social.Identity{}, &social.Error{Network: social.X, Kind: social.Unavailable, Status: http.StatusOK, Reason: "X answered without the signed-in account"}
	}
	return social.Identity{Network: social.X, AccountID: a.Data.ID, Handle: "@" + a.Data.Username}, nil
}

// PersonFollows asks X, with the signed-in person's own token, whether
// they follow the brand account: a lookup of the brand with
// user.fields=connection_status answers "following" when they do. This is
// the follow check for a claim: one user read, made on the person's own
// behalf, where listing the brand's followers would be billed per
// follower. X leaves connection_status out when there is no relationship.
func (c *Connector) PersonFollows(ctx context.Context, personToken, brandUserID string) (bool, error) {
	if !isID(brandUserID) {
		return false, &social.Error{Network: social.X, Kind: social.Rejected, Reason: "the brand account has no X user ID: reconnect it"}
	}
	var a userAnswer
	if err := c.do(ctx, personToken, http.MethodGet, "/2/users/"+brandUserID+"?user.fields=connection_status", nil, &a); err != nil {
		return false, err
	}
	return a.Data != nil && slices.Contains(a.Data.ConnectionStatus, "following"), nil
}

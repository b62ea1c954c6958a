package bluesky

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/netclient"
)

// Creds are what Roost keeps (sealed) for a Bluesky account: the session
// (access and refresh JWTs), who it is, where its PDS is, and the app
// password it was connected with.
//
// The app password is kept because a session can lapse (the refresh
// token expires after some 90 days unused, and is refused once another
// process has rotated it) and creating a session is tightly rate
// limited (30 per 5 minutes, 300 a day per account): Roost refreshes
// whenever it can and signs in again with the app password only when the
// refresh token itself is refused, rather than asking a person to
// reconnect. An app password cannot change the account's password, email
// or handle, nor delete it, and the owner can revoke it at any time in
// Bluesky's settings; Roost stores it sealed like every credential.
type Creds struct {
	DID         string `json:"did"`
	Handle      string `json:"handle"`
	PDS         string `json:"pds,omitempty"` // the account's PDS, from the session's DID document; "" is the service URL
	AccessJWT   string `json:"access_jwt"`
	RefreshJWT  string `json:"refresh_jwt"`
	Identifier  string `json:"identifier"` // what the account was signed in with (handle or email)
	AppPassword string `json:"app_password"`
}

// DefaultService is Bluesky's own entryway, where accounts it hosts sign in.
const DefaultService = "https://bsky.social"

// xrpcReq is one XRPC call: a query (GET) or a procedure (POST) named by
// its NSID, at host/xrpc/nsid.
type xrpcReq struct {
	method string
	host   string
	nsid   string
	query  url.Values
	body   any
	out    any
	token  string
	// proxy names the service the PDS forwards the call to, in the
	// atproto-proxy header ("" lets the PDS choose: the AppView for
	// app.bsky.*).
	proxy string
}

// xrpcError is the body of every XRPC failure.
type xrpcError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func (e xrpcError) text() string {
	switch {
	case e.Error != "" && e.Message != "":
		return e.Error + ": " + e.Message
	case e.Message != "":
		return e.Message
	}
	return e.Error
}

// reset reads RateLimit-Reset, Unix seconds on a PDS.
func reset(h http.Header) time.Time { return netclient.UnixReset(h, "RateLimit-Reset") }

// xrpc makes one call, with no retry of any kind. Besides the error (a
// *social.Error), it returns the XRPC error name the server gave, which
// decides what to do next (ExpiredToken, RecordNotFound, …).
func (c *Connector) xrpc(ctx context.Context, r xrpcReq) (string, error) {
	var name string
	cl := &netclient.Client{Network: social.Bluesky, HTTP: c.HTTP, Reset: reset, Reason: func(b []byte) string {
		var e xrpcError
		if json.Unmarshal(b, &e) != nil {
			return ""
		}
		name = e.Error
		return e.text()
	}}
	u := strings.TrimRight(r.host, "/") + "/xrpc/" + r.nsid
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	h := http.Header{}
	if r.token != "" {
		h.Set("Authorization", "Bearer "+r.token)
	}
	if r.proxy != "" {
		h.Set("atproto-proxy", r.proxy)
	}
	req := netclient.Request{Method: r.method, URL: u, Header: h, Out: r.out}
	if r.body != nil {
		req.JSON = r.body
	}
	err := cl.Do(ctx, req)
	return name, err
}

// asError is the *social.Error in err's chain, or nil.
func asError(err error) *social.Error {
	var e *social.Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

func unavailable(reason string) error {
	return &social.Error{Network: social.Bluesky, Kind: social.Unavailable, Reason: reason}
}

func rejected(reason string) error {
	return &social.Error{Network: social.Bluesky, Kind: social.Rejected, Reason: reason}
}

// refused turns a failure into Unauthorized, keeping its status and words.
func refused(err error, reason string) error {
	e := &social.Error{Network: social.Bluesky, Kind: social.Unauthorized, Reason: reason}
	if se := asError(err); se != nil {
		e.Status = se.Status
		if se.Reason != "" {
			e.Reason += " (" + se.Reason + ")"
		}
	}
	return e
}

// lapsed reports whether a call failed on its token: an access token past
// its time is a 400 ExpiredToken from a PDS and a 401 from the AppView
// behind it; a token the server cannot verify is a 400 InvalidToken. A
// 400 InvalidToken "Bad token method" (or "Bad token scope") is not a
// lapsed token but one not allowed this call (see notAllowed): a new
// session would be refused the same.
func lapsed(err error, name string) bool {
	e := asError(err)
	if e == nil || notAllowed(err, name) {
		return false
	}
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusBadRequest && (name == "ExpiredToken" || name == "InvalidToken")
}

// notAllowed reports whether the PDS refused the call to the session's
// kind of token: an app password not allowed direct messages calling
// chat.bsky.* (the PDS's pipethrough answers 400 InvalidToken "Bad token
// method"), or a call an app password may never make ("Bad token scope").
func notAllowed(err error, name string) bool {
	e := asError(err)
	return e != nil && e.Status == http.StatusBadRequest && name == "InvalidToken" &&
		(strings.Contains(e.Reason, "Bad token method") || strings.Contains(e.Reason, "Bad token scope"))
}

// session is an account's credentials for one connector call, which
// renews them at most once.
type session struct {
	conn    *social.Conn
	creds   Creds
	renewed bool
}

func open(conn *social.Conn) (*session, error) {
	s := &session{conn: conn}
	if err := json.Unmarshal(conn.Creds, &s.creds); err != nil || s.creds.AccessJWT == "" && s.creds.AppPassword == "" {
		return nil, &social.Error{Network: social.Bluesky, Kind: social.Unauthorized, Reason: "no session: reconnect the account"}
	}
	if s.creds.DID == "" {
		s.creds.DID = conn.RemoteID
	}
	if s.creds.Handle == "" {
		s.creds.Handle = conn.Handle
	}
	return s, nil
}

// service is where the account signs in: the account's Instance.
func (s *session) service() string {
	if s.conn.Instance != "" {
		return strings.TrimRight(s.conn.Instance, "/")
	}
	return DefaultService
}

// host is where calls go: the account's PDS. It serves com.atproto.* itself
// and proxies app.bsky.* (profiles, posts, notifications, relationships)
// to the AppView on the account's behalf, so one host and one token do for
// every call.
func (s *session) host() string {
	if s.creds.PDS != "" {
		return s.creds.PDS
	}
	return s.service()
}

// call makes an authenticated call. If the access token has lapsed (by its
// own exp, or by the server's answer) it renews the session, once per
// connector call, and if the server refused the token it repeats the call
// once: a refused token means the server did nothing, so even a write is
// safe to repeat.
func (c *Connector) call(ctx context.Context, s *session, r xrpcReq) (string, error) {
	if !s.renewed && expiring(s.creds.AccessJWT) {
		if err := c.renew(ctx, s); err != nil {
			return "", err
		}
	}
	for {
		r.host, r.token = s.host(), s.creds.AccessJWT
		name, err := c.xrpc(ctx, r)
		if !lapsed(err, name) {
			return name, err
		}
		if s.renewed {
			return name, refused(err, "Bluesky refused a fresh session")
		}
		if err := c.renew(ctx, s); err != nil {
			return "", err
		}
	}
}

// expiring reports whether an access token is missing or ends within half
// a minute, by its own exp: renewing first saves a refused call.
func expiring(token string) bool {
	exp, ok := jwtExpiry(token)
	return token == "" || ok && time.Until(exp) < 30*time.Second
}

// sessionOut is what createSession and refreshSession answer.
type sessionOut struct {
	AccessJWT  string          `json:"accessJwt"`
	RefreshJWT string          `json:"refreshJwt"`
	Handle     string          `json:"handle"`
	DID        string          `json:"did"`
	DIDDoc     json.RawMessage `json:"didDoc"`
	Active     *bool           `json:"active"`
	Status     string          `json:"status"`
}

// renew gets a new access token with the refresh token
// (com.atproto.server.refreshSession, which also rotates the refresh
// token). Only if the refresh token itself is refused does it sign in
// again with the app password (createSession, tightly rate limited); a
// refused app password means the account must be reconnected. A PDS that
// is down, slow or rate limiting is reported as such: the refresh token
// may still be good.
func (c *Connector) renew(ctx context.Context, s *session) error {
	s.renewed = true
	var out sessionOut
	if s.creds.RefreshJWT != "" {
		name, err := c.xrpc(ctx, xrpcReq{method: http.MethodPost, host: s.host(), nsid: "com.atproto.server.refreshSession", token: s.creds.RefreshJWT, out: &out})
		if err == nil {
			return s.keep(out)
		}
		if !lapsed(err, name) {
			return err
		}
	}
	if s.creds.AppPassword == "" {
		return refused(nil, "the Bluesky session has ended: reconnect the account")
	}
	ident := s.creds.Identifier
	if ident == "" {
		ident = s.creds.DID
	}
	out = sessionOut{}
	body := map[string]string{"identifier": ident, "password": s.creds.AppPassword}
	if _, err := c.xrpc(ctx, xrpcReq{method: http.MethodPost, host: s.service(), nsid: "com.atproto.server.createSession", body: body, out: &out}); err != nil {
		if e := asError(err); e != nil && e.Status >= 400 && e.Status < 500 && e.Status != http.StatusTooManyRequests {
			return refused(err, "Bluesky refused the app password (revoked?): reconnect the account")
		}
		return err
	}
	return s.keep(out)
}

// keep takes a new session's tokens and gives the connection its new
// credentials, which end with the refresh token.
func (s *session) keep(out sessionOut) error {
	if out.AccessJWT == "" || out.RefreshJWT == "" {
		return unavailable("the server answered without session tokens")
	}
	if s.creds.DID != "" && out.DID != s.creds.DID {
		return refused(nil, "the app password now signs in to another account ("+out.DID+"): reconnect the account")
	}
	s.creds.DID, s.creds.AccessJWT, s.creds.RefreshJWT = out.DID, out.AccessJWT, out.RefreshJWT
	if out.Handle != "" && out.Handle != "handle.invalid" {
		s.creds.Handle = out.Handle
	}
	if pds := pdsEndpoint(out.DIDDoc, s.service()); pds != "" {
		s.creds.PDS = pds
	}
	b, err := json.Marshal(s.creds)
	if err != nil {
		return err
	}
	var until *time.Time
	if t, ok := jwtExpiry(out.RefreshJWT); ok {
		until = &t
	}
	s.conn.SetCreds(b, until)
	return nil
}

// claims are the JWT claims Roost reads. The signature is not checked: the
// token is the server's own and only the server verifies it; Roost reads
// its times to refresh before a call fails, and its scope to tell an app
// password from the main one.
type claims struct {
	Exp   *float64 `json:"exp"`
	Scope string   `json:"scope"`
	Sub   string   `json:"sub"`
}

// jwtClaims decodes a JWT's payload (base64url, unpadded).
func jwtClaims(token string) (claims, bool) {
	var c claims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil || json.Unmarshal(b, &c) != nil {
		return claims{}, false
	}
	return c, true
}

// jwtExpiry reads a JWT's exp (seconds since the epoch).
func jwtExpiry(token string) (time.Time, bool) {
	c, ok := jwtClaims(token)
	if !ok || c.Exp == nil || math.IsNaN(*c.Exp) || *c.Exp <= 0 || *c.Exp > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(int64(*c.Exp), 0), true
}

// didRE is the DID syntax atproto accepts.
var didRE = regexp.MustCompile(`^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$`)

func validDID(s string) bool { return len(s) <= 2048 && didRE.MatchString(s) }

// pdsEndpoint reads the account's PDS from a DID document: the service
// #atproto_pds. It must be HTTPS, unless the service signed in at is
// plain HTTP too (a development PDS).
func pdsEndpoint(doc json.RawMessage, service string) string {
	var d struct {
		Service []struct {
			ID              string `json:"id"`
			Type            string `json:"type"`
			ServiceEndpoint any    `json:"serviceEndpoint"`
		} `json:"service"`
	}
	if len(doc) == 0 || json.Unmarshal(doc, &d) != nil {
		return ""
	}
	for _, sv := range d.Service {
		ep, ok := sv.ServiceEndpoint.(string)
		if !ok || !strings.HasSuffix(sv.ID, "#atproto_pds") || sv.Type != "AtprotoPersonalDataServer" {
			continue
		}
		u, err := url.Parse(ep)
		if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
			continue
		}
		if u.Scheme == "https" || u.Scheme == "http" && strings.HasPrefix(service, "http://") {
			return u.Scheme + "://" + u.Host
		}
	}
	return ""
}

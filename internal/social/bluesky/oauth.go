package bluesky

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/netclient"
)

// Shoppers sign in with Bluesky through AT Protocol OAuth
// (atproto.com/specs/oauth), so Roost learns which account they are.
// Roost asks for the "atproto" scope alone, which proves the account's
// identity and grants nothing on it: the token response's sub (the DID)
// is the answer, no call is made with the token, and the token is
// revoked at once.
//
// In atproto anybody can run an authorization server, so the spec makes
// the client check that the server is entitled to speak for the account:
// Roost resolves the handle to a DID, checks that the DID document claims
// the handle back, reads the account's PDS from it, and takes the
// authorization server that PDS names (whose metadata must name itself
// as the same issuer). At the end, the callback's iss must be that
// issuer and the token's sub that DID. Every server on that path is named
// by the person's identity, so PersonAuth reaches public addresses only
// unless told otherwise.
//
// Handles are resolved with com.atproto.identity.resolveHandle on a
// service Roost trusts (Bluesky's public AppView by default), which the
// handle spec allows for clients: it does both DNS TXT and HTTPS
// well-known resolution, where doing DNS TXT ourselves would need a
// resolver the tests cannot fake.

const (
	// PublicAPI is Bluesky's public AppView: it resolves any handle.
	PublicAPI = "https://public.api.bsky.app"
	// PLCDirectory publishes did:plc documents.
	PLCDirectory = "https://plc.directory"
	// ClientMetadataPath is where, under Roost's base URL, its client
	// metadata is served; CallbackPath is where people come back.
	ClientMetadataPath = "/signin/bluesky/client-metadata.json"
	CallbackPath       = "/signin/bluesky/callback"
	// PersonScope proves who the person is and grants nothing else.
	PersonScope = "atproto"
)

const (
	maxSession = 2048 // a sign-in's session travels in a cookie
	maxURL     = 256  // servers' addresses kept in a session
	maxNonce   = 256
)

// PersonAuth signs shoppers in with their Bluesky account.
type PersonAuth struct {
	// HTTP reaches the servers a person's identity names (their PDS, its
	// authorization server, a did:web host): nil is a client that dials
	// public addresses only (netclient.PublicOnly), with a 15 s timeout.
	// Redirects are never followed.
	HTTP *http.Client
	// ClientID is Roost's client_id (see ClientID) and RedirectURI the
	// callback, one of the client's redirect_uris (see RedirectURI).
	ClientID, RedirectURI string
	// Resolver answers com.atproto.identity.resolveHandle ("": PublicAPI).
	Resolver string
	// PLC is the did:plc directory ("": PLCDirectory).
	PLC string
	// Log, if set, hears of tokens that could not be revoked.
	Log *slog.Logger
}

// RedirectURI is where people come back to Roost at baseURL.
func RedirectURI(baseURL string) string { return strings.TrimRight(baseURL, "/") + CallbackPath }

// ClientID is Roost's client_id at baseURL: the address of its client
// metadata (ClientMetadata), which authorization servers fetch, so it must
// be public, https and without a port. For a base URL on this machine
// (localhost, 127.0.0.1, [::1]), which no server can fetch, it is the
// spec's development client instead, http://localhost with the callback
// and scope in its query; Bluesky then accepts only an IP address
// (127.0.0.1 or [::1]) in the callback, so open Roost at
// http://127.0.0.1:PORT, not at localhost.
func ClientID(baseURL string) string {
	base := strings.TrimRight(baseURL, "/")
	if loopback(base) {
		return "http://localhost?" + url.Values{"redirect_uri": {RedirectURI(base)}, "scope": {PersonScope}}.Encode()
	}
	return base + ClientMetadataPath
}

func loopback(base string) bool {
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	h := u.Hostname()
	ip, err := netip.ParseAddr(h)
	return h == "localhost" || err == nil && ip.IsLoopback()
}

// ClientMetadata is the client metadata document Roost at baseURL serves
// at baseURL+ClientMetadataPath (with status 200, as application/json):
// a public web client (no client authentication, so no keys to publish)
// that asks for the atproto scope only and takes DPoP-bound tokens.
func ClientMetadata(baseURL string) []byte {
	base := strings.TrimRight(baseURL, "/")
	b, _ := json.MarshalIndent(struct {
		ClientID        string   `json:"client_id"`
		ClientName      string   `json:"client_name"`
		ClientURI       string   `json:"client_uri"`
		ApplicationType string   `json:"application_type"`
		GrantTypes      []string `json:"grant_types"`
		ResponseTypes   []string `json:"response_types"`
		RedirectURIs    []string `json:"redirect_uris"`
		Scope           string   `json:"scope"`
		TokenAuth       string   `json:"token_endpoint_auth_method"`
		DPoPBound       bool     `json:"dpop_bound_access_tokens"`
	}{base + ClientMetadataPath, "Roost", base, "web", []string{"authorization_code"}, []string{"code"},
		[]string{RedirectURI(base)}, PersonScope, "none", true}, "", "  ")
	return b
}

// personSession is what Finish needs from Begin: the DPoP key the server
// bound the request to, where to exchange the code and for whom. It is
// kept by the caller, sealed.
type personSession struct {
	Key      string `json:"k"` // P-256 scalar, base64url
	Issuer   string `json:"iss"`
	Token    string `json:"tok"`           // token endpoint
	Revoke   string `json:"rev,omitempty"` // revocation endpoint, if any
	DID      string `json:"did"`
	Handle   string `json:"h,omitempty"` // verified both ways; "" when the person typed a DID
	Verifier string `json:"v"`
	Nonce    string `json:"n,omitempty"` // the authorization server's latest DPoP nonce
	At       int64  `json:"t"`           // Unix seconds
}

// Begin starts a sign-in for the account a person typed (a handle, with
// or without @, or a DID). state and verifier are the flow's
// (social.BeginFlow). It returns the address to send the person to, and
// the session, at most 2 KB, which holds a private key: the caller keeps
// it sealed and bound to state, and hands it to Finish.
//
// An unknown handle, a handle its DID document does not claim, or an
// account whose server does not do atproto OAuth is a Rejected
// *social.Error whose Reason says so.
func (a *PersonAuth) Begin(ctx context.Context, handle, state, verifier string) (authorizeURL string, session []byte, err error) {
	if err := a.checkClient(); err != nil {
		return "", nil, err
	}
	if state == "" || len(verifier) < 43 || len(verifier) > 128 {
		return "", nil, errors.New("bluesky: a sign-in needs a state and a PKCE verifier of 43 to 128 characters")
	}
	acct, err := a.resolve(ctx, handle)
	if err != nil {
		return "", nil, err
	}
	as, err := a.authServer(ctx, acct.pds)
	if err != nil {
		return "", nil, err
	}
	key, err := newDPoPKey()
	if err != nil {
		return "", nil, err
	}
	s := personSession{Key: key.encode(), Issuer: as.Issuer, Token: as.TokenEndpoint, Revoke: as.RevocationEndpoint,
		DID: acct.did, Handle: acct.handle, Verifier: verifier, At: time.Now().Unix()}
	form := url.Values{"client_id": {a.ClientID}, "response_type": {"code"}, "redirect_uri": {a.RedirectURI}, "scope": {PersonScope},
		"state": {state}, "code_challenge": {social.Challenge(verifier)}, "code_challenge_method": {"S256"}, "login_hint": {acct.input}}
	var par struct {
		RequestURI string `json:"request_uri"`
	}
	if err := a.post(ctx, key, &s.Nonce, as.PAREndpoint, form, &par, true); err != nil {
		return "", nil, failed(err, "the account's sign-in server ("+hostname(as.Issuer)+") refused to start a sign-in")
	}
	if par.RequestURI == "" || len(par.RequestURI) > 1024 {
		return "", nil, unavailable("the account's sign-in server answered without a request_uri")
	}
	u, _ := url.Parse(as.AuthorizationEndpoint) // checked by authServer
	q := u.Query()
	q.Set("client_id", a.ClientID)
	q.Set("request_uri", par.RequestURI)
	u.RawQuery = q.Encode()
	b, err := json.Marshal(s)
	if err != nil {
		return "", nil, err
	}
	if len(b) > maxSession {
		return "", nil, unavailable("the account's sign-in server has addresses too long to keep")
	}
	return u.String(), b, nil
}

// tokenResponse is the token endpoint's answer, as far as Roost reads it.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	Sub          string `json:"sub"`
}

// Finish completes a sign-in with the callback's code and iss: the
// callback must come from the account's authorization server, and the
// token it gives for the code must name the account Begin resolved. The
// token is then revoked (when the server has a revocation endpoint) and
// the person returned, their DID as AccountID.
func (a *PersonAuth) Finish(ctx context.Context, session []byte, code, iss string) (social.Identity, error) {
	if err := a.checkClient(); err != nil {
		return social.Identity{}, err
	}
	s, key, err := openSession(session)
	if err != nil {
		return social.Identity{}, rejected("this sign-in is unknown or damaged: start again")
	}
	switch {
	case time.Since(time.Unix(s.At, 0)) > social.FlowLife:
		return social.Identity{}, rejected("this sign-in took too long: start again")
	case iss == "":
		return social.Identity{}, rejected("the sign-in came back without naming its server (no iss): start again")
	case iss != s.Issuer:
		return social.Identity{}, rejected(fmt.Sprintf("the sign-in came back from %.100q, not from %s, the account's own sign-in server", iss, s.Issuer))
	case code == "":
		return social.Identity{}, rejected("the sign-in came back without a code")
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {a.RedirectURI},
		"code_verifier": {s.Verifier}, "client_id": {a.ClientID}}
	var tok tokenResponse
	err = a.post(ctx, key, &s.Nonce, s.Token, form, &tok, true)
	if tok.AccessToken != "" || tok.RefreshToken != "" {
		defer a.revoke(ctx, s, key, tok)
	}
	if err != nil {
		return social.Identity{}, failed(err, "the account's sign-in server refused the sign-in")
	}
	switch {
	case tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "DPoP"):
		return social.Identity{}, unavailable("the account's sign-in server did not give a DPoP-bound token")
	case !slices.Contains(strings.Fields(tok.Scope), PersonScope):
		return social.Identity{}, rejected("the sign-in was not granted the atproto scope")
	case tok.Sub != s.DID:
		return social.Identity{}, rejected("the sign-in server signed in another account than " + identity(s.DID, s.Handle).Handle)
	}
	return identity(s.DID, s.Handle), nil
}

// revoke gives the token back, even when the caller has gone: the refresh
// token if there is one, which ends the whole session (RFC 7009 §2.1).
func (a *PersonAuth) revoke(ctx context.Context, s personSession, key *dpopKey, tok tokenResponse) {
	if s.Revoke == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	form := url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {a.ClientID}}
	if tok.RefreshToken == "" {
		form.Set("token", tok.AccessToken)
		form.Set("token_type_hint", "access_token")
	}
	if err := a.post(ctx, key, &s.Nonce, s.Revoke, form, nil, false); err != nil && a.Log != nil {
		a.Log.Info("bluesky: a shopper's token was not revoked", "server", s.Issuer, "err", err)
	}
}

func (a *PersonAuth) checkClient() error {
	if a.ClientID == "" || a.RedirectURI == "" {
		return errors.New("bluesky: PersonAuth needs a ClientID and a RedirectURI")
	}
	if u, err := url.Parse(a.RedirectURI); err == nil && strings.HasPrefix(a.ClientID, "http://localhost") && u.Hostname() == "localhost" {
		return rejected("Bluesky takes no callback at localhost for a development client: open Roost at http://127.0.0.1 and its port instead")
	}
	return nil
}

// openSession reads a session made by Begin.
func openSession(b []byte) (personSession, *dpopKey, error) {
	var s personSession
	if len(b) == 0 || len(b) > maxSession || json.Unmarshal(b, &s) != nil {
		return s, nil, errors.New("bluesky: not a sign-in session")
	}
	if iss, ok := originURL(s.Issuer); !ok || iss != s.Issuer || !endpointURL(s.Token) || s.Revoke != "" && !endpointURL(s.Revoke) ||
		!validDID(s.DID) || len(s.Verifier) < 43 || len(s.Verifier) > 128 {
		return s, nil, errors.New("bluesky: a damaged sign-in session")
	}
	key, err := parseDPoPKey(s.Key)
	if err != nil {
		return s, nil, err
	}
	return s, key, nil
}

// Identity resolution.

// account is whom a person named: what they typed, normalised (the
// login_hint), the DID, the handle once verified, and the PDS.
type account struct{ input, did, handle, pds string }

// reservedTLDs never resolve (the handle spec's disallowed TLDs).
var reservedTLDs = []string{"alt", "arpa", "example", "internal", "invalid", "local", "localhost", "onion"}

func reserved(host string) bool {
	return slices.Contains(reservedTLDs, host[strings.LastIndexByte(host, '.')+1:])
}

func (a *PersonAuth) resolve(ctx context.Context, typed string) (account, error) {
	in := strings.TrimPrefix(strings.TrimSpace(typed), "@")
	acct := account{input: in}
	switch {
	case strings.HasPrefix(in, "did:"):
		if !validDID(in) {
			return acct, rejected("that is not a valid DID")
		}
		acct.did = in
	case validHandle(in) && !reserved(strings.ToLower(in)):
		acct.input = strings.ToLower(in)
		acct.handle = acct.input
		did, err := a.resolveHandle(ctx, acct.handle)
		if err != nil {
			return acct, err
		}
		acct.did = did
	default:
		return acct, rejected("type your full Bluesky handle, such as alice.bsky.social")
	}
	doc, err := a.didDocument(ctx, acct.did)
	if err != nil {
		return acct, err
	}
	pds, aka, err := parseDIDDocument(doc, acct.did)
	if err != nil {
		return acct, err
	}
	if acct.handle != "" && !slices.ContainsFunc(aka, func(s string) bool { return strings.EqualFold(s, "at://"+acct.handle) }) {
		return acct, rejected("the account @" + acct.handle + " points to does not claim that handle back (its DID document names another)")
	}
	acct.pds = pds
	return acct, nil
}

func (a *PersonAuth) resolveHandle(ctx context.Context, handle string) (string, error) {
	resolver := a.Resolver
	if resolver == "" {
		resolver = PublicAPI
	}
	var out struct {
		DID string `json:"did"`
	}
	c := &Connector{HTTP: a.client()}
	_, err := c.xrpc(ctx, xrpcReq{method: http.MethodGet, host: resolver, nsid: "com.atproto.identity.resolveHandle", query: url.Values{"handle": {handle}}, out: &out})
	if e := asError(err); e != nil && e.Kind == social.Rejected {
		return "", &social.Error{Network: social.Bluesky, Kind: social.Rejected, Status: e.Status, Reason: "no Bluesky account has the handle @" + handle + " (" + e.Reason + ")"}
	}
	if err != nil {
		return "", failed(err, "the handle @"+handle+" could not be looked up")
	}
	if !validDID(out.DID) {
		return "", unavailable("the handle @" + handle + " resolved to no valid DID")
	}
	return out.DID, nil
}

var plcRE = regexp.MustCompile(`^did:plc:[a-z2-7]{24}$`)

// didURL is where a DID's document is published: the PLC directory for
// did:plc, the host's /.well-known/did.json for did:web (atproto accepts
// only hostname-level did:web: no port, no path). Other methods are not
// atproto's.
func didURL(plc, did string) (string, error) {
	if plcRE.MatchString(did) {
		if plc == "" {
			plc = PLCDirectory
		}
		return strings.TrimRight(plc, "/") + "/" + did, nil
	}
	if host, ok := strings.CutPrefix(did, "did:web:"); ok {
		if host = strings.ToLower(host); !validHandle(host) || reserved(host) {
			return "", rejected("the DID " + did + " is not one atproto accepts")
		}
		return "https://" + host + "/.well-known/did.json", nil
	}
	return "", rejected("the DID " + did + " is not one atproto accepts")
}

func (a *PersonAuth) didDocument(ctx context.Context, did string) ([]byte, error) {
	u, err := didURL(a.PLC, did)
	if err != nil {
		return nil, err
	}
	var doc json.RawMessage
	if err := a.fetch(ctx, u, &doc); err != nil {
		if e := asError(err); e != nil && (e.Status == http.StatusNotFound || e.Status == http.StatusGone) {
			return nil, &social.Error{Network: social.Bluesky, Kind: social.Rejected, Status: e.Status, Reason: "the account " + did + " has no DID document (" + e.Reason + ")"}
		}
		return nil, failed(err, "the DID document of "+did+" could not be read")
	}
	return doc, nil
}

// parseDIDDocument reads a DID document: it must be the DID's own, and
// name an https PDS (#atproto_pds). It returns the PDS and the names the
// account claims (alsoKnownAs: at://handle).
func parseDIDDocument(doc []byte, did string) (pds string, aka []string, err error) {
	var d struct {
		ID          string   `json:"id"`
		AlsoKnownAs []string `json:"alsoKnownAs"`
	}
	if json.Unmarshal(doc, &d) != nil || d.ID != did {
		return "", nil, unavailable("the DID document of " + did + " is not that DID's")
	}
	if pds = pdsEndpoint(doc, ""); pds == "" {
		return "", nil, rejected("the DID document of " + did + " names no https PDS")
	}
	return pds, d.AlsoKnownAs, nil
}

// Server discovery.

// authServerMeta is an authorization server's metadata (RFC 8414), as far
// as Roost reads it.
type authServerMeta struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	PAREndpoint           string   `json:"pushed_authorization_request_endpoint"`
	RevocationEndpoint    string   `json:"revocation_endpoint"`
	ScopesSupported       []string `json:"scopes_supported"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
	DPoPAlgs              []string `json:"dpop_signing_alg_values_supported"`
	TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
	ISSParameter          bool     `json:"authorization_response_iss_parameter_supported"`
	ClientIDMetadata      bool     `json:"client_id_metadata_document_supported"`
}

// check holds the metadata fetched from issuer to what atproto OAuth
// requires and what Roost uses. A revocation endpoint that is not a
// proper address is dropped: revoking is a courtesy.
func (m *authServerMeta) check(issuer string) error {
	bad := func(what string) error {
		return rejected("the account's sign-in server (" + hostname(issuer) + ") " + what)
	}
	switch {
	case m.Issuer != issuer:
		return bad(fmt.Sprintf("calls itself %.100q: it is not the server the account's PDS names", m.Issuer))
	case !slices.Contains(m.ScopesSupported, PersonScope):
		return bad("does not do atproto OAuth (no atproto scope)")
	case !m.ISSParameter:
		return bad("does not say who it is in its answers (authorization_response_iss_parameter_supported)")
	case !m.ClientIDMetadata:
		return bad("does not read client metadata documents")
	case !slices.Contains(m.CodeChallengeMethods, "S256"):
		return bad("does not do PKCE with S256")
	case !slices.Contains(m.DPoPAlgs, "ES256"):
		return bad("does not take ES256 DPoP proofs")
	case !slices.Contains(m.TokenAuthMethods, "none"):
		return bad("does not take public clients")
	case !endpointURL(m.AuthorizationEndpoint) || !endpointURL(m.TokenEndpoint) || !endpointURL(m.PAREndpoint):
		return bad("does not give https addresses for authorization, pushed requests and tokens")
	}
	if !endpointURL(m.RevocationEndpoint) {
		m.RevocationEndpoint = ""
	}
	return nil
}

// authServer finds the PDS's authorization server: the one its protected
// resource metadata names (RFC 9728), whose own metadata (RFC 8414) must
// name it as the issuer.
func (a *PersonAuth) authServer(ctx context.Context, pds string) (authServerMeta, error) {
	var m authServerMeta
	var pr struct {
		AuthorizationServers []string `json:"authorization_servers"`
	}
	if err := a.fetch(ctx, pds+"/.well-known/oauth-protected-resource", &pr); err != nil {
		return m, failed(err, "the account's server ("+hostname(pds)+") does not offer sign-in with OAuth")
	}
	if len(pr.AuthorizationServers) == 0 {
		return m, rejected("the account's server (" + hostname(pds) + ") names no sign-in server")
	}
	issuer, ok := originURL(pr.AuthorizationServers[0])
	if !ok {
		return m, rejected(fmt.Sprintf("the account's server (%s) names a sign-in server that is not an https origin: %.100q", hostname(pds), pr.AuthorizationServers[0]))
	}
	if err := a.fetch(ctx, issuer+"/.well-known/oauth-authorization-server", &m); err != nil {
		return m, failed(err, "the account's sign-in server ("+hostname(issuer)+") did not describe itself")
	}
	return m, m.check(issuer)
}

// originURL checks an authorization server's address: an https origin,
// without credentials, path (a lone / is dropped), query, fragment or the
// default port written out.
func originURL(s string) (string, bool) {
	if len(s) > maxURL {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Opaque != "" || u.Path != "" && u.Path != "/" ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.HasSuffix(u.Host, ":") || u.Port() == "443" || u.Host != strings.ToLower(u.Host) {
		return "", false
	}
	return "https://" + u.Host, true
}

// endpointURL reports whether s is an https address to send requests to.
func endpointURL(s string) bool {
	if len(s) > maxURL {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil && u.Opaque == "" && u.Fragment == "" && !strings.HasSuffix(u.Host, ":")
}

func hostname(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Host
	}
	return u
}

// HTTP.

var publicHTTP = sync.OnceValue(func() *http.Client { return netclient.PublicOnly(15 * time.Second) })

// client is the HTTP client without redirects: metadata must be answered
// with a 200 where it was asked for, and a document is trusted for the
// address it came from.
func (a *PersonAuth) client() *http.Client {
	hc := a.HTTP
	if hc == nil {
		hc = publicHTTP()
	}
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// oauthError reads an OAuth error body ({"error", "error_description"}),
// or an XRPC one ({"error", "message"}), or the PLC directory's
// ({"message"}): the words for people, and the error's name.
func oauthError(b []byte) (reason, name string) {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Message     string `json:"message"`
	}
	if json.Unmarshal(b, &e) != nil {
		return "", ""
	}
	if e.Description == "" {
		e.Description = e.Message
	}
	return xrpcError{Error: e.Error, Message: e.Description}.text(), e.Error
}

func (a *PersonAuth) fetch(ctx context.Context, u string, out any) error {
	cl := &netclient.Client{Network: social.Bluesky, HTTP: a.client(), Reason: func(b []byte) string { r, _ := oauthError(b); return r }}
	return cl.Do(ctx, netclient.Request{Method: http.MethodGet, URL: u, Out: out})
}

// post sends a form to the authorization server with a DPoP proof, and
// keeps the nonce the server gives in *nonce for the next request. A
// server that wants another nonce than the proof had answers 400
// use_dpop_nonce (401 with WWW-Authenticate from a resource server) with
// the nonce in DPoP-Nonce: the request is sent once more with it. With
// needNonce, an answer without a nonce is refused, as the spec requires
// (out is decoded all the same, so a token can be revoked).
func (a *PersonAuth) post(ctx context.Context, key *dpopKey, nonce *string, endpoint string, form url.Values, out any, needNonce bool) error {
	for retried := false; ; retried = true {
		proof, err := key.proof(http.MethodPost, endpoint, *nonce, time.Now())
		if err != nil {
			return err
		}
		var name string
		var h http.Header
		cl := &netclient.Client{Network: social.Bluesky, HTTP: a.client(), Reason: func(b []byte) string {
			r, n := oauthError(b)
			name = n
			return r
		}}
		hdr := http.Header{}
		hdr.Set("DPoP", proof)
		err = cl.Do(ctx, netclient.Request{Method: http.MethodPost, URL: endpoint, Header: hdr, Form: form, Out: out, Headers: &h})
		sent, got := *nonce, h.Get("DPoP-Nonce")
		if got != "" && len(got) <= maxNonce {
			*nonce = got
		}
		wantNonce := name == "use_dpop_nonce" || strings.Contains(h.Get("WWW-Authenticate"), "use_dpop_nonce")
		switch {
		case err != nil && wantNonce && !retried && *nonce != sent:
			continue
		case err == nil && needNonce && got == "":
			return unavailable("the account's sign-in server answered without a DPoP nonce, which atproto OAuth requires")
		}
		return err
	}
}

// failed puts what was being done before a failure's reason.
func failed(err error, what string) error {
	e := *social.AsError(social.Bluesky, err)
	if e.Reason != "" {
		what += ": " + e.Reason
	}
	e.Reason = what
	return &e
}

package blueskytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// The fake is also its accounts' identity and sign-in servers, as AT
// Protocol OAuth (atproto.com/specs/oauth) finds them:
//
//   - the PLC directory: GET /{did} answers the DID document (its PDS is
//     the fake, its alsoKnownAs at://handle), 404 "DID not registered";
//   - the PDS's protected resource metadata (RFC 9728), naming the
//     authorization server (the fake itself, or AuthServer);
//   - the authorization server (the reference PDS's endpoints): metadata
//     (RFC 8414) with the fields atproto requires; PAR at /oauth/par,
//     which checks the client's metadata (AddClient, or the development
//     client http://localhost?redirect_uri=…), PKCE S256, state, the
//     redirect URI and the scope, and answers 201 with a request_uri;
//     /oauth/authorize, which signs in the login_hint's account (or
//     SignIn) at once and redirects with code, state and iss (or
//     error=access_denied with Deny); /oauth/token, which checks the
//     code (once), client, redirect URI, PKCE verifier and that the DPoP
//     key is the one the request was pushed with, and answers with the
//     account's DID as sub; /oauth/revoke.
//
// Every request to /oauth/par, /oauth/token (and /oauth/revoke, when it
// has one) needs a DPoP proof the fake verifies: ES256 signature by the
// header's public JWK, typ dpop+jwt, a jti never seen, htm and htu of the
// request, iat within a minute, and the server's nonce. A proof without
// the current (or the previous) nonce is answered 400 use_dpop_nonce with
// the nonce in DPoP-Nonce, as every answer carries it: a client's first
// request is always refused so.

type oauthState struct {
	nonce, prevNonce string
	jtis             map[string]bool
	pars             map[string]*authRequest // by request_uri
	codes            map[string]*authRequest // by code
	clients          map[string]clientMeta   // by client_id
}

type authRequest struct {
	clientID, redirectURI, scope, state, challenge, hint string
	jkt                                                  string // the DPoP key's thumbprint
	sub                                                  string // the account that signed in
}

// clientMeta is a client metadata document.
type clientMeta struct {
	ClientID        string   `json:"client_id"`
	ApplicationType string   `json:"application_type"`
	GrantTypes      []string `json:"grant_types"`
	ResponseTypes   []string `json:"response_types"`
	RedirectURIs    []string `json:"redirect_uris"`
	Scope           string   `json:"scope"`
	TokenAuth       string   `json:"token_endpoint_auth_method"`
	DPoPBound       bool     `json:"dpop_bound_access_tokens"`
	ClientURI       string   `json:"client_uri"`
	loopback        bool
}

// AddClient publishes a client metadata document, as if the fake could
// fetch it from its client_id.
func (f *Server) AddClient(t testing.TB, doc []byte) {
	t.Helper()
	var c clientMeta
	if err := json.Unmarshal(doc, &c); err != nil || c.ClientID == "" {
		t.Fatalf("AddClient: not client metadata: %v %s", err, doc)
	}
	f.Lock()
	defer f.Unlock()
	f.init()
	f.oauth.clients[c.ClientID] = c
}

// ExpireNonce changes the server's DPoP nonce and forgets the old one, as
// a few minutes later.
func (f *Server) ExpireNonce() {
	f.Lock()
	defer f.Unlock()
	f.init()
	f.oauth.nonce, f.oauth.prevNonce = "nonce-"+rand.Text(), ""
}

func (f *Server) init() {
	o := &f.oauth
	if o.jtis == nil {
		o.jtis, o.pars, o.codes, o.clients = map[string]bool{}, map[string]*authRequest{}, map[string]*authRequest{}, map[string]clientMeta{}
		o.nonce = "nonce-" + rand.Text()
	}
}

func (f *Server) issuer() string {
	if f.Issuer != "" {
		return f.Issuer
	}
	return f.URL
}

// serveOAuth serves everything outside /xrpc/, with the lock held.
func (f *Server) serveOAuth(w http.ResponseWriter, r *http.Request) {
	f.init()
	p := r.URL.Path
	if strings.HasPrefix(p, "/oauth/") {
		w.Header().Set("DPoP-Nonce", f.oauth.nonce)
		w.Header().Set("Cache-Control", "no-store")
	}
	switch {
	case strings.HasPrefix(p, "/did:") && r.Method == http.MethodGet:
		f.didDocument(w, r)
	case p == "/.well-known/oauth-protected-resource" && r.Method == http.MethodGet:
		as := f.AuthServer
		if as == "" {
			as = f.URL
		}
		f.json(w, map[string]any{"resource": f.URL, "authorization_servers": []string{as}, "scopes_supported": []string{},
			"bearer_methods_supported": []string{"header"}, "resource_documentation": "https://atproto.com"})
	case p == "/.well-known/oauth-authorization-server" && r.Method == http.MethodGet:
		if f.NoOAuth {
			f.fail(w, http.StatusNotFound, "NotFound", "Not Found")
			return
		}
		f.json(w, f.metadata())
	case p == "/oauth/par" && r.Method == http.MethodPost:
		f.par(w, r)
	case p == "/oauth/authorize" && r.Method == http.MethodGet:
		f.authorize(w, r)
	case p == "/oauth/token" && r.Method == http.MethodPost:
		f.token(w, r)
	case p == "/oauth/revoke" && r.Method == http.MethodPost && !f.NoRevocation:
		f.revoke(w, r)
	default:
		http.NotFound(w, r)
	}
}

// metadata is the reference PDS's authorization server metadata.
func (f *Server) metadata() map[string]any {
	algs := []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES256K", "ES384", "ES512"}
	m := map[string]any{
		"issuer":                                           f.issuer(),
		"scopes_supported":                                 []string{"atproto", "transition:email", "transition:generic", "transition:chat.bsky"},
		"subject_types_supported":                          []string{"public"},
		"response_types_supported":                         []string{"code"},
		"response_modes_supported":                         []string{"query", "fragment", "form_post"},
		"grant_types_supported":                            []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":                 []string{"S256"},
		"ui_locales_supported":                             []string{"en-US"},
		"display_values_supported":                         []string{"page", "popup", "touch"},
		"request_object_signing_alg_values_supported":      append(algs, "none"),
		"authorization_response_iss_parameter_supported":   true,
		"request_parameter_supported":                      true,
		"request_uri_parameter_supported":                  true,
		"require_request_uri_registration":                 true,
		"jwks_uri":                                         f.URL + "/oauth/jwks",
		"authorization_endpoint":                           f.URL + "/oauth/authorize",
		"token_endpoint":                                   f.URL + "/oauth/token",
		"token_endpoint_auth_methods_supported":            []string{"none", "private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": algs,
		"revocation_endpoint":                              f.URL + "/oauth/revoke",
		"pushed_authorization_request_endpoint":            f.URL + "/oauth/par",
		"require_pushed_authorization_requests":            true,
		"dpop_signing_alg_values_supported":                algs,
		"client_id_metadata_document_supported":            true,
	}
	if f.NoRevocation {
		delete(m, "revocation_endpoint")
	}
	return m
}

func (f *Server) didDocument(w http.ResponseWriter, r *http.Request) {
	did := strings.TrimPrefix(r.URL.Path, "/")
	p, ok := f.actor(did)
	if !ok || !strings.HasPrefix(did, "did:") {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]string{"message": "DID not registered: " + did})
		return
	}
	aka, ok := f.AlsoKnownAs[p.DID]
	if !ok {
		aka = []string{"at://" + p.Handle}
	}
	w.Header().Set("Content-Type", "application/did+ld+json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{
		"@context":    []string{"https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1", "https://w3id.org/security/suites/secp256k1-2019/v1"},
		"id":          p.DID,
		"alsoKnownAs": aka,
		"verificationMethod": []any{map[string]string{"id": p.DID + "#atproto", "type": "Multikey", "controller": p.DID,
			"publicKeyMultibase": "zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"}},
		"service": []any{map[string]string{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": f.URL}},
	})
}

// oauthFail answers an OAuth error (RFC 6749 §5.2).
func (f *Server) oauthFail(w http.ResponseWriter, status int, name, desc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": name, "error_description": desc})
}

var enc = base64.RawURLEncoding

// checkDPoP verifies the request's DPoP proof and returns its key's
// thumbprint (RFC 7638); it answers the failure itself.
func (f *Server) checkDPoP(w http.ResponseWriter, r *http.Request) (string, bool) {
	proofs := r.Header.Values("DPoP")
	if len(proofs) != 1 {
		f.oauthFail(w, http.StatusBadRequest, "invalid_dpop_proof", "DPoP proof required")
		return "", false
	}
	jkt, nonce, problem := f.verifyProof(proofs[0], r.Method, f.URL+r.URL.Path)
	if problem != "" {
		f.oauthFail(w, http.StatusBadRequest, "invalid_dpop_proof", problem)
		return "", false
	}
	if nonce == "" || nonce != f.oauth.nonce && nonce != f.oauth.prevNonce {
		f.NonceRefusals++
		w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce", error_description="Authorization server requires nonce in DPoP proof"`)
		f.oauthFail(w, http.StatusBadRequest, "use_dpop_nonce", "Authorization server requires nonce in DPoP proof")
		return "", false
	}
	return jkt, true
}

func (f *Server) verifyProof(proof, method, target string) (jkt, nonce, problem string) {
	parts := strings.Split(proof, ".")
	if len(parts) != 3 {
		return "", "", "Invalid DPoP proof: not a JWT"
	}
	var head struct {
		Typ string `json:"typ"`
		Alg string `json:"alg"`
		JWK struct {
			Kty, Crv, X, Y, D string
		} `json:"jwk"`
	}
	if b, err := enc.DecodeString(parts[0]); err != nil || json.Unmarshal(b, &head) != nil {
		return "", "", "Invalid DPoP proof: bad header"
	}
	switch {
	case head.Typ != "dpop+jwt":
		return "", "", `Invalid DPoP proof: typ must be "dpop+jwt"`
	case head.Alg != "ES256":
		return "", "", "Invalid DPoP proof: unsupported alg " + head.Alg
	case head.JWK.Kty != "EC" || head.JWK.Crv != "P-256":
		return "", "", "Invalid DPoP proof: the jwk is not a P-256 key"
	case head.JWK.D != "":
		return "", "", "Invalid DPoP proof: the jwk holds a private key"
	}
	x, errX := enc.DecodeString(head.JWK.X)
	y, errY := enc.DecodeString(head.JWK.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return "", "", "Invalid DPoP proof: bad jwk coordinates"
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return "", "", "Invalid DPoP proof: the jwk is not on the curve"
	}
	sig, err := enc.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err != nil || len(sig) != 64 || !ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return "", "", "Invalid DPoP proof: bad signature"
	}
	var claims struct {
		JTI   string   `json:"jti"`
		HTM   string   `json:"htm"`
		HTU   string   `json:"htu"`
		IAT   *float64 `json:"iat"`
		Nonce string   `json:"nonce"`
	}
	if b, err := enc.DecodeString(parts[1]); err != nil || json.Unmarshal(b, &claims) != nil {
		return "", "", "Invalid DPoP proof: bad claims"
	}
	switch {
	case claims.JTI == "" || f.oauth.jtis[claims.JTI]:
		return "", "", "Invalid DPoP proof: jti missing or replayed"
	case claims.HTM != method:
		return "", "", "Invalid DPoP proof: htm is " + claims.HTM + ", not " + method
	case claims.HTU != target:
		return "", "", "Invalid DPoP proof: htu is " + claims.HTU + ", not " + target
	case claims.IAT == nil || math.Abs(*claims.IAT-float64(time.Now().Unix())) > 60:
		return "", "", "Invalid DPoP proof: iat missing or too far from now"
	}
	f.oauth.jtis[claims.JTI] = true
	thumb := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + head.JWK.X + `","y":"` + head.JWK.Y + `"}`))
	return enc.EncodeToString(thumb[:]), claims.Nonce, ""
}

// client finds a client's metadata and checks it as the spec asks; it
// returns a reason when it is refused.
func (f *Server) client(id string) (clientMeta, string) {
	if strings.HasPrefix(id, "http://localhost") {
		return loopbackClient(id)
	}
	c, ok := f.oauth.clients[id]
	if !ok {
		return c, "Unable to obtain client metadata for " + id
	}
	u, err := url.Parse(id)
	switch {
	case c.ClientID != id:
		return c, "client_id in the metadata does not match the URL it was fetched from"
	case err != nil || u.Scheme != "https" || u.Port() != "":
		return c, "client_id must be an https URL without a port"
	case !c.DPoPBound:
		return c, `"dpop_bound_access_tokens" must be true`
	case !slices.Contains(c.GrantTypes, "authorization_code"):
		return c, `"grant_types" must include "authorization_code"`
	case !slices.Contains(c.ResponseTypes, "code"):
		return c, `"response_types" must include "code"`
	case !slices.Contains(strings.Fields(c.Scope), "atproto"):
		return c, `"scope" must include "atproto"`
	case c.TokenAuth != "none":
		return c, "the fake takes public clients only (token_endpoint_auth_method none)"
	case len(c.RedirectURIs) == 0:
		return c, `"redirect_uris" must not be empty`
	case c.ApplicationType != "" && c.ApplicationType != "web":
		return c, "the fake takes web clients only"
	}
	if c.ClientURI != "" {
		if cu, err := url.Parse(c.ClientURI); err != nil || cu.Hostname() != u.Hostname() {
			return c, "client_uri must have the client_id's hostname"
		}
	}
	for _, ru := range c.RedirectURIs {
		if r, err := url.Parse(ru); err != nil || r.Scheme != "https" || r.Host != u.Host {
			return c, "a web client's redirect_uris must be https on the client_id's origin"
		}
	}
	return c, ""
}

// loopbackClient is the development client's virtual metadata.
func loopbackClient(id string) (clientMeta, string) {
	u, err := url.Parse(id)
	if err != nil || u.Scheme != "http" || u.Host != "localhost" || u.Path != "" && u.Path != "/" || u.Fragment != "" {
		return clientMeta{}, "Invalid loopback client_id: must be http://localhost without a port or path"
	}
	q := u.Query()
	c := clientMeta{ClientID: id, ApplicationType: "native", GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		RedirectURIs: q["redirect_uri"], Scope: q.Get("scope"), TokenAuth: "none", DPoPBound: true, loopback: true}
	if len(c.RedirectURIs) == 0 {
		c.RedirectURIs = []string{"http://127.0.0.1/", "http://[::1]/"}
	}
	if c.Scope == "" {
		c.Scope = "atproto"
	}
	for _, ru := range c.RedirectURIs {
		r, err := url.Parse(ru)
		if err != nil || r.Scheme != "http" || r.Hostname() != "127.0.0.1" && r.Hostname() != "::1" {
			return c, "Invalid loopback client_id: redirect_uri must be http on 127.0.0.1 or [::1] (not localhost)"
		}
	}
	return c, ""
}

// allows reports whether the client may use a redirect URI: exactly one
// of its own, or for the development client the same host and path on
// any port.
func (c clientMeta) allows(redirect string) bool {
	if !c.loopback {
		return slices.Contains(c.RedirectURIs, redirect)
	}
	r, err := url.Parse(redirect)
	if err != nil {
		return false
	}
	for _, ru := range c.RedirectURIs {
		if u, err := url.Parse(ru); err == nil && u.Scheme == r.Scheme && u.Hostname() == r.Hostname() && u.Path == r.Path {
			return true
		}
	}
	return false
}

func challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return enc.EncodeToString(sum[:])
}

func (f *Server) par(w http.ResponseWriter, r *http.Request) {
	f.PARCalls++
	jkt, ok := f.checkDPoP(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		f.oauthFail(w, http.StatusBadRequest, "invalid_request", "Invalid request body")
		return
	}
	q := r.PostForm
	c, problem := f.client(q.Get("client_id"))
	if problem != "" {
		f.oauthFail(w, http.StatusBadRequest, "invalid_client_metadata", problem)
		return
	}
	scopes := strings.Fields(q.Get("scope"))
	allowed := strings.Fields(c.Scope)
	switch {
	case q.Get("response_type") != "code":
		f.oauthFail(w, http.StatusBadRequest, "unsupported_response_type", "Unsupported response_type")
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43:
		f.oauthFail(w, http.StatusBadRequest, "invalid_request", "code_challenge with code_challenge_method S256 is required")
	case q.Get("state") == "":
		f.oauthFail(w, http.StatusBadRequest, "invalid_request", `"state" is required`)
	case !c.allows(q.Get("redirect_uri")):
		f.oauthFail(w, http.StatusBadRequest, "invalid_request", "Invalid redirect_uri "+q.Get("redirect_uri"))
	case !slices.Contains(scopes, "atproto") || slices.ContainsFunc(scopes, func(s string) bool { return !slices.Contains(allowed, s) }):
		f.oauthFail(w, http.StatusBadRequest, "invalid_scope", "Scope must include atproto and be declared by the client")
	case q.Has("client_secret"):
		f.oauthFail(w, http.StatusBadRequest, "invalid_request", "client_secret is not used in atproto OAuth")
	default:
		uri := "urn:ietf:params:oauth:request_uri:req-" + strings.ToLower(rand.Text())
		f.oauth.pars[uri] = &authRequest{clientID: c.ClientID, redirectURI: q.Get("redirect_uri"), scope: strings.Join(scopes, " "), state: q.Get("state"),
			challenge: q.Get("code_challenge"), hint: q.Get("login_hint"), jkt: jkt}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"request_uri": uri, "expires_in": 299})
	}
}

// authorize stands for the authorization page: the person signs in (as
// the login_hint's account, or SignIn) and approves, or refuses (Deny).
func (f *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req, ok := f.oauth.pars[q.Get("request_uri")]
	if !ok || req.clientID != q.Get("client_id") {
		f.oauthFail(w, http.StatusBadRequest, "invalid_request", "Unknown request_uri")
		return
	}
	delete(f.oauth.pars, q.Get("request_uri"))
	back, _ := url.Parse(req.redirectURI)
	v := url.Values{"state": {req.state}, "iss": {f.issuer()}}
	if f.Deny {
		v.Set("error", "access_denied")
		v.Set("error_description", "Access denied")
	} else {
		who := f.SignIn
		if who == "" {
			who = req.hint
		}
		p, ok := f.actor(who)
		if !ok {
			f.oauthFail(w, http.StatusBadRequest, "invalid_request", "No account "+who+" on this server")
			return
		}
		code := "cod-" + strings.ToLower(rand.Text())
		req.sub = p.DID
		f.oauth.codes[code] = req
		v.Set("code", code)
	}
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusSeeOther)
}

func (f *Server) token(w http.ResponseWriter, r *http.Request) {
	f.TokenCalls++
	jkt, ok := f.checkDPoP(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		f.oauthFail(w, http.StatusBadRequest, "invalid_request", "Invalid request body")
		return
	}
	q := r.PostForm
	if q.Get("grant_type") != "authorization_code" {
		f.oauthFail(w, http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant_type")
		return
	}
	req, ok := f.oauth.codes[q.Get("code")]
	if !ok {
		f.oauthFail(w, http.StatusBadRequest, "invalid_grant", "Invalid code")
		return
	}
	delete(f.oauth.codes, q.Get("code"))
	switch {
	case q.Get("client_id") != req.clientID:
		f.oauthFail(w, http.StatusBadRequest, "invalid_grant", "The code was issued to another client")
	case q.Get("redirect_uri") != req.redirectURI:
		f.oauthFail(w, http.StatusBadRequest, "invalid_grant", "Invalid redirect_uri")
	case challenge(q.Get("code_verifier")) != req.challenge:
		f.oauthFail(w, http.StatusBadRequest, "invalid_grant", "Invalid code_verifier")
	case jkt != req.jkt:
		f.oauthFail(w, http.StatusBadRequest, "invalid_dpop_key_binding", "DPoP proof does not match the expected JKT")
	default:
		scope := req.scope
		if f.GrantedScope != "" {
			scope = f.GrantedScope
		}
		f.json(w, map[string]any{"access_token": "oat-" + rand.Text(), "token_type": "DPoP", "expires_in": 900,
			"refresh_token": "ort-" + rand.Text(), "scope": scope, "sub": req.sub})
	}
}

func (f *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if len(r.Header.Values("DPoP")) > 0 {
		if _, ok := f.checkDPoP(w, r); !ok {
			return
		}
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("token") == "" {
		f.oauthFail(w, http.StatusBadRequest, "invalid_request", `"token" is required`)
		return
	}
	f.Revoked = append(f.Revoked, r.PostForm.Get("token"))
	w.WriteHeader(http.StatusOK)
}

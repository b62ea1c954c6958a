package bluesky_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/bluesky"
	"github.com/roost-hq/roost/internal/social/bluesky/blueskytest"
)

const roostBase = "https://roost.example"

// A flow's state and PKCE verifier, as social.BeginFlow makes them.
const (
	flowState    = "st-4f1c2a9e7d6b5c3a1f0e9d8c"
	flowVerifier = "vf-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
)

// signInFake is a TLS fake that knows Roost's client and a person.
func signInFake(t *testing.T) (*blueskytest.Server, string) {
	t.Helper()
	f := blueskytest.NewTLS(t)
	f.AddClient(t, bluesky.ClientMetadata(roostBase))
	return f, f.AddPerson("ann.test", "Ann")
}

// personAuth signs people in at base, resolving identities on f (as the
// AppView and the PLC directory).
func personAuth(f *blueskytest.Server, base string) *bluesky.PersonAuth {
	return &bluesky.PersonAuth{HTTP: f.Client(), ClientID: bluesky.ClientID(base), RedirectURI: bluesky.RedirectURI(base), Resolver: f.URL, PLC: f.URL}
}

// approve follows the authorization address as the person's browser
// does, and returns the callback's query.
func approve(t *testing.T, f *blueskytest.Server, authorizeURL string) url.Values {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, authorizeURL, nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (test browser)")
	c := f.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusSeeOther || err != nil {
		t.Fatalf("authorize: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	q := loc.Query()
	loc.RawQuery = ""
	if q.Get("state") != flowState {
		t.Fatalf("callback %s: state %q", loc, q.Get("state"))
	}
	return q
}

// TestPersonSignIn: the whole flow. Begin resolves the handle, finds the
// account's authorization server through its PDS, and pushes the request
// with a DPoP proof, which the fake first refuses for want of a nonce;
// the person approves; Finish exchanges the code and names the DID, and
// gives the token back.
func TestPersonSignIn(t *testing.T) {
	t.Parallel()
	f, ann := signInFake(t)
	a := personAuth(f, roostBase)
	u, session, err := a.Begin(ctx, " @Ann.test ", flowState, flowVerifier)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	au, _ := url.Parse(u)
	if !strings.HasPrefix(u, f.URL+"/oauth/authorize?") || au.Query().Get("client_id") != roostBase+"/signin/bluesky/client-metadata.json" ||
		!strings.HasPrefix(au.Query().Get("request_uri"), "urn:ietf:params:oauth:request_uri:") || len(au.Query()) != 2 {
		t.Fatalf("authorize URL %s", u)
	}
	if len(session) > 2048 || strings.Contains(string(session), flowState) {
		t.Fatalf("session (%d bytes): %s", len(session), session)
	}
	t.Logf("session: %d bytes", len(session))
	f.Lock()
	par, refusals := f.PARCalls, f.NonceRefusals
	f.Unlock()
	if par != 2 || refusals != 1 {
		t.Fatalf("PAR: %d calls, %d refused for the nonce; want the first refused and the retry taken", par, refusals)
	}

	q := approve(t, f, u)
	if q.Get("iss") != f.URL || q.Get("code") == "" {
		t.Fatalf("callback %v", q)
	}
	who, err := a.Finish(ctx, session, q.Get("code"), q.Get("iss"))
	if err != nil || who != (social.Identity{Network: social.Bluesky, AccountID: ann, Handle: "@ann.test"}) {
		t.Fatalf("Finish = %+v, %v", who, err)
	}
	f.Lock()
	tokens, refusals, revoked := f.TokenCalls, f.NonceRefusals, append([]string(nil), f.Revoked...)
	f.Unlock()
	// The nonce the PAR answer gave is used for the token request.
	if tokens != 1 || refusals != 1 {
		t.Fatalf("token: %d calls, %d refusals in all", tokens, refusals)
	}
	if len(revoked) != 1 || !strings.HasPrefix(revoked[0], "ort-") {
		t.Fatalf("revoked %v, want the refresh token", revoked)
	}
	// A code works once.
	e := wantKind(t, func() error { _, err := a.Finish(ctx, session, q.Get("code"), q.Get("iss")); return err }(), social.Rejected)
	if !strings.Contains(e.Reason, "Invalid code") {
		t.Fatalf("code used twice: %+v", e)
	}
}

// The server's nonce changes between Begin and Finish: the token request
// is refused once with the new nonce, and sent again with it.
func TestPersonSignInNonceChanges(t *testing.T) {
	t.Parallel()
	f, ann := signInFake(t)
	a := personAuth(f, roostBase)
	u, session, err := a.Begin(ctx, "ann.test", flowState, flowVerifier)
	if err != nil {
		t.Fatal(err)
	}
	q := approve(t, f, u)
	f.ExpireNonce()
	who, err := a.Finish(ctx, session, q.Get("code"), q.Get("iss"))
	if err != nil || who.AccountID != ann {
		t.Fatalf("Finish = %+v, %v", who, err)
	}
	f.Lock()
	defer f.Unlock()
	if f.TokenCalls != 2 || f.NonceRefusals != 2 || len(f.Revoked) != 1 {
		t.Fatalf("%d token calls, %d nonce refusals, %d revoked", f.TokenCalls, f.NonceRefusals, len(f.Revoked))
	}
}

// A person can type their DID; the identity then shows the DID.
func TestPersonSignInWithDID(t *testing.T) {
	t.Parallel()
	f, ann := signInFake(t)
	a := personAuth(f, roostBase)
	u, session, err := a.Begin(ctx, ann, flowState, flowVerifier)
	if err != nil {
		t.Fatal(err)
	}
	q := approve(t, f, u)
	if who, err := a.Finish(ctx, session, q.Get("code"), q.Get("iss")); err != nil || who.AccountID != ann || who.Handle != ann {
		t.Fatalf("Finish = %+v, %v", who, err)
	}
}

// The callback must come from the account's own authorization server:
// with another iss, no code is exchanged.
func TestPersonSignInWrongIssuer(t *testing.T) {
	t.Parallel()
	f, _ := signInFake(t)
	a := personAuth(f, roostBase)
	u, session, err := a.Begin(ctx, "ann.test", flowState, flowVerifier)
	if err != nil {
		t.Fatal(err)
	}
	q := approve(t, f, u)
	for _, iss := range []string{"https://evil.example", ""} {
		e := wantKind(t, func() error { _, err := a.Finish(ctx, session, q.Get("code"), iss); return err }(), social.Rejected)
		if !strings.Contains(e.Reason, "iss") && !strings.Contains(e.Reason, "evil.example") {
			t.Errorf("iss %q: %+v", iss, e)
		}
	}
	f.Lock()
	defer f.Unlock()
	if f.TokenCalls != 0 {
		t.Fatalf("%d token calls with a wrong iss", f.TokenCalls)
	}
}

// The server signs in another account than the one named: refused, and
// the token given back all the same.
func TestPersonSignInOtherAccount(t *testing.T) {
	t.Parallel()
	f, _ := signInFake(t)
	f.AddPerson("bob.test", "Bob")
	f.Lock()
	f.SignIn = "bob.test"
	f.Unlock()
	a := personAuth(f, roostBase)
	u, session, err := a.Begin(ctx, "ann.test", flowState, flowVerifier)
	if err != nil {
		t.Fatal(err)
	}
	q := approve(t, f, u)
	e := wantKind(t, func() error { _, err := a.Finish(ctx, session, q.Get("code"), q.Get("iss")); return err }(), social.Rejected)
	if !strings.Contains(e.Reason, "another account than @ann.test") {
		t.Fatalf("other account: %+v", e)
	}
	f.Lock()
	defer f.Unlock()
	if len(f.Revoked) != 1 {
		t.Fatalf("revoked %v", f.Revoked)
	}
}

// A token without the atproto scope is refused.
func TestPersonSignInScopeNotGranted(t *testing.T) {
	t.Parallel()
	f, _ := signInFake(t)
	f.Lock()
	f.GrantedScope = "transition:generic"
	f.NoRevocation = true
	f.Unlock()
	a := personAuth(f, roostBase)
	u, session, err := a.Begin(ctx, "ann.test", flowState, flowVerifier)
	if err != nil {
		t.Fatal(err)
	}
	q := approve(t, f, u)
	e := wantKind(t, func() error { _, err := a.Finish(ctx, session, q.Get("code"), q.Get("iss")); return err }(), social.Rejected)
	if !strings.Contains(e.Reason, "atproto scope") {
		t.Fatalf("scope: %+v", e)
	}
	f.Lock()
	defer f.Unlock()
	if len(f.Revoked) != 0 {
		t.Fatalf("revoked %v at a server without a revocation endpoint", f.Revoked)
	}
}

// The token request must be signed with the key the request was pushed
// with: a session whose key was swapped gets nothing.
func TestPersonSignInOtherDPoPKey(t *testing.T) {
	t.Parallel()
	f, _ := signInFake(t)
	a := personAuth(f, roostBase)
	u, session, err := a.Begin(ctx, "ann.test", flowState, flowVerifier)
	if err != nil {
		t.Fatal(err)
	}
	q := approve(t, f, u)
	var s map[string]any
	json.Unmarshal(session, &s)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, _ := other.Bytes()
	s["k"] = base64.RawURLEncoding.EncodeToString(raw)
	swapped, _ := json.Marshal(s)
	e := wantKind(t, func() error { _, err := a.Finish(ctx, swapped, q.Get("code"), q.Get("iss")); return err }(), social.Rejected)
	if !strings.Contains(e.Reason, "JKT") {
		t.Fatalf("other key: %+v", e)
	}
	for _, bad := range [][]byte{nil, []byte("{}"), []byte("not json"), []byte(strings.Replace(string(session), `"k":"`, `"k":"x`, 1))} {
		wantKind(t, func() error { _, err := a.Finish(ctx, bad, q.Get("code"), q.Get("iss")); return err }(), social.Rejected)
	}
}

// Handles that are not an account's: unknown, not a handle, a TLD that
// never resolves, or a handle the DID document does not claim back.
func TestPersonSignInUnknownHandle(t *testing.T) {
	t.Parallel()
	f, _ := signInFake(t)
	f.AddPerson("cat.test", "Cat")
	f.Lock()
	f.AlsoKnownAs[blueskytest.DIDOf("cat.test")] = []string{"at://ann.test"}
	f.Unlock()
	a := personAuth(f, roostBase)
	for handle, want := range map[string]string{
		"nobody.test":                      "no Bluesky account has the handle @nobody.test (InvalidRequest: Unable to resolve handle)",
		"ann":                              "full Bluesky handle",
		"ann@mastodon.social":              "full Bluesky handle",
		"ann.onion":                        "full Bluesky handle",
		"cat.test":                         "does not claim that handle back",
		"did:plc:aaaaaaaaaaaaaaaaaaaaaaaa": "has no DID document (DID not registered: did:plc:aaaaaaaaaaaaaaaaaaaaaaaa)",
		"did:key:z6Mkfoo":                  "not one atproto accepts",
		"did:web:localhost":                "not one atproto accepts",
	} {
		_, _, err := a.Begin(ctx, handle, flowState, flowVerifier)
		if e := wantKind(t, err, social.Rejected); !strings.Contains(e.Reason, want) {
			t.Errorf("Begin(%q): %q, want %q", handle, e.Reason, want)
		}
	}
	f.Lock()
	defer f.Unlock()
	if f.PARCalls != 0 {
		t.Fatalf("%d pushed requests for accounts that do not resolve", f.PARCalls)
	}
}

// Servers that do not do atproto OAuth as the spec asks are refused
// before anything is pushed.
func TestPersonSignInServerChecks(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		set  func(f *blueskytest.Server)
		want string
	}{
		"no authorization server metadata": {func(f *blueskytest.Server) { f.NoOAuth = true }, "did not describe itself: NotFound: Not Found"},
		"metadata of another issuer":       {func(f *blueskytest.Server) { f.Issuer = "https://evil.example" }, `calls itself "https://evil.example"`},
		"authorization server not https":   {func(f *blueskytest.Server) { f.AuthServer = "http://auth.example" }, "not an https origin"},
		"authorization server with a path": {func(f *blueskytest.Server) { f.AuthServer = f.URL + "/oauth" }, "not an https origin"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f, _ := signInFake(t)
			f.Lock()
			c.set(f)
			f.Unlock()
			_, _, err := personAuth(f, roostBase).Begin(ctx, "ann.test", flowState, flowVerifier)
			if e := wantKind(t, err, social.Rejected); !strings.Contains(e.Reason, c.want) {
				t.Fatalf("Begin: %v, want %q", err, c.want)
			}
			f.Lock()
			defer f.Unlock()
			if f.PARCalls != 0 {
				t.Fatalf("%d pushed requests", f.PARCalls)
			}
		})
	}
}

// The PDS names a separate authorization server (an entryway, as
// bsky.social is for Bluesky's PDSes): the sign-in happens there, and the
// callback must name it, not the PDS.
func TestPersonSignInEntryway(t *testing.T) {
	t.Parallel()
	pds, ann := signInFake(t)
	entry := blueskytest.NewTLS(t)
	entry.AddClient(t, bluesky.ClientMetadata(roostBase))
	entry.AddPerson("ann.test", "Ann")
	entry.Lock()
	entry.NoRevocation = true
	entry.Unlock()
	pds.Lock()
	pds.AuthServer = entry.URL
	pds.Unlock()
	a := personAuth(pds, roostBase)
	u, session, err := a.Begin(ctx, "ann.test", flowState, flowVerifier)
	if err != nil || !strings.HasPrefix(u, entry.URL+"/oauth/authorize?") {
		t.Fatalf("Begin = %s, %v", u, err)
	}
	q := approve(t, entry, u)
	if q.Get("iss") != entry.URL {
		t.Fatalf("callback %v", q)
	}
	wantKind(t, func() error { _, err := a.Finish(ctx, session, q.Get("code"), pds.URL); return err }(), social.Rejected)
	if who, err := a.Finish(ctx, session, q.Get("code"), q.Get("iss")); err != nil || who.AccountID != ann {
		t.Fatalf("Finish = %+v, %v", who, err)
	}
}

// Refused on the authorization page: the callback carries the error, as
// the web layer shows it.
func TestPersonSignInDenied(t *testing.T) {
	t.Parallel()
	f, _ := signInFake(t)
	f.Lock()
	f.Deny = true
	f.Unlock()
	u, _, err := personAuth(f, roostBase).Begin(ctx, "ann.test", flowState, flowVerifier)
	if err != nil {
		t.Fatal(err)
	}
	if q := approve(t, f, u); q.Get("error") != "access_denied" || q.Get("code") != "" || q.Get("iss") != f.URL {
		t.Fatalf("callback %v", q)
	}
}

// Roost's client: a metadata document the fake accepts for a public base
// URL, and the development client for one on this machine, which the
// fake (as Bluesky's servers) accepts on 127.0.0.1 but not on localhost.
func TestClient(t *testing.T) {
	t.Parallel()
	var m map[string]any
	if err := json.Unmarshal(bluesky.ClientMetadata(roostBase+"/"), &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"client_id": roostBase + "/signin/bluesky/client-metadata.json", "client_name": "Roost", "client_uri": roostBase,
		"application_type": "web", "grant_types": []any{"authorization_code"}, "response_types": []any{"code"},
		"redirect_uris": []any{roostBase + "/signin/bluesky/callback"}, "scope": "atproto", "token_endpoint_auth_method": "none", "dpop_bound_access_tokens": true}
	if a, b := string(mustJSON(m)), string(mustJSON(want)); a != b {
		t.Fatalf("metadata\n%s\nwant\n%s", a, b)
	}
	for base, id := range map[string]string{
		roostBase:               roostBase + "/signin/bluesky/client-metadata.json",
		"http://127.0.0.1:8080": "http://localhost?redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fsignin%2Fbluesky%2Fcallback&scope=atproto",
		"http://[::1]:8080/":    "http://localhost?redirect_uri=http%3A%2F%2F%5B%3A%3A1%5D%3A8080%2Fsignin%2Fbluesky%2Fcallback&scope=atproto",
	} {
		if got := bluesky.ClientID(base); got != id {
			t.Errorf("ClientID(%q) = %q, want %q", base, got, id)
		}
	}

	f, ann := signInFake(t)
	dev := personAuth(f, "http://127.0.0.1:8080")
	u, session, err := dev.Begin(ctx, "ann.test", flowState, flowVerifier)
	if err != nil {
		t.Fatal(err)
	}
	q := approve(t, f, u)
	if who, err := dev.Finish(ctx, session, q.Get("code"), q.Get("iss")); err != nil || who.AccountID != ann {
		t.Fatalf("development client: %+v, %v", who, err)
	}
	_, _, err = personAuth(f, "http://localhost:8080").Begin(ctx, "ann.test", flowState, flowVerifier)
	if e := wantKind(t, err, social.Rejected); !strings.Contains(e.Reason, "127.0.0.1") {
		t.Fatalf("localhost: %+v", e)
	}
	// A client the server cannot vouch for is refused at the pushed request.
	stranger := personAuth(f, "https://stranger.example")
	_, _, err = stranger.Begin(ctx, "ann.test", flowState, flowVerifier)
	if e := wantKind(t, err, social.Rejected); !strings.Contains(e.Reason, "Unable to obtain client metadata") {
		t.Fatalf("unknown client: %+v", e)
	}
	if _, _, err := dev.Begin(ctx, "ann.test", flowState, "short"); err == nil {
		t.Fatal("a short verifier was accepted")
	}
}

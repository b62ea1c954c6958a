package bluesky

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// FuzzDIDDocument feeds DID documents, which come from the PLC directory
// or the account's own host and say where the sign-in goes: only the
// DID's own document passes, and only an https origin comes out.
func FuzzDIDDocument(f *testing.F) {
	const did = "did:plc:o7tletr2ubr5wkzxq4jm3sda"
	f.Add(`{"id":"`+did+`","alsoKnownAs":["at://outlet.test"],"service":[{"id":"#atproto_pds","type":"AtprotoPersonalDataServer","serviceEndpoint":"https://pds.example"}]}`, did)
	f.Add(`{"id":"`+did+`","service":[{"id":"`+did+`#atproto_pds","type":"AtprotoPersonalDataServer","serviceEndpoint":"http://127.0.0.1:2583"}]}`, did)
	f.Add(`{"id":"did:plc:other","service":[{"id":"#atproto_pds","type":"AtprotoPersonalDataServer","serviceEndpoint":"https://pds.example"}]}`, did)
	f.Add(`{"id":"`+did+`","alsoKnownAs":"at://x.test","service":{}}`, did)
	f.Add(`{"id":"`+did+`","service":[{"id":"#atproto_pds","type":"AtprotoPersonalDataServer","serviceEndpoint":"https://u:p@pds.example/x?y#z"}]}`, did)
	f.Add(`null`, "")
	f.Fuzz(func(t *testing.T, doc, did string) {
		pds, _, err := parseDIDDocument([]byte(doc), did)
		if err != nil {
			return
		}
		var d struct {
			ID string `json:"id"`
		}
		json.Unmarshal([]byte(doc), &d)
		u, perr := url.Parse(pds)
		if d.ID != did || perr != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("parseDIDDocument(%q, %q) = %q", doc, did, pds)
		}
	})
}

// FuzzDIDURL feeds DIDs people type: a document is fetched only from the
// PLC directory or over https from a host name.
func FuzzDIDURL(f *testing.F) {
	for _, s := range []string{"did:plc:o7tletr2ubr5wkzxq4jm3sda", "did:web:example.com", "did:web:localhost%3A2583", "did:web:a.b/c",
		"did:web:127.0.0.1", "did:web:x.onion", "did:key:z6Mk", "did:plc:../../etc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, did string) {
		u, err := didURL("https://plc.example", did)
		if err != nil {
			return
		}
		if rest, ok := strings.CutPrefix(u, "https://plc.example/"); ok {
			if !plcRE.MatchString(rest) || rest != did {
				t.Fatalf("didURL(%q) = %q", did, u)
			}
			return
		}
		p, err := url.Parse(u)
		if err != nil || p.Scheme != "https" || !validHandle(p.Host) || p.Path != "/.well-known/did.json" || p.RawQuery != "" {
			t.Fatalf("didURL(%q) = %q", did, u)
		}
	})
}

// FuzzAuthServerMetadata feeds authorization server metadata: what passes
// names the issuer Roost asked and gives https addresses only.
func FuzzAuthServerMetadata(f *testing.F) {
	good := `{"issuer":"https://bsky.social","authorization_endpoint":"https://bsky.social/oauth/authorize","token_endpoint":"https://bsky.social/oauth/token",
"pushed_authorization_request_endpoint":"https://bsky.social/oauth/par","revocation_endpoint":"https://bsky.social/oauth/revoke",
"scopes_supported":["atproto"],"code_challenge_methods_supported":["S256"],"dpop_signing_alg_values_supported":["ES256"],
"token_endpoint_auth_methods_supported":["none","private_key_jwt"],"authorization_response_iss_parameter_supported":true,"client_id_metadata_document_supported":true}`
	f.Add(good, "https://bsky.social")
	f.Add(strings.Replace(good, `"https://bsky.social/oauth/revoke"`, `"javascript:x"`, 1), "https://bsky.social")
	f.Add(strings.Replace(good, `"https://bsky.social/oauth/token"`, `"http://bsky.social/oauth/token"`, 1), "https://bsky.social")
	f.Add(strings.Replace(good, `"issuer":"https://bsky.social"`, `"issuer":"https://evil.example"`, 1), "https://bsky.social")
	f.Add(`{}`, "")
	f.Fuzz(func(t *testing.T, body, issuer string) {
		var m authServerMeta
		if json.Unmarshal([]byte(body), &m) != nil || m.check(issuer) != nil {
			return
		}
		if m.Issuer != issuer || !endpointURL(m.AuthorizationEndpoint) || !endpointURL(m.TokenEndpoint) || !endpointURL(m.PAREndpoint) ||
			m.RevocationEndpoint != "" && !endpointURL(m.RevocationEndpoint) {
			t.Fatalf("accepted %+v for %q", m, issuer)
		}
		for _, e := range []string{m.AuthorizationEndpoint, m.TokenEndpoint, m.PAREndpoint} {
			if !strings.HasPrefix(e, "https://") {
				t.Fatalf("endpoint %q", e)
			}
		}
	})
}

// FuzzOriginURL feeds the authorization server a PDS names: what passes
// is a bare https origin, and passes again unchanged.
func FuzzOriginURL(f *testing.F) {
	for _, s := range []string{"https://bsky.social", "https://bsky.social/", "https://pds.example:8443", "https://pds.example:443", "https://PDS.example",
		"http://pds.example", "https://u@pds.example", "https://pds.example/oauth", "https://pds.example?x", "https://pds.example#x", "https:pds", "https://[::1]:2583"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, ok := originURL(s)
		if !ok {
			return
		}
		u, err := url.Parse(o)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("originURL(%q) = %q", s, o)
		}
		if again, ok := originURL(o); !ok || again != o {
			t.Fatalf("originURL(%q) = %q, then %q", s, o, again)
		}
	})
}

// FuzzSession feeds sessions (sealed by the caller, but read from a
// cookie): reading one never fails badly, and one read is whole.
func FuzzSession(f *testing.F) {
	k, _ := newDPoPKey()
	s, _ := json.Marshal(personSession{Key: k.encode(), Issuer: "https://bsky.social", Token: "https://bsky.social/oauth/token",
		DID: "did:plc:o7tletr2ubr5wkzxq4jm3sda", Handle: "outlet.test", Verifier: strings.Repeat("v", 43), Nonce: "n", At: 1795618081})
	f.Add(s)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"k":"","iss":"https://x"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, key, err := openSession(b)
		if err != nil {
			return
		}
		if key == nil || !endpointURL(s.Token) || !validDID(s.DID) {
			t.Fatalf("openSession(%q) = %+v", b, s)
		}
	})
}

// FuzzOAuthError feeds error bodies from any server on the way.
func FuzzOAuthError(f *testing.F) {
	f.Add([]byte(`{"error":"use_dpop_nonce","error_description":"Authorization server requires nonce in DPoP proof"}`))
	f.Add([]byte(`{"message":"DID not registered: did:plc:x"}`))
	f.Add([]byte(`{"error":7}`))
	f.Add([]byte(`<html>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		reason, name := oauthError(b)
		if name != "" && !strings.Contains(reason, name) {
			t.Fatalf("oauthError(%q) = %q, %q", b, reason, name)
		}
	})
}

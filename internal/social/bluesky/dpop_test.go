package bluesky

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/social/bluesky/blueskytest"
)

// decodeJWT splits a compact JWT into its header and claims.
func decodeJWT(t *testing.T, tok string, head, claims any) (input string, sig []byte) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	for i, v := range []any{head, claims} {
		b, err := b64.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, v) != nil {
			t.Fatalf("part %d of %q: %v", i, tok, err)
		}
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	return parts[0] + "." + parts[1], sig
}

// A proof as RFC 9449 §4.2 describes it, signed by the session's key, and
// the key kept and read back whole.
func TestDPoPProof(t *testing.T) {
	t.Parallel()
	k, err := newDPoPKey()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1795618081, 0)
	p, err := k.proof(http.MethodPost, "https://as.example/oauth/par?x=1#frag", "nonce-1", now)
	if err != nil {
		t.Fatal(err)
	}
	var head struct {
		Typ, Alg string
		JWK      map[string]string
	}
	var claims map[string]any
	input, sig := decodeJWT(t, p, &head, &claims)
	if head.Typ != "dpop+jwt" || head.Alg != "ES256" || head.JWK["kty"] != "EC" || head.JWK["crv"] != "P-256" || head.JWK["d"] != "" || len(head.JWK) != 4 {
		t.Fatalf("header %+v", head)
	}
	if claims["htm"] != "POST" || claims["htu"] != "https://as.example/oauth/par" || claims["iat"] != float64(now.Unix()) ||
		claims["nonce"] != "nonce-1" || claims["jti"] == "" || len(claims) != 5 {
		t.Fatalf("claims %v", claims)
	}
	sum := sha256.Sum256([]byte(input))
	if len(sig) != 64 || !ecdsa.Verify(&k.priv.PublicKey, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Fatal("the proof's signature does not verify")
	}
	// Without a nonce, there is no nonce claim; every proof has its own jti.
	p2, _ := k.proof(http.MethodPost, "https://as.example/oauth/token", "", now)
	var claims2 map[string]any
	decodeJWT(t, p2, &head, &claims2)
	if _, ok := claims2["nonce"]; ok || claims2["jti"] == claims["jti"] {
		t.Fatalf("claims %v after %v", claims2, claims)
	}

	back, err := parseDPoPKey(k.encode())
	if err != nil || string(back.jwk) != string(k.jwk) || !back.priv.Equal(k.priv) {
		t.Fatalf("key read back: %v", err)
	}
	for _, bad := range []string{"", "!!", b64.EncodeToString(make([]byte, 32)), b64.EncodeToString(make([]byte, 31))} {
		if _, err := parseDPoPKey(bad); err == nil {
			t.Errorf("parseDPoPKey(%q) accepted", bad)
		}
	}
}

// The fake verifies proofs rather than taking any: a proof that is
// tampered with, for another request, or replayed is refused, so the
// flow passing against it means Roost's proofs are right.
func TestFakeVerifiesDPoP(t *testing.T) {
	t.Parallel()
	f := blueskytest.NewTLS(t)
	k, _ := newDPoPKey()
	par := f.URL + "/oauth/par"
	send := func(proof string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, par, strings.NewReader(url.Values{"client_id": {"https://roost.example/c.json"}}.Encode()))
		req.Header.Set("User-Agent", "test")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("DPoP", proof)
		res, err := f.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	// A good proof without a nonce gets one.
	p, _ := k.proof(http.MethodPost, par, "", time.Now())
	if code, body := send(p); code != 400 || !strings.Contains(body, "use_dpop_nonce") {
		t.Fatalf("no nonce: %d %s", code, body)
	}
	other, _ := newDPoPKey()
	good, _ := k.proof(http.MethodPost, par, "", time.Now())
	forged, _ := other.proof(http.MethodPost, par, "", time.Now())
	parts, fparts := strings.Split(good, "."), strings.Split(forged, ".")
	for name, c := range map[string]struct{ proof, want string }{
		"signed by another key": {parts[0] + "." + parts[1] + "." + fparts[2], "bad signature"},
		"another jwk":           {fparts[0] + "." + parts[1] + "." + parts[2], "bad signature"},
		"replayed jti":          {p, "replayed"},
		"another method":        {func() string { s, _ := k.proof(http.MethodGet, par, "", time.Now()); return s }(), "htm"},
		"another address":       {func() string { s, _ := k.proof(http.MethodPost, f.URL+"/oauth/token", "", time.Now()); return s }(), "htu"},
		"old":                   {func() string { s, _ := k.proof(http.MethodPost, par, "", time.Now().Add(-time.Hour)); return s }(), "iat"},
		"not a JWT":             {"abc", "not a JWT"},
	} {
		if code, body := send(c.proof); code != 400 || !strings.Contains(body, "invalid_dpop_proof") || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}
}

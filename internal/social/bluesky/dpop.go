package bluesky

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"time"
)

// DPoP (RFC 9449), as atproto OAuth requires it: every request to the
// authorization server carries a proof, a JWT signed with a key made for
// the one sign-in, so the tokens it issues are bound to that key and are
// useless to anyone who does not hold it. The key is ES256 (P-256), the
// one algorithm every atproto server must accept.

// dpopKey is a sign-in's DPoP key.
type dpopKey struct {
	priv *ecdsa.PrivateKey
	jwk  json.RawMessage // the public key, as the proofs' header carries it
}

var b64 = base64.RawURLEncoding

func newDPoPKey() (*dpopKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return keyOf(priv)
}

// parseDPoPKey reads a key written by encode.
func parseDPoPKey(s string) (*dpopKey, error) {
	raw, err := b64.DecodeString(s)
	if err != nil {
		return nil, err
	}
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
	if err != nil {
		return nil, err
	}
	return keyOf(priv)
}

func keyOf(priv *ecdsa.PrivateKey) (*dpopKey, error) {
	pub, err := priv.PublicKey.Bytes() // 0x04 ‖ x ‖ y
	if err != nil || len(pub) != 65 {
		return nil, errors.New("bluesky: not a P-256 key")
	}
	// The members in lexical order, as a JWK thumbprint (RFC 7638) has them.
	jwk, err := json.Marshal(struct {
		Crv string `json:"crv"`
		Kty string `json:"kty"`
		X   string `json:"x"`
		Y   string `json:"y"`
	}{"P-256", "EC", b64.EncodeToString(pub[1:33]), b64.EncodeToString(pub[33:])})
	if err != nil {
		return nil, err
	}
	return &dpopKey{priv: priv, jwk: jwk}, nil
}

// encode is the private key, the 32-byte scalar in base64url: the
// smallest form, for a session that travels in a cookie.
func (k *dpopKey) encode() string {
	raw, err := k.priv.Bytes()
	if err != nil {
		return "" // a key made by newDPoPKey or parseDPoPKey is valid
	}
	return b64.EncodeToString(raw)
}

// proof is a DPoP proof for one request: a fresh jti, the method and the
// target without query or fragment (htu), the time, and the server's
// nonce when it has given one.
func (k *dpopKey) proof(method, target, nonce string, now time.Time) (string, error) {
	head, err := json.Marshal(struct {
		Typ string          `json:"typ"`
		Alg string          `json:"alg"`
		JWK json.RawMessage `json:"jwk"`
	}{"dpop+jwt", "ES256", k.jwk})
	if err != nil {
		return "", err
	}
	claims, err := json.Marshal(struct {
		JTI   string `json:"jti"`
		HTM   string `json:"htm"`
		HTU   string `json:"htu"`
		IAT   int64  `json:"iat"`
		Nonce string `json:"nonce,omitempty"`
	}{rand.Text(), method, htu(target), now.Unix(), nonce})
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(head) + "." + b64.EncodeToString(claims)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, sum[:])
	if err != nil {
		return "", err
	}
	// JWS's ES256 signature is r ‖ s, 32 bytes each (RFC 7518 §3.4).
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig), nil
}

// htu is a request's target as a DPoP proof names it: without query and
// fragment (RFC 9449 §4.2).
func htu(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return target
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	return u.String()
}

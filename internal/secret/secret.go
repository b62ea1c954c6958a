// Package secret encrypts what Roost keeps at rest (social tokens, webhook
// secrets) and signs what it hands out, with keys derived from the instance's
// secret key.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// MinKeyLen is the shortest secret key accepted. A generated key is 44
// characters of base64 (32 random bytes).
const MinKeyLen = 32

// Keys holds the keys derived from the instance secret key. The zero value
// is not usable; use New.
type Keys struct {
	aead cipher.AEAD
	mac  []byte
}

// Generate returns a new random secret key, printable.
func Generate() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// New derives the encryption and signing keys from the secret key. Any
// string of at least MinKeyLen characters is accepted; surrounding space
// (a trailing newline in a key file) is ignored.
func New(secretKey string) (*Keys, error) {
	secretKey = strings.TrimSpace(secretKey)
	if len(secretKey) < MinKeyLen {
		return nil, fmt.Errorf("secret key must be at least %d characters (got %d)", MinKeyLen, len(secretKey))
	}
	enc, err := hkdf.Key(sha256.New, []byte(secretKey), nil, "roost encryption v1", 32)
	if err != nil {
		return nil, err
	}
	mac, err := hkdf.Key(sha256.New, []byte(secretKey), nil, "roost signing v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(enc)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Keys{aead: aead, mac: mac}, nil
}

const sealedPrefix = "v1:"

// ErrDecrypt is returned when a sealed value was not made with this key or
// was altered.
var ErrDecrypt = errors.New("secret: cannot decrypt value (wrong secret key or corrupted data)")

// Seal encrypts plaintext with AES-256-GCM. context binds the ciphertext to
// where it is stored (e.g. "account:acc_…:token") so a value cannot be moved
// to another row and still decrypt.
func (k *Keys) Seal(plaintext, context string) string {
	nonce := make([]byte, k.aead.NonceSize())
	rand.Read(nonce)
	out := k.aead.Seal(nonce, nonce, []byte(plaintext), []byte(context))
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(out)
}

// Open decrypts a value made by Seal with the same context.
func (k *Keys) Open(sealed, context string) (string, error) {
	raw, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return "", ErrDecrypt
	}
	b, err := base64.RawStdEncoding.DecodeString(raw)
	if err != nil || len(b) < k.aead.NonceSize() {
		return "", ErrDecrypt
	}
	n := k.aead.NonceSize()
	pt, err := k.aead.Open(nil, b[:n], b[n:], []byte(context))
	if err != nil {
		return "", ErrDecrypt
	}
	return string(pt), nil
}

// Sign returns an HMAC-SHA256 of the parts, base64url without padding.
func (k *Keys) Sign(parts ...string) string {
	m := hmac.New(sha256.New, k.mac)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Verify reports, in constant time, whether sig is Sign(parts...).
func (k *Keys) Verify(sig string, parts ...string) bool {
	return hmac.Equal([]byte(sig), []byte(k.Sign(parts...)))
}

// Hash is how bearer secrets (session cookies, API keys, one-time links)
// are stored: they carry enough entropy that a fast hash suffices, and a
// leaked database reveals none of them.
func Hash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Check is a value derived from the key that can be stored next to the data
// it protects, to notice at start-up that a node runs with another key.
func (k *Keys) Check() string {
	return k.Sign("key check")
}

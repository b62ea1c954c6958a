package secret

import (
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()
	k, err := New(Generate())
	if err != nil {
		t.Fatal(err)
	}
	s := k.Seal("token-123", "account:1")
	if strings.Contains(s, "token-123") {
		t.Fatal("sealed value contains the plaintext")
	}
	if got, err := k.Open(s, "account:1"); err != nil || got != "token-123" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := k.Open(s, "account:2"); err != ErrDecrypt {
		t.Fatalf("value moved to another context decrypted: %v", err)
	}
	other, _ := New(Generate())
	if _, err := other.Open(s, "account:1"); err != ErrDecrypt {
		t.Fatalf("another key decrypted the value: %v", err)
	}
	for _, bad := range []string{"", "v1:", "v1:!!!", "v2:abcd", s[:len(s)-2]} {
		if _, err := k.Open(bad, "account:1"); err != ErrDecrypt {
			t.Errorf("Open(%q) err = %v", bad, err)
		}
	}
}

func TestNewRejectsShortKeys(t *testing.T) {
	t.Parallel()
	if _, err := New("short"); err == nil {
		t.Fatal("short key accepted")
	}
	a, _ := New(strings.Repeat("x", 32) + "\n")
	b, _ := New(strings.Repeat("x", 32))
	if a.Check() != b.Check() {
		t.Fatal("trailing newline changed the key")
	}
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	k, _ := New(Generate())
	sig := k.Sign("csrf", "abc")
	if !k.Verify(sig, "csrf", "abc") || k.Verify(sig, "csrf", "abd") || k.Verify(sig, "csrfabc") {
		t.Fatal("Verify disagrees with Sign")
	}
}

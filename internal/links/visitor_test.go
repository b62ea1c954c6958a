package links

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
)

// TestVisitorKey pins how a visitor key is made (keys stored before and
// after a deploy on the same day must agree, or uniques count twice): the
// first 16 bytes of HMAC-SHA256 under the day's salt of IP, a zero byte
// and user agent, in hex.
func TestVisitorKey(t *testing.T) {
	t.Parallel()
	s := newSalts(storetest.New(t, store.SQLite))
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	key := func(at time.Time, ip, ua string) string {
		t.Helper()
		k, err := s.visitor(ctx, at, ip, ua)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	salt, err := s.get(ctx, day(at))
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, salt)
	m.Write([]byte("203.0.113.7\x00Mozilla/5.0"))
	if got, want := key(at, "203.0.113.7", "Mozilla/5.0"), hex.EncodeToString(m.Sum(nil)[:16]); got != want {
		t.Fatalf("visitor key %s, want %s", got, want)
	}
	k := key(at, "203.0.113.7", "Mozilla/5.0")
	for name, other := range map[string]string{
		"another user agent":           key(at, "203.0.113.7", "Mozilla/5.1"),
		"another address":              key(at, "203.0.113.8", "Mozilla/5.0"),
		"the same bytes cut elsewhere": key(at, "203.0.113.", "7Mozilla/5.0"),
		"the next day":                 key(at.Add(24*time.Hour), "203.0.113.7", "Mozilla/5.0"),
	} {
		if other == k {
			t.Errorf("%s gives the same key", name)
		}
	}
	if key(at.Add(time.Hour), "203.0.113.7", "Mozilla/5.0") != k {
		t.Error("the same visitor later that day has another key")
	}
}

// TestVisitorKeyAllocations is not parallel: AllocsPerRun counts every
// allocation in the process. The key is made on every redirect; only the
// key itself is allocated.
func TestVisitorKeyAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	s := newSalts(storetest.New(t, store.SQLite))
	ctx := context.Background()
	at := time.Now()
	ua := "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
	s.visitor(ctx, at, "203.0.113.7", ua) // the day's MACs
	if n := testing.AllocsPerRun(1000, func() { s.visitor(ctx, at, "203.0.113.7", ua) }); n > 1 {
		t.Errorf("a visitor key allocates %v times, want 1", n)
	}
}

package bluesky

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/social"
)

func TestTIDEncoding(t *testing.T) {
	t.Parallel()
	// The spec's zero, and a published vector: 1724171495793000 µs with
	// clock ID 512 is 3l25zusnsfck2 (the atcute TID codec's README).
	if got := encodeTID(0); got != "2222222222222" {
		t.Fatalf("encodeTID(0) = %q", got)
	}
	if got := encodeTID(1724171495793000<<10 | 512); got != "3l25zusnsfck2" {
		t.Fatalf("encodeTID = %q, want 3l25zusnsfck2", got)
	}
	at, ok := TIDTime("3l25zusnsfctk")
	if !ok || at.UnixMicro() != 1724171495793000 {
		t.Fatalf("TIDTime(3l25zusnsfctk) = %v, %v", at, ok)
	}
	for _, bad := range []string{"", "3l25zusnsfck", "3l25zusnsfck22", "kl25zusnsfck2", "3l25zusnsfck1", "3L25ZUSNSFCK2", "3l25zusnsfck-"} {
		if ValidTID(bad) {
			t.Errorf("ValidTID(%q) = true", bad)
		}
	}
}

func TestRecordKey(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 11, 20, 14, 50, 31, 123456000, time.UTC)
	d := social.Draft{Key: "cpy_01jd8zq4m3", Created: created}
	k := RecordKey(d)
	if !ValidTID(k) || strings.IndexByte("234567abcdefghij", k[0]) < 0 {
		t.Fatalf("RecordKey = %q is not a valid TID", k)
	}
	if RecordKey(d) != k || RecordKey(social.Draft{Key: d.Key, Created: created, Text: "edited"}) != k {
		t.Fatal("the same copy got another key")
	}
	if at, _ := TIDTime(k); !at.Equal(created) {
		t.Fatalf("the key carries %v, want %v", at, created)
	}
	if RecordKey(social.Draft{Key: "cpy_01jd8zq4m4", Created: created}) == k {
		t.Fatal("two copies of the same microsecond got the same key")
	}
	// Keys sort by composition time, whatever the copies' keys.
	var keys, want []string
	for i := 0; i < 50; i++ {
		k := RecordKey(social.Draft{Key: strings.Repeat("k", 50-i), Created: created.Add(time.Duration(i) * time.Millisecond)})
		keys, want = append(keys, k), append(want, k)
	}
	sort.Strings(keys)
	for i := range keys {
		if keys[i] != want[i] {
			t.Fatalf("keys do not sort by time at %d", i)
		}
	}
	// Without a time: from the key alone, still valid and stable.
	z := RecordKey(social.Draft{Key: "cpy_x"})
	if !ValidTID(z) || z != RecordKey(social.Draft{Key: "cpy_x"}) || z == RecordKey(social.Draft{Key: "cpy_y"}) {
		t.Fatalf("key-only RecordKey = %q", z)
	}
	if at, _ := TIDTime(z); at.Before(time.Unix(noTimeBase/1e6, 0)) || at.After(time.Unix(noTimeBase/1e6, 0).Add(60*24*time.Hour)) {
		t.Fatalf("key-only time %v is outside its window", at)
	}
	// A time a TID cannot hold falls back the same way.
	if k := RecordKey(social.Draft{Key: "cpy_x", Created: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}); k != z {
		t.Fatalf("a time before 1970 gave %q", k)
	}
}

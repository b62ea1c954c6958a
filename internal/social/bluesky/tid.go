package bluesky

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/social"
)

// tidAlphabet is atproto's base32-sortable alphabet: its characters sort in
// the order of the values they stand for, so TIDs sort by time as strings.
const tidAlphabet = "234567abcdefghijklmnopqrstuvwxyz"

// noTimeBase is where key-only record keys are placed in time (see
// RecordKey): 2024-01-01T00:00:00Z, in the past of any network that will
// read them.
const noTimeBase = 1704067200_000000

// RecordKey is the record key of the post made from a draft: a TID
// (atproto's timestamp identifier) chosen by Roost rather than the PDS, so
// that every attempt at the same copy writes the same record and a retry
// cannot make a second post. Its 53 bits of microseconds are the draft's
// Created time and its 10-bit clock ID comes from a hash of the draft's key,
// so two copies composed in the same microsecond still differ (unless
// their keys collide in 10 bits, 1 in 1024).
//
// A draft without a Created time gets a key derived from its key alone:
// still deterministic and a valid TID, but its time is a hash (within some
// 50 days after 2024-01-01) and carries no meaning; such keys do not sort
// by composition time.
func RecordKey(d social.Draft) string {
	h := sha256.Sum256([]byte(d.Key))
	clock := uint64(binary.BigEndian.Uint16(h[:2])) & 0x3ff
	micros := d.Created.UnixMicro()
	if d.Created.IsZero() || micros < 0 || micros >= 1<<53 {
		micros = noTimeBase + int64(binary.BigEndian.Uint64(h[8:16])>>22) // 42 bits: ~51 days
	}
	return encodeTID(uint64(micros)<<10 | clock)
}

// encodeTID writes a TID's 64 bits as 13 characters, most significant
// first; the top bit must be zero.
func encodeTID(v uint64) string {
	var b [13]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = tidAlphabet[v&31]
		v >>= 5
	}
	return string(b[:])
}

// ValidTID reports whether s is a syntactically valid TID: 13 characters
// of the base32-sortable alphabet whose top bit is zero (so the first is
// one of 234567abcdefghij).
func ValidTID(s string) bool {
	if len(s) != 13 {
		return false
	}
	for i := 0; i < len(s); i++ {
		k := strings.IndexByte(tidAlphabet, s[i])
		if k < 0 || i == 0 && k >= 16 {
			return false
		}
	}
	return true
}

// TIDTime reads the time a valid TID carries.
func TIDTime(s string) (time.Time, bool) {
	if !ValidTID(s) {
		return time.Time{}, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		v = v<<5 | uint64(strings.IndexByte(tidAlphabet, s[i]))
	}
	return time.UnixMicro(int64(v >> 10)).UTC(), true
}

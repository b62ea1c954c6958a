// Package id makes the identifiers Roost hands out: sortable object IDs and
// unguessable tokens. Nothing sequential ever leaves the process.
package id

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"
)

// enc is Crockford's base32 alphabet in lower case: no i, l, o or u, so IDs
// read aloud or copied by hand survive.
var enc = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

var (
	mu     sync.Mutex
	lastMS int64
	lastR  [10]byte
	// stride draws the steps between IDs of one millisecond: ChaCha8,
	// a cryptographically strong generator seeded from crypto/rand, and
	// cheaper than a read from the kernel on every redirect.
	stride = mrand.New(mrand.NewChaCha8(seed()))
)

func seed() (s [32]byte) {
	rand.Read(s[:])
	return s
}

// New returns a 26-character ID that sorts by creation time (millisecond
// precision, then by order of creation inside one process) and carries 80
// random bits, in the manner of a ULID. IDs of the same millisecond step
// up by a random amount (up to 2^32), not by one, so one ID tells nothing
// of the next (click IDs are handed to visitors). prefix, when given, is
// joined with an underscore ("mem_01j…").
func New(prefix string) string { return NewNow(prefix, time.Now()) }

// NewNow is New for a caller that has just read the clock (a redirect reads
// it once for the click's time and its ID): the same ordering, with now
// taken as the current time.
func NewNow(prefix string, now time.Time) string {
	ms := now.UnixMilli()
	mu.Lock()
	if ms > lastMS || !step(&lastR, stride.Uint64()>>32+1) {
		// A new millisecond, or (after about 2^48 IDs in one) the random
		// part would overflow: move on to the next millisecond, afresh.
		lastMS = max(ms, lastMS+1)
		rand.Read(lastR[:])
	}
	ms, r := lastMS, lastR
	mu.Unlock()
	return format(prefix, ms, r)
}

// step adds n to the 80-bit big-endian number r, reporting false (and
// leaving r unusable) if it overflows.
func step(r *[10]byte, n uint64) bool {
	lo := binary.BigEndian.Uint64(r[2:])
	sum := lo + n
	binary.BigEndian.PutUint64(r[2:], sum)
	if sum >= lo {
		return true
	}
	hi := binary.BigEndian.Uint16(r[:2]) + 1
	binary.BigEndian.PutUint16(r[:2], hi)
	return hi != 0
}

// NewAt is an ID for a given time, for backfills that must sort by when an
// event happened rather than when it was imported. It sorts by time, but
// two made for the same millisecond sort in no particular order.
func NewAt(prefix string, t time.Time) string {
	var r [10]byte
	rand.Read(r[:])
	return format(prefix, t.UnixMilli(), r)
}

func format(prefix string, ms int64, r [10]byte) string {
	var b [16]byte
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(ms))
	copy(b[:6], ts[2:])
	copy(b[6:], r[:])
	// Encoded on the stack: one allocation, the string itself (click IDs
	// are made on every redirect).
	var out [26]byte
	enc.Encode(out[:], b[:])
	if prefix == "" {
		return string(out[:])
	}
	return prefix + "_" + string(out[:])
}

// Token returns a random URL-safe token with n bytes of entropy, for secrets
// handed to a person or a program (session cookies, API keys, setup links).
func Token(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return enc.EncodeToString(b)
}

// Valid reports whether s looks like an ID made by New with the given prefix.
// It is a cheap guard before a database lookup, not a proof of existence.
func Valid(prefix, s string) bool {
	if prefix != "" {
		if !strings.HasPrefix(s, prefix+"_") {
			return false
		}
		s = s[len(prefix)+1:]
	}
	if len(s) != 26 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefghjkmnpqrstvwxyz", c) {
			return false
		}
	}
	return true
}

// Time returns the creation time (to the millisecond) carried by an ID made
// by New or NewAt, and false for anything else.
func Time(s string) (time.Time, bool) {
	if i := strings.LastIndexByte(s, '_'); i >= 0 {
		s = s[i+1:]
	}
	if !Valid("", s) {
		return time.Time{}, false
	}
	b, err := enc.DecodeString(s)
	if err != nil || len(b) != 16 {
		return time.Time{}, false
	}
	var ts [8]byte
	copy(ts[2:], b[:6])
	return time.UnixMilli(int64(binary.BigEndian.Uint64(ts[:]))), true
}

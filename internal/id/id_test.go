package id

import (
	"encoding/binary"
	"sort"
	"testing"
	"time"
)

func TestNewSortsAndIsUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	var ids []string
	for range 10000 {
		s := New("clk")
		if seen[s] {
			t.Fatalf("duplicate id %s", s)
		}
		seen[s] = true
		ids = append(ids, s)
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("ids made in sequence do not sort in sequence")
	}
	if !Valid("clk", ids[0]) || Valid("mem", ids[0]) || Valid("clk", "clk_short") {
		t.Fatal("Valid disagrees with New")
	}
}

func TestNewAtOrdersByTime(t *testing.T) {
	t.Parallel()
	a := NewAt("", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	b := NewAt("", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	if a >= b {
		t.Fatalf("%s should sort before %s", a, b)
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	a, b := Token(20), Token(20)
	if a == b || len(a) != 32 {
		t.Fatalf("tokens %q %q", a, b)
	}
}

func TestTime(t *testing.T) {
	at := time.Date(2026, 11, 23, 9, 30, 0, 123e6, time.UTC)
	got, ok := Time(NewAt("cpy", at))
	if !ok || !got.Equal(at) {
		t.Fatalf("Time = %v, %v; want %v", got, ok, at)
	}
	for _, bad := range []string{"", "cpy_", "cpy_0123", "not-an-id-at-all-not-an-id", "cpy_ILOU0000000000000000000000"} {
		if _, ok := Time(bad); ok {
			t.Errorf("Time(%q) ok", bad)
		}
	}
}

// TestNewAllocatesOnlyTheID is not parallel: AllocsPerRun counts every
// allocation in the process. A click ID is made on every redirect.
func TestNewAllocatesOnlyTheID(t *testing.T) {
	if n := testing.AllocsPerRun(1000, func() { _ = New("") }); n != 1 {
		t.Errorf("New allocates %v times, want 1", n)
	}
	if n := testing.AllocsPerRun(1000, func() { _ = New("clk") }); n != 1 {
		t.Errorf("New with a prefix allocates %v times, want 1", n)
	}
	if s := New("clk"); len(s) != 30 || !Valid("clk", s) {
		t.Errorf("New(clk) = %q", s)
	}
}

// TestNewNowKeepsOrder: IDs made with a clock read by the caller, even one
// read before the last ID was made, still sort in the order they were made
// and carry the caller's time. Not parallel: no other test makes IDs
// meanwhile.
func TestNewNowKeepsOrder(t *testing.T) {
	now := time.Now()
	a := NewNow("", now)
	b := NewNow("", now.Add(-time.Second)) // a clock read earlier
	c := NewNow("", now.Add(5*time.Millisecond))
	if !(a < b && b < c) {
		t.Fatalf("IDs out of order: %s %s %s", a, b, c)
	}
	want := now.Add(5 * time.Millisecond).Truncate(time.Millisecond)
	if at, ok := Time(c); !ok || !at.Equal(want) {
		t.Fatalf("Time(%s) = %v, want %v", c, at, want)
	}
}

// TestNewStepsByRandomAmounts: IDs of one millisecond tell nothing of the
// next. Not parallel: no other test makes IDs meanwhile.
func TestNewStepsByRandomAmounts(t *testing.T) {
	now := time.Now()
	var prev [16]byte
	steps := map[uint64]bool{}
	for i := range 1000 {
		s := NewNow("", now)
		b, err := enc.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		cur := [16]byte(b)
		if i > 0 && [6]byte(cur[:6]) == [6]byte(prev[:6]) && [2]byte(cur[6:8]) == [2]byte(prev[6:8]) {
			lo, plo := binary.BigEndian.Uint64(cur[8:]), binary.BigEndian.Uint64(prev[8:])
			if d := lo - plo; d == 0 || d > 1<<32 {
				t.Fatalf("step %d: %d", i, d)
			} else {
				steps[d] = true
			}
		}
		if i > 0 && string(cur[:]) <= string(prev[:]) {
			t.Fatalf("ID %d does not sort after the one before", i)
		}
		prev = cur
	}
	if len(steps) < 900 {
		t.Fatalf("only %d different steps between 1000 IDs of one millisecond", len(steps))
	}
}

func TestStepCarriesAndOverflows(t *testing.T) {
	t.Parallel()
	r := [10]byte{0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if !step(&r, 2) || r != [10]byte{0, 2, 0, 0, 0, 0, 0, 0, 0, 1} {
		t.Fatalf("carry: % x", r)
	}
	r = [10]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0}
	if step(&r, 1<<8) {
		t.Fatal("overflow not reported")
	}
}

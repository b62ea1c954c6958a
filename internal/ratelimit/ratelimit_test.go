package ratelimit

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	l := New(3, time.Minute)
	l.now = func() time.Time { return now }
	for i := range 3 {
		if !l.Allow("a") {
			t.Fatalf("event %d refused inside the burst", i)
		}
	}
	ok, wait := l.Reserve("a")
	if ok || wait != time.Minute {
		t.Fatalf("4th event: ok=%v wait=%v", ok, wait)
	}
	if !l.Allow("b") {
		t.Fatal("another key was limited")
	}
	now = now.Add(time.Minute)
	if !l.Allow("a") || l.Allow("a") {
		t.Fatal("refill should allow exactly one event per minute")
	}
	l.Reset("a")
	if !l.Allow("a") {
		t.Fatal("Reset did not clear the key")
	}
	now = now.Add(time.Hour)
	l.Allow("c")
	if len(l.buckets) != 1 {
		t.Fatalf("sweep kept %d buckets, want 1", len(l.buckets))
	}
}

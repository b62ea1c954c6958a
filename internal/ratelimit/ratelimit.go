// Package ratelimit holds in-process token buckets keyed by a string (a
// hashed visitor, an email). Each node limits on its own: with N nodes an
// attacker gets at most N times the budget, which still stops brute force.
package ratelimit

import (
	"sync"
	"time"
)

// Limiter allows Burst events at once per key, refilled at one event per
// Every. The zero value is not usable; use New.
type Limiter struct {
	every time.Duration
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	sweep   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

// New returns a limiter of burst events per key, refilled one per every.
func New(burst int, every time.Duration) *Limiter {
	return &Limiter{every: every, burst: float64(burst), now: time.Now, buckets: map[string]*bucket{}}
}

// Allow spends one event for key and reports whether it was within the limit.
func (l *Limiter) Allow(key string) bool {
	ok, _ := l.Reserve(key)
	return ok
}

// Reserve is Allow that also says, when refused, how long until the next
// event would be allowed (for a Retry-After header).
func (l *Limiter) Reserve(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > l.every*time.Duration(l.burst) {
		l.sweepLocked(now)
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+float64(now.Sub(b.at))/float64(l.every))
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) * float64(l.every))
}

// Reset forgets key, e.g. after a successful login.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	delete(l.buckets, key)
	l.mu.Unlock()
}

// sweepLocked drops buckets that have refilled completely: they behave
// exactly like absent ones.
func (l *Limiter) sweepLocked(now time.Time) {
	full := l.every * time.Duration(l.burst)
	for k, b := range l.buckets {
		if now.Sub(b.at) >= full {
			delete(l.buckets, k)
		}
	}
	l.sweep = now
}

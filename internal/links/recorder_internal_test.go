package links

import (
	"fmt"
	"testing"
)

// TestSeenSet: a key is seen once added, and only that key (link, day and
// visitor all count); the set stays within its bound.
func TestSeenSet(t *testing.T) {
	t.Parallel()
	var s seenSet
	s.init()
	k := seenKey{"l1", 20000, "v1"}
	if s.has(k) {
		t.Fatal("an empty set has a key")
	}
	s.add(k)
	if !s.has(k) {
		t.Fatal("an added key is not seen")
	}
	for _, other := range []seenKey{{"l2", 20000, "v1"}, {"l1", 20001, "v1"}, {"l1", 20000, "v2"}, {"l1v", 20000, "1"}} {
		if s.has(other) {
			t.Errorf("%+v seen after adding only %+v", other, k)
		}
	}
	for i := range seenMax + 10 {
		s.add(seenKey{"l1", 20000, fmt.Sprint(i)})
		if len(s.m) > seenMax {
			t.Fatalf("%d keys held, bound %d", len(s.m), seenMax)
		}
	}
	if !s.has(seenKey{"l1", 20000, fmt.Sprint(seenMax + 9)}) {
		t.Fatal("the newest key was forgotten")
	}
}

// TestProfileCache: a profile's ID is found once added, and only for that
// profile; when a generation fills, the profiles in use are kept and the
// others go, and the cache stays within two generations.
func TestProfileCache(t *testing.T) {
	t.Parallel()
	var c profileCache
	c.init(100)
	p := func(i int) profile { return profile{ws: "ws", link: fmt.Sprint("l", i), device: "mobile"} }
	c.add(p(0), 7)
	if id, ok := c.get(p(0)); !ok || id != 7 {
		t.Fatalf("get after add = %d, %v", id, ok)
	}
	other := p(0)
	other.bot = true
	if _, ok := c.get(other); ok {
		t.Fatal("a profile differing only in its bot flag was found")
	}
	for i := 1; i <= 1000; i++ {
		c.add(p(i), int64(i))
		if _, ok := c.get(p(0)); !ok {
			t.Fatalf("the profile in use was forgotten after %d others", i)
		}
		if len(c.cur) > 100 || len(c.old) > 100 {
			t.Fatalf("generations of %d and %d, bound 100", len(c.cur), len(c.old))
		}
	}
	if _, ok := c.get(p(1)); ok {
		t.Fatal("a profile unused for 1,000 others is still held")
	}
	if id, ok := c.get(p(1000)); !ok || id != 1000 {
		t.Fatalf("the newest profile: %d, %v", id, ok)
	}
}

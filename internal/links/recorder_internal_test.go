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

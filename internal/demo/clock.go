package demo

import (
	"sync/atomic"
	"time"
)

// Clock is the time the stores read while the demo replays the past: set,
// it stands still at a moment of the simulation; unset, it is the system
// clock. Give its Now to store.DB.Clock before the server is built.
type Clock struct{ at atomic.Int64 } // Unix microseconds; 0: the system clock

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	if v := c.at.Load(); v != 0 {
		return time.UnixMicro(v).UTC()
	}
	return time.Now()
}

func (c *Clock) set(t time.Time) { c.at.Store(t.UnixMicro()) }

// Release hands the stores back to the system clock.
func (c *Clock) Release() { c.at.Store(0) }

package social

import (
	"context"
	"fmt"
	"time"
)

// Hub runs connector calls for accounts: it opens the credentials, gives
// each call a deadline, and keeps what the call taught (refreshed
// credentials, health, rate limits).
type Hub struct {
	Store      *Store
	Connectors map[string]Connector
	// Timeout bounds one call (default 20 s).
	Timeout time.Duration
}

// Connector returns the network's connector, or nil.
func (h *Hub) Connector(network string) Connector { return h.Connectors[network] }

// Call runs fn with the account's connector and open credentials.
func (h *Hub) Call(ctx context.Context, a Account, fn func(ctx context.Context, c Connector, conn *Conn) error) error {
	if a.Disconnected {
		return &Error{Network: a.Network, Kind: Unauthorized, Reason: "the account is disconnected"}
	}
	c := h.Connectors[a.Network]
	if c == nil {
		return fmt.Errorf("social: no connector for network %q", a.Network)
	}
	if a.RateLimitedUntil != nil && time.Now().Before(*a.RateLimitedUntil) {
		return &Error{Network: a.Network, Kind: RateLimited, RetryAt: *a.RateLimitedUntil, Reason: "rate limited by the network"}
	}
	conn, err := h.Store.Open(ctx, a)
	if err != nil {
		return err
	}
	timeout := h.Timeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	err = fn(cctx, c, conn)
	cancel()
	if kerr := h.Store.Keep(context.WithoutCancel(ctx), conn, err); kerr != nil && err == nil {
		err = kerr
	}
	return err
}

// Refresh re-checks an account's credentials and records its profile and
// follower count.
func (h *Hub) Refresh(ctx context.Context, a Account) (Profile, error) {
	var p Profile
	err := h.Call(ctx, a, func(ctx context.Context, c Connector, conn *Conn) error {
		var err error
		p, err = c.Verify(ctx, conn)
		return err
	})
	if err != nil {
		return p, err
	}
	return p, h.Store.RecordProfile(ctx, a.ID, p, h.Store.db.Now().UTC().Truncate(time.Second))
}

// SampleFollowers records the follower count of every connected account
// whose last sample is older than every; with several processes, each
// account is sampled by one.
func (h *Hub) SampleFollowers(ctx context.Context, every time.Duration) error {
	due, err := h.Store.DueForSample(ctx, every, 100)
	if err != nil {
		return err
	}
	for _, a := range due {
		ok, err := h.Store.TakeSample(ctx, a.ID, every)
		if err != nil {
			return err
		}
		if ok {
			h.Refresh(ctx, a) // a failure is recorded as the account's health
		}
	}
	return nil
}

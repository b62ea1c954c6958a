package inbox

import (
	"context"
	"time"

	"github.com/roost-hq/roost/internal/store"
)

// Reading is how the inbox reads one account: when it last did, and why
// the last read failed; the same for direct messages, where the network
// keeps them apart from posts (Bluesky, X).
type Reading struct {
	AccountID      string     `json:"account_id"`
	PolledAt       *time.Time `json:"polled_at"`
	Error          string     `json:"error,omitempty"`
	DirectPolledAt *time.Time `json:"direct_polled_at"`
	// DirectError says why direct messages are not being read (a Bluesky
	// app password without access to them, an X connection without the
	// dm.read scope, a rate limit); "" when they are.
	DirectError string `json:"direct_error,omitempty"`
}

// Readings returns how the inbox reads each of the workspace's connected
// accounts that it has polled, by account ID.
func (s *Store) Readings(ctx context.Context, wsID string) (map[string]Reading, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT p.account_id, p.polled_at, p.error, p.dm_polled_at, p.dm_error FROM account_pollers p
		JOIN accounts a ON a.id = p.account_id WHERE a.workspace_id = $1 AND a.disconnected_at IS NULL`, wsID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]Reading{}
	for rows.Next() {
		var r Reading
		var polled, dmPolled time.Time
		if err := rows.Scan(&r.AccountID, store.T(&polled), &r.Error, store.T(&dmPolled), &r.DirectError); err != nil {
			return nil, err
		}
		if !polled.IsZero() {
			r.PolledAt = &polled
		}
		if !dmPolled.IsZero() {
			r.DirectPolledAt = &dmPolled
		}
		out[r.AccountID] = r
	}
	return out, rows.Err()
}

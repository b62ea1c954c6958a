package social

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// Sandbox is the name of the built-in network.
const Sandbox = "sandbox"

// SandboxNetwork is the built-in network: anyone can be any handle (the
// sandbox has no passwords), and follower lists live in the database, edited
// from the dashboard and the CLI. It lets everything be tried with no
// credentials and no outside service.
type SandboxNetwork struct{ db *store.DB }

// NewSandbox returns the sandbox connector on db.
func NewSandbox(db *store.DB) *SandboxNetwork { return &SandboxNetwork{db: db} }

// Network is "sandbox".
func (n *SandboxNetwork) Network() string { return Sandbox }

// Lookup turns a handle into an identity: in the sandbox, a person's stable
// ID is their handle.
func (n *SandboxNetwork) Lookup(ctx context.Context, handle string) (Identity, error) {
	var e valid.Errors
	h := SandboxHandle(&e, "handle", handle)
	if e.Err() != nil {
		return Identity{}, ErrNoSuchPerson
	}
	return Identity{Network: Sandbox, AccountID: h, Handle: "@" + h}, nil
}

// Follows reports whether the person is on the account's follower list.
func (n *SandboxNetwork) Follows(ctx context.Context, account Account, person Identity) (bool, error) {
	if account.Network != Sandbox || person.Network != Sandbox {
		return false, nil
	}
	var c int
	err := n.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM sandbox_follows WHERE account_id = $1 AND follower = $2`, account.ID, person.AccountID).Scan(&c)
	return c > 0, err
}

// SetFollowers replaces a sandbox account's follower list.
func (n *SandboxNetwork) SetFollowers(ctx context.Context, account Account, handles []string) ([]string, error) {
	if account.Network != Sandbox {
		return nil, valid.New("account", "only sandbox accounts have editable followers")
	}
	var e valid.Errors
	seen := map[string]bool{}
	var clean []string
	for _, h := range handles {
		if h = SandboxHandle(&e, "followers", h); h != "" && !seen[h] {
			seen[h] = true
			clean = append(clean, h)
		}
	}
	if len(clean) > 100_000 {
		e.Add("followers", "at most 100,000 followers")
	}
	if err := e.Err(); err != nil {
		return nil, err
	}
	now := time.Now().UnixMicro()
	err := n.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sandbox_follows WHERE account_id = $1`, account.ID); err != nil {
			return err
		}
		for _, h := range clean {
			if _, err := tx.ExecContext(ctx, `INSERT INTO sandbox_follows (account_id, follower, created_at) VALUES ($1, $2, $3)`, account.ID, h, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("social: set followers: %w", err)
	}
	return clean, nil
}

// Followers lists a sandbox account's followers.
func (n *SandboxNetwork) Followers(ctx context.Context, account Account) ([]string, error) {
	rows, err := n.db.R.QueryContext(ctx, `SELECT follower FROM sandbox_follows WHERE account_id = $1 ORDER BY follower`, account.ID)
	if err != nil {
		return nil, fmt.Errorf("social: list followers: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

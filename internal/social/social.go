// Package social is Roost's side of the social networks: brand accounts,
// and the connector each network implements so the rest of Roost can ask
// who a person is and whether they follow a brand account. The built-in
// sandbox network implements it in the database, for demos and tests.
package social

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// Identity is a person as a network knows them: the stable account ID is
// what counts, the handle is for people to read.
type Identity struct {
	Network   string `json:"network"`
	AccountID string `json:"account_id"`
	Handle    string `json:"handle"`
}

// Account is a brand account on a network.
type Account struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"-"`
	Network     string    `json:"network"`
	Handle      string    `json:"handle"`
	RemoteID    string    `json:"remote_id"`
	DisplayName string    `json:"display_name"`
	CreatedAt   time.Time `json:"created_at"`
}

// Connector is what a network offers Roost.
type Connector interface {
	// Network names the network ("sandbox", "mastodon", …).
	Network() string
	// Lookup finds a person by handle.
	Lookup(ctx context.Context, handle string) (Identity, error)
	// Follows reports whether the person follows the brand account.
	Follows(ctx context.Context, account Account, person Identity) (bool, error)
}

// ErrNoSuchPerson is returned by Lookup for an unknown handle.
var ErrNoSuchPerson = errors.New("no such person on this network")

// Store reads and writes brand accounts.
type Store struct{ db *store.DB }

// NewStore returns a Store on db.
func NewStore(db *store.DB) *Store { return &Store{db: db} }

const accountCols = `id, workspace_id, network, handle, remote_id, display_name, created_at`

func scanAccount(row interface{ Scan(...any) error }) (Account, error) {
	var a Account
	err := row.Scan(&a.ID, &a.WorkspaceID, &a.Network, &a.Handle, &a.RemoteID, &a.DisplayName, store.T(&a.CreatedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return a, store.ErrNotFound
	}
	return a, err
}

// Account returns one of the workspace's accounts.
func (s *Store) Account(ctx context.Context, wsID, accountID string) (Account, error) {
	return scanAccount(s.db.R.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE workspace_id = $1 AND id = $2`, wsID, accountID))
}

// Accounts lists the workspace's accounts.
func (s *Store) Accounts(ctx context.Context, wsID string) ([]Account, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE workspace_id = $1 ORDER BY network, handle`, wsID)
	if err != nil {
		return nil, fmt.Errorf("social: list accounts: %w", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

var handleRE = regexp.MustCompile(`^[a-z0-9_.-]{1,30}$`)

// SandboxHandle checks a sandbox handle and returns it without "@", lower-case.
func SandboxHandle(e *valid.Errors, field, h string) string {
	h = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(h), "@"))
	if !handleRE.MatchString(h) {
		e.Add(field, "must be 1 to 30 letters, digits, dots, hyphens or underscores, like @outlet")
	}
	return h
}

// CreateSandboxAccount adds a brand account on the sandbox network.
func (s *Store) CreateSandboxAccount(ctx context.Context, wsID, handle, displayName string) (Account, error) {
	var e valid.Errors
	handle = SandboxHandle(&e, "handle", handle)
	displayName = e.Text("display_name", displayName, 0, 80)
	if err := e.Err(); err != nil {
		return Account{}, err
	}
	a := Account{ID: id.New("acc"), WorkspaceID: wsID, Network: Sandbox, Handle: handle, RemoteID: handle, DisplayName: displayName,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO accounts (id, workspace_id, network, handle, remote_id, display_name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		a.ID, wsID, a.Network, a.Handle, a.RemoteID, a.DisplayName, store.Micros(a.CreatedAt))
	if store.IsUniqueViolation(err) {
		return Account{}, valid.Conflict("handle", "@%s is already one of this workspace's accounts", handle)
	}
	if err != nil {
		return Account{}, fmt.Errorf("social: create account: %w", err)
	}
	return a, nil
}

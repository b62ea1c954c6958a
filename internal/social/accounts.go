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
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// Store reads and writes brand accounts. Credentials are sealed with the
// instance key, bound to their account, and only opened into a Conn for a
// call.
type Store struct {
	db   *store.DB
	keys *secret.Keys
}

// NewStore returns a Store on db.
func NewStore(db *store.DB, keys *secret.Keys) *Store { return &Store{db: db, keys: keys} }

const accountCols = `id, workspace_id, network, handle, remote_id, display_name, created_at, instance, health, health_reason,
	last_ok_at, rate_limited_until, credentials_expire_at, char_limit, followers, COALESCE(connected_by, ''), disconnected_at`

func scanAccount(row interface{ Scan(...any) error }) (Account, error) {
	var a Account
	var lastOK, limited, expires, disc time.Time
	var followers sql.NullInt64
	err := row.Scan(&a.ID, &a.WorkspaceID, &a.Network, &a.Handle, &a.RemoteID, &a.DisplayName, store.T(&a.CreatedAt), &a.Instance, &a.Health, &a.HealthReason,
		store.T(&lastOK), store.T(&limited), store.T(&expires), &a.CharLimit, &followers, &a.ConnectedBy, store.T(&disc))
	if errors.Is(err, sql.ErrNoRows) {
		return a, store.ErrNotFound
	}
	a.LastOKAt, a.RateLimitedUntil, a.ExpiresAt = timeOrNil(lastOK), timeOrNil(limited), timeOrNil(expires)
	a.Disconnected = !disc.IsZero()
	if followers.Valid {
		a.Followers = &followers.Int64
	}
	return a, err
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Account returns one of the workspace's accounts, connected or not.
func (s *Store) Account(ctx context.Context, wsID, accountID string) (Account, error) {
	return scanAccount(s.db.R.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE workspace_id = $1 AND id = $2`, wsID, accountID))
}

// Accounts lists the workspace's connected accounts.
func (s *Store) Accounts(ctx context.Context, wsID string) ([]Account, error) {
	return s.list(ctx, `WHERE workspace_id = $1 AND disconnected_at IS NULL ORDER BY network, handle`, wsID)
}

func (s *Store) list(ctx context.Context, where string, args ...any) ([]Account, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts `+where, args...)
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

// Connection is a brand account as a connect flow found it.
type Connection struct {
	Network   string
	Instance  string
	Profile   Profile
	Creds     []byte
	ExpiresAt *time.Time
	MemberID  string
}

// Connect adds a brand account, or reconnects it with new credentials if
// the workspace had it before (the same remote account).
func (s *Store) Connect(ctx context.Context, wsID string, c Connection) (Account, error) {
	var e valid.Errors
	e.Text("handle", c.Profile.Handle, 1, 200)
	e.Text("display_name", c.Profile.DisplayName, 0, 200)
	if c.Profile.RemoteID == "" {
		e.Add("handle", "the network did not say which account this is")
	}
	if err := e.Err(); err != nil {
		return Account{}, err
	}
	now := s.db.Now().UTC()
	aid := id.New("acc")
	var got string
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT id FROM accounts WHERE workspace_id = $1 AND network = $2 AND remote_id = $3`, wsID, c.Network, c.Profile.RemoteID).Scan(&got)
		if errors.Is(err, sql.ErrNoRows) {
			got = aid
			_, err = tx.ExecContext(ctx, `INSERT INTO accounts (id, workspace_id, network, handle, remote_id, display_name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				got, wsID, c.Network, c.Profile.Handle, c.Profile.RemoteID, c.Profile.DisplayName, store.Micros(now))
		}
		if err != nil {
			return err
		}
		creds := ""
		if len(c.Creds) > 0 {
			creds = s.keys.Seal(string(c.Creds), credsContext(got))
		}
		var followers any
		if c.Network != Sandbox {
			followers = c.Profile.Followers
		}
		_, err = tx.ExecContext(ctx, `UPDATE accounts SET handle = $1, display_name = $2, instance = $3, credentials = $4, credentials_expire_at = $5,
			health = 'ok', health_reason = '', last_ok_at = $6, rate_limited_until = NULL, char_limit = $7, followers = COALESCE($8, followers),
			connected_by = $9, disconnected_at = NULL WHERE id = $10`,
			c.Profile.Handle, c.Profile.DisplayName, c.Instance, creds, timeArg(c.ExpiresAt), store.Micros(now), c.Profile.CharLimit, followers,
			store.Null(c.MemberID), got)
		return err
	})
	if err != nil {
		return Account{}, fmt.Errorf("social: connect account: %w", err)
	}
	return s.Account(ctx, wsID, got)
}

func credsContext(accountID string) string { return "account:" + accountID + ":credentials" }

func timeArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return store.Micros(*t)
}

// Disconnect forgets an account's credentials. The account stays, so its
// posts, links and claims keep their history; connecting it again brings
// it back.
func (s *Store) Disconnect(ctx context.Context, wsID, accountID string) error {
	res, err := s.db.W.ExecContext(ctx, `UPDATE accounts SET credentials = '', disconnected_at = $1 WHERE workspace_id = $2 AND id = $3 AND disconnected_at IS NULL`,
		time.Now().UnixMicro(), wsID, accountID)
	if err != nil {
		return fmt.Errorf("social: disconnect: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Open returns the account with its credentials, for a connector call.
func (s *Store) Open(ctx context.Context, a Account) (*Conn, error) {
	var sealed string
	if err := s.db.R.QueryRowContext(ctx, `SELECT credentials FROM accounts WHERE id = $1`, a.ID).Scan(&sealed); err != nil {
		return nil, fmt.Errorf("social: open credentials: %w", err)
	}
	c := &Conn{Account: a}
	if sealed != "" {
		plain, err := s.keys.Open(sealed, credsContext(a.ID))
		if err != nil {
			return nil, fmt.Errorf("social: open credentials of %s: %w", a.ID, err)
		}
		c.Creds = []byte(plain)
	}
	return c, nil
}

// Keep records what a call taught: refreshed credentials, and the
// account's health (err is the call's outcome).
func (s *Store) Keep(ctx context.Context, c *Conn, callErr error) error {
	now := time.Now()
	if c.Changed {
		if _, err := s.db.W.ExecContext(ctx, `UPDATE accounts SET credentials = $1, credentials_expire_at = $2 WHERE id = $3 AND disconnected_at IS NULL`,
			s.keys.Seal(string(c.Creds), credsContext(c.ID)), timeArg(c.ExpiresAt), c.ID); err != nil {
			return fmt.Errorf("social: keep credentials: %w", err)
		}
		c.Changed = false
	}
	var q string
	var args []any
	var ne *Error
	switch {
	case callErr == nil:
		q, args = `UPDATE accounts SET health = $1, health_reason = '', last_ok_at = $2, rate_limited_until = NULL WHERE id = $3`, []any{Healthy, now.UnixMicro(), c.ID}
		if c.ExpiresAt != nil && c.ExpiresAt.Sub(now) < 7*24*time.Hour {
			args[0] = Expiring
		}
	case !errors.As(callErr, &ne):
		return nil // not the network's doing
	case ne.Kind == RateLimited:
		until := ne.RetryAt
		if until.IsZero() {
			until = now.Add(time.Minute)
		}
		q, args = `UPDATE accounts SET rate_limited_until = $1 WHERE id = $2`, []any{until.UnixMicro(), c.ID}
	case ne.Kind == Unauthorized:
		q, args = `UPDATE accounts SET health = $1, health_reason = $2 WHERE id = $3`, []any{Revoked, clip(ne.Reason), c.ID}
	case ne.Kind == Unavailable:
		q, args = `UPDATE accounts SET health = $1, health_reason = $2 WHERE id = $3`, []any{Failing, clip(ne.Reason), c.ID}
	default:
		return nil // a refused post says nothing about the account
	}
	if _, err := s.db.W.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("social: keep health: %w", err)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 300 {
		s = s[:300]
		for !strings.HasSuffix(s, " ") && len(s) > 290 {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}

// FollowerPoint is an account's follower count at a time.
type FollowerPoint struct {
	At        time.Time `json:"at"`
	Followers int64     `json:"followers"`
}

// RecordProfile keeps what a network said of an account: a follower count
// sample, and the length limit when the server has its own.
func (s *Store) RecordProfile(ctx context.Context, accountID string, p Profile, at time.Time) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO account_followers (account_id, at, followers) VALUES ($1, $2, $3) ON CONFLICT (account_id, at) DO UPDATE SET followers = excluded.followers`,
			accountID, at.UnixMicro(), p.Followers); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE accounts SET followers = $1, followers_sampled_at = $2, char_limit = CASE WHEN $3 > 0 THEN $3 ELSE char_limit END WHERE id = $4`,
			p.Followers, at.UnixMicro(), p.CharLimit, accountID)
		return err
	})
}

// FollowerSeries returns an account's follower samples since a time.
func (s *Store) FollowerSeries(ctx context.Context, accountID string, since time.Time) ([]FollowerPoint, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT at, followers FROM account_followers WHERE account_id = $1 AND at >= $2 ORDER BY at`, accountID, since.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("social: follower series: %w", err)
	}
	defer rows.Close()
	out := []FollowerPoint{}
	for rows.Next() {
		var p FollowerPoint
		if err := rows.Scan(store.T(&p.At), &p.Followers); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// TakeSample claims the right to sample an account's followers now, for
// one process among several: it succeeds when the last sample is older
// than every (or force is set and the last is older than a minute).
func (s *Store) TakeSample(ctx context.Context, accountID string, every time.Duration) (bool, error) {
	now := time.Now()
	res, err := s.db.W.ExecContext(ctx, `UPDATE accounts SET followers_sampled_at = $1 WHERE id = $2 AND disconnected_at IS NULL
		AND (followers_sampled_at IS NULL OR followers_sampled_at < $3)`, now.UnixMicro(), accountID, now.Add(-every).UnixMicro())
	if err != nil {
		return false, fmt.Errorf("social: take sample: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// DueForSample lists connected accounts whose last follower sample is
// older than every, across workspaces.
func (s *Store) DueForSample(ctx context.Context, every time.Duration, limit int) ([]Account, error) {
	return s.list(ctx, `WHERE disconnected_at IS NULL AND (followers_sampled_at IS NULL OR followers_sampled_at < $1) ORDER BY followers_sampled_at LIMIT $2`,
		time.Now().Add(-every).UnixMicro(), limit)
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
func (s *Store) CreateSandboxAccount(ctx context.Context, wsID, memberID, handle, displayName string) (Account, error) {
	var e valid.Errors
	handle = SandboxHandle(&e, "handle", handle)
	displayName = e.Text("display_name", displayName, 0, 80)
	if err := e.Err(); err != nil {
		return Account{}, err
	}
	var n int
	if err := s.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE workspace_id = $1 AND network = $2 AND remote_id = $3 AND disconnected_at IS NULL`,
		wsID, Sandbox, handle).Scan(&n); err != nil {
		return Account{}, err
	}
	if n > 0 {
		return Account{}, valid.Conflict("handle", "@%s is already one of this workspace's accounts", handle)
	}
	return s.Connect(ctx, wsID, Connection{Network: Sandbox, MemberID: memberID, Profile: Profile{RemoteID: handle, Handle: handle, DisplayName: displayName}})
}

// AccountByID returns an account whatever its workspace, for workers that
// act on a row that already names it.
func (s *Store) AccountByID(ctx context.Context, accountID string) (Account, error) {
	return scanAccount(s.db.R.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1`, accountID))
}

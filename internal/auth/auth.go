// Package auth holds the credentials that let someone act in a workspace:
// dashboard sessions for people and API keys for programs. Both are random
// bearer secrets stored only as hashes.
package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/roost-hq/roost/internal/secret"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// SessionTTL is how long a dashboard session lasts without use; each use in
// its second half extends it.
const SessionTTL = 14 * 24 * time.Hour

// Store reads and writes sessions and API keys.
type Store struct{ db *store.DB }

// New returns a Store on db.
func New(db *store.DB) *Store { return &Store{db: db} }

// Session is a signed-in browser.
type Session struct {
	UserID      string
	WorkspaceID string // the workspace the dashboard shows; "" when none
	ExpiresAt   time.Time
}

// CreateSession signs the user in and returns the cookie value.
func (s *Store) CreateSession(ctx context.Context, userID, wsID string) (string, error) {
	tok := id.Token(32)
	now := time.Now()
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, workspace_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		secret.Hash(tok), userID, store.Null(wsID), store.Micros(now), store.Micros(now.Add(SessionTTL)))
	if err != nil {
		return "", fmt.Errorf("auth: create session: %w", err)
	}
	return tok, nil
}

// Session returns the live session for a cookie value, extending it when
// more than half its life has passed.
func (s *Store) Session(ctx context.Context, tok string) (Session, error) {
	var se Session
	var ws sql.NullString
	h := secret.Hash(tok)
	now := time.Now()
	err := s.db.Reader().QueryRowContext(ctx, `SELECT user_id, workspace_id, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2`,
		h, now.UnixMicro()).Scan(&se.UserID, &ws, store.T(&se.ExpiresAt))
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, store.ErrNotFound
	}
	if err != nil {
		return Session{}, fmt.Errorf("auth: read session: %w", err)
	}
	se.WorkspaceID = ws.String
	if se.ExpiresAt.Sub(now) < SessionTTL/2 {
		se.ExpiresAt = now.Add(SessionTTL)
		if _, err := s.db.W.ExecContext(ctx, `UPDATE sessions SET expires_at = $1 WHERE token_hash = $2`, store.Micros(se.ExpiresAt), h); err != nil {
			return Session{}, fmt.Errorf("auth: extend session: %w", err)
		}
	}
	return se, nil
}

// SetSessionWorkspace switches the workspace a session shows.
func (s *Store) SetSessionWorkspace(ctx context.Context, tok, wsID string) error {
	_, err := s.db.W.ExecContext(ctx, `UPDATE sessions SET workspace_id = $1 WHERE token_hash = $2`, wsID, secret.Hash(tok))
	return err
}

// DeleteSession signs a browser out.
func (s *Store) DeleteSession(ctx context.Context, tok string) error {
	_, err := s.db.W.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = $1`, secret.Hash(tok))
	return err
}

// DeleteUserSessions signs a user out everywhere but the given session, as
// after a password change.
func (s *Store) DeleteUserSessions(ctx context.Context, userID, keepTok string) error {
	_, err := s.db.W.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2`, userID, secret.Hash(keepTok))
	return err
}

// Expire deletes expired sessions and one-time tokens.
func (s *Store) Expire(ctx context.Context, now time.Time) error {
	for _, q := range []string{
		`DELETE FROM sessions WHERE expires_at <= $1`,
		`DELETE FROM tokens WHERE expires_at <= $1`,
	} {
		if _, err := s.db.W.ExecContext(ctx, q, now.UnixMicro()); err != nil {
			return fmt.Errorf("auth: expire: %w", err)
		}
	}
	return nil
}

// APIKey is a credential for programs, scoped to one workspace.
type APIKey struct {
	ID          string     `json:"id"`
	WorkspaceID string     `json:"-"`
	Name        string     `json:"name"`
	Prefix      string     `json:"prefix"`
	CreatedBy   string     `json:"created_by,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	RevokedAt   *time.Time `json:"revoked_at"`
}

// KeyPrefix starts every API key, so a leaked key is easy to recognise.
const KeyPrefix = "roost_"

const keyCols = `id, workspace_id, name, prefix, created_by, created_at, last_used_at, revoked_at`

func scanKey(row interface{ Scan(...any) error }) (APIKey, error) {
	var k APIKey
	var by sql.NullString
	var used, revoked time.Time
	err := row.Scan(&k.ID, &k.WorkspaceID, &k.Name, &k.Prefix, &by, store.T(&k.CreatedAt), store.T(&used), store.T(&revoked))
	if errors.Is(err, sql.ErrNoRows) {
		return k, store.ErrNotFound
	}
	k.CreatedBy = by.String
	if !used.IsZero() {
		k.LastUsedAt = &used
	}
	if !revoked.IsZero() {
		k.RevokedAt = &revoked
	}
	return k, err
}

// CreateAPIKey makes a key for the workspace and returns it with its
// secret, which is shown once and never stored.
func (s *Store) CreateAPIKey(ctx context.Context, wsID, name, createdBy string) (APIKey, string, error) {
	var e valid.Errors
	name = e.Text("name", name, 1, 80)
	if err := e.Err(); err != nil {
		return APIKey{}, "", err
	}
	plain := KeyPrefix + id.Token(24)
	k := APIKey{ID: id.New("key"), WorkspaceID: wsID, Name: name, Prefix: plain[:len(KeyPrefix)+6], CreatedBy: createdBy,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO api_keys (id, workspace_id, name, prefix, key_hash, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.ID, wsID, name, k.Prefix, secret.Hash(plain), store.Null(createdBy), store.Micros(k.CreatedAt))
	if err != nil {
		return APIKey{}, "", fmt.Errorf("auth: create API key: %w", err)
	}
	return k, plain, nil
}

// APIKey returns one of the workspace's keys.
func (s *Store) APIKey(ctx context.Context, wsID, keyID string) (APIKey, error) {
	return scanKey(s.db.R.QueryRowContext(ctx, `SELECT `+keyCols+` FROM api_keys WHERE workspace_id = $1 AND id = $2`, wsID, keyID))
}

// APIKeys lists the workspace's keys, newest first, limit at a time,
// starting after the key with ID before ("" for the first page).
func (s *Store) APIKeys(ctx context.Context, wsID, before string, limit int) ([]APIKey, error) {
	q := `SELECT ` + keyCols + ` FROM api_keys WHERE workspace_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`
	rows, err := s.db.R.QueryContext(ctx, q, wsID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("auth: list API keys: %w", err)
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// CountActiveKeys counts the workspace's keys that are not revoked.
func (s *Store) CountActiveKeys(ctx context.Context, wsID string) (int, error) {
	var n int
	err := s.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys WHERE workspace_id = $1 AND revoked_at IS NULL`, wsID).Scan(&n)
	return n, err
}

// RevokeAPIKey stops a key from working. Revoking twice is not an error.
func (s *Store) RevokeAPIKey(ctx context.Context, wsID, keyID string) (APIKey, error) {
	_, err := s.db.W.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE workspace_id = $2 AND id = $3 AND revoked_at IS NULL`,
		time.Now().UnixMicro(), wsID, keyID)
	if err != nil {
		return APIKey{}, fmt.Errorf("auth: revoke API key: %w", err)
	}
	return s.APIKey(ctx, wsID, keyID)
}

// usedEvery bounds how often a key's last-used time is written: once a
// minute is precise enough to read and keeps API calls from all writing.
const usedEvery = time.Minute

// AuthenticateKey returns the live key for a secret and records its use.
func (s *Store) AuthenticateKey(ctx context.Context, plain string) (APIKey, error) {
	if !strings.HasPrefix(plain, KeyPrefix) || len(plain) > 100 {
		return APIKey{}, store.ErrNotFound
	}
	k, err := scanKey(s.db.Reader().QueryRowContext(ctx, `SELECT `+keyCols+` FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`, secret.Hash(plain)))
	if err != nil {
		return APIKey{}, err
	}
	now := time.Now()
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > usedEvery {
		if _, err := s.db.W.ExecContext(ctx, `UPDATE api_keys SET last_used_at = $1 WHERE id = $2`, now.UnixMicro(), k.ID); err != nil {
			return APIKey{}, fmt.Errorf("auth: record API key use: %w", err)
		}
		now = now.UTC().Truncate(time.Microsecond)
		k.LastUsedAt = &now
	}
	return k, nil
}

package team

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// SetupTTL is how long a first-run setup link stays valid.
const SetupTTL = 24 * time.Hour

// ErrTokenInvalid is returned for a one-time link that is unknown, used or expired.
var ErrTokenInvalid = errors.New("this link is invalid or has expired")

// ErrAlreadySetUp is returned by Setup once anyone can sign in.
var ErrAlreadySetUp = errors.New("Roost is already set up: sign in instead")

func newToken(ctx context.Context, q store.Querier, kind, userID, wsID string, now time.Time, ttl time.Duration) (string, error) {
	tok := id.Token(20)
	_, err := q.ExecContext(ctx, `INSERT INTO tokens (token_hash, kind, user_id, workspace_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		hashToken(tok), kind, nullable(userID), nullable(wsID), store.Micros(now), store.Micros(now.Add(ttl)))
	if err != nil {
		return "", fmt.Errorf("team: create %s token: %w", kind, err)
	}
	return tok, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// findToken returns the user and workspace a live token of the kind names.
func findToken(ctx context.Context, q store.Querier, kind, tok string) (userID, wsID string, err error) {
	var u, w sql.NullString
	err = q.QueryRowContext(ctx, `SELECT user_id, workspace_id FROM tokens WHERE token_hash = $1 AND kind = $2 AND expires_at > $3`,
		hashToken(tok), kind, time.Now().UnixMicro()).Scan(&u, &w)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", ErrTokenInvalid
	}
	return u.String, w.String, err
}

// NewSetupToken returns a one-time link token that lets the first person
// create the first workspace, or ErrAlreadySetUp when anyone exists.
func (s *Store) NewSetupToken(ctx context.Context) (string, error) {
	var tok string
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrAlreadySetUp
		}
		var err error
		tok, err = newToken(ctx, tx, "setup", "", "", time.Now(), SetupTTL)
		return err
	})
	return tok, err
}

// CheckSetupToken reports whether tok is a live setup token.
func (s *Store) CheckSetupToken(ctx context.Context, tok string) error {
	_, _, err := findToken(ctx, s.db.R, "setup", tok)
	return err
}

// NewOwner is the input for the first owner of a workspace.
type NewOwner struct {
	Workspace string // workspace name
	Email     string
	Name      string
	Password  string
	Signature string
}

func (in NewOwner) check() (NewOwner, NewWorkspace, error) {
	var e valid.Errors
	in.Email = e.Email("email", in.Email)
	in.Name = e.Text("name", in.Name, 1, 100)
	in.Signature = checkSignature(&e, in.Signature)
	checkPassword(&e, in.Password)
	nw, err := NewWorkspace{Name: in.Workspace}.check()
	if ve, ok := valid.As(err); ok {
		for _, f := range ve.Fields {
			e.Add("workspace", "%s", f.Message)
		}
	}
	return in, nw, e.Err()
}

// Setup spends a setup token to create the first workspace and its owner.
func (s *Store) Setup(ctx context.Context, tok string, in NewOwner) (User, Workspace, error) {
	in, nw, err := in.check()
	if err != nil {
		return User{}, Workspace{}, err
	}
	var u User
	var w Workspace
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, _, err := findToken(ctx, tx, "setup", tok); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrAlreadySetUp
		}
		u, w, _, err = s.createOwner(ctx, tx, in, nw)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM tokens WHERE kind = 'setup'`)
		return err
	})
	return u, w, err
}

// CreateOwner makes the person an owner of the named workspace, creating
// the workspace (matched by its slug) and the user as needed and setting the
// user's password. It is what `roost admin create` runs.
func (s *Store) CreateOwner(ctx context.Context, in NewOwner) (Workspace, Member, error) {
	in, nw, err := in.check()
	if err != nil {
		return Workspace{}, Member{}, err
	}
	var w Workspace
	var m Member
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, w, m, err = s.createOwner(ctx, tx, in, nw)
		return err
	})
	return w, m, err
}

func (s *Store) createOwner(ctx context.Context, tx *sql.Tx, in NewOwner, nw NewWorkspace) (User, Workspace, Member, error) {
	now := time.Now()
	w, err := scanWorkspace(tx.QueryRowContext(ctx, `SELECT `+workspaceCols+` FROM workspaces WHERE slug = $1`, nw.Slug))
	if errors.Is(err, store.ErrNotFound) {
		w, err = createWorkspace(ctx, tx, nw, now)
	}
	if err != nil {
		return User{}, Workspace{}, Member{}, err
	}
	u, err := findOrCreateUser(ctx, tx, in.Email, in.Name, now)
	if err != nil {
		return User{}, Workspace{}, Member{}, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, HashPassword(in.Password), u.ID); err != nil {
		return User{}, Workspace{}, Member{}, fmt.Errorf("team: set password: %w", err)
	}
	u.HasPassword = true
	m, err := scanMember(tx.QueryRowContext(ctx, `SELECT `+memberCols+memberFrom+`WHERE m.workspace_id = $1 AND m.user_id = $2`, w.ID, u.ID))
	switch {
	case errors.Is(err, store.ErrNotFound):
		m, err = insertMember(ctx, tx, w.ID, u.ID, Owner, in.Signature, now)
	case err == nil:
		_, err = tx.ExecContext(ctx, `UPDATE members SET role = 'owner' WHERE id = $1`, m.ID)
		m.Role = Owner
	}
	if err != nil {
		return User{}, Workspace{}, Member{}, err
	}
	m.Email, m.Name, m.Pending = u.Email, u.Name, false
	return u, w, m, nil
}

// Invitation is what an invitation link shows before it is accepted.
type Invitation struct {
	User      User
	Workspace Workspace
}

// Invitation returns who a live invitation token is for.
func (s *Store) Invitation(ctx context.Context, tok string) (Invitation, error) {
	userID, wsID, err := findToken(ctx, s.db.R, "invite", tok)
	if err != nil {
		return Invitation{}, err
	}
	u, err := s.User(ctx, userID)
	if err != nil {
		return Invitation{}, ErrTokenInvalid
	}
	w, err := s.Workspace(ctx, wsID)
	if err != nil {
		return Invitation{}, ErrTokenInvalid
	}
	return Invitation{User: u, Workspace: w}, nil
}

// AcceptInvitation spends an invitation token to set the person's password.
func (s *Store) AcceptInvitation(ctx context.Context, tok, password string) (User, string, error) {
	var e valid.Errors
	checkPassword(&e, password)
	if err := e.Err(); err != nil {
		return User{}, "", err
	}
	var userID, wsID string
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		if userID, wsID, err = findToken(ctx, tx, "invite", tok); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, HashPassword(password), userID); err != nil {
			return fmt.Errorf("team: set password: %w", err)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM tokens WHERE kind = 'invite' AND user_id = $1`, userID)
		return err
	})
	if err != nil {
		return User{}, "", err
	}
	u, err := s.User(ctx, userID)
	return u, wsID, err
}

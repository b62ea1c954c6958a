package team

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// SetupTTL is how long a first-run setup link stays valid.
const SetupTTL = 24 * time.Hour

// ErrTokenInvalid is returned for a one-time link that is unknown, used or expired.
var ErrTokenInvalid = errors.New("this link is invalid or has expired")

// ErrAlreadySetUp is returned by Setup once anyone can sign in.
var ErrAlreadySetUp = errors.New("Roost is already set up: sign in instead")

// ErrSignInToAccept is returned when an invitation is for someone who
// already has a password: they accept it signed in, never by setting one.
var ErrSignInToAccept = errors.New("this invitation is for an existing account: sign in to accept it")

func newToken(ctx context.Context, q store.Querier, kind, memberID string, now time.Time, ttl time.Duration) (string, error) {
	tok := id.Token(20)
	_, err := q.ExecContext(ctx, `INSERT INTO tokens (token_hash, kind, member_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		secret.Hash(tok), kind, store.Null(memberID), store.Micros(now), store.Micros(now.Add(ttl)))
	if err != nil {
		return "", fmt.Errorf("team: create %s token: %w", kind, err)
	}
	return tok, nil
}

// findToken returns the member a live token of the kind names ("" for setup).
func findToken(ctx context.Context, q store.Querier, kind, tok string) (string, error) {
	var m sql.NullString
	err := q.QueryRowContext(ctx, `SELECT member_id FROM tokens WHERE token_hash = $1 AND kind = $2 AND expires_at > $3`,
		secret.Hash(tok), kind, time.Now().UnixMicro()).Scan(&m)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrTokenInvalid
	}
	return m.String, err
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
		tok, err = newToken(ctx, tx, "setup", "", time.Now(), SetupTTL)
		return err
	})
	return tok, err
}

// CheckSetupToken reports whether tok is a live setup token.
func (s *Store) CheckSetupToken(ctx context.Context, tok string) error {
	_, err := findToken(ctx, s.db.R, "setup", tok)
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
	hash := HashPassword(in.Password) // slow: outside the write transaction
	var u User
	var w Workspace
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := findToken(ctx, tx, "setup", tok); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrAlreadySetUp
		}
		u, w, _, err = createOwner(ctx, tx, in, nw, hash)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM tokens WHERE kind = 'setup'`)
		return err
	})
	return u, w, err
}

// CreateOwner makes the person an owner of the named workspace, creating
// the workspace (matched by its address) and the user as needed, and
// setting the user's password. It is what `roost admin create` runs: the
// operator of the instance vouches for the person.
func (s *Store) CreateOwner(ctx context.Context, in NewOwner) (Workspace, Member, error) {
	in, nw, err := in.check()
	if err != nil {
		return Workspace{}, Member{}, err
	}
	hash := HashPassword(in.Password)
	var w Workspace
	var m Member
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, w, m, err = createOwner(ctx, tx, in, nw, hash)
		return err
	})
	return w, m, err
}

func createOwner(ctx context.Context, tx *sql.Tx, in NewOwner, nw NewWorkspace, hash string) (User, Workspace, Member, error) {
	now := time.Now()
	// Insert-or-find in one statement: a failed insert would abort a
	// PostgreSQL transaction, and two admins may run this at once.
	_, err := tx.ExecContext(ctx, `INSERT INTO workspaces (id, slug, name, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (slug) DO NOTHING`,
		id.New("ws"), nw.Slug, nw.Name, store.Micros(now))
	if err != nil {
		return User{}, Workspace{}, Member{}, fmt.Errorf("team: create workspace: %w", err)
	}
	w, err := scanWorkspace(tx.QueryRowContext(ctx, `SELECT `+workspaceCols+` FROM workspaces WHERE slug = $1`, nw.Slug))
	if err != nil {
		return User{}, Workspace{}, Member{}, err
	}
	u, _, err := findOrCreateUser(ctx, tx, in.Email, in.Name, now)
	if err != nil {
		return User{}, Workspace{}, Member{}, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, u.ID); err != nil {
		return User{}, Workspace{}, Member{}, fmt.Errorf("team: set password: %w", err)
	}
	u.HasPassword = true
	m, err := memberForUser(ctx, tx, w.ID, u.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		m, err = insertMember(ctx, tx, Member{WorkspaceID: w.ID, UserID: u.ID, Email: u.Email, Name: in.Name, Role: Owner, Signature: in.Signature}, now, true)
	case err == nil:
		_, err = tx.ExecContext(ctx, `UPDATE members SET role = 'owner', accepted_at = COALESCE(accepted_at, $1) WHERE id = $2`, store.Micros(now), m.ID)
		m.Role, m.Pending = Owner, false
	}
	if err != nil {
		return User{}, Workspace{}, Member{}, err
	}
	return u, w, m, nil
}

// Invitation is what an invitation link shows before it is accepted: only
// what the inviter already knew.
type Invitation struct {
	MemberID    string
	Workspace   Workspace
	Email, Name string // as the inviter wrote them
	UserID      string
	HasPassword bool // the person already uses Roost and accepts signed in
}

// Invitation returns who a live invitation token is for.
func (s *Store) Invitation(ctx context.Context, tok string) (Invitation, error) {
	memberID, err := findToken(ctx, s.db.R, "invite", tok)
	if err != nil {
		return Invitation{}, err
	}
	var inv Invitation
	var wsID string
	err = s.db.R.QueryRowContext(ctx, `SELECT m.id, m.workspace_id, m.name, u.id, u.email, u.password_hash <> '' FROM members m JOIN users u ON u.id = m.user_id
		WHERE m.id = $1 AND m.accepted_at IS NULL`, memberID).Scan(&inv.MemberID, &wsID, &inv.Name, &inv.UserID, &inv.Email, &inv.HasPassword)
	if errors.Is(err, sql.ErrNoRows) {
		return Invitation{}, ErrTokenInvalid
	}
	if err != nil {
		return Invitation{}, err
	}
	if inv.Workspace, err = s.Workspace(ctx, wsID); err != nil {
		return Invitation{}, ErrTokenInvalid
	}
	return inv, nil
}

// AcceptInvitation spends an invitation token. userID is the signed-in
// person accepting it, or "" for a newcomer, who accepts by choosing a
// password; a person who already has one must be signed in as themselves.
func (s *Store) AcceptInvitation(ctx context.Context, tok, userID, password string) (Invitation, error) {
	inv, err := s.Invitation(ctx, tok)
	if err != nil {
		return Invitation{}, err
	}
	var hash string
	switch {
	case userID != "" && userID != inv.UserID:
		return Invitation{}, ErrTokenInvalid
	case userID == "" && inv.HasPassword:
		return Invitation{}, ErrSignInToAccept
	case userID == "":
		var e valid.Errors
		checkPassword(&e, password)
		if err := e.Err(); err != nil {
			return Invitation{}, err
		}
		hash = HashPassword(password)
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := findToken(ctx, tx, "invite", tok); err != nil {
			return err
		}
		if hash != "" {
			// Only a password-less account gets one this way: an invitation
			// can never replace a password someone already chose.
			res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = ''`, hash, inv.UserID)
			if err != nil {
				return fmt.Errorf("team: set password: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return ErrSignInToAccept
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE members SET accepted_at = $1 WHERE id = $2 AND accepted_at IS NULL`, time.Now().UnixMicro(), inv.MemberID)
		if err != nil {
			return fmt.Errorf("team: accept invitation: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrTokenInvalid
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM tokens WHERE kind = 'invite' AND member_id = $1`, inv.MemberID)
		return err
	})
	if err != nil {
		return Invitation{}, err
	}
	return inv, nil
}

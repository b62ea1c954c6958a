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

const memberCols = `m.id, m.workspace_id, m.user_id, u.email, u.name, m.role, m.signature, u.password_hash = '', m.created_at`
const memberFrom = ` FROM members m JOIN users u ON u.id = m.user_id `

func scanMember(row interface{ Scan(...any) error }) (Member, error) {
	var m Member
	err := row.Scan(&m.ID, &m.WorkspaceID, &m.UserID, &m.Email, &m.Name, &m.Role, &m.Signature, &m.Pending, store.T(&m.CreatedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return m, store.ErrNotFound
	}
	return m, err
}

// Member returns a member of the workspace.
func (s *Store) Member(ctx context.Context, wsID, memberID string) (Member, error) {
	return scanMember(s.db.R.QueryRowContext(ctx, `SELECT `+memberCols+memberFrom+`WHERE m.workspace_id = $1 AND m.id = $2`, wsID, memberID))
}

// MemberForUser returns the user's membership of the workspace.
func (s *Store) MemberForUser(ctx context.Context, wsID, userID string) (Member, error) {
	return scanMember(s.db.R.QueryRowContext(ctx, `SELECT `+memberCols+memberFrom+`WHERE m.workspace_id = $1 AND m.user_id = $2`, wsID, userID))
}

// Members lists a workspace's members in the order they joined, limit at a
// time, starting after the member with ID after ("" for the first page).
func (s *Store) Members(ctx context.Context, wsID, after string, limit int) ([]Member, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+memberCols+memberFrom+`WHERE m.workspace_id = $1 AND m.id > $2 ORDER BY m.id LIMIT $3`,
		wsID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("team: list members: %w", err)
	}
	defer rows.Close()
	var out []Member
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// NewMember is the input for adding someone to a workspace.
type NewMember struct {
	Email     string
	Name      string
	Role      Role
	Signature string
}

func checkSignature(e *valid.Errors, sig string) string {
	return e.Text("signature", sig, 0, 24)
}

func (in NewMember) check(actor Role) (NewMember, error) {
	var e valid.Errors
	in.Email = e.Email("email", in.Email)
	in.Name = e.Text("name", in.Name, 1, 100)
	in.Signature = checkSignature(&e, in.Signature)
	switch {
	case in.Role == "":
		e.Add("role", "is required: one of owner, admin, marketer, agent")
	case !in.Role.valid():
		e.Add("role", "must be one of owner, admin, marketer, agent")
	case in.Role == Owner && actor != Owner:
		e.Add("role", "only an owner can make someone an owner")
	}
	return in, e.Err()
}

func insertMember(ctx context.Context, q store.Querier, wsID, userID string, role Role, sig string, now time.Time) (Member, error) {
	m := Member{ID: id.New("mem"), WorkspaceID: wsID, UserID: userID, Role: role, Signature: sig, CreatedAt: now.UTC().Truncate(time.Microsecond)}
	_, err := q.ExecContext(ctx, `INSERT INTO members (id, workspace_id, user_id, role, signature, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		m.ID, wsID, userID, role, sig, store.Micros(m.CreatedAt))
	if store.IsUniqueViolation(err) {
		return Member{}, valid.Conflict("email", "is already a member of this workspace")
	}
	if err != nil {
		return Member{}, fmt.Errorf("team: add member: %w", err)
	}
	return m, nil
}

// findOrCreateUser returns the user with this email, creating one without a
// password when there is none.
func findOrCreateUser(ctx context.Context, q store.Querier, email, name string, now time.Time) (User, error) {
	u, _, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE email = $1`, email))
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return u, err
	}
	u = User{ID: id.New("usr"), Email: email, Name: name, CreatedAt: now.UTC().Truncate(time.Microsecond)}
	_, err = q.ExecContext(ctx, `INSERT INTO users (id, email, name, created_at) VALUES ($1, $2, $3, $4)`,
		u.ID, u.Email, u.Name, store.Micros(u.CreatedAt))
	if err != nil {
		return User{}, fmt.Errorf("team: create user: %w", err)
	}
	return u, nil
}

// InviteTTL is how long an invitation link stays valid.
const InviteTTL = 7 * 24 * time.Hour

// AddMember adds a person to the workspace, acting with the actor's role.
// When the person has never set a password, it returns a one-time
// invitation token for them to do so.
func (s *Store) AddMember(ctx context.Context, actor Role, wsID string, in NewMember) (Member, string, error) {
	in, err := in.check(actor)
	if err != nil {
		return Member{}, "", err
	}
	var m Member
	var invite string
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		now := time.Now()
		u, err := findOrCreateUser(ctx, tx, in.Email, in.Name, now)
		if err != nil {
			return err
		}
		if m, err = insertMember(ctx, tx, wsID, u.ID, in.Role, in.Signature, now); err != nil {
			return err
		}
		m.Email, m.Name, m.Pending = u.Email, u.Name, !u.HasPassword
		if m.Pending {
			invite, err = newToken(ctx, tx, "invite", u.ID, wsID, now, InviteTTL)
		}
		return err
	})
	return m, invite, err
}

// Reinvite returns a new invitation token for a member who has not set a
// password yet.
func (s *Store) Reinvite(ctx context.Context, wsID, memberID string) (string, error) {
	m, err := s.Member(ctx, wsID, memberID)
	if err != nil {
		return "", err
	}
	if !m.Pending {
		return "", valid.New("member", "%s has already set a password", m.Email)
	}
	var tok string
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		tok, err = newToken(ctx, tx, "invite", m.UserID, wsID, time.Now(), InviteTTL)
		return err
	})
	return tok, err
}

// MemberUpdate changes a member; nil fields stay as they are.
type MemberUpdate struct {
	Role      *Role
	Signature *string
}

// errLastOwner protects a workspace from losing its last owner.
var errLastOwner = valid.New("role", "a workspace needs at least one owner: make someone else an owner first")

// lockOwners locks the workspace row and returns the member's current role
// and the number of owners, so role changes cannot race each other.
func (s *Store) lockOwners(ctx context.Context, tx *sql.Tx, wsID, memberID string) (Role, int, error) {
	var ignored string
	if err := tx.QueryRowContext(ctx, `SELECT id FROM workspaces WHERE id = $1`+s.db.ForUpdate(), wsID).Scan(&ignored); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", 0, store.ErrNotFound
		}
		return "", 0, err
	}
	var role Role
	err := tx.QueryRowContext(ctx, `SELECT role FROM members WHERE workspace_id = $1 AND id = $2`, wsID, memberID).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, store.ErrNotFound
	}
	if err != nil {
		return "", 0, err
	}
	var owners int
	err = tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM members WHERE workspace_id = $1 AND role = 'owner'`, wsID).Scan(&owners)
	return role, owners, err
}

// UpdateMember changes a member's role or signature, acting with the
// actor's role. Only owners change owners, and the last owner stays one.
func (s *Store) UpdateMember(ctx context.Context, actor Role, wsID, memberID string, upd MemberUpdate) (Member, error) {
	var e valid.Errors
	if upd.Role != nil && !upd.Role.valid() {
		e.Add("role", "must be one of owner, admin, marketer, agent")
	}
	if upd.Signature != nil {
		sig := checkSignature(&e, *upd.Signature)
		upd.Signature = &sig
	}
	if err := e.Err(); err != nil {
		return Member{}, err
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		cur, owners, err := s.lockOwners(ctx, tx, wsID, memberID)
		if err != nil {
			return err
		}
		if upd.Role != nil && *upd.Role != cur {
			if (cur == Owner || *upd.Role == Owner) && actor != Owner {
				return valid.New("role", "only an owner can change who is an owner")
			}
			if cur == Owner && owners <= 1 {
				return errLastOwner
			}
			if _, err := tx.ExecContext(ctx, `UPDATE members SET role = $1 WHERE id = $2`, *upd.Role, memberID); err != nil {
				return fmt.Errorf("team: update member: %w", err)
			}
		}
		if upd.Signature != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE members SET signature = $1 WHERE id = $2`, *upd.Signature, memberID); err != nil {
				return fmt.Errorf("team: update member: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return Member{}, err
	}
	return s.Member(ctx, wsID, memberID)
}

// RemoveMember takes a member out of the workspace, acting with the actor's
// role. The person's account stays for their other workspaces.
func (s *Store) RemoveMember(ctx context.Context, actor Role, wsID, memberID string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		cur, owners, err := s.lockOwners(ctx, tx, wsID, memberID)
		if err != nil {
			return err
		}
		if cur == Owner && actor != Owner {
			return valid.New("role", "only an owner can remove an owner")
		}
		if cur == Owner && owners <= 1 {
			return errLastOwner
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM members WHERE id = $1`, memberID); err != nil {
			return fmt.Errorf("team: remove member: %w", err)
		}
		return nil
	})
}

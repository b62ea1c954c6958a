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

const memberCols = `m.id, m.workspace_id, m.user_id, u.email, m.name, m.role, m.signature, m.accepted_at IS NULL, m.created_at`
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

func memberForUser(ctx context.Context, q store.Querier, wsID, userID string) (Member, error) {
	return scanMember(q.QueryRowContext(ctx, `SELECT `+memberCols+memberFrom+`WHERE m.workspace_id = $1 AND m.user_id = $2`, wsID, userID))
}

// MemberForUser returns the user's membership of the workspace.
func (s *Store) MemberForUser(ctx context.Context, wsID, userID string) (Member, error) {
	return memberForUser(ctx, s.db.R, wsID, userID)
}

// Members lists a workspace's members in the order they were added, limit
// at a time, starting after the member with ID after ("" for the first page).
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

// Headcount is the size of a team.
type Headcount struct{ Members, Pending int }

// CountMembers counts a workspace's members, and those still invited.
func (s *Store) CountMembers(ctx context.Context, wsID string) (Headcount, error) {
	var h Headcount
	err := s.db.R.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(*) - COUNT(accepted_at) FROM members WHERE workspace_id = $1`, wsID).Scan(&h.Members, &h.Pending)
	return h, err
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

func insertMember(ctx context.Context, q store.Querier, m Member, now time.Time, accepted bool) (Member, error) {
	m.ID = id.New("mem")
	m.CreatedAt = now.UTC().Truncate(time.Microsecond)
	m.Pending = !accepted
	var acceptedAt any
	if accepted {
		acceptedAt = store.Micros(now)
	}
	_, err := q.ExecContext(ctx, `INSERT INTO members (id, workspace_id, user_id, name, role, signature, created_at, accepted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		m.ID, m.WorkspaceID, m.UserID, m.Name, m.Role, m.Signature, store.Micros(m.CreatedAt), acceptedAt)
	if store.IsUniqueViolation(err) {
		return Member{}, valid.Conflict("email", "is already a member of this workspace, or invited")
	}
	if err != nil {
		return Member{}, fmt.Errorf("team: add member: %w", err)
	}
	return m, nil
}

// findOrCreateUser returns the user with this email, creating one without a
// password when there is none. Safe when two transactions race to create
// the same person.
func findOrCreateUser(ctx context.Context, q store.Querier, email, name string, now time.Time) (User, string, error) {
	_, err := q.ExecContext(ctx, `INSERT INTO users (id, email, name, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (email) DO NOTHING`,
		id.New("usr"), email, name, store.Micros(now))
	if err != nil {
		return User{}, "", fmt.Errorf("team: create user: %w", err)
	}
	return scanUser(q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE email = $1`, email))
}

// InviteTTL is how long an invitation link stays valid.
const InviteTTL = 7 * 24 * time.Hour

// AddMember invites a person to the workspace, acting with the actor's
// role, and returns the one-time invitation token to hand them. The
// membership gives access only once the invitation is accepted: by setting
// a password, or, for someone who already uses Roost, by signing in.
func (s *Store) AddMember(ctx context.Context, actor Role, wsID string, in NewMember) (Member, string, error) {
	in, err := in.check(actor)
	if err != nil {
		return Member{}, "", err
	}
	var m Member
	var invite string
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		now := time.Now()
		u, _, err := findOrCreateUser(ctx, tx, in.Email, in.Name, now)
		if err != nil {
			return err
		}
		m, err = insertMember(ctx, tx, Member{WorkspaceID: wsID, UserID: u.ID, Email: u.Email, Name: in.Name, Role: in.Role, Signature: in.Signature}, now, false)
		if err != nil {
			return err
		}
		invite, err = newToken(ctx, tx, "invite", m.ID, now, InviteTTL)
		return err
	})
	return m, invite, err
}

// Reinvite replaces a pending member's invitation with a new one.
func (s *Store) Reinvite(ctx context.Context, wsID, memberID string) (string, error) {
	var tok string
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var pending bool
		err := tx.QueryRowContext(ctx, `SELECT accepted_at IS NULL FROM members WHERE workspace_id = $1 AND id = $2`, wsID, memberID).Scan(&pending)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if !pending {
			return valid.New("member", "has already joined")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE kind = 'invite' AND member_id = $1`, memberID); err != nil {
			return err
		}
		tok, err = newToken(ctx, tx, "invite", memberID, time.Now(), InviteTTL)
		return err
	})
	return tok, err
}

// MemberUpdate changes a member; nil fields stay as they are.
type MemberUpdate struct {
	Name      *string
	Role      *Role
	Signature *string
}

// errLastOwner protects a workspace from losing its last owner.
var errLastOwner = valid.New("role", "a workspace needs at least one owner: make someone else an owner first")

// ownerState is what role changes must check: the member's role, whether
// they have joined, and how many owners have.
type ownerState struct {
	role    Role
	pending bool
	owners  int
}

// lastOwner reports whether the member is the workspace's only joined owner.
func (o ownerState) lastOwner() bool { return o.role == Owner && !o.pending && o.owners <= 1 }

// lockOwners locks the workspace row and reads the owner state, so role
// changes cannot race each other.
func (s *Store) lockOwners(ctx context.Context, tx *sql.Tx, wsID, memberID string) (ownerState, error) {
	var o ownerState
	var ignored string
	if err := tx.QueryRowContext(ctx, `SELECT id FROM workspaces WHERE id = $1`+s.db.ForUpdate(), wsID).Scan(&ignored); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return o, store.ErrNotFound
		}
		return o, err
	}
	err := tx.QueryRowContext(ctx, `SELECT role, accepted_at IS NULL FROM members WHERE workspace_id = $1 AND id = $2`, wsID, memberID).Scan(&o.role, &o.pending)
	if errors.Is(err, sql.ErrNoRows) {
		return o, store.ErrNotFound
	}
	if err != nil {
		return o, err
	}
	err = tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM members WHERE workspace_id = $1 AND role = 'owner' AND accepted_at IS NOT NULL`, wsID).Scan(&o.owners)
	return o, err
}

// UpdateMember changes a member's name, role or signature, acting with the
// actor's role. Only owners change owners, and the last owner stays one.
func (s *Store) UpdateMember(ctx context.Context, actor Role, wsID, memberID string, upd MemberUpdate) (Member, error) {
	var e valid.Errors
	if upd.Role != nil && !upd.Role.valid() {
		e.Add("role", "must be one of owner, admin, marketer, agent")
	}
	if upd.Name != nil {
		n := e.Text("name", *upd.Name, 1, 100)
		upd.Name = &n
	}
	if upd.Signature != nil {
		sig := checkSignature(&e, *upd.Signature)
		upd.Signature = &sig
	}
	if err := e.Err(); err != nil {
		return Member{}, err
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		o, err := s.lockOwners(ctx, tx, wsID, memberID)
		if err != nil {
			return err
		}
		if upd.Role != nil && *upd.Role != o.role {
			if (o.role == Owner || *upd.Role == Owner) && actor != Owner {
				return valid.New("role", "only an owner can change who is an owner")
			}
			if o.lastOwner() {
				return errLastOwner
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE members SET role = COALESCE($1, role), name = COALESCE($2, name), signature = COALESCE($3, signature)
			WHERE workspace_id = $4 AND id = $5`, upd.Role, upd.Name, upd.Signature, wsID, memberID)
		if err != nil {
			return fmt.Errorf("team: update member: %w", err)
		}
		return nil
	})
	if err != nil {
		return Member{}, err
	}
	return s.Member(ctx, wsID, memberID)
}

// RemoveMember takes a member out of the workspace (or withdraws their
// invitation), acting with the actor's role. The person's account stays
// for their other workspaces.
func (s *Store) RemoveMember(ctx context.Context, actor Role, wsID, memberID string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		o, err := s.lockOwners(ctx, tx, wsID, memberID)
		if err != nil {
			return err
		}
		if o.role == Owner && actor != Owner {
			return valid.New("role", "only an owner can remove an owner")
		}
		if o.lastOwner() {
			return errLastOwner
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM members WHERE workspace_id = $1 AND id = $2`, wsID, memberID); err != nil {
			return fmt.Errorf("team: remove member: %w", err)
		}
		return nil
	})
}

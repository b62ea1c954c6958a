// Package team is tenancy and people: workspaces, the users who sign in,
// their membership (role and signature) of each workspace, first-run setup
// and invitations.
package team

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// Role is what a member may do in a workspace.
type Role string

const (
	Owner    Role = "owner"    // everything, including other owners
	Admin    Role = "admin"    // the team, API keys, settings
	Marketer Role = "marketer" // offers, posts, links, reports
	Agent    Role = "agent"    // the inbox
)

// Roles lists the roles from most to least powerful.
var Roles = []Role{Owner, Admin, Marketer, Agent}

// ManagesTeam reports whether the role may add and change members and API keys.
func (r Role) ManagesTeam() bool { return r == Owner || r == Admin }

// Markets reports whether the role may create and change offers, posts and
// links (agents see them, and work the inbox).
func (r Role) Markets() bool { return r != Agent }

func (r Role) valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// Workspace is one brand's tenancy: everything else belongs to exactly one.
type Workspace struct {
	ID        string    `json:"id"`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// User is a person who can sign in.
type User struct {
	ID          string
	Email       string
	Name        string
	HasPassword bool
	CreatedAt   time.Time
}

// Member is a user's membership of one workspace.
type Member struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"-"`
	UserID      string    `json:"-"`
	Email       string    `json:"email"`
	Name        string    `json:"name"`
	Role        Role      `json:"role"`
	Signature   string    `json:"signature"`
	Pending     bool      `json:"pending"` // invited, no password set yet
	CreatedAt   time.Time `json:"created_at"`
}

// Store reads and writes the team tables.
type Store struct{ db *store.DB }

// New returns a Store on db.
func New(db *store.DB) *Store { return &Store{db: db} }

const workspaceCols = `id, slug, name, created_at`

func scanWorkspace(row interface{ Scan(...any) error }) (Workspace, error) {
	var w Workspace
	err := row.Scan(&w.ID, &w.Slug, &w.Name, store.T(&w.CreatedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return w, store.ErrNotFound
	}
	return w, err
}

// Workspace returns the workspace with the given ID.
func (s *Store) Workspace(ctx context.Context, wsID string) (Workspace, error) {
	return scanWorkspace(s.db.R.QueryRowContext(ctx, `SELECT `+workspaceCols+` FROM workspaces WHERE id = $1`, wsID))
}

// WorkspaceBySlug returns the workspace with the given slug.
func (s *Store) WorkspaceBySlug(ctx context.Context, slug string) (Workspace, error) {
	return scanWorkspace(s.db.R.QueryRowContext(ctx, `SELECT `+workspaceCols+` FROM workspaces WHERE slug = $1`, slug))
}

// Membership is a workspace seen by one of its members.
type Membership struct {
	Workspace
	MemberID string
	Role     Role
}

// Memberships lists the workspaces a user belongs to (invitations they
// have accepted), by name.
func (s *Store) Memberships(ctx context.Context, userID string) ([]Membership, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT w.id, w.slug, w.name, w.created_at, m.id, m.role
		FROM members m JOIN workspaces w ON w.id = m.workspace_id
		WHERE m.user_id = $1 AND m.accepted_at IS NOT NULL ORDER BY w.name, w.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("team: list memberships: %w", err)
	}
	defer rows.Close()
	var out []Membership
	for rows.Next() {
		var m Membership
		if err := rows.Scan(&m.ID, &m.Slug, &m.Name, store.T(&m.CreatedAt), &m.MemberID, &m.Role); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// NewWorkspace is the input for a workspace. An empty Slug is made from Name.
type NewWorkspace struct {
	Name string
	Slug string
}

func (in NewWorkspace) check() (NewWorkspace, error) {
	var e valid.Errors
	in.Name = e.Text("name", in.Name, 1, 80)
	if in.Slug == "" {
		in.Slug = valid.Slugify(in.Name)
		if in.Slug == "" {
			in.Slug = "workspace"
		}
	}
	in.Slug = e.Slug("slug", in.Slug)
	return in, e.Err()
}

func createWorkspace(ctx context.Context, q store.Querier, in NewWorkspace, now time.Time) (Workspace, error) {
	w := Workspace{ID: id.New("ws"), Slug: in.Slug, Name: in.Name, CreatedAt: now.UTC().Truncate(time.Microsecond)}
	_, err := q.ExecContext(ctx, `INSERT INTO workspaces (id, slug, name, created_at) VALUES ($1, $2, $3, $4)`,
		w.ID, w.Slug, w.Name, store.Micros(w.CreatedAt))
	if store.IsUniqueViolation(err) {
		return Workspace{}, valid.Conflict("slug", "a workspace with the address %q already exists", in.Slug)
	}
	if err != nil {
		return Workspace{}, fmt.Errorf("team: create workspace: %w", err)
	}
	return w, nil
}

// CreateWorkspace creates a workspace with the user as its owner, under
// the name they go by.
func (s *Store) CreateWorkspace(ctx context.Context, userID, name string, in NewWorkspace) (Workspace, error) {
	in, err := in.check()
	if err != nil {
		return Workspace{}, err
	}
	var w Workspace
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		now := time.Now()
		if w, err = createWorkspace(ctx, tx, in, now); err != nil {
			return err
		}
		_, err = insertMember(ctx, tx, Member{WorkspaceID: w.ID, UserID: userID, Name: name, Role: Owner}, now, true)
		return err
	})
	return w, err
}

// RenameWorkspace changes a workspace's display name.
func (s *Store) RenameWorkspace(ctx context.Context, wsID, name string) error {
	var e valid.Errors
	name = e.Text("name", name, 1, 80)
	if err := e.Err(); err != nil {
		return err
	}
	res, err := s.db.W.ExecContext(ctx, `UPDATE workspaces SET name = $1 WHERE id = $2`, name, wsID)
	if err != nil {
		return fmt.Errorf("team: rename workspace: %w", err)
	}
	return mustAffect(res)
}

func mustAffect(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// CountUsers returns how many people can sign in or have been invited.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

func scanUser(row interface{ Scan(...any) error }) (User, string, error) {
	var u User
	var hash string
	err := row.Scan(&u.ID, &u.Email, &u.Name, &hash, store.T(&u.CreatedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return u, "", store.ErrNotFound
	}
	u.HasPassword = hash != ""
	return u, hash, err
}

const userCols = `id, email, name, password_hash, created_at`

// User returns the user with the given ID.
func (s *Store) User(ctx context.Context, userID string) (User, error) {
	u, _, err := scanUser(s.db.R.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, userID))
	return u, err
}

// ErrBadLogin is returned for a wrong email or password, without saying which.
var ErrBadLogin = errors.New("email or password is incorrect")

// Authenticate returns the user with this email and password.
func (s *Store) Authenticate(ctx context.Context, email, password string) (User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	u, hash, err := scanUser(s.db.R.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE email = $1`, email))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return User{}, fmt.Errorf("team: authenticate: %w", err)
	}
	if hash == "" {
		CheckPassword(dummyHash, password) // as slow as a real check
		return User{}, ErrBadLogin
	}
	ok, err := CheckPassword(hash, password)
	if err != nil {
		return User{}, err
	}
	if !ok {
		return User{}, ErrBadLogin
	}
	return u, nil
}

func checkPassword(e *valid.Errors, password string) {
	switch {
	case len([]rune(password)) < MinPasswordLen:
		e.Add("password", "must be at least %d characters", MinPasswordLen)
	case len(password) > 1024:
		e.Add("password", "must be at most 1024 bytes")
	}
}

// SetPassword replaces a user's password.
func (s *Store) SetPassword(ctx context.Context, userID, password string) error {
	var e valid.Errors
	checkPassword(&e, password)
	if err := e.Err(); err != nil {
		return err
	}
	res, err := s.db.W.ExecContext(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, HashPassword(password), userID)
	if err != nil {
		return fmt.Errorf("team: set password: %w", err)
	}
	return mustAffect(res)
}

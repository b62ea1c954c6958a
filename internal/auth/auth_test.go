package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/auth"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
	"github.com/roost-hq/roost/internal/team"
)

func setup(t *testing.T, db *store.DB) (team.Workspace, team.Member) {
	t.Helper()
	w, m, err := team.New(db).CreateOwner(context.Background(), team.NewOwner{Workspace: storetest.Name("ws"), Email: "o@example.com", Name: "O", Password: "long enough password"})
	if err != nil {
		t.Fatal(err)
	}
	return w, m
}

func TestSessions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := auth.New(db)
		w, m := setup(t, db)
		tok, err := s.CreateSession(ctx, m.UserID, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		se, err := s.Session(ctx, tok)
		if err != nil || se.UserID != m.UserID || se.WorkspaceID != w.ID {
			t.Fatalf("Session = %+v, %v", se, err)
		}
		var inClear int
		if err := db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions WHERE token_hash = $1`, tok).Scan(&inClear); err != nil || inClear != 0 {
			t.Fatalf("session token stored in clear (%v)", err)
		}
		tok2, _ := s.CreateSession(ctx, m.UserID, "")
		if err := s.DeleteUserSessions(ctx, m.UserID, tok2); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Session(ctx, tok); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other session survived sign-out everywhere: %v", err)
		}
		if _, err := s.Session(ctx, tok2); err != nil {
			t.Fatalf("kept session: %v", err)
		}
		if err := s.DeleteSession(ctx, tok2); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Session(ctx, tok2); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted session: %v", err)
		}
		// A session used in the second half of its life is extended.
		tokX, _ := s.CreateSession(ctx, m.UserID, w.ID)
		soon := time.Now().Add(auth.SessionTTL / 4)
		if _, err := db.W.ExecContext(ctx, `UPDATE sessions SET expires_at = $1 WHERE token_hash = $2`, soon.UnixMicro(), secret.Hash(tokX)); err != nil {
			t.Fatal(err)
		}
		if se, err := s.Session(ctx, tokX); err != nil || se.ExpiresAt.Before(time.Now().Add(auth.SessionTTL*9/10)) {
			t.Fatalf("session not extended: %v %v", se.ExpiresAt, err)
		}
		var stored time.Time
		if err := db.R.QueryRowContext(ctx, `SELECT expires_at FROM sessions WHERE token_hash = $1`, secret.Hash(tokX)).Scan(store.T(&stored)); err != nil || stored.Before(soon.Add(time.Hour)) {
			t.Fatalf("extension not stored: %v %v", stored, err)
		}
		// Expired sessions are refused and swept.
		tok3, _ := s.CreateSession(ctx, m.UserID, w.ID)
		db.W.ExecContext(ctx, `UPDATE sessions SET expires_at = 1`)
		if _, err := s.Session(ctx, tok3); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired session: %v", err)
		}
		if err := s.Expire(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("%d expired sessions left", n)
		}
	})
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := auth.New(db)
		w, m := setup(t, db)
		if _, _, err := s.CreateAPIKey(ctx, w.ID, "  ", m.ID); err == nil {
			t.Fatal("empty name accepted")
		}
		k, secret, err := s.CreateAPIKey(ctx, w.ID, "Shop", m.ID)
		if err != nil || !strings.HasPrefix(secret, "roost_") || !strings.HasPrefix(secret, k.Prefix) {
			t.Fatalf("CreateAPIKey = %+v %q %v", k, secret, err)
		}
		got, err := s.AuthenticateKey(ctx, secret)
		if err != nil || got.ID != k.ID || got.WorkspaceID != w.ID || got.LastUsedAt == nil {
			t.Fatalf("AuthenticateKey = %+v, %v", got, err)
		}
		stored, _ := s.APIKey(ctx, w.ID, k.ID)
		if stored.LastUsedAt == nil {
			t.Fatal("last use not recorded")
		}
		for _, bad := range []string{"", "roost_", secret + "x", strings.ToUpper(secret), "Bearer " + secret} {
			if _, err := s.AuthenticateKey(ctx, bad); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("AuthenticateKey(%q) = %v", bad, err)
			}
		}
		k2, _, _ := s.CreateAPIKey(ctx, w.ID, "CI", "")
		keys, _ := s.APIKeys(ctx, w.ID, "", 1)
		if len(keys) != 1 || keys[0].ID != k2.ID {
			t.Fatalf("first page = %+v", keys)
		}
		keys, _ = s.APIKeys(ctx, w.ID, keys[0].ID, 5)
		if len(keys) != 1 || keys[0].ID != k.ID {
			t.Fatalf("second page = %+v", keys)
		}
		// Another workspace cannot see or revoke the key.
		other, _, _ := team.New(db).CreateOwner(ctx, team.NewOwner{Workspace: "Other", Email: "x@example.com", Name: "X", Password: "long enough password"})
		if _, err := s.RevokeAPIKey(ctx, other.ID, k.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoke across workspaces: %v", err)
		}
		if _, err := s.AuthenticateKey(ctx, secret); err != nil {
			t.Fatal("key stopped working after a foreign revoke")
		}
		r, err := s.RevokeAPIKey(ctx, w.ID, k.ID)
		if err != nil || r.RevokedAt == nil {
			t.Fatalf("revoke: %+v %v", r, err)
		}
		if _, err := s.AuthenticateKey(ctx, secret); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoked key works: %v", err)
		}
	})
}

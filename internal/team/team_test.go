package team_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
	"github.com/roost-hq/roost/internal/team"
	"github.com/roost-hq/roost/internal/valid"
)

const pw = "correct horse battery"

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	h := team.HashPassword(pw)
	if ok, err := team.CheckPassword(h, pw); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, _ := team.CheckPassword(h, pw+"x"); ok {
		t.Fatal("wrong password accepted")
	}
	if h == team.HashPassword(pw) {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, bad := range []string{"", "plain", "$argon2id$v=19$m=1,t=0,p=1$AA$AA", "$bcrypt$x$y$z$w"} {
		if ok, err := team.CheckPassword(bad, pw); ok || err == nil {
			t.Errorf("CheckPassword(%q) = %v, %v", bad, ok, err)
		}
	}
}

func TestSetupThenAuthenticate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := team.New(db)
		tok, err := s.NewSetupToken(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CheckSetupToken(ctx, "nope"); !errors.Is(err, team.ErrTokenInvalid) {
			t.Fatalf("unknown token: %v", err)
		}
		// Bad input stores nothing.
		_, _, err = s.Setup(ctx, tok, team.NewOwner{Workspace: "", Email: "x", Name: "", Password: "short"})
		ve, ok := valid.As(err)
		if !ok || ve.For("email") == "" || ve.For("password") == "" || ve.For("workspace") == "" || ve.For("name") == "" {
			t.Fatalf("bad setup input: %v", err)
		}
		if n, _ := s.CountUsers(ctx); n != 0 {
			t.Fatal("failed setup left a user behind")
		}
		u, w, err := s.Setup(ctx, tok, team.NewOwner{Workspace: "Dell Outlet", Email: "Lena@Example.com", Name: "Lena Berg", Password: pw, Signature: "^LB"})
		if err != nil {
			t.Fatal(err)
		}
		if w.Slug != "dell-outlet" || u.Email != "lena@example.com" {
			t.Fatalf("setup made %+v %+v", w, u)
		}
		if _, _, err := s.Setup(ctx, tok, team.NewOwner{Workspace: "Again", Email: "a@example.com", Name: "A", Password: pw}); !errors.Is(err, team.ErrTokenInvalid) {
			t.Fatalf("setup token reused: %v", err)
		}
		if _, err := s.NewSetupToken(ctx); !errors.Is(err, team.ErrAlreadySetUp) {
			t.Fatalf("setup token after setup: %v", err)
		}
		if got, err := s.Authenticate(ctx, " LENA@example.com", pw); err != nil || got.ID != u.ID {
			t.Fatalf("Authenticate = %v, %v", got, err)
		}
		for _, c := range [][2]string{{"lena@example.com", "wrong password"}, {"nobody@example.com", pw}} {
			if _, err := s.Authenticate(ctx, c[0], c[1]); !errors.Is(err, team.ErrBadLogin) {
				t.Errorf("Authenticate(%q) err = %v", c[0], err)
			}
		}
		m, err := s.MemberForUser(ctx, w.ID, u.ID)
		if err != nil || m.Role != team.Owner || m.Signature != "^LB" {
			t.Fatalf("owner membership = %+v, %v", m, err)
		}
	})
}

func TestMembersAndInvitations(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := team.New(db)
		w, owner, err := s.CreateOwner(ctx, team.NewOwner{Workspace: "Acme", Email: "o@example.com", Name: "Olive", Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		m, invite, err := s.AddMember(ctx, team.Admin, w.ID, team.NewMember{Email: "Agent@Example.com", Name: "Al", Role: team.Agent, Signature: "^AL"})
		if err != nil || invite == "" || !m.Pending || m.Email != "agent@example.com" {
			t.Fatalf("AddMember = %+v, %q, %v", m, invite, err)
		}
		if _, _, err := s.AddMember(ctx, team.Admin, w.ID, team.NewMember{Email: "agent@example.com", Name: "Al", Role: team.Agent}); !isConflict(err) {
			t.Fatalf("duplicate member: %v", err)
		}
		if _, _, err := s.AddMember(ctx, team.Admin, w.ID, team.NewMember{Email: "x@example.com", Name: "X", Role: team.Owner}); err == nil {
			t.Fatal("an admin made an owner")
		}
		if _, _, err := s.AddMember(ctx, team.Owner, w.ID, team.NewMember{Email: "x@example.com", Name: "X", Role: "boss"}); err == nil {
			t.Fatal("unknown role accepted")
		}
		if _, err := s.Authenticate(ctx, "agent@example.com", ""); !errors.Is(err, team.ErrBadLogin) {
			t.Fatal("a pending member signed in without a password")
		}
		if h, _ := s.CountMembers(ctx, w.ID); h != (team.Headcount{Members: 2, Pending: 1}) {
			t.Fatalf("headcount %+v", h)
		}
		inv, err := s.Invitation(ctx, invite)
		if err != nil || inv.Email != "agent@example.com" || inv.Name != "Al" || inv.Workspace.ID != w.ID || inv.HasPassword {
			t.Fatalf("Invitation = %+v, %v", inv, err)
		}
		if _, err := s.AcceptInvitation(ctx, invite, "", "short"); err == nil {
			t.Fatal("short password accepted")
		}
		if _, err := s.AcceptInvitation(ctx, invite, owner.UserID, ""); !errors.Is(err, team.ErrTokenInvalid) {
			t.Fatalf("someone else accepted the invitation: %v", err)
		}
		if _, err := s.AcceptInvitation(ctx, invite, "", pw); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AcceptInvitation(ctx, invite, "", pw); !errors.Is(err, team.ErrTokenInvalid) {
			t.Fatalf("invitation reused: %v", err)
		}
		u, err := s.Authenticate(ctx, "agent@example.com", pw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Reinvite(ctx, w.ID, m.ID); err == nil {
			t.Fatal("reinvited someone who has joined")
		}

		// Another workspace invites the same person: they must accept signed
		// in, the invitation cannot replace their password, and that workspace
		// never learns what Acme calls them.
		w2, _, err := s.CreateOwner(ctx, team.NewOwner{Workspace: "Beta", Email: "b@example.com", Name: "Bea", Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		m2, invite2, err := s.AddMember(ctx, team.Owner, w2.ID, team.NewMember{Email: "agent@example.com", Name: "Albert", Role: team.Marketer})
		if err != nil || m2.Name != "Albert" || !m2.Pending {
			t.Fatalf("existing user invited: %+v %v", m2, err)
		}
		if ms, _ := s.Memberships(ctx, u.ID); len(ms) != 1 {
			t.Fatalf("a pending invitation gave access: %+v", ms)
		}
		if inv, _ := s.Invitation(ctx, invite2); !inv.HasPassword || inv.Name != "Albert" {
			t.Fatalf("invitation for an existing account: %+v", inv)
		}
		if _, err := s.AcceptInvitation(ctx, invite2, "", "an attacker's password"); !errors.Is(err, team.ErrSignInToAccept) {
			t.Fatalf("an invitation set the password of an existing account: %v", err)
		}
		if _, err := s.Authenticate(ctx, "agent@example.com", pw); err != nil {
			t.Fatal("the password changed")
		}
		// A withdrawn invitation stops working.
		reinv, err := s.Reinvite(ctx, w2.ID, m2.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Invitation(ctx, invite2); !errors.Is(err, team.ErrTokenInvalid) {
			t.Fatal("the old invitation survived a new one")
		}
		if err := s.RemoveMember(ctx, team.Owner, w2.ID, m2.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AcceptInvitation(ctx, reinv, u.ID, ""); !errors.Is(err, team.ErrTokenInvalid) {
			t.Fatalf("a removed member's invitation was accepted: %v", err)
		}
		m3, invite3, _ := s.AddMember(ctx, team.Owner, w2.ID, team.NewMember{Email: "agent@example.com", Name: "Albert", Role: team.Marketer})
		if _, err := s.AcceptInvitation(ctx, invite3, u.ID, ""); err != nil {
			t.Fatal(err)
		}
		ms, err := s.Memberships(ctx, u.ID)
		if err != nil || len(ms) != 2 || ms[0].Name != "Acme" || ms[1].Role != team.Marketer || ms[1].MemberID != m3.ID {
			t.Fatalf("Memberships = %+v, %v", ms, err)
		}

		// Pages of members.
		page1, err := s.Members(ctx, w.ID, "", 1)
		if err != nil || len(page1) != 1 || page1[0].ID != owner.ID {
			t.Fatalf("page 1 = %+v, %v", page1, err)
		}
		page2, _ := s.Members(ctx, w.ID, page1[0].ID, 10)
		if len(page2) != 1 || page2[0].ID != m.ID {
			t.Fatalf("page 2 = %+v", page2)
		}
		// Another workspace's member is not found through this one.
		if _, err := s.Member(ctx, w2.ID, m.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("member of Acme found through Beta: %v", err)
		}
		if _, err := s.UpdateMember(ctx, team.Owner, w2.ID, m.ID, team.MemberUpdate{Signature: ptr("^X")}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("member of Acme updated through Beta: %v", err)
		}
		if err := s.RemoveMember(ctx, team.Owner, w2.ID, m.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("member of Acme removed through Beta: %v", err)
		}
		if _, err := s.Reinvite(ctx, w2.ID, m.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("member of Acme reinvited through Beta: %v", err)
		}
	})
}

// TestConcurrentInvitesOfOnePerson adds the same new person to several
// workspaces at once: each gets a membership, none an error.
func TestConcurrentInvitesOfOnePerson(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := team.New(db)
		var ws []team.Workspace
		for i := range 6 {
			w, _, err := s.CreateOwner(ctx, team.NewOwner{Workspace: fmt.Sprintf("W%d", i), Email: "o@example.com", Name: "O", Password: pw})
			if err != nil {
				t.Fatal(err)
			}
			ws = append(ws, w)
		}
		var wg sync.WaitGroup
		errs := make([]error, len(ws))
		for i, w := range ws {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, errs[i] = s.AddMember(ctx, team.Owner, w.ID, team.NewMember{Email: "new@example.com", Name: "New", Role: team.Agent})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("workspace %d: %v", i, err)
			}
		}
		// Concurrent CreateOwner of one workspace: one workspace, every call succeeds.
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, errs[i] = s.CreateOwner(ctx, team.NewOwner{Workspace: "Same", Email: fmt.Sprintf("p%d@example.com", i), Name: "P", Password: pw})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("CreateOwner %d: %v", i, err)
			}
		}
		w, _ := s.WorkspaceBySlug(ctx, "same")
		if h, _ := s.CountMembers(ctx, w.ID); h.Members != len(errs) {
			t.Fatalf("%d owners in the shared workspace, want %d", h.Members, len(errs))
		}
	})
}

func TestLastOwnerStays(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := team.New(db)
		w, o1, err := s.CreateOwner(ctx, team.NewOwner{Workspace: "Acme", Email: "o1@example.com", Name: "One", Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateMember(ctx, team.Owner, w.ID, o1.ID, team.MemberUpdate{Role: ptr(team.Admin)}); err == nil || !strings.Contains(err.Error(), "at least one owner") {
			t.Fatalf("last owner demoted: %v", err)
		}
		if err := s.RemoveMember(ctx, team.Owner, w.ID, o1.ID); err == nil {
			t.Fatal("last owner removed")
		}
		o2, inv, err := s.AddMember(ctx, team.Owner, w.ID, team.NewMember{Email: "o2@example.com", Name: "Two", Role: team.Owner})
		if err != nil {
			t.Fatal(err)
		}
		// A pending owner does not count: the last joined owner still cannot go.
		if err := s.RemoveMember(ctx, team.Owner, w.ID, o1.ID); err == nil {
			t.Fatal("the last joined owner was removed while another owner was only invited")
		}
		if _, err := s.AcceptInvitation(ctx, inv, "", pw); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateMember(ctx, team.Admin, w.ID, o2.ID, team.MemberUpdate{Role: ptr(team.Agent)}); err == nil {
			t.Fatal("an admin demoted an owner")
		}
		// Two owners demote each other at once: exactly one wins.
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, m := range []team.Member{o1, o2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.UpdateMember(ctx, team.Owner, w.ID, m.ID, team.MemberUpdate{Role: ptr(team.Admin)})
			}()
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("concurrent demotions: %v / %v, want exactly one to fail", errs[0], errs[1])
		}
		owners := 0
		ms, _ := s.Members(ctx, w.ID, "", 10)
		for _, m := range ms {
			if m.Role == team.Owner {
				owners++
			}
		}
		if owners != 1 {
			t.Fatalf("%d owners left, want 1", owners)
		}
	})
}

func TestCreateOwnerIsRepeatable(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := team.New(db)
		w1, m1, err := s.CreateOwner(ctx, team.NewOwner{Workspace: "Acme", Email: "o@example.com", Name: "O", Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		w2, m2, err := s.CreateOwner(ctx, team.NewOwner{Workspace: "acme", Email: "o@example.com", Name: "O", Password: pw + "2"})
		if err != nil || w1.ID != w2.ID || m1.ID != m2.ID {
			t.Fatalf("second CreateOwner: %v %v %v", w2, m2, err)
		}
		if _, err := s.Authenticate(ctx, "o@example.com", pw+"2"); err != nil {
			t.Fatal("password not reset by CreateOwner")
		}
		if err := s.RenameWorkspace(ctx, w1.ID, " Acme Outlet "); err != nil {
			t.Fatal(err)
		}
		if w, _ := s.WorkspaceBySlug(ctx, "acme"); w.Name != "Acme Outlet" {
			t.Fatalf("rename: %+v", w)
		}
		if _, err := s.CreateWorkspace(ctx, m1.UserID, "O", team.NewWorkspace{Name: "Acme"}); !isConflict(err) {
			t.Fatalf("duplicate slug: %v", err)
		}
	})
}

func isConflict(err error) bool {
	ve, ok := valid.As(err)
	return ok && ve.Conflict
}

func ptr[T any](v T) *T { return &v }

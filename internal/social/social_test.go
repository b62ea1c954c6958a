package social_test

import (
	"context"
	"errors"
	"testing"

	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
	"github.com/roost-hq/roost/internal/team"
	"github.com/roost-hq/roost/internal/valid"
)

func TestSandboxFollowers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w, _, err := team.New(db).CreateOwner(ctx, team.NewOwner{Workspace: "Acme", Email: "o@example.com", Name: "O", Password: "long enough password"})
		if err != nil {
			t.Fatal(err)
		}
		s := social.NewStore(db, nil)
		sb := social.NewSandbox(db)
		if _, err := s.CreateSandboxAccount(ctx, w.ID, "", "bad handle!", ""); err == nil {
			t.Fatal("bad handle accepted")
		}
		a, err := s.CreateSandboxAccount(ctx, w.ID, "", "@Outlet", "Acme Outlet")
		if err != nil || a.Handle != "outlet" || a.Network != social.Sandbox {
			t.Fatalf("account: %+v %v", a, err)
		}
		if _, err := s.CreateSandboxAccount(ctx, w.ID, "", "outlet", ""); err == nil {
			t.Fatal("duplicate account accepted")
		}
		got, err := sb.SetFollowers(ctx, a, []string{"@Ann", "bob", "ann"})
		if err != nil || len(got) != 2 {
			t.Fatalf("SetFollowers = %v, %v", got, err)
		}
		if _, err := sb.SetFollowers(ctx, a, []string{"ok", "not ok!"}); err == nil {
			t.Fatal("a bad follower handle was accepted")
		}
		if fs, _ := sb.Followers(ctx, a); len(fs) != 2 {
			t.Fatalf("a refused update changed the list: %v", fs)
		}
		ann, err := sb.Lookup(ctx, nil, "@ANN")
		if err != nil || ann.AccountID != "ann" || ann.Handle != "@ann" {
			t.Fatalf("Lookup = %+v, %v", ann, err)
		}
		if _, err := sb.Lookup(ctx, nil, "no way"); !errors.Is(err, social.ErrNoSuchPerson) {
			t.Fatalf("Lookup of a bad handle: %v", err)
		}
		for handle, want := range map[string]bool{"ann": true, "bob": true, "carl": false} {
			p, _ := sb.Lookup(ctx, nil, handle)
			if ok, err := sb.Follows(ctx, &social.Conn{Account: a}, p); err != nil || ok != want {
				t.Errorf("Follows(%s) = %v, %v", handle, ok, err)
			}
		}
		other, _, _ := team.New(db).CreateOwner(ctx, team.NewOwner{Workspace: "Other", Email: "x@example.com", Name: "X", Password: "long enough password"})
		if _, err := s.Account(ctx, other.ID, a.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("account seen from another workspace: %v", err)
		}
		var ve *valid.Errors
		if _, err := sb.SetFollowers(ctx, social.Account{Network: "mastodon"}, nil); !errors.As(err, &ve) {
			t.Fatalf("followers of a non-sandbox account: %v", err)
		}
	})
}

package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/roost-hq/roost/internal/config"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

func sandboxAccount(ctx context.Context, e *Env, args []string) error {
	var cfg config.Config
	fs := flags(e, "sandbox account", " HANDLE", &cfg)
	slug := fs.String("workspace", "", "the workspace's address (slug) (required)")
	name := fs.String("name", "", "the account's display name")
	pos, err := parseArgs(fs, args, &cfg)
	if err != nil {
		return err
	}
	if *slug == "" || len(pos) != 1 {
		return usageErr("give --workspace and exactly one handle, such as @outlet")
	}
	db, w, err := workspaceDB(ctx, &cfg, *slug)
	if err != nil {
		return err
	}
	defer db.Close()
	a, err := social.NewStore(db, nil).CreateSandboxAccount(ctx, w.ID, "", pos[0], *name)
	if ve, ok := valid.As(err); ok {
		return usageErr("%s", flagNames(ve))
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(e.Stdout, a.ID)
	return nil
}

func sandboxFollowers(ctx context.Context, e *Env, args []string) error {
	var cfg config.Config
	fs := flags(e, "sandbox followers", " HANDLE...", &cfg)
	slug := fs.String("workspace", "", "the workspace's address (slug) (required)")
	account := fs.String("account", "", "the sandbox brand account's handle (required)")
	add := fs.Bool("add", false, "add the handles to the list instead of replacing it")
	pos, err := parseArgs(fs, args, &cfg)
	if err != nil {
		return err
	}
	if *slug == "" || *account == "" {
		return usageErr("give --workspace and --account")
	}
	db, a, err := sandboxAccountNamed(ctx, &cfg, *slug, *account)
	if err != nil {
		return err
	}
	defer db.Close()
	sb := social.NewSandbox(db)
	list := pos
	if *add {
		cur, err := sb.Followers(ctx, a)
		if err != nil {
			return err
		}
		list = append(cur, pos...)
	}
	if len(pos) == 0 && !*add {
		cur, err := sb.Followers(ctx, a)
		if err != nil {
			return err
		}
		for _, h := range cur {
			fmt.Fprintln(e.Stdout, "@"+h)
		}
		return nil
	}
	got, err := sb.SetFollowers(ctx, a, list)
	if ve, ok := valid.As(err); ok {
		return usageErr("%s", flagNames(ve))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "@%s has %d followers\n", a.Handle, len(got))
	return nil
}

// sandboxMention writes to a sandbox brand account as a person would: the
// inbox reads it, and a claim token in it verifies a claim.
func sandboxMention(ctx context.Context, e *Env, args []string) error {
	var cfg config.Config
	fs := flags(e, "sandbox mention", " TEXT", &cfg)
	slug := fs.String("workspace", "", "the workspace's address (slug) (required)")
	account := fs.String("account", "", "the sandbox brand account's handle (required)")
	from := fs.String("from", "", "the person's sandbox handle (required)")
	replyTo := fs.String("reply-to", "", "the remote ID of the post answered")
	pos, err := parseArgs(fs, args, &cfg)
	if err != nil {
		return err
	}
	if *slug == "" || *account == "" || *from == "" || len(pos) == 0 {
		return usageErr("give --workspace, --account, --from and the text")
	}
	db, a, err := sandboxAccountNamed(ctx, &cfg, *slug, *account)
	if err != nil {
		return err
	}
	defer db.Close()
	m, err := social.NewSandbox(db).Mention(ctx, a, *from, strings.Join(pos, " "), *replyTo)
	if ve, ok := valid.As(err); ok {
		return usageErr("%s", flagNames(ve))
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(e.Stdout, m.RemoteID)
	return nil
}

// sandboxAccountNamed opens the database and finds a workspace's sandbox
// account by handle.
func sandboxAccountNamed(ctx context.Context, cfg *config.Config, slug, handle string) (*store.DB, social.Account, error) {
	db, w, err := workspaceDB(ctx, cfg, slug)
	if err != nil {
		return nil, social.Account{}, err
	}
	accounts, err := social.NewStore(db, nil).Accounts(ctx, w.ID)
	if err != nil {
		db.Close()
		return nil, social.Account{}, err
	}
	want := strings.ToLower(strings.TrimPrefix(handle, "@"))
	for _, a := range accounts {
		if a.Network == social.Sandbox && a.Handle == want {
			return db, a, nil
		}
	}
	db.Close()
	return nil, social.Account{}, fmt.Errorf("no sandbox account @%s in workspace %s", want, w.Slug)
}

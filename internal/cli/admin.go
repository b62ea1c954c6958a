package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/roost-hq/roost/internal/auth"
	"github.com/roost-hq/roost/internal/config"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/team"
	"github.com/roost-hq/roost/internal/valid"
)

func adminCreate(ctx context.Context, e *Env, args []string) error {
	var cfg config.Config
	fs := flags(e, "admin create", "", &cfg)
	ws := fs.String("workspace", "", "workspace name; created if no workspace has its address yet (required)")
	email := fs.String("email", "", "the owner's email, used to sign in (required)")
	name := fs.String("name", "", "the owner's name (required)")
	sig := fs.String("signature", "", "signature put on what they post, e.g. ^LB")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	if err := parse(fs, args, &cfg); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	if *ws == "" || *email == "" || *name == "" {
		return usageErr("--workspace, --email and --name are required")
	}
	pw, err := readPassword(e, *pwStdin)
	if err != nil {
		return err
	}
	db, _, err := openDB(ctx, &cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	w, m, err := team.New(db).CreateOwner(ctx, team.NewOwner{Workspace: *ws, Email: *email, Name: *name, Password: pw, Signature: *sig})
	if ve, ok := valid.As(err); ok {
		return usageErr("%s", flagNames(ve))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "%s (%s) is an owner of workspace %q (%s).\nSign in at %s/app/login\n", m.Name, m.Email, w.Name, w.Slug, cfg.BaseURL)
	return nil
}

// flagNames words validation errors in terms of the command's flags.
func flagNames(ve *valid.Errors) string {
	out := ""
	for i, f := range ve.Fields {
		if i > 0 {
			out += "; "
		}
		out += "--" + f.Field + " " + f.Message
	}
	return out
}

func apikeyCreate(ctx context.Context, e *Env, args []string) error {
	var cfg config.Config
	fs := flags(e, "apikey create", "", &cfg)
	slug := fs.String("workspace", "", "the workspace's address (slug), as shown in Settings (required)")
	name := fs.String("name", "", "what the key is for, e.g. \"Shopify store\" (required)")
	if err := parse(fs, args, &cfg); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	if *slug == "" || *name == "" {
		return usageErr("--workspace and --name are required")
	}
	db, _, err := openDB(ctx, &cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	w, err := team.New(db).WorkspaceBySlug(ctx, *slug)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no workspace with the address %q", *slug)
	}
	if err != nil {
		return err
	}
	_, secret, err := auth.New(db).CreateAPIKey(ctx, w.ID, *name, "")
	if ve, ok := valid.As(err); ok {
		return usageErr("%s", flagNames(ve))
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(e.Stdout, secret)
	return nil
}

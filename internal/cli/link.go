package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/roost-hq/roost/internal/config"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/team"
	"github.com/roost-hq/roost/internal/valid"
)

// tags is a repeatable --tag flag.
type tags []string

func (t *tags) String() string     { return strings.Join(*t, ",") }
func (t *tags) Set(v string) error { *t = append(*t, v); return nil }

// parseArgs parses flags that may come before or after the positional
// arguments ("link create URL --workspace x" reads as naturally as the
// other order) and returns the positional ones.
func parseArgs(fs interface {
	Parse([]string) error
	Args() []string
}, args []string, cfg *config.Config) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &exitError{2, err}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if cfg != nil {
		return pos, cfg.Check()
	}
	return pos, nil
}

// workspaceDB opens the database and finds the workspace by its address.
func workspaceDB(ctx context.Context, cfg *config.Config, slug string) (*store.DB, team.Workspace, error) {
	db, _, err := openDB(ctx, cfg)
	if err != nil {
		return nil, team.Workspace{}, err
	}
	w, err := team.New(db).WorkspaceBySlug(ctx, slug)
	if err != nil {
		db.Close()
		if errors.Is(err, store.ErrNotFound) {
			return nil, team.Workspace{}, fmt.Errorf("no workspace with the address %q", slug)
		}
		return nil, team.Workspace{}, err
	}
	return db, w, nil
}

func linkCreate(ctx context.Context, e *Env, args []string) error {
	var cfg config.Config
	fs := flags(e, "link create", " URL", &cfg)
	slug := fs.String("workspace", "", "the workspace's address (slug) (required)")
	code := fs.String("code", "", "a custom code instead of a generated one")
	title := fs.String("title", "", "a title for the dashboard")
	expires := fs.String("expires", "", "when the link stops working: an RFC 3339 time, or a duration from now such as 72h")
	fallback := fs.String("fallback", "", "where the link goes once expired (default: a 410 page)")
	var tg tags
	fs.Var(&tg, "tag", "a tag (repeat for several)")
	pos, err := parseArgs(fs, args, &cfg)
	if err != nil {
		return err
	}
	if *slug == "" || len(pos) != 1 {
		return usageErr("give --workspace and exactly one destination URL")
	}
	in := links.NewLink{Destination: pos[0], Code: *code, Title: *title, Tags: tg, FallbackURL: *fallback}
	if *expires != "" {
		t, err := parseWhen(*expires)
		if err != nil {
			return usageErr("--expires: %v", err)
		}
		in.ExpiresAt = &t
	}
	db, w, err := workspaceDB(ctx, &cfg, *slug)
	if err != nil {
		return err
	}
	defer db.Close()
	l, err := links.NewStore(db).Create(ctx, w.ID, in)
	if ve, ok := valid.As(err); ok {
		return usageErr("%s", fieldNames(ve))
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(e.Stdout, cfg.BaseURL+"/"+l.Code)
	return nil
}

// fieldNames words validation errors about a link.
func fieldNames(ve *valid.Errors) string {
	out := make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		name := f.Field
		if name == "destination" {
			name = "URL"
		}
		out[i] = name + " " + f.Message
	}
	return strings.Join(out, "; ")
}

func parseWhen(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-12-31T23:00:00Z) nor a duration (72h)", s)
	}
	return t, nil
}

func linkStats(ctx context.Context, e *Env, args []string) error {
	var cfg config.Config
	fs := flags(e, "link stats", " CODE", &cfg)
	slug := fs.String("workspace", "", "the workspace's address (slug) (required)")
	days := fs.Int("days", 30, "how many days back")
	pos, err := parseArgs(fs, args, &cfg)
	if err != nil {
		return err
	}
	if *slug == "" || len(pos) != 1 {
		return usageErr("give --workspace and exactly one link code")
	}
	if *days < 1 || *days > 400 {
		return usageErr("--days must be from 1 to 400")
	}
	db, w, err := workspaceDB(ctx, &cfg, *slug)
	if err != nil {
		return err
	}
	defer db.Close()
	ls := links.NewStore(db)
	l, err := ls.ByCode(ctx, w.ID, pos[0])
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no link %q in workspace %s", pos[0], w.Slug)
	}
	if err != nil {
		return err
	}
	now := time.Now()
	rg, err := links.CheckRange(links.Range{From: now.AddDate(0, 0, -*days+1), To: now, Interval: links.Day}, now)
	if err != nil {
		return err
	}
	st, err := ls.Stats(ctx, w.ID, l.ID, rg)
	if err != nil {
		return err
	}
	out := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(e.Stdout, "%s/%s → %s\n", cfg.BaseURL, l.Code, l.Destination)
	fmt.Fprintf(e.Stdout, "%s to %s: %d clicks, %d human, %d unique\n\n", st.From.Format(time.DateOnly), st.To.Add(-time.Second).Format(time.DateOnly),
		st.Total.Clicks, st.Total.Human, st.Total.Unique)
	fmt.Fprintln(out, "day\tclicks\thuman\tunique\t")
	for _, p := range st.Series {
		if p.Clicks > 0 {
			fmt.Fprintf(out, "%s\t%d\t%d\t%d\t\n", p.Time.Format(time.DateOnly), p.Clicks, p.Human, p.Unique)
		}
	}
	out.Flush()
	for _, d := range []struct {
		name string
		s    []links.Slice
	}{{"referrers", st.Referrers}, {"devices", st.Devices}, {"countries", st.Countries}, {"bots and previews", st.Bots}} {
		if len(d.s) == 0 {
			continue
		}
		fmt.Fprintf(e.Stdout, "\n%s\n", d.name)
		for _, sl := range d.s {
			name := sl.Name
			if name == "" {
				name = "(none)"
			}
			fmt.Fprintf(out, "  %s\t%d\t\n", name, sl.Clicks)
		}
		out.Flush()
	}
	return nil
}

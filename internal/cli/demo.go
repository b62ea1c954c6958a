package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/config"
	"github.com/roost-hq/roost/internal/demo"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/server"
	"github.com/roost-hq/roost/internal/store"
)

// demoDataDir is where roost demo keeps its database unless told
// otherwise: apart from the one roost serve uses, so trying the demo never
// touches real data and a reset is deleting a file.
const demoDataDir = "./roost-demo"

func demoCmd(ctx context.Context, e *Env, args []string) error {
	start := time.Now()
	var cfg config.Config
	fs := flags(e, "demo", "", &cfg)
	reset := fs.Bool("reset", false, "replace an existing demo with a fresh one without asking")
	scale := fs.Float64("scale", 1, "how much activity to make: 1 is a few thousand orders, 0.1 a tenth of that")
	if err := parse(fs, args, &cfg); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	if *scale <= 0 || *scale > 10 {
		return usageErr("--scale must be above 0 and at most 10")
	}
	if cfg.DatabaseURL != "" {
		return usageErr("the demo keeps its own SQLite database in its data directory: unset ROOST_DATABASE_URL (or --database-url)")
	}
	if !flagSet(fs, "data-dir") && e.Getenv("ROOST_DATA_DIR") == "" {
		cfg.DataDir = demoDataDir
	}
	path := store.DefaultPath(cfg.DataDir)
	fresh := true
	if info, err := os.Stat(path); err == nil {
		fresh = *reset
		if !fresh {
			fresh, err = askReset(e, path, info.ModTime())
			if err != nil {
				return err
			}
		}
		if fresh {
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("cannot remove the old demo: %w", err)
				}
			}
		}
	}
	log := cfg.Logger(e.Stderr)
	db, _, err := openDB(ctx, &cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	keys, _, err := cfg.Keys(true)
	if err != nil {
		return err
	}
	if err := server.CheckKey(ctx, db, keys); err != nil {
		return fmt.Errorf("%w (or start afresh with roost demo --reset)", err)
	}
	// A new password each time: the demo's login is printed, never stored.
	password := strings.ToLower(rand.Text()[:16])
	if fresh {
		if err := seedDemo(ctx, e, &cfg, db, log, keys, password, *scale); err != nil {
			return err
		}
	}
	return runServer(ctx, e, &cfg, db, keys, log, start, func(srv *server.Server) error {
		userID, err := demoOwner(ctx, srv)
		if err != nil {
			return fmt.Errorf("the database in %s holds no demo (%w): run roost demo --reset", cfg.DataDir, err)
		}
		if err := srv.Team.SetPassword(ctx, userID, password); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "\n  The %s demo is ready. Open %s/app/ and sign in as\n\n      email     %s\n      password  %s\n\n"+
			"  Stop it with Ctrl-C; roost demo serves it again, roost demo --reset makes a new one.\n"+
			"  Its data is in %s. For a clean Roost of your own, run %s serve.\n\n",
			demo.WorkspaceName, cfg.BaseURL, demo.Email, password, cfg.DataDir, selfCommand())
		return nil
	})
}

// demoOwner finds the user the demo signs in as.
func demoOwner(ctx context.Context, srv *server.Server) (string, error) {
	w, err := srv.Team.WorkspaceBySlug(ctx, demo.WorkspaceSlug)
	if err != nil {
		return "", err
	}
	ms, err := srv.Team.Members(ctx, w.ID, "", 100)
	if err != nil {
		return "", err
	}
	for _, m := range ms {
		if m.Email == demo.Email {
			return m.UserID, nil
		}
	}
	return "", errors.New("its owner is gone")
}

// seedDemo replays the demo's ninety days through a server whose database
// reads the demo's clock, with a progress bar, then closes that server.
func seedDemo(ctx context.Context, e *Env, cfg *config.Config, db *store.DB, log *slog.Logger, keys *secret.Keys, password string, scale float64) error {
	began := time.Now()
	clk := &demo.Clock{}
	db.Clock = clk.Now
	defer func() { db.Clock = nil }()
	o := options(cfg, db, keys, log)
	o.Clicks.FlushEvery = 5 * time.Millisecond // each replayed day waits for its clicks
	srv, err := server.New(ctx, o)
	if err != nil {
		return err
	}
	bar := newBar(e.Stderr)
	res, err := demo.Seed(ctx, srv, clk, demo.Options{Password: password, Scale: scale, Progress: func(day, days int) {
		bar.draw(fmt.Sprintf("Replaying %d days of an outlet brand", days-1), day, days)
	}})
	bar.done()
	if cerr := srv.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stderr, "Made the demo in %s: %d posts, %d clicks, %d claims, %d orders (%d refunded), %d conversations.\n",
		time.Since(began).Round(100*time.Millisecond), res.Posts, res.Clicks, res.Claims, res.Orders, res.Refunds, res.Conversations)
	return nil
}

// askReset asks, on a terminal, whether to replace the demo at path.
// Elsewhere the demo is kept.
func askReset(e *Env, path string, made time.Time) (bool, error) {
	f, ok := e.Stdin.(*os.File)
	if !ok || !isTerminal(f) {
		return false, nil
	}
	fmt.Fprintf(e.Stderr, "A demo made %s is in %s. Replace it with a fresh one? [y/N] ", made.Format("2 Jan 15:04"), path)
	line, err := bufio.NewReader(e.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}

// flagSet reports whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// bar shows how far a long job is: a redrawn line on a terminal, a line
// now and then elsewhere (a log, CI).
type bar struct {
	w    io.Writer
	tty  bool
	last int
}

func newBar(w io.Writer) *bar {
	f, ok := w.(*os.File)
	return &bar{w: w, tty: ok && isTerminal(f)}
}

func (b *bar) draw(label string, done, total int) {
	if !b.tty {
		if done == total || done-b.last >= total/6 {
			fmt.Fprintf(b.w, "%s: %d%%\n", label, done*100/total)
			b.last = done
		}
		return
	}
	const cells = 24
	full := done * cells / total
	fmt.Fprintf(b.w, "\r%s [%s%s] %d%%\x1b[K", label, strings.Repeat("#", full), strings.Repeat(".", cells-full), done*100/total)
}

func (b *bar) done() {
	if b.tty {
		fmt.Fprint(b.w, "\r\x1b[K")
	}
}

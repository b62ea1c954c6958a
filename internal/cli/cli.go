// Package cli is the roost command: serve, migrate, admin create, apikey
// create, version. cmd/roost only calls Main.
package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/roost-hq/roost/internal/config"
	"github.com/roost-hq/roost/internal/store"
)

// Env is what a command runs against: its arguments, streams and
// environment. Tests build one instead of touching the real process.
type Env struct {
	Args   []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Ready, if set, receives the address roost serve listens on.
	Ready func(addr string)
}

// exitError carries an exit code; usage errors exit 2, others 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func usageErr(format string, args ...any) error {
	return &exitError{2, fmt.Errorf(format, args...)}
}

type command struct {
	name, summary string
	run           func(ctx context.Context, e *Env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the web server, API and background workers", serve},
		{"demo", "make a demo workspace with 90 days of activity (in its own database) and serve it", demoCmd},
		{"migrate", "apply database migrations and exit", migrate},
		{"admin create", "create a workspace (if needed) and an owner", adminCreate},
		{"apikey create", "create an API key and print it", apikeyCreate},
		{"link create", "create a tracked short link and print its URL", linkCreate},
		{"link stats", "print the clicks on a link", linkStats},
		{"import orders", "import orders from a CSV file, with a file of the rows rejected", importOrders},
		{"sandbox account", "add a brand account on the built-in sandbox network and print its ID", sandboxAccount},
		{"sandbox followers", "list, replace (or --add to) a sandbox account's followers", sandboxFollowers},
		{"sandbox mention", "write to a sandbox account as a person (the inbox and claim tokens read it)", sandboxMention},
		{"version", "print the version", version},
	}
}

const usageHead = `Roost turns a brand's social accounts into a loyalty channel it can measure.

Usage:
  roost <command> [flags]

Commands:
`

func usage(w io.Writer) {
	fmt.Fprint(w, usageHead)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-15s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun roost <command> -h for the flags of a command. Configuration comes from\nROOST_* environment variables, overridden by flags.\n")
}

// Main runs the command in e.Args and returns the process exit code.
func Main(ctx context.Context, e *Env) int {
	args := e.Args
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			err := c.run(ctx, e, args[len(words):])
			if err == nil {
				return 0
			}
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			var xe *exitError
			if errors.As(err, &xe) {
				fmt.Fprintf(e.Stderr, "roost %s: %v\n", c.name, xe.err)
				if xe.code == 2 {
					fmt.Fprintf(e.Stderr, "Run roost %s -h for usage.\n", c.name)
				}
				return xe.code
			}
			fmt.Fprintf(e.Stderr, "roost %s: %s\n", c.name, strings.Join(strings.Fields(err.Error()), " "))
			return 1
		}
	}
	fmt.Fprintf(e.Stderr, "roost: unknown command %q\n\n", strings.Join(args, " "))
	usage(e.Stderr)
	return 2
}

// flags returns a flag set for a command with the configuration flags on it.
func flags(e *Env, name, argsUsage string, cfg *config.Config) *flag.FlagSet {
	fs := flag.NewFlagSet("roost "+name, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.Stderr, "Usage: roost %s [flags]%s\n\nFlags:\n", name, argsUsage)
		fs.PrintDefaults()
	}
	if cfg != nil {
		cfg.Register(fs, e.Getenv)
	}
	return fs
}

// parse parses flags and checks the configuration; bad flags are usage
// errors (exit 2), bad configuration is an error (exit 1).
func parse(fs *flag.FlagSet, args []string, cfg *config.Config) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{2, err}
	}
	if cfg != nil {
		return cfg.Check()
	}
	return nil
}

// openDB opens and migrates the configured database.
func openDB(ctx context.Context, cfg *config.Config) (*store.DB, []string, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, nil, err
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, applied, nil
}

func migrate(ctx context.Context, e *Env, args []string) error {
	var cfg config.Config
	fs := flags(e, "migrate", "", &cfg)
	if err := parse(fs, args, &cfg); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	db, applied, err := openDB(ctx, &cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if len(applied) == 0 {
		fmt.Fprintf(e.Stdout, "%s is up to date (schema version %d).\n", db.Where, store.LatestVersion())
		return nil
	}
	for _, m := range applied {
		fmt.Fprintf(e.Stdout, "applied %s\n", m)
	}
	fmt.Fprintf(e.Stdout, "%s is at schema version %d.\n", db.Where, store.LatestVersion())
	return nil
}

// Version is the binary's version: set at build time with
// -ldflags "-X github.com/roost-hq/roost/internal/cli.Version=v1.2.3", or
// taken from the module's build information.
var Version = ""

func versionString() string {
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
	}
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	return v
}

func version(ctx context.Context, e *Env, args []string) error {
	fs := flags(e, "version", "", nil)
	if err := parse(fs, args, nil); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "roost %s\n", versionString())
	return nil
}

// readPassword reads a password from the first line of stdin, or prompts
// for it twice on a terminal.
func readPassword(e *Env, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(e.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("cannot read the password from stdin: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	f, ok := e.Stdin.(*os.File)
	if !ok || !isTerminal(f) {
		return "", usageErr("no password: pass --password-stdin and send it on standard input, or run in a terminal to be asked")
	}
	fmt.Fprint(e.Stderr, "Password: ")
	p1, err := readTerminalPassword(f)
	fmt.Fprintln(e.Stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprint(e.Stderr, "Password again: ")
	p2, err := readTerminalPassword(f)
	fmt.Fprintln(e.Stderr)
	if err != nil {
		return "", err
	}
	if p1 != p2 {
		return "", errors.New("the two passwords differ")
	}
	return p1, nil
}

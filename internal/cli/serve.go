package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/config"
	"github.com/roost-hq/roost/internal/httpx"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/server"
	"github.com/roost-hq/roost/internal/social/x"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/team"
)

func serve(ctx context.Context, e *Env, args []string) error {
	start := time.Now()
	var cfg config.Config
	fs := flags(e, "serve", "", &cfg)
	if err := parse(fs, args, &cfg); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	log := cfg.Logger(e.Stderr)
	tuneGC(e.Getenv)
	httpx.TrustProxies(cfg.Proxies)
	db, applied, err := openDB(ctx, &cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	keys, generated, err := cfg.Keys(true)
	if err != nil {
		return err
	}
	if generated != "" {
		log.Warn("generated a new secret key: back it up, and give every node the same one (ROOST_SECRET_KEY)", "file", generated)
	}
	for _, m := range applied {
		log.Info("applied migration", "name", m)
	}
	if err := server.CheckKey(ctx, db, keys); err != nil {
		return err
	}
	return runServer(ctx, e, &cfg, db, keys, log, start, func(srv *server.Server) error { return firstRunHint(ctx, e, srv.Team, cfg.BaseURL) })
}

// options are the server options the configuration gives.
func options(cfg *config.Config, db *store.DB, keys *secret.Keys, log *slog.Logger) server.Options {
	return server.Options{DB: db, Keys: keys, Log: log, BaseURL: cfg.BaseURL, Secure: cfg.Secure(), GeoIPPath: cfg.GeoIPPath,
		X:      x.Connector{ClientID: cfg.XClientID, ClientSecret: cfg.XClientSecret},
		Clicks: links.RecorderConfig{Buffer: cfg.ClickBuffer, BatchSize: cfg.ClickBatchSize, FlushEvery: cfg.ClickFlushEvery, SpillDir: cfg.SpillDir()}}
}

// runServer builds the server, listens, calls ready (to tell the person what to
// open) and serves until ctx ends.
func runServer(ctx context.Context, e *Env, cfg *config.Config, db *store.DB, keys *secret.Keys, log *slog.Logger, start time.Time, ready func(*server.Server) error) error {
	srv, err := server.New(ctx, options(cfg, db, keys, log))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		srv.Close(ctx)
		return fmt.Errorf("cannot listen on %s: %w", cfg.Addr, err)
	}
	log.Info("roost is running", "version", versionString(), "url", cfg.BaseURL, "listen", ln.Addr().String(),
		"database", db.Where, "startup", time.Since(start).Round(time.Millisecond))
	if err := ready(srv); err != nil {
		ln.Close()
		srv.Close(ctx)
		return err
	}
	if cfg.DebugAddr != "" {
		debugAddr, stopDebug, err := serveDebug(cfg.DebugAddr)
		if err != nil {
			ln.Close()
			srv.Close(ctx)
			return err
		}
		defer stopDebug()
		log.Warn("Go's profiler is served on a loopback address (ROOST_DEBUG_ADDR)", "url", "http://"+debugAddr+"/debug/pprof/")
	}
	if e.Ready != nil {
		e.Ready(ln.Addr().String())
	}
	err = srv.Serve(ctx, ln)
	log.Info("roost stopped")
	return err
}

// firstRunHint prints, when nobody can sign in yet, a one-time link that
// creates the first workspace and owner, and the CLI alternative. It goes to
// the terminal, not the structured log, which may be shipped elsewhere.
func firstRunHint(ctx context.Context, e *Env, t *team.Store, baseURL string) error {
	tok, err := t.NewSetupToken(ctx)
	if errors.Is(err, team.ErrAlreadySetUp) {
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, `
  Welcome to Roost. Nobody can sign in yet. To create the first workspace and
  its owner, open this one-time link (valid for 24 hours):

      %s/app/setup/%s

  or, from a shell:

      %s admin create --workspace "Your Brand" --email you@example.com --name "Your Name"

`, baseURL, tok, selfCommand())
	return nil
}

// selfCommand is how the person who started this process runs roost: the
// binary's name, or "go run ./cmd/roost" for a binary go run built in a
// temporary directory.
func selfCommand() string {
	exe, err := os.Executable()
	if err == nil && strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/roost"
	}
	return "roost"
}

// serveDebug serves Go's profiler (net/http/pprof) on addr, a loopback
// address the configuration has checked, apart from the public listener:
// it is for an operator profiling a running node, never for visitors.
func serveDebug(addr string) (listening string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("cannot listen on %s (ROOST_DEBUG_ADDR): %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }, nil
}

// serveGCPercent is roost serve's GOGC unless the operator sets one. A node
// answering redirects allocates quickly (net/http's request and header
// maps, a click per redirect) but keeps little: a live heap of a few
// megabytes, for which the default of 100 runs the collector dozens of
// times a second under load. At 400 the heap may grow to five times what
// is live (some tens of megabytes) and the redirect benchmark spends 1.5
// to 3 µs less processor time per request (README, Benchmarks).
const serveGCPercent = 400

// tuneGC applies serveGCPercent when GOGC is not set.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
}

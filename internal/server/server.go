// Package server assembles Roost's HTTP surface (dashboard, API, public
// pages, health and metrics) and its background work into one process that
// starts fast and stops gracefully.
package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/roost-hq/roost/internal/api"
	"github.com/roost-hq/roost/internal/auth"
	"github.com/roost-hq/roost/internal/httpx"
	"github.com/roost-hq/roost/internal/inbox"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/metrics"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/posts"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/bluesky"
	"github.com/roost-hq/roost/internal/social/mastodon"
	"github.com/roost-hq/roost/internal/social/x"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/team"
	"github.com/roost-hq/roost/internal/web"
)

// Options are what a Server is built from.
type Options struct {
	DB      *store.DB
	Keys    *secret.Keys
	Log     *slog.Logger
	BaseURL string
	Secure  bool
	// Clicks configures the click buffer; GeoIPPath names a country database.
	Clicks    links.RecorderConfig
	GeoIPPath string
	// LinkPollEvery is how often links changed on other nodes are noticed.
	LinkPollEvery time.Duration
	// NetworkHTTP is the client the network connectors call with (nil: a
	// default with a 30 s timeout).
	NetworkHTTP *http.Client
	// PersonHTTP calls servers shoppers name by their handle (nil: public
	// addresses only; tests point it at fakes).
	PersonHTTP *http.Client
	// BlueskyResolver and BlueskyPLC resolve Bluesky handles and DIDs for
	// shoppers' sign-in ("": the public AppView and plc.directory; tests
	// point them at a fake).
	BlueskyResolver, BlueskyPLC string
	// X is the brand's X app (client ID and secret; the API's addresses in
	// tests). Without a client ID, X accounts cannot be connected.
	X x.Connector
}

// Server is one Roost process.
type Server struct {
	Options
	Team    *team.Store
	Auth    *auth.Store
	Links   *links.Service
	Offers  *offers.Store
	Social  *social.Store
	Sandbox *social.SandboxNetwork
	Hub     *social.Hub
	Posts   *posts.Store
	Orders  *orders.Store
	Inbox   *inbox.Store
	// Publisher publishes due posts; Serve runs it.
	Publisher *posts.Publisher
	// Poller reads mentions into the inbox and settles claim tokens; Serve
	// runs it.
	Poller  *inbox.Poller
	Web     *web.Web
	API     *api.API
	Metrics *metrics.Registry
	Mux     *httpx.Mux
	Handler http.Handler
}

// New wires the capabilities together and starts their background work;
// Close stops it.
func New(ctx context.Context, o Options) (*Server, error) {
	s := &Server{Options: o, Team: team.New(o.DB), Auth: auth.New(o.DB), Metrics: metrics.NewRegistry(), Mux: httpx.NewMux()}
	var err error
	s.Links, err = links.New(ctx, links.Options{DB: o.DB, Log: o.Log, Metrics: s.Metrics, Recorder: o.Clicks, GeoIPPath: o.GeoIPPath, PollEvery: o.LinkPollEvery})
	if err != nil {
		return nil, err
	}
	s.Offers = offers.NewStore(o.DB)
	s.Social = social.NewStore(o.DB, o.Keys)
	s.Sandbox = social.NewSandbox(o.DB)
	xc := o.X
	xc.HTTP = o.NetworkHTTP
	s.Hub = &social.Hub{Store: s.Social, Connectors: map[string]social.Connector{
		social.Sandbox: s.Sandbox, social.Mastodon: &mastodon.Connector{HTTP: o.NetworkHTTP},
		social.Bluesky: &bluesky.Connector{HTTP: o.NetworkHTTP}, social.X: &xc}}
	s.Posts = posts.NewStore(o.DB, s.Links.Store, s.Offers, s.Social, o.BaseURL)
	s.Publisher = &posts.Publisher{DB: o.DB, Hub: s.Hub, Log: o.Log}
	s.Orders = orders.NewStore(o.DB, o.Keys)
	s.Inbox = inbox.NewStore(o.DB, s.Hub, s.Links.Store, s.Offers, o.BaseURL)
	s.Poller = &inbox.Poller{DB: o.DB, Hub: s.Hub, Offers: s.Offers, Log: o.Log}
	s.Web = &web.Web{Team: s.Team, Auth: s.Auth, Links: s.Links, Offers: s.Offers, Social: s.Social, Hub: s.Hub, Posts: s.Posts, Orders: s.Orders, Inbox: s.Inbox, Keys: o.Keys, Log: o.Log, BaseURL: o.BaseURL, Secure: o.Secure,
		PersonHTTP: o.PersonHTTP, BlueskyResolver: o.BlueskyResolver, BlueskyPLC: o.BlueskyPLC}
	if err := s.Web.Init(); err != nil {
		s.Links.Close(ctx)
		return nil, err
	}
	s.API = &api.API{DB: o.DB, Team: s.Team, Auth: s.Auth, Links: s.Links, Offers: s.Offers, Social: s.Social, Hub: s.Hub, Posts: s.Posts, Orders: s.Orders, Inbox: s.Inbox,
		Keys: o.Keys, Log: o.Log, BaseURL: o.BaseURL}

	s.Metrics.RegisterRuntime()
	pool := func(f func(sql.DBStats) int) func() float64 {
		return func() float64 {
			n := f(o.DB.W.Stats())
			if o.DB.R != o.DB.W {
				n += f(o.DB.R.Stats())
			}
			return float64(n)
		}
	}
	s.Metrics.GaugeFunc("roost_db_connections_in_use", "Database connections in use (writer and readers).", pool(func(st sql.DBStats) int { return st.InUse }))
	s.Metrics.GaugeFunc("roost_db_connections_open", "Database connections open (writer and readers).", pool(func(st sql.DBStats) int { return st.OpenConnections }))

	s.Mux.HandleFunc("GET /healthz", httpx.Public, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	s.Mux.HandleFunc("GET /readyz", httpx.Public, s.ready)
	s.Mux.Handle("GET /metrics", httpx.Public, s.Metrics.Handler())
	s.API.Register(s.Mux)
	s.Web.Register(s.Mux)
	// Short links take every other top-level path; links.Reserved keeps
	// custom codes off the routes above.
	s.Mux.HandleFunc("GET /{code}", httpx.Public, s.Links.Redirect)
	s.Mux.Quiet("GET /{code}")
	s.Handler = httpx.Middleware(s.Mux, o.Log, httpx.NewObserver(s.Metrics))
	return s, nil
}

// Close stops background work and writes every buffered click, spilling
// to disk what cannot be written before ctx ends.
func (s *Server) Close(ctx context.Context) error {
	return s.Links.Close(ctx)
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.DB.Ready(ctx); err != nil {
		// The reason goes to the log: it may name hosts and users.
		s.Log.Warn("not ready", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("not ready: database unreachable or not migrated\n"))
		return
	}
	w.Write([]byte("ready\n"))
}

// CheckKey makes sure every node of one database uses the same secret key:
// the first node records a check value, later ones compare with it.
func CheckKey(ctx context.Context, db *store.DB, keys *secret.Keys) error {
	if _, err := db.W.ExecContext(ctx, `INSERT INTO instance (key, value) VALUES ('key_check', $1) ON CONFLICT (key) DO NOTHING`, keys.Check()); err != nil {
		return fmt.Errorf("cannot record the secret key check: %w", err)
	}
	var stored string
	if err := db.W.QueryRowContext(ctx, `SELECT value FROM instance WHERE key = 'key_check'`).Scan(&stored); err != nil {
		return fmt.Errorf("cannot read the secret key check: %w", err)
	}
	if stored != keys.Check() {
		return errors.New("the secret key differs from the one this database was set up with: every node must use the same ROOST_SECRET_KEY")
	}
	return nil
}

// Housekeeping runs on every node; each task is idempotent (a delete, or
// a conditional update per row), so nodes doing it at once is harmless.
// Unredeemed claims expire each minute; expired sessions, one-time tokens
// and kept idempotent responses are deleted each hour.
const (
	housekeepingEvery = time.Minute
	followersEvery    = 6 * time.Hour
)

func (s *Server) housekeeping(ctx context.Context) {
	t := time.NewTicker(housekeepingEvery)
	defer t.Stop()
	for tick := 0; ; tick++ {
		now := time.Now()
		if n, err := s.Offers.ExpireClaims(ctx, now); err != nil && ctx.Err() == nil {
			s.Log.Warn("housekeeping", "err", err)
		} else if n > 0 {
			s.Log.Info("expired unredeemed claims", "claims", n)
		}
		if tick%60 == 0 {
			if err := s.Auth.Expire(ctx, now); err != nil && ctx.Err() == nil {
				s.Log.Warn("housekeeping", "err", err)
			}
			if err := api.ExpireIdempotencyKeys(ctx, s.DB, now); err != nil && ctx.Err() == nil {
				s.Log.Warn("housekeeping", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sampleFollowers records, each minute, the follower counts of accounts
// whose last sample is older than followersEvery. It calls the networks,
// so it runs apart from housekeeping: a slow network delays no expiry.
func (s *Server) sampleFollowers(ctx context.Context) {
	t := time.NewTicker(housekeepingEvery)
	defer t.Stop()
	for {
		if err := s.Hub.SampleFollowers(ctx, followersEvery); err != nil && ctx.Err() == nil {
			s.Log.Warn("follower sampling", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// processOrders applies received order events that wait (a refund before
// its order, an event received while a node stopped), every second. First
// it builds the revenue rollups of workspaces whose orders predate them
// (their reports are computed from touches meanwhile).
func (s *Server) processOrders(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	rolledUp := false
	for {
		if !rolledUp {
			n, err := s.Orders.RollUpPending(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				s.Log.Error("orders: build revenue rollups", "err", err)
			case err == nil:
				rolledUp = true
				if n > 0 {
					s.Log.Info("orders: built revenue rollups", "workspaces", n)
				}
			}
		}
		if _, err := s.Orders.ProcessDue(ctx, 200); err != nil && ctx.Err() == nil {
			s.Log.Error("orders: process", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ShutdownTimeout bounds how long in-flight requests may take to finish
// after a stop signal.
const ShutdownTimeout = 20 * time.Second

// Serve answers requests on ln until ctx is cancelled, then stops accepting,
// lets in-flight requests finish and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var workers sync.WaitGroup
	workers.Go(func() { s.housekeeping(bg) })
	workers.Go(func() { s.Publisher.Run(bg) })
	workers.Go(func() { s.Poller.Run(bg) })
	workers.Go(func() { s.Poller.RunStreams(bg) })
	workers.Go(func() { s.processOrders(bg) })
	workers.Go(func() { s.sampleFollowers(bg) })
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		err = srv.Shutdown(sctx)
		cancel()
	}
	stopBG()
	workers.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	// No request is in flight any more: write what they recorded.
	cctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	return errors.Join(err, s.Close(cctx))
}

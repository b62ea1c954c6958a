package links

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
	"golang.org/x/sync/singleflight"

	"github.com/roost-hq/roost/internal/httpx"
	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/metrics"
	"github.com/roost-hq/roost/internal/store"
)

// Options configure a Service.
type Options struct {
	DB       *store.DB
	Log      *slog.Logger
	Metrics  *metrics.Registry
	Recorder RecorderConfig
	// GeoIPPath names a MaxMind-format country database; "" records no country.
	GeoIPPath string
	// PollEvery is how often this node looks for links changed by others
	// (default one second).
	PollEvery time.Duration
}

// Service serves redirects from an in-process cache and records clicks.
type Service struct {
	*Store
	db    *store.DB
	log   *slog.Logger
	rec   *Recorder
	salts *salts
	geo   *maxminddb.Reader

	cache     sync.Map // code → *entry
	negatives atomic.Int64
	loads     singleflight.Group
	pollEvery time.Duration
	polledTo  int64 // microseconds; only the poller touches it

	results *metrics.Counter
	pages   *template.Template

	stop chan struct{}
	wg   sync.WaitGroup
}

// entry is a link as the redirect needs it. gone marks a code that does
// not redirect (unknown or deleted); updatedAt tells the poller whether
// the entry is stale.
type entry struct {
	linkID, wsID string
	updatedAt    int64
	tpl          Template
	expires      int64 // microseconds; 0 for never
	fallback     *Template
	gone         bool
}

// maxNegatives bounds how many unknown codes are remembered, so a flood of
// random codes cannot grow the cache without end; past it, unknown codes
// are looked up each time.
const maxNegatives = 50_000

//go:embed pages.html
var pagesHTML string

// New starts the link service: the click recorder, the visitor salts and
// the poller that notices links changed by other nodes.
func New(ctx context.Context, o Options) (*Service, error) {
	s := &Service{Store: NewStore(o.DB), db: o.DB, log: o.Log, salts: newSalts(o.DB), pollEvery: o.PollEvery, stop: make(chan struct{})}
	if s.pollEvery <= 0 {
		s.pollEvery = time.Second
	}
	s.Store.changed = func(code string) { s.cache.Delete(code) }
	s.pages = template.Must(template.New("page").Parse(pagesHTML))
	if o.GeoIPPath != "" {
		g, err := maxminddb.Open(o.GeoIPPath)
		if err != nil {
			return nil, fmt.Errorf("cannot open the GeoIP database %s: %w", o.GeoIPPath, err)
		}
		s.geo = g
	}
	if err := s.salts.prepare(ctx, time.Now()); err != nil {
		return nil, err
	}
	rec, err := NewRecorder(o.DB, o.Log, o.Recorder)
	if err != nil {
		return nil, err
	}
	s.rec = rec
	s.polledTo = time.Now().Add(-time.Minute).UnixMicro()
	if o.Metrics != nil {
		s.results = o.Metrics.Counter("roost_redirects_total", "Redirect requests by result: ok, fallback, expired, unknown, error.", "result")
		o.Metrics.GaugeFunc("roost_click_buffer_depth", "Clicks recorded but not yet in the database (in memory and spilled to disk).", func() float64 { return float64(rec.Depth()) })
		o.Metrics.CounterFunc("roost_clicks_written_total", "Clicks written to the database.", func() float64 { return float64(rec.Written.Load()) })
		o.Metrics.CounterFunc("roost_clicks_spilled_total", "Clicks spilled to disk because the buffer was full or the database down.", func() float64 { return float64(rec.Spills.Load()) })
	}
	s.wg.Add(1)
	go s.background()
	return s, nil
}

// Recorder returns the click recorder (for tests and benchmarks).
func (s *Service) Recorder() *Recorder { return s.rec }

// Close stops the background work and writes every buffered click; see
// Recorder.Close for what happens when ctx ends first.
func (s *Service) Close(ctx context.Context) error {
	close(s.stop)
	s.wg.Wait()
	err := s.rec.Close(ctx)
	if s.geo != nil {
		s.geo.Close()
	}
	return err
}

func (s *Service) background() {
	defer s.wg.Done()
	poll := time.NewTicker(s.pollEvery)
	defer poll.Stop()
	saltsEvery := time.NewTicker(time.Hour)
	defer saltsEvery.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-poll.C:
			if err := s.poll(context.Background()); err != nil {
				s.log.Warn("cannot check for changed links", "err", err)
			}
		case now := <-saltsEvery.C:
			if err := s.salts.prepare(context.Background(), now); err != nil {
				s.log.Warn("cannot prepare visitor salts", "err", err)
			}
		}
	}
}

// pollOverlap re-reads recent changes on every poll: a transaction that
// committed late with an earlier timestamp, or a node whose clock is a few
// seconds off, is still seen.
const pollOverlap = 10 * time.Second

// poll forgets cached links that changed since the last poll, on any node.
func (s *Service) poll(ctx context.Context) error {
	start := time.Now().UnixMicro()
	rows, err := s.db.R.QueryContext(ctx, `SELECT code, updated_at FROM links WHERE updated_at > $1`, s.polledTo-pollOverlap.Microseconds())
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var code string
		var updated int64
		if err := rows.Scan(&code, &updated); err != nil {
			return err
		}
		if v, ok := s.cache.Load(code); ok && v.(*entry).updatedAt != updated {
			s.forget(code)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	s.polledTo = start
	return nil
}

func (s *Service) forget(code string) {
	if v, ok := s.cache.LoadAndDelete(code); ok && v.(*entry).gone {
		s.negatives.Add(-1)
	}
}

// lookup returns the cached entry for a code, loading it on a miss. Only
// the first request for a code (per node, per change) reaches the database.
func (s *Service) lookup(ctx context.Context, code string) (*entry, error) {
	if v, ok := s.cache.Load(code); ok {
		return v.(*entry), nil
	}
	v, err, _ := s.loads.Do(code, func() (any, error) {
		// Shared by every request waiting on this code: not cancelled by
		// the first one going away.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		e, err := s.resolve(ctx, code)
		if err != nil {
			return nil, err
		}
		if !e.gone || s.negatives.Load() < maxNegatives {
			if _, loaded := s.cache.LoadOrStore(code, e); !loaded && e.gone {
				s.negatives.Add(1)
			}
		}
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*entry), nil
}

func (s *Service) resolve(ctx context.Context, code string) (*entry, error) {
	var e entry
	var dest, fallback, src, campaign, content, param string
	var expires, deleted sql.NullInt64
	err := s.db.R.QueryRowContext(ctx, `SELECT l.id, l.workspace_id, l.destination, l.expires_at, l.fallback_url,
		l.utm_source, l.utm_campaign, l.utm_content, l.updated_at, l.deleted_at, COALESCE(s.click_param, $2)
		FROM links l LEFT JOIN link_settings s ON s.workspace_id = l.workspace_id WHERE l.code = $1`, code, DefaultClickParam).
		Scan(&e.linkID, &e.wsID, &dest, &expires, &fallback, &src, &campaign, &content, &e.updatedAt, &deleted, &param)
	if errors.Is(err, sql.ErrNoRows) {
		return &entry{gone: true}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("links: resolve %q: %w", code, err)
	}
	if deleted.Valid {
		return &entry{gone: true, updatedAt: e.updatedAt}, nil
	}
	tr := Tracking{ClickParam: param, Source: src, Campaign: campaign, Content: content}
	if e.tpl, err = Prepare(dest, tr); err != nil {
		return nil, fmt.Errorf("links: destination of %q: %w", code, err)
	}
	e.expires = expires.Int64
	if fallback != "" {
		fb, err := Prepare(fallback, tr)
		if err != nil {
			return nil, fmt.Errorf("links: fallback of %q: %w", code, err)
		}
		e.fallback = &fb
	}
	return &e, nil
}

func (s *Service) count(result string) {
	if s.results != nil {
		s.results.Inc(result)
	}
}

// Redirect answers GET and HEAD /{code}: a 302 to the tracked destination,
// with the click buffered for the writer.
func (s *Service) Redirect(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	if len(code) > 64 {
		s.page(w, http.StatusNotFound, "Link not found", "This link does not exist. Check that it was copied in full.")
		s.count("unknown")
		return
	}
	code = NormalizeCode(code)
	if code == "app" {
		http.Redirect(w, r, "/app/", http.StatusFound)
		return
	}
	e, err := s.lookup(r.Context(), code)
	if err != nil {
		s.log.Error("redirect lookup failed", "err", err)
		s.count("error")
		w.Header().Set("Retry-After", "5")
		s.page(w, http.StatusServiceUnavailable, "Try again in a moment", "This link could not be opened just now. Please try again in a few seconds.")
		return
	}
	if e.gone {
		s.count("unknown")
		s.page(w, http.StatusNotFound, "Link not found", "This link does not exist or has been removed.")
		return
	}
	now := s.db.Now()
	tpl, result := e.tpl, "ok"
	if e.expires != 0 && now.UnixMicro() >= e.expires {
		if e.fallback == nil {
			s.count("expired")
			s.page(w, http.StatusGone, "This link has expired", "The offer behind this link has ended. Follow the brand for the next one.")
			return
		}
		tpl, result = *e.fallback, "fallback"
	}
	c := Click{ID: id.NewNow("", now), WorkspaceID: e.wsID, LinkID: e.linkID, At: now, UA: trunc(r.UserAgent(), 512),
		Referrer: referrerHost(r.Referer()), Method: r.Method}
	ip := httpx.ClientIP(r)
	c.Visitor, err = s.salts.visitor(r.Context(), now, ip, c.UA)
	if err != nil {
		// The salt is prepared in advance; if it still cannot be had, the
		// click is kept under a key that identifies nobody.
		s.log.Warn("no visitor salt", "err", err)
		c.Visitor = "unknown"
	}
	if s.geo != nil {
		c.Country = s.country(ip)
	}
	s.rec.Add(c)
	s.count(result)
	h := w.Header()
	h["Location"] = []string{tpl.URL(c.ID)}
	h["Cache-Control"] = noStore[:1:1] // shared: a Header never writes into a value slice
	w.WriteHeader(http.StatusFound)
}

var noStore = []string{"private, no-store, max-age=0"}

func (s *Service) country(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	var rec struct {
		Country struct {
			ISOCode string `maxminddb:"iso_code"`
		} `maxminddb:"country"`
	}
	if err := s.geo.Lookup(addr.Unmap()).Decode(&rec); err != nil {
		return ""
	}
	return strings.ToUpper(trunc(rec.Country.ISOCode, 2))
}

func (s *Service) page(w http.ResponseWriter, status int, title, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.WriteHeader(status)
	s.pages.Execute(w, struct {
		Status      int
		Title, Text string
	}{status, title, text})
}

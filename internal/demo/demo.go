// Package demo seeds a workspace that shows what Roost does before anyone
// connects a real account or store: an outlet brand with three sandbox
// accounts run by named members, a dozen offers, ninety days of posts,
// clicks (bots and link previews included), claims, orders with deal and
// halo lines, refunds, follower growth and inbox conversations.
//
// Nothing is written behind Roost's back. The demo replays the ninety days
// in order through the functions the API, the redirect, the publisher, the
// poller and the order ingestion use, with the database's clock (Clock)
// set to each moment, so every page and report agrees with every other.
package demo

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/roost-hq/roost/internal/inbox"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/server"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/team"
)

// The demo brand and the owner who signs in.
const (
	WorkspaceName = "Lumen Outlet"
	WorkspaceSlug = "lumen-outlet"
	Email         = "demo@example.com"
)

// Days is how far back the demo's history goes.
const Days = 90

// Options shape a demo.
type Options struct {
	// Scale multiplies the activity: 1 is the full demo (a few thousand
	// orders); tests use a fraction.
	Scale float64
	// Password is the owner's; the other members get it too.
	Password string
	// Progress, if set, hears how far the replay is, in days.
	Progress func(day, days int)
	// Seed makes two demos alike (0: a fixed default).
	Seed uint64
}

// Result counts what the demo made.
type Result struct {
	Workspace     team.Workspace
	Posts         int // copies published
	Clicks        int // redirects answered (bots and previews included)
	Claims        int
	Orders        int
	Refunds       int
	Conversations int // mentions that started or continued one
}

// Seed replays the demo into srv, whose database's clock must be clk's
// (store.DB.Clock = clk.Now) and which must not hold the demo workspace
// yet. It returns with clk released to the system clock.
func Seed(ctx context.Context, srv *server.Server, clk *Clock, o Options) (Result, error) {
	if srv.DB.Clock == nil {
		return Result{}, errors.New("demo: the database must read the demo's clock")
	}
	if _, err := srv.Team.WorkspaceBySlug(ctx, WorkspaceSlug); err == nil {
		return Result{}, fmt.Errorf("demo: this database already has the %s workspace", WorkspaceName)
	} else if !errors.Is(err, store.ErrNotFound) {
		return Result{}, err
	}
	if o.Scale <= 0 {
		o.Scale = 1
	}
	if o.Seed == 0 {
		o.Seed = 2026
	}
	defer clk.Release()
	now := time.Now().UTC()
	s := &sim{ctx: ctx, srv: srv, clk: clk, o: o, r: rand.New(rand.NewPCG(o.Seed, o.Seed^0x5eed)),
		now: now, start: now.Truncate(24*time.Hour).AddDate(0, 0, -Days), claimed: map[string]bool{},
		written0: srv.Links.Recorder().Written.Load()}
	// The demo's own poller reads the sandbox at once, every time.
	s.poller = &inbox.Poller{DB: srv.DB, Hub: srv.Hub, Offers: srv.Offers, Log: srv.Log, SandboxEvery: time.Nanosecond}
	s.clk.set(s.start)
	if err := s.setUp(); err != nil {
		return s.res, err
	}
	if err := s.run(); err != nil {
		return s.res, err
	}
	return s.res, s.flushClicks()
}

// sim is one replay: the state of the brand and its shoppers, and a queue
// of what happens next, in time order.
type sim struct {
	ctx        context.Context
	srv        *server.Server
	clk        *Clock
	o          Options
	r          *rand.Rand
	now, start time.Time
	res        Result

	ws       string
	members  map[string]team.Member // by first name
	accounts []*account
	offers   []*offer
	people   []*person
	queue    queue
	poller   *inbox.Poller
	seq      int

	claimed  map[string]bool // offer ID + person handle
	live     []*liveCopy
	sent     int64 // redirects answered, so clicks to wait for
	written0 int64
	orderSeq int
	guests   int
}

type account struct {
	social.Account
	runner    string  // the member who runs it
	followers [2]int  // at the start and today, at full scale
	appeal    float64 // clicks a post gets on its first day, at full scale
	fans      []*person
}

type offer struct {
	offers.Offer
	spec offerSpec
}

type person struct {
	handle, email, ip, ua, referrer string
	follows                         map[string]bool // account IDs
	bought                          bool
}

// liveCopy is a published copy whose link people still open.
type liveCopy struct {
	code     string
	account  *account
	offer    *offer
	at       time.Time
	strength float64
}

// at queues fn to run when the clock reaches t (if t is not in the future).
func (s *sim) at(t time.Time, fn func() error) {
	if t.After(s.now) {
		return
	}
	s.seq++
	heap.Push(&s.queue, &event{at: t, seq: s.seq, run: fn})
}

type event struct {
	at  time.Time
	seq int
	run func() error
}

type queue []*event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// run replays the days. Within a day, its posts go out first, then the
// day's clicks are answered and written, then everything else happens in
// time order: claims and orders may name any click of the day.
func (s *sim) run() error {
	for d := 0; d <= Days; d++ {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		day := s.start.AddDate(0, 0, d)
		end := day.AddDate(0, 0, 1)
		if err := s.publishDay(day); err != nil {
			return err
		}
		if err := s.clicks(day, end); err != nil {
			return err
		}
		if err := s.flushClicks(); err != nil {
			return err
		}
		for s.queue.Len() > 0 && s.queue[0].at.Before(end) {
			e := heap.Pop(&s.queue).(*event)
			s.clk.set(e.at)
			if err := e.run(); err != nil {
				return err
			}
		}
		if s.o.Progress != nil {
			s.o.Progress(d+1, Days+1)
		}
	}
	return nil
}

// flushClicks waits until the click writer has stored every click
// answered so far.
func (s *sim) flushClicks() error {
	rec := s.srv.Links.Recorder()
	deadline := time.Now().Add(time.Minute)
	for rec.Written.Load()-s.written0 < s.sent {
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: the click writer stored %d of %d clicks in a minute", rec.Written.Load()-s.written0, s.sent)
		}
		if err := s.ctx.Err(); err != nil {
			return err
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// n scales a count, keeping at least min.
func (s *sim) n(full float64, min int) int {
	return max(min, int(math.Round(full*s.o.Scale)))
}

func (s *sim) pick(n int) int { return s.r.IntN(n) }

func (s *sim) chance(p float64) bool { return s.r.Float64() < p }

// within returns a random time in [from, from+d).
func (s *sim) within(from time.Time, d time.Duration) time.Time {
	return from.Add(time.Duration(s.r.Int64N(int64(d))))
}

// redirect answers a request for a short link through the server's own
// handler, as a browser or a bot would send it, and returns the click ID
// the destination received.
func (s *sim) redirect(code, method, ua, ip, referrer string) (string, error) {
	req := httptest.NewRequestWithContext(s.ctx, method, "/"+code, nil)
	req.RemoteAddr = ip + ":41000"
	req.Header.Set("User-Agent", ua)
	if referrer != "" {
		req.Header.Set("Referer", referrer)
	}
	w := httptest.NewRecorder()
	s.srv.Handler.ServeHTTP(w, req)
	if w.Code != http.StatusFound {
		return "", fmt.Errorf("demo: /%s answered %d", code, w.Code)
	}
	s.sent++
	s.res.Clicks++
	loc, err := url.Parse(w.Header().Get("Location"))
	if err != nil {
		return "", err
	}
	return loc.Query().Get(links.DefaultClickParam), nil
}

package orders

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/roost-hq/roost/internal/store"
)

// group commits the writes of concurrent calls together on SQLite: the
// raw events of concurrent Receive calls in one transaction, the
// processing of concurrent Process calls in another. SQLite has one
// writer, so writes happen one at a time whatever is done; what grouping
// saves is a commit per call (the pages every order touches, the orders
// and ledger tables and their indexes, are written once per group rather
// than once per event) and handing the writer from one caller to the next.
//
// Nothing else changes. A raw event is committed before Receive returns,
// in a transaction that processes nothing. Each event is applied in a
// transaction that first marks it processed, so two processes never apply
// one twice; the events of a group are applied in the order they came, as
// if one after the other, and the group commits only if every one of them
// succeeds. Should any fail (an event that must wait or is rejected, an
// error, a failed commit), nothing of the group is kept and each call is
// run again on its own, exactly as without groups: failures are rare, and
// savepoints, which would keep the others, cost each event a journal of
// the pages it changes.
//
// A worker goroutine takes the waiting calls, writes them, answers them,
// and repeats until none wait; a call that finds no worker starts one.
// When the writer is idle a call runs at once, alone: groups form only
// while the writer is busy.
type group struct {
	s        *Store
	mu       sync.Mutex
	receives []*job
	events   []*job
	running  bool
}

// maxGroup bounds the calls written in one transaction.
const maxGroup = 64

// job is a call waiting for the worker: a raw event to store (rec set) or
// an event to process.
type job struct {
	ctx   context.Context
	done  chan struct{}
	err   error
	panic any // what the worker panicked with, raised again in the caller
	// Receive
	rec     *received
	receipt Receipt
	// Process
	eventID string
	out     outcome
}

func newGroup(s *Store) *group {
	if s.db.Dialect != store.SQLite { // PostgreSQL: transactions run side by side
		return nil
	}
	return &group{s: s}
}

// receive stores a raw event as insertEvent does, in a group transaction.
func (g *group) receive(ctx context.Context, rec *received) (Receipt, error) {
	j := g.wait(ctx, &job{rec: rec})
	return j.receipt, j.err
}

// process marks an event processed and applies it as processIn does, in a
// group transaction.
func (g *group) process(ctx context.Context, eventID string) (outcome, error) {
	j := g.wait(ctx, &job{eventID: eventID})
	return j.out, j.err
}

func (g *group) wait(ctx context.Context, j *job) *job {
	if j.err = ctx.Err(); j.err != nil {
		return j
	}
	j.ctx, j.done = ctx, make(chan struct{})
	g.mu.Lock()
	if j.rec != nil {
		g.receives = append(g.receives, j)
	} else {
		g.events = append(g.events, j)
	}
	start := !g.running
	g.running = true
	g.mu.Unlock()
	if start {
		go g.run()
	}
	<-j.done
	if j.panic != nil {
		panic(j.panic)
	}
	return j
}

func (g *group) run() {
	for {
		g.mu.Lock()
		receives, events := take(&g.receives), take(&g.events)
		if len(receives) == 0 && len(events) == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.write(receives, g.s.receiveGroup)
		g.write(events, g.s.processGroup)
	}
}

// write runs fn on jobs and answers them. A panic is passed on to the
// callers, and the transaction it interrupted is rolled back, as it would
// be had each call run its own.
func (g *group) write(jobs []*job, fn func(context.Context, []*job)) {
	if len(jobs) == 0 {
		return
	}
	// The worker outlives any one call; ending ctx rolls back a
	// transaction left open by a panic.
	ctx, cancel := context.WithCancel(context.Background())
	defer func() {
		cancel()
		if p := recover(); p != nil {
			for _, j := range jobs {
				j.panic = p
			}
		}
		for _, j := range jobs {
			close(j.done)
		}
	}()
	fn(ctx, jobs)
}

// take removes up to maxGroup jobs from the front of *q.
func take(q *[]*job) []*job {
	n := min(len(*q), maxGroup)
	if n == 0 {
		*q = nil
		return nil
	}
	jobs := make([]*job, n)
	copy(jobs, *q)
	*q = (*q)[n:]
	return jobs
}

// live drops the jobs whose callers gave up.
func live(jobs []*job) []*job {
	out := jobs[:0:0]
	for _, j := range jobs {
		if j.err = j.ctx.Err(); j.err == nil {
			out = append(out, j)
		}
	}
	return out
}

// receiveGroup stores the raw events of jobs in one transaction, or each
// on its own should that fail.
func (s *Store) receiveGroup(ctx context.Context, jobs []*job) {
	s.stmts.prepareWanted(ctx) // before the transaction holds the writer
	jobs = live(jobs)
	if s.inGroup(ctx, jobs, func(q querier, j *job) error {
		j.receipt, j.err = s.insertEvent(context.WithoutCancel(j.ctx), q, j.rec)
		return j.err
	}, nil) {
		return
	}
	for _, j := range jobs {
		alone(j, func() { j.receipt, j.err = s.insertEvent(j.ctx, s.writer(), j.rec) })
	}
}

// processGroup processes the events of jobs in one transaction, or each in
// a transaction of its own should that fail.
func (s *Store) processGroup(ctx context.Context, jobs []*job) {
	s.stmts.prepareWanted(ctx) // before the transaction holds the writer
	jobs = live(jobs)
	// The group's rollups are summed over its events and written once,
	// before the commit.
	var q querier
	if s.inGroup(ctx, jobs, func(tx querier, j *job) error {
		if q.tx == nil {
			q = tx.keepRollups()
		}
		j.out, j.err = s.processWith(j.ctx, q, j.eventID)
		return j.err
	}, func() error { return s.writeRollups(ctx, q) }) {
		return
	}
	for _, j := range jobs {
		alone(j, func() {
			// Ending ctx rolls back a transaction left open by a panic
			// before the next job needs the writer.
			ctx, cancel := context.WithCancel(j.ctx)
			defer cancel()
			j.out = outcome{}
			j.err = s.db.Tx(ctx, func(tx *sql.Tx) error {
				var err error
				j.out, err = s.processIn(j.ctx, tx, j.eventID)
				return err
			})
		})
	}
}

// inGroup runs write for each of two or more jobs in one transaction, then
// finish (if any), and reports whether it committed. Should any fail or
// panic, or the commit fail, nothing is kept.
func (s *Store) inGroup(ctx context.Context, jobs []*job, write func(q querier, j *job) error, finish func() error) bool {
	if len(jobs) < 2 {
		return false
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("orders: panic in a group: %v", p)
			}
		}()
		q := s.inTx(tx)
		for _, j := range jobs {
			if err := write(q, j); err != nil {
				return err
			}
		}
		if finish != nil {
			return finish()
		}
		return nil
	})
	return err == nil
}

// alone runs a job's write on its own; a panic goes to its caller.
func alone(j *job, write func()) {
	defer func() {
		if p := recover(); p != nil {
			j.panic = p
		}
	}()
	write()
}

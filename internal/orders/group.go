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

// job is a call waiting for the worker: a raw event to store (rec set), an
// event to process (eventID set), or both (ingest: rec set, then its event
// processed in the same transaction).
type job struct {
	ctx   context.Context
	done  chan struct{}
	err   error
	panic any // what the worker panicked with, raised again in the caller
	// Receive
	rec      *received
	receipt  Receipt
	ingest   bool
	received bool // the raw event is committed (ingest)
	// Process
	eventID string
	want    *viewWant
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
// group transaction, and reads the order wanted (if any) there.
func (g *group) process(ctx context.Context, eventID string, want *viewWant) (outcome, error) {
	j := g.wait(ctx, &job{eventID: eventID, want: want})
	return j.out, j.err
}

// ingest stores a raw event and processes it in the same group
// transaction; should the group fail, the event is stored, then processed,
// each on its own.
func (g *group) ingest(ctx context.Context, rec *received, want *viewWant) *job {
	return g.wait(ctx, &job{rec: rec, ingest: true, want: want})
}

func (g *group) wait(ctx context.Context, j *job) *job {
	if j.err = ctx.Err(); j.err != nil {
		return j
	}
	j.ctx, j.done = ctx, make(chan struct{})
	g.mu.Lock()
	if j.rec != nil && !j.ingest {
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
	if !s.inGroup(ctx, jobs) {
		s.receiveAlone(jobs)
	}
}

func (s *Store) receiveAlone(jobs []*job) {
	for _, j := range jobs {
		alone(j, func() {
			j.receipt, j.err = s.insertEvent(j.ctx, s.writer(), j.rec)
			j.received = j.err == nil
		})
	}
}

// processGroup processes the events of jobs (storing first the raw events
// of those that ingest) in one transaction, or, should that fail, stores
// the raw events and processes each event in a transaction of its own.
func (s *Store) processGroup(ctx context.Context, jobs []*job) {
	s.stmts.prepareWanted(ctx) // before the transaction holds the writer
	jobs = live(jobs)
	if s.inGroup(ctx, jobs) {
		return
	}
	var events []*job
	for _, j := range jobs {
		if j.ingest {
			if s.receiveAlone([]*job{j}); j.err != nil {
				continue
			}
			j.eventID = j.receipt.EventID
		}
		events = append(events, j)
	}
	for _, j := range events {
		alone(j, func() {
			// Ending ctx rolls back a transaction left open by a panic
			// before the next job needs the writer.
			ctx, cancel := context.WithCancel(j.ctx)
			defer cancel()
			j.out = outcome{}
			j.err = s.db.Tx(ctx, func(tx *sql.Tx) error {
				var err error
				j.out, err = s.processIn(j.ctx, tx, j.eventID, j.want)
				return err
			})
		})
	}
}

// inGroup writes jobs in one transaction, in order: it stores the raw
// event of each that has one, and processes the event of each that asks,
// reading the order it wants there. The group's rollups are summed over
// its events and written once, before the commit. It reports whether the
// transaction committed; should any job fail or panic, or the commit
// fail, nothing is kept. A lone job that only receives or only processes
// is left to run alone, as it would without groups.
func (s *Store) inGroup(ctx context.Context, jobs []*job) bool {
	if len(jobs) == 0 || len(jobs) == 1 && !jobs[0].ingest {
		return false
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("orders: panic in a group: %v", p)
			}
		}()
		q := s.inTx(tx).keepRollups()
		for _, j := range jobs {
			if j.rec != nil {
				if j.receipt, j.err = s.insertEvent(context.WithoutCancel(j.ctx), q, j.rec); j.err != nil {
					return j.err
				}
				if !j.ingest {
					continue
				}
				j.eventID = j.receipt.EventID
			}
			j.out, j.err = s.processWith(j.ctx, q, j.eventID)
			if j.err == nil {
				j.err = j.want.readIn(j.ctx, s, q)
			}
			if j.err != nil {
				return j.err
			}
		}
		return s.writeRollups(ctx, q)
	})
	if err != nil {
		return false
	}
	for _, j := range jobs {
		j.received = j.rec != nil
	}
	return true
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

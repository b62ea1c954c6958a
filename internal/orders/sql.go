package orders

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/roost-hq/roost/internal/store"
)

// Statements on SQLite are prepared once per Store and reused: the
// embedded driver parses every unprepared statement anew, and parsing was a
// third of an order's CPU, most of it spent holding the database's only
// write lock. PostgreSQL needs none of this: its driver already keeps
// prepared statements per connection.
//
// A statement is prepared on the pool it runs on (the writer or the
// readers) the first time it is seen outside a transaction, or, when first
// seen inside one, before the next transaction begins: preparing on the
// writer while a transaction holds its only connection would wait forever.
// Inside a transaction a prepared statement runs on the transaction's
// connection (sql.Tx.StmtContext), prepared there once and then reused.
type stmtCache struct {
	mu    sync.Mutex
	ready map[stmtKey]*sql.Stmt
	want  map[stmtKey]bool
}

type stmtKey struct {
	db    *sql.DB
	query string
}

// Bounds on what is prepared: statements are few and fixed, except
// multi-row inserts, whose short forms (orders of a few lines) are kept.
const (
	maxPrepared      = 256
	maxPreparedBytes = 2048
)

func newStmtCache(db *store.DB) *stmtCache {
	if db.Dialect != store.SQLite {
		return nil
	}
	return &stmtCache{ready: map[stmtKey]*sql.Stmt{}, want: map[stmtKey]bool{}}
}

// lookup returns the prepared form of query on db, or nil. With inTx, a
// statement not prepared yet is noted for later; otherwise it is prepared
// now.
func (c *stmtCache) lookup(ctx context.Context, db *sql.DB, query string, inTx bool) *sql.Stmt {
	if c == nil || len(query) > maxPreparedBytes {
		return nil
	}
	k := stmtKey{db, query}
	c.mu.Lock()
	st, ok := c.ready[k]
	if ok || len(c.ready)+len(c.want) >= maxPrepared {
		c.mu.Unlock()
		return st // nil when it cannot be prepared (kept as nil)
	}
	if inTx {
		c.want[k] = true
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	return c.prepare(ctx, k)
}

func (c *stmtCache) prepare(ctx context.Context, k stmtKey) *sql.Stmt {
	st, err := k.db.PrepareContext(context.WithoutCancel(ctx), k.query)
	if err != nil {
		st = nil // run unprepared from now on: the error shows there
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.want, k)
	if old, ok := c.ready[k]; ok {
		if st != nil {
			st.Close()
		}
		return old
	}
	c.ready[k] = st
	return st
}

// prepareWanted prepares the statements first seen inside transactions.
// It must be called outside any transaction.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if len(c.want) == 0 {
		c.mu.Unlock()
		return
	}
	keys := make([]stmtKey, 0, len(c.want))
	for k := range c.want {
		keys = append(keys, k)
	}
	c.mu.Unlock()
	for _, k := range keys {
		c.prepare(ctx, k)
	}
}

// querier is a store.Querier that runs statements prepared where it can: in
// tx when it is set, else on db.
type querier struct {
	c  *stmtCache
	db *sql.DB
	tx *sql.Tx
	// rollups sums what the transaction's events add to the revenue
	// rollups, written once before it commits (writeRollups); nil: each
	// event writes its own.
	rollups map[rollupKey]credit
}

// keepRollups returns q with a sum of rollups of its own.
func (q querier) keepRollups() querier {
	q.rollups = map[rollupKey]credit{}
	return q
}

func (s *Store) inTx(tx *sql.Tx) querier { return querier{c: s.stmts, db: s.db.W, tx: tx} }
func (s *Store) writer() querier         { return querier{c: s.stmts, db: s.db.W} }
func (s *Store) reader() querier         { return querier{c: s.stmts, db: s.db.R} }

func (q querier) stmt(ctx context.Context, query string) *sql.Stmt {
	st := q.c.lookup(ctx, q.db, query, q.tx != nil)
	if st != nil && q.tx != nil {
		st = q.tx.StmtContext(ctx, st)
	}
	return st
}

func (q querier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	if q.tx != nil {
		return q.tx.ExecContext(ctx, query, args...)
	}
	return q.db.ExecContext(ctx, query, args...)
}

func (q querier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	if q.tx != nil {
		return q.tx.QueryContext(ctx, query, args...)
	}
	return q.db.QueryContext(ctx, query, args...)
}

func (q querier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	if q.tx != nil {
		return q.tx.QueryRowContext(ctx, query, args...)
	}
	return q.db.QueryRowContext(ctx, query, args...)
}

// Bounds on one multi-row INSERT: SQLite allows 32,766 variables in a
// statement, PostgreSQL 65,535; a long order is written in chunks.
const (
	maxInsertVars = 32766
	maxInsertRows = 500
)

// insertRows writes n rows of width values each with as few statements as
// the bounds allow: head is "INSERT INTO t (a, b, …) VALUES ", tail what
// follows the values (such as ON CONFLICT …), and row appends the i-th
// row's values to args. With scan, the statements are queries (tail has a
// RETURNING clause) and scan reads each row they return.
func (s *Store) insertRows(ctx context.Context, q store.Querier, head, tail string, width, n int, row func(i int, args []any) []any, scan func(*sql.Rows) error) error {
	per := max(1, min(maxInsertRows, maxInsertVars/width))
	var b strings.Builder
	for start := 0; start < n; start += per {
		end := min(start+per, n)
		args := make([]any, 0, (end-start)*width)
		b.Reset()
		b.WriteString(head)
		for i := start; i < end; i++ {
			if i > start {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			b.WriteString(s.params(len(args)+1, width))
			b.WriteByte(')')
			if args = row(i, args); len(args) != (i-start+1)*width {
				return fmt.Errorf("orders: insert row %d has %d values, want %d", i, len(args)-(i-start)*width, width)
			}
		}
		b.WriteString(tail)
		if scan == nil {
			if _, err := q.ExecContext(ctx, b.String(), args...); err != nil {
				return err
			}
			continue
		}
		rows, err := q.QueryContext(ctx, b.String(), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// params is "$1, $2, …" (in the dialect's long-statement form) for n
// arguments from the first.
func (s *Store) params(first, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.db.Param(first + i))
	}
	return b.String()
}

package store

import (
	"context"
	"database/sql"
	"sync"
)

// Reader is the read pool as a Querier that runs each statement prepared:
// on SQLite the embedded driver parses every unprepared statement anew,
// which costs more than running a short lookup (an API key, a code). Each
// query string is prepared once on the pool and then on each connection
// the first time it runs there (sql.Stmt). PostgreSQL's driver already
// keeps prepared statements per connection, so there Reader is R itself.
//
// Only fixed query strings belong here: the statements kept are bounded
// (in number and length), and a query past the bounds runs unprepared.
func (db *DB) Reader() Querier {
	if db.Dialect != SQLite {
		return db.R
	}
	db.readerOnce.Do(func() { db.reader = &prepared{db: db.R, stmts: map[string]*sql.Stmt{}} })
	return db.reader
}

const (
	maxPreparedStmts = 256
	maxPreparedQuery = 4096
)

type prepared struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// stmt returns query prepared, or nil when it cannot be (too long, too
// many kept, or an error, which running it unprepared then reports).
func (p *prepared) stmt(ctx context.Context, query string) *sql.Stmt {
	if len(query) > maxPreparedQuery {
		return nil
	}
	p.mu.Lock()
	st, ok := p.stmts[query]
	p.mu.Unlock()
	if ok {
		return st
	}
	st, err := p.db.PrepareContext(context.WithoutCancel(ctx), query)
	if err != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.stmts[query]; ok { // prepared meanwhile by another call
		st.Close()
		return old
	}
	if len(p.stmts) >= maxPreparedStmts {
		st.Close()
		return nil
	}
	p.stmts[query] = st
	return st
}

func (p *prepared) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := p.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return p.db.ExecContext(ctx, query, args...)
}

func (p *prepared) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.db.QueryContext(ctx, query, args...)
}

func (p *prepared) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.db.QueryRowContext(ctx, query, args...)
}

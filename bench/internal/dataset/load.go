package dataset

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/roost-hq/roost/internal/store"
)

// loader writes rows to several tables with multi-row inserts, in large
// transactions: a load tool's way, not Roost's. Statements for full
// batches are prepared once.
type loader struct {
	ctx    context.Context
	db     *store.DB
	tx     *sql.Tx
	tables []*table
	inTx   int // rows written in the open transaction
	err    error
}

// A transaction holds at most this many rows, so SQLite's WAL can be
// checkpointed now and then.
const txRows = 400_000

type table struct {
	l     *loader
	head  string
	width int
	per   int       // rows per statement
	full  *sql.Stmt // the statement for a full batch, prepared on the pool
	args  []any
	rows  int // in args
	Total int64
}

func newLoader(ctx context.Context, db *store.DB) *loader {
	return &loader{ctx: ctx, db: db}
}

// table returns a writer of rows to the table named in head ("INSERT INTO
// t (a, b) VALUES "), each of width values. All tables of a loader must be
// made before its first row, a table after those its rows point to.
func (l *loader) table(head string, width int) *table {
	maxVars, maxRows := 32766, 500
	if l.db.Dialect == store.Postgres {
		maxVars, maxRows = 65535, 1000
	}
	t := &table{l: l, head: head, width: width, per: max(1, min(maxRows, maxVars/width))}
	t.full, l.err = l.db.W.PrepareContext(l.ctx, t.sql(t.per))
	if l.err != nil {
		l.err = fmt.Errorf("dataset: prepare %s: %w", strings.TrimSpace(head), l.err)
	}
	l.tables = append(l.tables, t)
	return t
}

func (t *table) sql(rows int) string {
	var b strings.Builder
	b.WriteString(t.head)
	n := 1
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range t.width {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(t.l.db.Param(n))
			n++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// add queues one row.
func (t *table) add(vals ...any) {
	if t.l.err != nil {
		return
	}
	t.args = append(t.args, vals...)
	t.rows++
	t.Total++
	if t.rows == t.per {
		// Rows may point to rows of the tables made before (foreign
		// keys): those go first.
		for _, u := range t.l.tables {
			u.flush()
			if u == t {
				break
			}
		}
		if t.l.inTx >= txRows {
			t.l.commit()
		}
	}
}

func (t *table) flush() {
	l := t.l
	if l.err != nil || t.rows == 0 {
		return
	}
	if l.tx == nil {
		if l.tx, l.err = l.db.W.BeginTx(l.ctx, nil); l.err != nil {
			return
		}
	}
	if t.rows == t.per {
		_, l.err = l.tx.StmtContext(l.ctx, t.full).ExecContext(l.ctx, t.args...)
	} else {
		_, l.err = l.tx.ExecContext(l.ctx, t.sql(t.rows), t.args...)
	}
	if l.err != nil {
		l.err = fmt.Errorf("dataset: %s: %w", strings.TrimSpace(t.head), l.err)
	}
	l.inTx += t.rows
	t.args, t.rows = t.args[:0], 0
}

// commit writes what is queued and commits.
func (l *loader) commit() {
	for _, t := range l.tables {
		t.flush()
	}
	if l.tx == nil {
		return
	}
	if l.err == nil {
		l.err = l.tx.Commit()
	} else {
		l.tx.Rollback()
	}
	l.tx, l.inTx = nil, 0
}

// close commits and releases the statements; it returns the first error.
func (l *loader) close() error {
	l.commit()
	for _, t := range l.tables {
		if t.full != nil {
			t.full.Close()
		}
	}
	return l.err
}

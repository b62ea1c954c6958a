// Package store is the storage layer every capability shares: it opens the
// embedded SQLite database or PostgreSQL, applies the embedded migrations,
// and offers the few helpers that keep one set of SQL portable across both.
//
// SQL is written once with $1-style placeholders, which both drivers accept.
// Times are stored as BIGINT microseconds since the Unix epoch (UTC), money as
// BIGINT minor units, flags as BOOLEAN and identifiers as TEXT.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names the database engine behind a DB.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is Roost's handle on its database. Writes go through W and reads
// through R: on SQLite W is a single connection (SQLite has one writer) and R
// a pool of read-only connections; on PostgreSQL both are the same pool.
type DB struct {
	W       *sql.DB
	R       *sql.DB
	Dialect Dialect
	// Where is a description of the database safe to print (no password).
	Where string
	// Clock, when set, is what the stores read as the current time; nil
	// means the system clock. roost demo sets it to replay ninety days of
	// activity through the same code the server runs.
	Clock func() time.Time

	readerOnce sync.Once
	reader     *prepared
}

// Now is the current time as the stores see it.
func (db *DB) Now() time.Time {
	if db.Clock != nil {
		return db.Clock()
	}
	return time.Now()
}

// Querier is what *sql.DB and *sql.Tx have in common, so a function can run
// inside or outside a transaction.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ErrNotFound is returned by lookups that find nothing in the caller's
// workspace. Callers turn it into a 404, never a 403.
var ErrNotFound = errors.New("not found")

// DefaultPath is the SQLite file used when no database URL is configured.
func DefaultPath(dataDir string) string { return filepath.Join(dataDir, "roost.db") }

// Open opens the database named by rawURL: "postgres://…" or
// "postgresql://…" for PostgreSQL, "sqlite:PATH" or "file:PATH" for SQLite.
// An empty rawURL selects the SQLite file in dataDir. Open checks that the
// database answers before returning.
func Open(ctx context.Context, rawURL, dataDir string) (*DB, error) {
	switch {
	case rawURL == "":
		return openSQLite(ctx, DefaultPath(dataDir))
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		return openPostgres(ctx, rawURL)
	case strings.HasPrefix(rawURL, "sqlite:"), strings.HasPrefix(rawURL, "file:"):
		p := strings.TrimPrefix(strings.TrimPrefix(rawURL, "sqlite:"), "file:")
		p = strings.TrimPrefix(p, "//")
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		if p == "" {
			return nil, fmt.Errorf("database URL %q names no file", rawURL)
		}
		return openSQLite(ctx, p)
	default:
		return nil, fmt.Errorf("database URL must start with postgres://, postgresql://, sqlite: or file: (got %q)", redact(rawURL))
	}
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("cannot create data directory: %w", err)
		}
	}
	pragmas := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + pragmas
	// WAL is a property of the file: the writer sets it, readers inherit it.
	w, err := sql.Open("sqlite", dsn+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("cannot open SQLite database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The writer must exist before readers open the file, so WAL mode is set.
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pingSQLite(pctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("cannot open SQLite database %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("cannot open SQLite database %s: %w", path, err)
	}
	n := max(4, runtime.NumCPU()*2)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(0)
	if err := pingSQLite(pctx, r); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("cannot open SQLite database %s: %w", path, err)
	}
	return &DB{W: w, R: r, Dialect: SQLite, Where: "sqlite:" + path}, nil
}

// pingSQLite opens a first connection. Switching a new file to WAL needs
// an exclusive lock that the busy timeout does not wait for, so when
// several processes open one new file at once, the losers try again.
func pingSQLite(ctx context.Context, db *sql.DB) error {
	for wait := 20 * time.Millisecond; ; wait *= 2 {
		err := db.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

func openPostgres(ctx context.Context, rawURL string) (*DB, error) {
	where := "postgres:" + redact(rawURL)
	db, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, fmt.Errorf("cannot open PostgreSQL database %s: %w", where, err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot connect to PostgreSQL database %s: %s", where, oneLine(err))
	}
	return &DB{W: db, R: db, Dialect: Postgres, Where: where}, nil
}

// redact removes passwords from a database URL (in the user part or the
// query) so it can be printed.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q := u.Query()
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Set(k, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// Close closes both pools.
func (db *DB) Close() error {
	err := db.W.Close()
	if db.R != db.W {
		err = errors.Join(err, db.R.Close())
	}
	return err
}

// Tx runs fn in a transaction on the writer and commits it if fn returns
// nil. On SQLite the transaction takes the write lock at BEGIN, so two
// writers never deadlock on lock upgrade.
func (db *DB) Tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Param is the placeholder for the n-th (1-based) argument of a long
// statement such as a multi-row insert: "?" on SQLite, where numbered
// placeholders are looked up by name (quadratic in their number), "$n" on
// PostgreSQL. Ordinary statements use "$n", which both accept.
func (db *DB) Param(n int) string {
	if db.Dialect == SQLite {
		return "?"
	}
	return "$" + strconv.Itoa(n)
}

// ForUpdate is the clause that locks the rows a SELECT reads until the
// transaction ends. SQLite needs none: its write transaction already holds
// the database's only write lock.
func (db *DB) ForUpdate() string {
	if db.Dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// IsUniqueViolation reports whether err is a unique-constraint violation.
func IsUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// Null is the stored form of an optional text: NULL for "".
func Null(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Micros is the stored form of t: microseconds since the Unix epoch, or nil
// (NULL) for the zero time.
func Micros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// T scans a stored time (BIGINT microseconds, or NULL for the zero time)
// into *dst, in UTC.
func T(dst *time.Time) sql.Scanner { return timeScanner{dst} }

type timeScanner struct{ dst *time.Time }

func (s timeScanner) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*s.dst = time.Time{}
	case int64:
		*s.dst = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("store: cannot scan %T into a time", v)
	}
	return nil
}

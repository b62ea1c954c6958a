package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migrations live in migrations/ as NNNN_name.sql, written once for both
// databases. Where the two truly differ, NNNN_name.sqlite.sql or
// NNNN_name.postgres.sql replaces the shared file for that dialect.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func migrations(d Dialect) ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	byVersion := map[int]migration{}
	for _, e := range entries {
		base := strings.TrimSuffix(e.Name(), ".sql")
		dialect := ""
		if i := strings.LastIndexByte(base, '.'); i >= 0 {
			base, dialect = base[:i], base[i+1:]
		}
		if dialect != "" && dialect != string(SQLite) && dialect != string(Postgres) {
			return nil, fmt.Errorf("migration %s: unknown dialect %q", e.Name(), dialect)
		}
		if dialect != "" && dialect != string(d) {
			continue
		}
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", e.Name())
		}
		b, err := migrationFS.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		m := migration{version: v, name: name, sql: string(b)}
		if prev, dup := byVersion[v]; dup {
			switch {
			case prev.name != name:
				return nil, fmt.Errorf("migration version %d used by %s and %s", v, prev.name, name)
			case dialect == "":
				continue // the dialect's own file already replaced the shared one
			}
		}
		byVersion[v] = m
	}
	out := make([]migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// LatestVersion is the schema version this binary brings.
func LatestVersion() int {
	v := 0
	for _, d := range []Dialect{SQLite, Postgres} {
		if ms, err := migrations(d); err == nil && len(ms) > 0 {
			v = max(v, ms[len(ms)-1].version)
		}
	}
	return v
}

// Migrate applies the migrations the database does not have yet, all in
// one transaction (both databases have transactional DDL, so a failure
// leaves the schema as it was), and returns the names of those it applied.
// It is safe when several processes start at once: on PostgreSQL they queue
// on an advisory lock (one per schema), on SQLite on the write lock.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	ms, err := migrations(db.Dialect)
	if err != nil {
		return nil, err
	}
	return db.apply(ctx, ms)
}

func (db *DB) apply(ctx context.Context, ms []migration) ([]string, error) {
	var applied []string
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockMigrations(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version BIGINT PRIMARY KEY,
			name TEXT NOT NULL,
			applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("cannot create schema_migrations: %w", err)
		}
		have := map[int]bool{}
		rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return fmt.Errorf("cannot read schema_migrations: %w", err)
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			have[v] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for v := range have {
			if v > ms[len(ms)-1].version {
				return fmt.Errorf("database schema version %d is newer than this binary knows (%d): upgrade roost", v, ms[len(ms)-1].version)
			}
		}
		for _, m := range ms {
			if have[m.version] {
				continue
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %04d_%s failed: %s", m.version, m.name, oneLine(err))
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, time.Now().UnixMicro()); err != nil {
				return fmt.Errorf("cannot record migration %d: %w", m.version, err)
			}
			applied = append(applied, fmt.Sprintf("%04d_%s", m.version, m.name))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
}

func (db *DB) lockMigrations(ctx context.Context, tx *sql.Tx) error {
	if db.Dialect != Postgres {
		return nil // BEGIN IMMEDIATE already holds SQLite's write lock
	}
	// 0x526f6f73 is "Roos"; the second key keeps schemas (one per test) apart.
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(1383034739, hashtext(current_schema()))`)
	if err != nil {
		return fmt.Errorf("cannot take migration lock: %w", err)
	}
	return nil
}

// Ready reports whether the database answers and carries at least the
// schema this binary brings. A newer schema is fine: during a rolling
// upgrade, nodes still on the old binary keep serving.
func (db *DB) Ready(ctx context.Context) error {
	var v sql.NullInt64
	if err := db.R.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return fmt.Errorf("database not migrated: %s", oneLine(err))
	}
	if want := LatestVersion(); int(v.Int64) < want {
		return fmt.Errorf("database schema is at version %d, want %d", v.Int64, want)
	}
	return nil
}

// Package storetest gives tests a fresh, migrated database: SQLite always,
// and PostgreSQL too when ROOST_TEST_POSTGRES_URL is set. Each PostgreSQL
// test gets its own schema, dropped when the test ends.
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/store"
)

// PostgresURL is the server the PostgreSQL runs use, or "".
func PostgresURL() string { return os.Getenv("ROOST_TEST_POSTGRES_URL") }

// Each runs fn as a subtest once per database: "sqlite", and "postgres"
// when ROOST_TEST_POSTGRES_URL is set. Subtests run in parallel.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, d := range Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, New(t, d))
		})
	}
}

// Dialects lists the databases tests run on here.
func Dialects() []store.Dialect {
	if PostgresURL() != "" {
		return []store.Dialect{store.SQLite, store.Postgres}
	}
	return []store.Dialect{store.SQLite}
}

// New returns a fresh, migrated database of the given dialect, closed (and
// on PostgreSQL dropped) when the test ends. With ROOST_TEST_POSTGRES_URL set
// and the server unreachable, the test fails rather than skips.
func New(t testing.TB, d store.Dialect) *store.DB {
	t.Helper()
	return Open(t, URL(t, d))
}

// Open opens and migrates the database at u (from URL), closed when the
// test ends. Opening one URL twice gives two handles on one database, as
// two roost processes have.
func Open(t testing.TB, u string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), u, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// URL returns a database URL for a fresh, empty database of dialect d: a
// file in the test's temporary directory, or a new PostgreSQL schema.
func URL(t testing.TB, d store.Dialect) string {
	t.Helper()
	if d == store.SQLite {
		return "sqlite:" + filepath.Join(t.TempDir(), "roost.db")
	}
	base := PostgresURL()
	if base == "" {
		t.Fatal("ROOST_TEST_POSTGRES_URL is not set")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("ROOST_TEST_POSTGRES_URL: %v", err)
	}
	schema := "t_" + strings.ToLower(strings.ReplaceAll(id.New(""), "-", ""))
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		t.Fatalf("PostgreSQL at ROOST_TEST_POSTGRES_URL is unusable: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
		admin.Close()
	})
	pu, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := pu.Query()
	q.Set("search_path", schema)
	pu.RawQuery = q.Encode()
	return pu.String()
}

// Name is a short unique string for test data.
func Name(prefix string) string { return fmt.Sprintf("%s-%s", prefix, id.Token(4)) }

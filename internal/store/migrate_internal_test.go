package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// These run on SQLite only: storetest imports this package, so it cannot
// be used here. The PostgreSQL behaviour of Migrate is covered by the
// store_test package.

func open(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "x.db"), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestFailedMigrationChangesNothing(t *testing.T) {
	t.Parallel()
	db := open(t)
	ctx := context.Background()
	good := migration{version: 1, name: "good", sql: "CREATE TABLE a (x INTEGER);"}
	bad := migration{version: 2, name: "bad", sql: "CREATE TABLE b (x INTEGER); THIS IS NOT SQL;"}
	_, err := db.apply(ctx, []migration{good, bad})
	if err == nil || !strings.Contains(err.Error(), "migration 0002_bad failed") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v, want one line naming 0002_bad", err)
	}
	var n int
	db.R.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name IN ('a', 'b')`).Scan(&n)
	if n != 0 {
		t.Fatalf("a failed migration left %d tables behind", n)
	}
	if applied, err := db.apply(ctx, []migration{good}); err != nil || len(applied) != 1 {
		t.Fatalf("good migration after a failed one: %v %v", applied, err)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	t.Parallel()
	db := open(t)
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.W.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Fatalf("Migrate on a newer schema: %v", err)
	}
	if err := db.Ready(ctx); err != nil {
		t.Fatalf("a newer schema should still be ready for an older node: %v", err)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://u:hunter2@db:5432/roost":               "postgres://u:xxxxx@db:5432/roost",
		"postgres://u@db/roost?password=hunter2&sslmode=x": "postgres://u@db/roost?password=xxxxx&sslmode=x",
		"postgres://u@db/roost?sslpassword=hunter2":        "postgres://u@db/roost?sslpassword=xxxxx",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

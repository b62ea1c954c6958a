package store_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
)

func TestMigrateIsIdempotentAndReady(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.Ready(ctx); err != nil {
			t.Fatalf("Ready after migrate: %v", err)
		}
		applied, err := db.Migrate(ctx)
		if err != nil || len(applied) != 0 {
			t.Fatalf("second Migrate applied %v, %v", applied, err)
		}
	})
}

func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			u := storetest.URL(t, d)
			ctx := context.Background()
			var wg sync.WaitGroup
			var mu sync.Mutex
			total := 0
			errs := make(chan error, 4)
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					db, err := store.Open(ctx, u, "")
					if err != nil {
						errs <- err
						return
					}
					defer db.Close()
					applied, err := db.Migrate(ctx)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					total += len(applied)
					mu.Unlock()
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if want := store.LatestVersion(); total != want {
				t.Fatalf("4 processes applied %d migrations in all, want %d (each exactly once)", total, want)
			}
		})
	}
}

func TestReadyOnEmptyDatabase(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db, err := store.Open(context.Background(), storetest.URL(t, d), "")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Ready(context.Background()); err == nil {
				t.Fatal("an unmigrated database reported ready")
			}
		})
	}
}

func TestTimesAndUniqueViolations(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 12, 30, 15, 123456000, time.FixedZone("x", 3600))
		_, err := db.W.ExecContext(ctx, `INSERT INTO workspaces (id, slug, name, created_at) VALUES ($1, $2, $3, $4)`,
			"ws_1", "one", "One", store.Micros(now))
		if err != nil {
			t.Fatal(err)
		}
		var got time.Time
		if err := db.R.QueryRowContext(ctx, `SELECT created_at FROM workspaces WHERE id = $1`, "ws_1").Scan(store.T(&got)); err != nil {
			t.Fatal(err)
		}
		if !got.Equal(now) || got.Location() != time.UTC {
			t.Fatalf("time round trip: got %v want %v in UTC", got, now)
		}
		_, err = db.W.ExecContext(ctx, `INSERT INTO workspaces (id, slug, name, created_at) VALUES ($1, $2, $3, $4)`,
			"ws_2", "one", "Two", store.Micros(now))
		if !store.IsUniqueViolation(err) {
			t.Fatalf("duplicate slug: err = %v, want a unique violation", err)
		}
		var null time.Time = now
		if err := db.R.QueryRowContext(ctx, `SELECT NULL`).Scan(store.T(&null)); err != nil || !null.IsZero() {
			t.Fatalf("NULL time scanned as %v, %v", null, err)
		}
	})
}

func TestTxRollsBack(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO workspaces (id, slug, name, created_at) VALUES ('ws_x', 'x', 'X', 1)`); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Tx returned %v", err)
		}
		var n int
		db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM workspaces`).Scan(&n)
		if n != 0 {
			t.Fatal("rolled-back insert is visible")
		}
	})
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct{ url, want string }{
		{"mysql://x", "must start with"},
		{"sqlite:", "names no file"},
		{"postgres://nobody@127.0.0.1:1/none?connect_timeout=2", "cannot connect to PostgreSQL"},
		{"postgres://u:hunter2@127.0.0.1:1/none?connect_timeout=2", "xxxxx"},
	} {
		_, err := store.Open(ctx, tc.url, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want error containing %q", tc.url, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "\n")) {
			t.Errorf("Open(%q) error leaks the password or spans lines: %v", tc.url, err)
		}
	}
	// A data directory that cannot be created.
	file := filepath.Join(t.TempDir(), "file")
	if _, err := store.Open(ctx, "sqlite:"+file, ""); err != nil {
		t.Fatalf("plain sqlite file: %v", err)
	}
	if _, err := store.Open(ctx, "", filepath.Join(file, "sub")); err == nil {
		t.Fatal("data dir under a file opened")
	}
}

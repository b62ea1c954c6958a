package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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

func TestReader(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := db.Reader()
		if db.Dialect != store.SQLite && r != store.Querier(db.R) {
			t.Fatal("on PostgreSQL Reader should be the read pool itself")
		}
		if _, err := db.W.ExecContext(ctx, `INSERT INTO workspaces (id, slug, name, created_at) VALUES ('ws_r', 'r', 'R', 1)`); err != nil {
			t.Fatal(err)
		}
		// The same statement again and again, from several goroutines,
		// sees each write; past the bound on statements kept, and for a
		// query too long to keep, statements run unprepared.
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 100 {
					var name string
					if err := r.QueryRowContext(ctx, `SELECT name FROM workspaces WHERE id = $1`, "ws_r").Scan(&name); err != nil || name != "R" {
						t.Errorf("goroutine %d, read %d: %q, %v", g, i, name, err)
						return
					}
				}
			})
		}
		wg.Wait()
		for i := range 300 {
			var n int
			if err := r.QueryRowContext(ctx, fmt.Sprintf(`SELECT COUNT(*) + %d FROM workspaces`, i)).Scan(&n); err != nil || n != i+1 {
				t.Fatalf("query %d: %d, %v", i, n, err)
			}
		}
		long := `SELECT COUNT(*) FROM workspaces WHERE name <> '` + strings.Repeat("x", 5000) + `'`
		rows, err := r.QueryContext(ctx, long)
		if err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if _, err := db.W.ExecContext(ctx, `UPDATE workspaces SET name = 'R2' WHERE id = 'ws_r'`); err != nil {
			t.Fatal(err)
		}
		var name string
		if err := r.QueryRowContext(ctx, `SELECT name FROM workspaces WHERE id = $1`, "ws_r").Scan(&name); err != nil || name != "R2" {
			t.Fatalf("after an update: %q, %v", name, err)
		}
		if err := r.QueryRowContext(ctx, `SELECT nope FROM workspaces`).Scan(&name); err == nil {
			t.Fatal("a bad statement gave no error")
		}
	})
}

// TestClickProfilesMigration stores clicks in the table of migration 0003
// and checks that 0014 moves every one into click_log and click_profiles,
// one profile per distinct link and breakdown, with the clicks view
// reading back what was stored; new profiles are numbered after them.
func TestClickProfilesMigration(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := store.Open(ctx, storetest.URL(t, d), "")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.MigrateTo(ctx, 13); err != nil {
				t.Fatal(err)
			}
			const cols = `id, workspace_id, link_id, at, visitor, referrer_host, device, os, browser, country, bot, bot_reason, is_unique`
			type click struct {
				id, ws, link                          string
				at                                    int64
				visitor, ref, device, os, browser, cc string
				bot                                   bool
				reason                                string
				unique                                bool
			}
			want := []click{
				{"c1", "ws1", "l1", 10, "v1", "mastodon.social", "mobile", "iOS", "Safari", "DE", false, "", true},
				{"c2", "ws1", "l1", 20, "v2", "mastodon.social", "mobile", "iOS", "Safari", "DE", false, "", true},
				{"c3", "ws1", "l1", 30, "v1", "mastodon.social", "mobile", "iOS", "Safari", "DE", false, "", false},
				{"c4", "ws1", "l1", 40, "p1", "", "bot", "", "", "", true, "preview:Mastodon", false},
				{"c5", "ws2", "l2", 50, "v3", "", "desktop", "Linux", "Firefox", "", false, "", true},
			}
			for _, c := range want {
				if _, err := db.W.ExecContext(ctx, `INSERT INTO clicks (`+cols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
					c.id, c.ws, c.link, c.at, c.visitor, c.ref, c.device, c.os, c.browser, c.cc, c.bot, c.reason, c.unique); err != nil {
					t.Fatal(err)
				}
			}
			if applied, err := db.Migrate(ctx); err != nil || len(applied) == 0 || !strings.HasPrefix(applied[0], "0014_") {
				t.Fatalf("Migrate after 0013 applied %v, %v", applied, err)
			}
			rows, err := db.R.QueryContext(ctx, `SELECT `+cols+` FROM clicks ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			var got []click
			for rows.Next() {
				var c click
				if err := rows.Scan(&c.id, &c.ws, &c.link, &c.at, &c.visitor, &c.ref, &c.device, &c.os, &c.browser, &c.cc, &c.bot, &c.reason, &c.unique); err != nil {
					t.Fatal(err)
				}
				got = append(got, c)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("clicks after the migration:\n got %v\nwant %v", got, want)
			}
			var profiles, maxID int64
			if err := db.R.QueryRowContext(ctx, `SELECT COUNT(*), MAX(id) FROM click_profiles`).Scan(&profiles, &maxID); err != nil || profiles != 3 {
				t.Fatalf("%d profiles (%v), want 3", profiles, err)
			}
			var next int64
			if err := db.W.QueryRowContext(ctx, `INSERT INTO click_profiles (workspace_id, link_id) VALUES ('ws1', 'l3') RETURNING id`).Scan(&next); err != nil || next <= maxID {
				t.Fatalf("a new profile got ID %d (%v), after %d", next, err, maxID)
			}
		})
	}
}

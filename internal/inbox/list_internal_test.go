package inbox

import (
	"context"
	"database/sql"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
	"github.com/roost-hq/roost/internal/team"
)

// counting counts the queries made through it.
type counting struct {
	store.Querier
	n atomic.Int64
}

func (c *counting) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	c.n.Add(1)
	return c.Querier.QueryContext(ctx, q, args...)
}

func (c *counting) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	c.n.Add(1)
	return c.Querier.QueryRowContext(ctx, q, args...)
}

func (c *counting) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	c.n.Add(1)
	return c.Querier.ExecContext(ctx, q, args...)
}

// seed makes a workspace whose account has n conversations, each with a
// few messages, every third tagged, every fifth read by the member, and
// follower counts spread so some customers are VIPs.
func seed(tb testing.TB, db *store.DB, n int) (s *Store, wsID, memberID string) {
	tb.Helper()
	ctx := context.Background()
	w, m, err := team.New(db).CreateOwner(ctx, team.NewOwner{Workspace: storetest.Name("ws"), Email: storetest.Name("o") + "@example.com",
		Name: "O", Password: "long enough password"})
	if err != nil {
		tb.Fatal(err)
	}
	a, err := social.NewStore(db, nil).CreateSandboxAccount(ctx, w.ID, "", "outlet", "")
	if err != nil {
		tb.Fatal(err)
	}
	base := time.Now().Add(-time.Duration(n) * time.Minute)
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		for i := range n {
			who := social.Identity{AccountID: "p" + strconv.Itoa(i), Handle: "@p" + strconv.Itoa(i)}
			followers := int64(i * 10)
			for k := range 3 {
				msg := social.Message{RemoteID: "m" + strconv.Itoa(i) + "-" + strconv.Itoa(k), Author: who, Text: "message " + strconv.Itoa(k) + " from " + who.Handle,
					Thread: "t" + strconv.Itoa(i), At: base.Add(time.Duration(i)*time.Minute + time.Duration(k)*time.Second), Followers: &followers}
				if _, err := storeInbound(ctx, tx, a, msg, time.Now()); err != nil {
					return err
				}
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO conversation_tags (conversation_id, tag) SELECT id, 'support' FROM conversations
			WHERE workspace_id = $1 AND CAST(SUBSTR(person_id, 2) AS INTEGER) % 3 = 0`, w.ID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO conversation_reads (conversation_id, member_id, read_at) SELECT id, $2, $3 FROM conversations
			WHERE workspace_id = $1 AND CAST(SUBSTR(person_id, 2) AS INTEGER) % 5 = 0`, w.ID, m.ID, time.Now().Add(time.Hour).UnixMicro())
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	// Planner statistics, as PostgreSQL's autovacuum gathers them on a
	// database in use (SQLite has none unless asked, and Roost does not).
	if db.Dialect == store.Postgres {
		if _, err := db.W.ExecContext(ctx, `ANALYZE`); err != nil {
			tb.Fatal(err)
		}
	}
	return NewStore(db, nil, nil, nil, ""), w.ID, m.ID
}

// TestListQueries: the inbox list, a conversation and the customers list
// cost the same number of queries for a page of 10 as for a page of 200,
// and the page is right: tags, unread state, previews, VIPs first.
func TestListQueries(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, ws, member := seed(t, db, 250)
		c := &counting{Querier: s.r}
		s.r = c
		if err := s.SaveSettings(ctx, ws, Settings{VIPFollowers: 2000}); err != nil {
			t.Fatal(err)
		}
		queries := func(fn func() error) int64 {
			t.Helper()
			before := c.n.Load()
			if err := fn(); err != nil {
				t.Fatal(err)
			}
			return c.n.Load() - before
		}
		var small, big []Conversation
		q10 := queries(func() (err error) { small, err = s.List(ctx, ws, member, Filter{Limit: 10}); return })
		q200 := queries(func() (err error) { big, err = s.List(ctx, ws, member, Filter{Limit: 200}); return })
		if q10 != q200 || q200 > 3 {
			t.Errorf("the list took %d queries for 10 conversations and %d for 200", q10, q200)
		}
		if len(small) != 10 || len(big) != 200 {
			t.Fatalf("pages of %d and %d", len(small), len(big))
		}
		// p200 … p249 have 2000 followers or more: VIPs, first, latest first.
		for i, cv := range big {
			want := i < 50
			if cv.VIP != want {
				t.Fatalf("conversation %d (%s): VIP %v", i, cv.Person.Handle, cv.VIP)
			}
			n, _ := strconv.Atoi(cv.Person.AccountID[1:])
			if i < 50 && n != 249-i || i >= 50 && n != 199-(i-50) {
				t.Fatalf("conversation %d is %s", i, cv.Person.Handle)
			}
			if tagged := len(cv.Tags) == 1 && cv.Tags[0] == "support"; tagged != (n%3 == 0) {
				t.Fatalf("%s tags %v", cv.Person.Handle, cv.Tags)
			}
			if cv.Unread != (n%5 != 0) {
				t.Fatalf("%s unread %v", cv.Person.Handle, cv.Unread)
			}
			if cv.Preview != "message 2 from "+cv.Person.Handle {
				t.Fatalf("%s preview %q", cv.Person.Handle, cv.Preview)
			}
		}
		var rows []CustomerRow
		c10 := queries(func() (err error) { _, err = s.Customers(ctx, ws, 10); return })
		c200 := queries(func() (err error) { rows, err = s.Customers(ctx, ws, 200); return })
		if c10 != c200 || c200 > 2 || len(rows) != 200 || len(rows[0].Identities) != 1 || rows[0].Name != "@p249" {
			t.Errorf("customers: %d queries for 10, %d for 200; first %+v", c10, c200, rows[0])
		}
	})
}

// BenchmarkInboxList reads a page of 100 of 3000 conversations, with and
// without VIP thresholds (which sort VIPs first across the whole list;
// here 30 customers, 1%, are VIPs: that part of a page costs in
// proportion to the number of VIPs).
func BenchmarkInboxList(b *testing.B) {
	for _, d := range storetest.Dialects() {
		db := storetest.New(b, d)
		s, ws, member := seed(b, db, 3000)
		ctx := context.Background()
		for _, st := range []Settings{{}, {VIPFollowers: 29700, VIPRevenue: 100}} {
			name := string(d) + "/plain"
			if st.VIPFollowers > 0 {
				name = string(d) + "/vip"
			}
			b.Run(name, func(b *testing.B) {
				if err := s.SaveSettings(ctx, ws, st); err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					cs, err := s.List(ctx, ws, member, Filter{Limit: 100})
					if err != nil || len(cs) != 100 {
						b.Fatalf("%d conversations, %v", len(cs), err)
					}
				}
			})
		}
	}
}

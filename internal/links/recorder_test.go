package links_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
)

func click(ws, link, visitor, ua string, at time.Time) links.Click {
	return links.Click{ID: id.New(""), WorkspaceID: ws, LinkID: link, At: at, Visitor: visitor, UA: ua, Method: "GET"}
}

func count(t *testing.T, db *store.DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.R.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRecorderCountsAndUniques checks the batch writer's arithmetic: every
// click stored once, bots kept but not human, one unique per visitor, link
// and day, and the hourly counters equal to the raw clicks.
func TestRecorderCountsAndUniques(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rec, err := links.NewRecorder(db, quiet, links.RecorderConfig{BatchSize: 7, FlushEvery: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		day1 := time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 50 {
					v := fmt.Sprintf("v%d", i%10)
					rec.Add(click("ws", "l1", v, iphone, day1.Add(time.Duration(g*50+i)*time.Minute)))
				}
			}()
		}
		wg.Wait()
		rec.Add(click("ws", "l1", "v0", "Twitterbot/1.0", day1))
		rec.Add(click("ws", "l2", "v0", iphone, day1))
		if err := rec.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM clicks`); n != 202 {
			t.Fatalf("%d clicks stored, want 202", n)
		}
		// 200 human clicks on l1 by 10 visitors, all on one UTC day: 10 uniques.
		if n := count(t, db, `SELECT COUNT(*) FROM clicks WHERE link_id = 'l1' AND is_unique`); n != 10 {
			t.Fatalf("%d unique clicks on l1, want 10", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM clicks WHERE link_id = 'l2' AND is_unique`); n != 1 {
			t.Fatalf("%d unique clicks on l2, want 1", n)
		}
		for _, q := range []string{
			`SELECT CAST(SUM(total) AS BIGINT) - (SELECT COUNT(*) FROM clicks) FROM click_counts`,
			`SELECT CAST(SUM(human) AS BIGINT) - (SELECT COUNT(*) FROM clicks WHERE NOT bot) FROM click_counts`,
			`SELECT CAST(SUM(uniques) AS BIGINT) - (SELECT COUNT(*) FROM clicks WHERE is_unique) FROM click_counts`,
			`SELECT CAST(SUM(clicks) AS BIGINT) - (SELECT COUNT(*) FROM clicks) FROM click_dims WHERE dim = 'device'`,
			`SELECT CAST(SUM(human) AS BIGINT) - (SELECT COUNT(*) FROM clicks WHERE NOT bot) FROM click_dims WHERE dim = 'referrer'`,
			`SELECT CAST(SUM(clicks) AS BIGINT) - (SELECT COUNT(*) FROM clicks WHERE bot) FROM click_dims WHERE dim = 'bot'`,
		} {
			if n := count(t, db, q); n != 0 {
				t.Fatalf("counters disagree with clicks by %d: %s", n, q)
			}
		}
		if rec.Written.Load() != 202 {
			t.Fatalf("Written = %d", rec.Written.Load())
		}
		checkRollups(t, db)
	})
}

// TestRecorderSpillsAndReplays fills a tiny buffer while the database is
// gone, closes the recorder (spilling to disk), and checks that a new
// recorder on a working database stores every click exactly once.
func TestRecorderSpillsAndReplays(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		spill := t.TempDir()
		// A database whose click table is missing behaves like one that is down.
		broken := storetest.New(t, db.Dialect)
		if _, err := broken.W.Exec(`ALTER TABLE click_log RENAME TO click_log_gone`); err != nil {
			t.Fatal(err)
		}
		rec, err := links.NewRecorder(broken, quiet, links.RecorderConfig{Buffer: 10, BatchSize: 5, FlushEvery: time.Millisecond, SpillDir: spill})
		if err != nil {
			t.Fatal(err)
		}
		at := time.Now()
		var ids []string
		for i := range 300 {
			c := click("ws", "l1", fmt.Sprintf("v%d", i), iphone, at)
			ids = append(ids, c.ID)
			rec.Add(c)
		}
		if rec.Spills.Load() == 0 {
			t.Fatal("a full buffer did not spill")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := rec.Close(ctx); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(spill, "*.jsonl"))
		if len(files) == 0 {
			t.Fatal("nothing on disk after closing with the database down")
		}
		// A replay that was cut off half-way stored some clicks already.
		rec2, err := links.NewRecorder(db, quiet, links.RecorderConfig{BatchSize: 50, FlushEvery: time.Millisecond, SpillDir: spill})
		if err != nil {
			t.Fatal(err)
		}
		if d := rec2.Depth(); d > 300 {
			t.Fatalf("new recorder sees %d spilled clicks, want at most 300", d)
		}
		deadline := time.Now().Add(10 * time.Second)
		for rec2.Depth() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if err := rec2.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM clicks`); n != 300 {
			t.Fatalf("%d clicks after replay, want 300", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM clicks WHERE id = $1 OR id = $2`, ids[0], ids[299]); n != 2 {
			t.Fatal("replayed clicks lost their IDs")
		}
		if files, _ := filepath.Glob(filepath.Join(spill, "*")); len(files) != 0 {
			t.Fatalf("spill files left after replay: %v", files)
		}
		// Replaying the same clicks again stores nothing twice.
		os.WriteFile(filepath.Join(spill, "clicks-1.replay.jsonl"), []byte(fmt.Sprintf(`{"id":%q,"ws":"ws","link":"l1","at":"2026-01-01T00:00:00Z","v":"x","ua":"","m":"GET"}`+"\n{broken\n", ids[0])), 0o600)
		rec3, err := links.NewRecorder(db, quiet, links.RecorderConfig{FlushEvery: time.Millisecond, SpillDir: spill})
		if err != nil {
			t.Fatal(err)
		}
		rec3.Close(context.Background())
		if n := count(t, db, `SELECT COUNT(*) FROM clicks`); n != 300 {
			t.Fatalf("%d clicks after a duplicate replay, want 300", n)
		}
		if n := count(t, db, `SELECT CAST(SUM(total) AS BIGINT) FROM click_counts`); n != 300 {
			t.Fatalf("counters say %d after a duplicate replay, want 300", n)
		}
		if n := count(t, db, `SELECT CAST(SUM(clicks) AS BIGINT) FROM click_dims WHERE dim = 'country'`); n != 300 {
			t.Fatalf("breakdowns say %d after a duplicate replay, want 300", n)
		}
	})
}

// TestNoClickLostOnShutdownUnderLoad adds clicks from many goroutines while
// the recorder closes, as a graceful shutdown does after the HTTP server
// stops: every click added is stored.
func TestNoClickLostOnShutdownUnderLoad(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rec, err := links.NewRecorder(db, quiet, links.RecorderConfig{Buffer: 1000, BatchSize: 100, FlushEvery: 50 * time.Millisecond, SpillDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		added := 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 200 {
					rec.Add(click("ws", "l1", fmt.Sprint(i), iphone, time.Now()))
					mu.Lock()
					added++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if err := rec.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM clicks`); n != int64(added) {
			t.Fatalf("%d clicks stored of %d added", n, added)
		}
	})
}

func TestStats(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := links.NewStore(db)
		w := workspace(t, db, "Acme")
		l1, _ := s.Create(ctx, w.ID, links.NewLink{Destination: "https://shop.example.com/1"})
		l2, _ := s.Create(ctx, w.ID, links.NewLink{Destination: "https://shop.example.com/2"})
		rec, _ := links.NewRecorder(db, quiet, links.RecorderConfig{FlushEvery: time.Millisecond})
		base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		for i := range 48 {
			c := click(w.ID, l1.ID, fmt.Sprint(i%3), iphone, base.Add(time.Duration(i)*time.Hour))
			c.Referrer = "mastodon.social"
			rec.Add(c)
		}
		rec.Add(click(w.ID, l1.ID, "bot", "Twitterbot/1.0", base))
		rec.Add(click(w.ID, l2.ID, "x", iphone, base))
		rec.Close(ctx)

		r, err := links.CheckRange(links.Range{From: base, To: base.Add(47 * time.Hour), Interval: links.Day}, base)
		if err != nil {
			t.Fatal(err)
		}
		st, err := s.Stats(ctx, w.ID, l1.ID, r)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Series) != 2 || st.Total != (links.Counts{Clicks: 49, Human: 48, Unique: 6}) || st.Series[0].Clicks != 25 || st.Series[1].Unique != 3 {
			t.Fatalf("link stats: total %+v series %+v", st.Total, st.Series)
		}
		if len(st.Referrers) != 2 || st.Referrers[0] != (links.Slice{Name: "mastodon.social", Clicks: 48, Human: 48}) {
			t.Fatalf("referrers %+v", st.Referrers)
		}
		if len(st.Bots) != 1 || st.Bots[0].Name != "link preview: Twitterbot" || st.Devices[0].Name != "mobile" {
			t.Fatalf("bots %+v devices %+v", st.Bots, st.Devices)
		}
		ws, _ := s.Stats(ctx, w.ID, "", r)
		if ws.Total.Clicks != 50 {
			t.Fatalf("workspace total %+v", ws.Total)
		}
		hourly, _ := links.CheckRange(links.Range{From: base, To: base.Add(5 * time.Hour), Interval: links.Hour}, base)
		hs, _ := s.Stats(ctx, w.ID, l1.ID, hourly)
		if len(hs.Series) != 6 || hs.Series[0].Clicks != 2 {
			t.Fatalf("hourly %+v", hs.Series)
		}
		other := workspace(t, db, "Other")
		if os, _ := s.Stats(ctx, other.ID, l1.ID, r); os.Total.Clicks != 0 || len(os.Referrers) != 0 {
			t.Fatal("another workspace sees the link's stats")
		}
		for _, bad := range []links.Range{{Interval: "week"}, {From: base, To: base.Add(-time.Hour)}, {From: base, To: base.Add(2000 * 24 * time.Hour), Interval: links.Hour}} {
			if _, err := links.CheckRange(bad, base); err == nil {
				t.Errorf("range %+v accepted", bad)
			}
		}
	})
}

func TestQR(t *testing.T) {
	t.Parallel()
	png, err := links.QRPNG("https://go.example.com/abcdefgh", 256)
	if err != nil || len(png) < 100 || string(png[1:4]) != "PNG" {
		t.Fatalf("png: %v %d", err, len(png))
	}
	svg, err := links.QRSVG("https://go.example.com/abcdefgh")
	if err != nil || len(svg) < 200 || svg[:4] != "<svg" {
		t.Fatalf("svg: %v %q", err, svg)
	}
}

// TestRecorderStoresEveryField writes one batch mixing long and short runs
// of clicks that share a link, referrer, country and user agent with
// clicks that share nothing (so every way the writer groups them is used),
// and checks each stored column of each click.
func TestRecorderStoresEveryField(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rec, err := links.NewRecorder(db, quiet, links.RecorderConfig{BatchSize: 1000, FlushEvery: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		desktop := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
		at := time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)
		var added []links.Click
		add := func(n int, ws, link, ua, method, ref, country string) {
			for range n {
				c := click(ws, link, fmt.Sprintf("v%d", len(added)%7), ua, at.Add(time.Duration(len(added))*time.Millisecond))
				c.Method, c.Referrer, c.Country = method, ref, country
				added = append(added, c)
			}
		}
		add(300, "ws1", "l1", iphone, "GET", "mastodon.social", "FR") // 256 + 16 + 16 + 4 + 4 + 4
		add(7, "ws1", "l1", desktop, "GET", "", "")                   // 4, and 3 alone
		add(2, "ws1", "l2", iphone, "GET", "bsky.app", "DE")
		add(5, "ws2", "l3", "Twitterbot/1.0", "GET", "", "")
		add(1, "ws2", "l3", iphone, "HEAD", "", "")
		for i := range 9 {
			add(1, "ws2", fmt.Sprintf("l%d", 10+i), iphone, "GET", fmt.Sprintf("r%d.example", i), "")
		}
		for _, c := range added {
			rec.Add(c)
		}
		if err := rec.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		rows, err := db.R.Query(`SELECT id, workspace_id, link_id, at, visitor, referrer_host, device, os, browser, country, bot, bot_reason, is_unique FROM clicks`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		type stored struct {
			ws, link, visitor, ref, device, os, browser, country, reason string
			at                                                           int64
			bot, unique                                                  bool
		}
		got := map[string]stored{}
		for rows.Next() {
			var id string
			var s stored
			if err := rows.Scan(&id, &s.ws, &s.link, &s.at, &s.visitor, &s.ref, &s.device, &s.os, &s.browser, &s.country, &s.bot, &s.reason, &s.unique); err != nil {
				t.Fatal(err)
			}
			got[id] = s
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(added) {
			t.Fatalf("%d clicks stored of %d", len(got), len(added))
		}
		type visit struct{ link, visitor string }
		seen := map[visit]bool{}
		for _, c := range added {
			cl := links.Classify(c.UA, c.Method)
			first := !cl.Bot && !seen[visit{c.LinkID, c.Visitor}]
			if !cl.Bot {
				seen[visit{c.LinkID, c.Visitor}] = true
			}
			want := stored{ws: c.WorkspaceID, link: c.LinkID, visitor: c.Visitor, ref: c.Referrer, device: cl.Device, os: cl.OS, browser: cl.Browser,
				country: c.Country, reason: cl.BotReason, at: c.At.UnixMicro(), bot: cl.Bot, unique: first}
			if got[c.ID] != want {
				t.Fatalf("click %s stored as %+v, want %+v", c.ID, got[c.ID], want)
			}
		}
		if n := count(t, db, `SELECT COUNT(*) FROM clicks WHERE device = 'mobile' AND os = 'iOS' AND browser = 'Safari' AND NOT bot`); n != 311 {
			t.Fatalf("%d iPhone clicks, want 311", n)
		}
		checkRollups(t, db)
	})
}

// checkRollups compares every counter row with the raw clicks it sums.
func checkRollups(t *testing.T, db *store.DB) {
	t.Helper()
	rows := func(q string) map[string]bool {
		t.Helper()
		res, err := db.R.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		out := map[string]bool{}
		for res.Next() {
			var k, ws, v string
			var day, a, b, c int64
			if err := res.Scan(&k, &ws, &day, &v, &a, &b, &c); err != nil {
				t.Fatal(err)
			}
			out[fmt.Sprint(k, ws, day, v, a, b, c)] = true
		}
		return out
	}
	for _, pair := range [][2]string{
		{`SELECT link_id, workspace_id, hour, '', total, human, uniques FROM click_counts`,
			`SELECT link_id, workspace_id, at / 3600000000 * 3600000000, '', COUNT(*), SUM(CASE WHEN bot THEN 0 ELSE 1 END), SUM(CASE WHEN is_unique THEN 1 ELSE 0 END)
			FROM clicks GROUP BY link_id, workspace_id, at / 3600000000`},
		{`SELECT link_id, workspace_id, day, dim || ':' || value, clicks, human, 0 FROM click_dims`,
			`SELECT link_id, workspace_id, at / 86400000000, 'referrer:' || referrer_host, COUNT(*), SUM(CASE WHEN bot THEN 0 ELSE 1 END), 0
			FROM clicks GROUP BY link_id, workspace_id, at / 86400000000, referrer_host
			UNION ALL SELECT link_id, workspace_id, at / 86400000000, 'device:' || device, COUNT(*), SUM(CASE WHEN bot THEN 0 ELSE 1 END), 0
			FROM clicks GROUP BY link_id, workspace_id, at / 86400000000, device
			UNION ALL SELECT link_id, workspace_id, at / 86400000000, 'country:' || country, COUNT(*), SUM(CASE WHEN bot THEN 0 ELSE 1 END), 0
			FROM clicks GROUP BY link_id, workspace_id, at / 86400000000, country
			UNION ALL SELECT link_id, workspace_id, at / 86400000000, 'bot:' || bot_reason, COUNT(*), 0, 0
			FROM clicks WHERE bot GROUP BY link_id, workspace_id, at / 86400000000, bot_reason`},
	} {
		got, want := rows(pair[0]), rows(pair[1])
		if len(got) != len(want) {
			t.Fatalf("%d counter rows, want %d:\n%v\n%v", len(got), len(want), got, want)
		}
		for k := range want {
			if !got[k] {
				t.Fatalf("no counter row %s; have %v", k, got)
			}
		}
	}
}

// TestUniqueAcrossNodesAndDays records one visitor through two recorders
// on the same database, as two nodes would: only their first click on a
// link each UTC day is unique, whichever node saw it.
func TestUniqueAcrossNodesAndDays(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a, err := links.NewRecorder(db, quiet, links.RecorderConfig{BatchSize: 1, FlushEvery: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		b, err := links.NewRecorder(db, quiet, links.RecorderConfig{BatchSize: 1, FlushEvery: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		day1 := time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC)
		day2 := day1.Add(2 * time.Hour)
		var want []string
		record := func(r *links.Recorder, link string, at time.Time, unique bool) {
			t.Helper()
			c := click("ws", link, "v1", iphone, at)
			r.Add(c)
			for r.Depth() > 0 {
				time.Sleep(time.Millisecond)
			}
			if unique {
				want = append(want, c.ID)
			}
		}
		record(a, "l1", day1, true)
		record(b, "l1", day1.Add(time.Minute), false)   // the other node's visitor
		record(a, "l1", day1.Add(2*time.Minute), false) // seen by this node
		record(b, "l1", day1.Add(3*time.Minute), false)
		record(a, "l2", day1.Add(4*time.Minute), true) // another link
		record(b, "l1", day2, true)                    // the next day
		record(a, "l1", day2.Add(time.Minute), false)
		record(a, "l2", day2, true)
		for _, r := range []*links.Recorder{a, b} {
			if err := r.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		rows, err := db.R.Query(`SELECT id FROM clicks WHERE is_unique ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var id string
			rows.Scan(&id)
			got = append(got, id)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("unique clicks %v, want %v", got, want)
		}
		if n := count(t, db, `SELECT CAST(SUM(uniques) AS BIGINT) FROM click_counts`); n != int64(len(want)) {
			t.Fatalf("counters say %d uniques, want %d", n, len(want))
		}
	})
}

// TestRecorderBackpressure fills a small buffer without a spill directory
// from many goroutines: Add waits for the writer, and nothing is lost or
// spilled. The buffer is smaller than a batch and the flush interval an
// hour, so only a full buffer gets the writer going.
func TestRecorderBackpressure(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rec, err := links.NewRecorder(db, quiet, links.RecorderConfig{Buffer: 10, BatchSize: 50, FlushEvery: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 100 {
					rec.Add(click("ws", "l1", fmt.Sprint(g, i), iphone, time.Now()))
					if d := rec.Depth(); d > 10 {
						t.Errorf("depth %d over the buffer of 10", d)
					}
				}
			})
		}
		wg.Wait()
		if err := rec.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM clicks`); n != 800 || rec.Spills.Load() != 0 || rec.Written.Load() != 800 {
			t.Fatalf("%d clicks stored, %d written, %d spilled; want 800, 800, 0", n, rec.Written.Load(), rec.Spills.Load())
		}
	})
}

// TestAddAfterClose: a click recorded after the recorder closed goes to the
// spill file, and the next start stores it.
func TestAddAfterClose(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		spill := t.TempDir()
		rec, err := links.NewRecorder(db, quiet, links.RecorderConfig{FlushEvery: time.Millisecond, SpillDir: spill})
		if err != nil {
			t.Fatal(err)
		}
		rec.Add(click("ws", "l1", "v1", iphone, time.Now()))
		if err := rec.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		late := click("ws", "l1", "v2", iphone, time.Now())
		rec.Add(late)
		if rec.Spills.Load() != 1 {
			t.Fatalf("%d clicks spilled, want 1", rec.Spills.Load())
		}
		rec2, err := links.NewRecorder(db, quiet, links.RecorderConfig{FlushEvery: time.Millisecond, SpillDir: spill})
		if err != nil {
			t.Fatal(err)
		}
		if err := rec2.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM clicks WHERE id = $1`, late.ID); n != 1 {
			t.Fatal("the late click was not stored")
		}
	})
}

// TestProfilesSharedAcrossNodes writes clicks of the same links, browsers
// and referrers through two recorders on two handles of one database, as
// two nodes would, at once: each profile is stored once, whichever node
// met it first, and every click reads back with its own.
func TestProfilesSharedAcrossNodes(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			u := storetest.URL(t, d)
			db := storetest.Open(t, u)
			uas := []string{iphone, "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", "Twitterbot/1.0"}
			refs := []string{"", "mastodon.social", "bsky.app"}
			type want struct{ link, ua, ref string }
			var mu sync.Mutex
			added := map[string]want{}
			var wg sync.WaitGroup
			for node := range 2 {
				rec, err := links.NewRecorder(storetest.Open(t, u), quiet, links.RecorderConfig{BatchSize: 7, FlushEvery: time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				wg.Go(func() {
					defer rec.Close(context.Background())
					for i := range 600 {
						w := want{fmt.Sprintf("l%d", i%4), uas[(i/4)%3], refs[(i/12+node)%3]}
						c := click("ws", w.link, fmt.Sprintf("v%d", i%9), w.ua, time.Now())
						c.Referrer = w.ref
						mu.Lock()
						added[c.ID] = w
						mu.Unlock()
						rec.Add(c)
					}
				})
			}
			wg.Wait()
			if n := count(t, db, `SELECT COUNT(*) FROM click_profiles`); n != 4*3*3 {
				t.Fatalf("%d profiles stored, want %d", n, 4*3*3)
			}
			rows, err := db.R.Query(`SELECT id, link_id, referrer_host, browser, bot FROM clicks`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				var id, link, ref, browser string
				var bot bool
				if err := rows.Scan(&id, &link, &ref, &browser, &bot); err != nil {
					t.Fatal(err)
				}
				w := added[id]
				cl := links.Classify(w.ua, "GET")
				if link != w.link || ref != w.ref || browser != cl.Browser || bot != cl.Bot {
					t.Fatalf("click %s stored as %s %q %s bot=%v, added as %+v", id, link, ref, browser, bot, w)
				}
				n++
			}
			if n != len(added) {
				t.Fatalf("%d clicks read back of %d", n, len(added))
			}
		})
	}
}

// TestRecorderRecoversWhenTheTableReturns starts a recorder on a database
// whose click table is missing, so its statements cannot be prepared, and
// puts the table back: the clicks buffered meanwhile are written, none
// spilled.
func TestRecorderRecoversWhenTheTableReturns(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		if _, err := db.W.Exec(`ALTER TABLE click_log RENAME TO click_log_gone`); err != nil {
			t.Fatal(err)
		}
		rec, err := links.NewRecorder(db, quiet, links.RecorderConfig{BatchSize: 5, FlushEvery: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			rec.Add(click("ws", "l1", fmt.Sprint("v", i), iphone, time.Now()))
		}
		time.Sleep(100 * time.Millisecond) // the writer has failed at least once
		if n := rec.Written.Load(); n != 0 {
			t.Fatalf("%d clicks written without their table", n)
		}
		if _, err := db.W.Exec(`ALTER TABLE click_log_gone RENAME TO click_log`); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := rec.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM clicks`); n != 20 || rec.Spills.Load() != 0 {
			t.Fatalf("%d clicks stored and %d spilled, want 20 and 0", n, rec.Spills.Load())
		}
	})
}

// Command reports measures the revenue report on a year of a brand's data:
// with 10 million clicks, 200,000 claims and a million orders loaded, how
// long the dashboard's 30-day revenue-by-post report takes, read from the
// rollups (whole days) and the stored touches (the ends of the period), and
// computed from the stored touches alone; and it checks that the two agree
// to the cent under every model.
//
//	go run ./bench/reports [-db sqlite|postgres] [-clicks 10000000] [-claims 200000] [-orders 1000000]
//	    [-days 365] [-live 2000] [-rounds 7] [-sample 300] [-fresh]
//
// The dataset (bench/internal/dataset) is loaded once per scale and kept
// for the next run: SQLite in $TMPDIR/roost-bench-reports/<scale>/roost.db,
// PostgreSQL as the database roost_bench_reports_<hash of the scale> on the
// server of -postgres-url. -fresh loads it again. It also checks a sample
// of the loaded orders against what ingestion's own code attributes them
// to (orders.Reattribute).
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"hash/fnv"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime/pprof"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/roost-hq/roost/bench/internal/benchkit"
	"github.com/roost-hq/roost/bench/internal/dataset"
	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/store"
)

func main() {
	kind := flag.String("db", "sqlite", "database: sqlite or postgres")
	pgURL := flag.String("postgres-url", envOr("ROOST_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "PostgreSQL server for -db postgres (the dataset's database is created on it and kept)")
	var sc dataset.Scale
	flag.IntVar(&sc.Clicks, "clicks", 10_000_000, "clicks on the posts' links, a fifth of them bots")
	flag.IntVar(&sc.Claims, "claims", 200_000, "claims of offers' codes")
	flag.IntVar(&sc.Orders, "orders", 1_000_000, "orders")
	flag.IntVar(&sc.Days, "days", 365, "days of history")
	flag.IntVar(&sc.Live, "live", 2_000, "of the orders, the last ones sent through ingestion (with refunds and cancellations)")
	rounds := flag.Int("rounds", 7, "timed rounds of the report, each read from rollups and from touches")
	sample := flag.Int("sample", 300, "loaded orders checked against ingestion's attribution")
	fresh := flag.Bool("fresh", false, "load the dataset again even if one of this scale is kept")
	cache := flag.String("cache", filepath.Join(os.TempDir(), "roost-bench-reports"), "where SQLite datasets are kept")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the timed rounds to this file")
	flag.Parse()
	if *rounds < 1 || *sample < 0 {
		benchkit.Fail("-rounds must be positive and -sample zero or more")
	}
	ctx := context.Background()
	db, info, loaded := open(ctx, *kind, *pgURL, *cache, sc, *fresh)
	defer db.Close()
	st := orders.NewStore(db, dataset.Keys())

	fmt.Printf("\nreports benchmark: %s, %d clicks, %d claims, %d orders over %d days (%d through ingestion)\n", *kind, sc.Clicks, sc.Claims, sc.Orders, sc.Days, sc.Live)
	if loaded {
		fmt.Printf("dataset loaded in %.0f s\n", info.Seconds)
	} else {
		fmt.Printf("dataset kept from an earlier run (loaded in %.0f s on %s)\n", info.Seconds, info.End.Format("2006-01-02 15:04"))
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	for _, c := range info.Rows {
		fmt.Fprintf(tw, "%s\t%d\t\n", c.What, c.N)
	}
	tw.Flush()

	// The dashboard's report: the last 30 days to a minute from now.
	end := info.End
	month := func(m orders.Model, by string) orders.Query {
		return orders.Query{From: end.AddDate(0, 0, -30), To: end.Add(time.Minute), Model: m, By: by}
	}
	timed := func(fn func() (orders.Report, error)) (orders.Report, time.Duration) {
		t0 := time.Now()
		rep, err := fn()
		if err != nil {
			benchkit.Fail("%v", err)
		}
		return rep, time.Since(t0)
	}
	rollup := func(q orders.Query) (orders.Report, time.Duration) {
		return timed(func() (orders.Report, error) { return st.Revenue(ctx, info.Workspace, q) })
	}
	raw := func(q orders.Query) (orders.Report, time.Duration) {
		return timed(func() (orders.Report, error) { return st.RevenueFromTouches(ctx, info.Workspace, q) })
	}
	q := month(orders.LastTouch, "post")
	rollup(q) // warm the caches, as a dashboard in use has them
	raw(q)
	var fromRollups, fromTouches, funnel []float64
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			benchkit.Fail("%v", err)
		}
		pprof.StartCPUProfile(f)
	}
	for range *rounds {
		_, d := rollup(q)
		fromRollups = append(fromRollups, float64(d))
		_, d = raw(q)
		fromTouches = append(fromTouches, float64(d))
		t0 := time.Now()
		if _, err := st.Funnel(ctx, info.Workspace, q.From, q.To); err != nil {
			benchkit.Fail("%v", err)
		}
		funnel = append(funnel, float64(time.Since(t0)))
	}
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}

	// Every model, by post and by day, and the other dimensions under
	// the default: the rollups' answer must be the touches' to the cent.
	type check struct {
		m               orders.Model
		by              string
		rollupMS, rawMS float64
		rows            int
		equal           bool
	}
	var checks []check
	mismatched := 0
	for _, m := range orders.Models {
		dims := []string{"post", "day"}
		if m == orders.LastTouch {
			dims = orders.Dimensions
		}
		for _, by := range dims {
			a, da := rollup(month(m, by))
			b, db := raw(month(m, by))
			ok := reflect.DeepEqual(a, b)
			if !ok {
				mismatched++
				fmt.Fprintf(os.Stderr, "bench: %s by %s: the rollups say %+v\nthe touches say %+v\n", m, by, a.Total, b.Total)
			}
			checks = append(checks, check{m, by, float64(da), float64(db), len(a.Rows), ok})
		}
	}
	// The whole history too, by post: days the rollups were built for
	// when the dataset was loaded, and days ingestion kept up to date.
	yq := orders.Query{From: end.AddDate(0, 0, -sc.Days-1), To: end.Add(time.Minute), Model: orders.Linear, By: "post"}
	ya, yda := rollup(yq)
	yb, ydb := raw(yq)
	yearOK := reflect.DeepEqual(ya, yb)
	if !yearOK {
		mismatched++
		fmt.Fprintf(os.Stderr, "bench: the whole history: the rollups say %+v\nthe touches say %+v\n", ya.Total, yb.Total)
	}
	checks = append(checks, check{orders.Linear, fmt.Sprintf("post, %d days", sc.Days+1), float64(yda), float64(ydb), len(ya.Rows), yearOK})

	sampled, wrong := checkAttribution(ctx, db, st, info, sc.Days, *sample)

	rep, _ := rollup(q)
	fmt.Printf("\n30-day revenue by post, last touch: %d rows, net %s %d (minor units), %.0f orders credited; %d rounds\n",
		len(rep.Rows), rep.Currency, rep.Total.Total.Net, rep.Total.Orders, *rounds)
	tw = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\treport\tp50 ms\tmin ms\tmax ms\t")
	for _, r := range []struct {
		name string
		xs   []float64
	}{{"read from rollups", fromRollups}, {"computed from touches", fromTouches}, {"funnel (posts → orders)", funnel}} {
		fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s\t\n", r.name, benchkit.Ms(benchkit.Median(r.xs)), benchkit.Ms(slices.Min(r.xs)), benchkit.Ms(slices.Max(r.xs)))
	}
	tw.Flush()
	tw = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\nmodel\tby\trows\trollups ms\ttouches ms\tequal to the cent\t")
	for _, c := range checks {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%v\t\n", c.m, c.by, c.rows, benchkit.Ms(c.rollupMS), benchkit.Ms(c.rawMS), c.equal)
	}
	tw.Flush()
	fmt.Printf("\nattribution of %d loaded orders checked against ingestion's code: %d differ\n", sampled, wrong)
	p50 := benchkit.Median(fromRollups)
	met := "yes"
	if p50 >= float64(300*time.Millisecond) {
		met = "no"
	}
	loadS := "kept"
	if loaded {
		loadS = fmt.Sprintf("%.0f", info.Seconds)
	}
	benchkit.Result(os.Stdout, "db", *kind, "clicks", sc.Clicks, "claims", sc.Claims, "orders", sc.Orders, "load_s", loadS,
		"report_ms", benchkit.Ms(p50), "touches_ms", benchkit.Ms(benchkit.Median(fromTouches)), "funnel_ms", benchkit.Ms(benchkit.Median(funnel)),
		"under_300ms", met, "checks", len(checks), "mismatched", mismatched, "sampled", sampled, "attribution_differs", wrong)
	if mismatched > 0 || wrong > 0 || rep.Total.Orders == 0 {
		fmt.Fprintln(os.Stderr, "bench: the rollups or the loaded attribution are wrong")
		os.Exit(1)
	}
}

// open returns the dataset of scale sc, loading it unless it is kept.
func open(ctx context.Context, kind, pgURL, cache string, sc dataset.Scale, fresh bool) (*store.DB, dataset.Info, bool) {
	var dbURL string
	var reset func()
	switch kind {
	case "sqlite":
		dir := filepath.Join(cache, sc.Key())
		dbURL = "sqlite:" + filepath.Join(dir, "roost.db")
		reset = func() { os.RemoveAll(dir) }
	case "postgres":
		admin, err := sql.Open("pgx", pgURL)
		if err == nil {
			err = admin.PingContext(ctx)
		}
		if err != nil {
			benchkit.Fail("cannot reach PostgreSQL at %s: %v", pgURL, err)
		}
		defer admin.Close()
		h := fnv.New32a()
		h.Write([]byte(sc.Key()))
		name := fmt.Sprintf("roost_bench_reports_%08x", h.Sum32())
		u, _ := url.Parse(pgURL)
		u.Path = "/" + name
		dbURL = u.String()
		create := func() {
			var n int
			admin.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_database WHERE datname = $1`, name).Scan(&n)
			if n == 0 {
				if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
					benchkit.Fail("cannot create the dataset's database: %v", err)
				}
			}
		}
		reset = func() {
			if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
				benchkit.Fail("cannot drop the dataset's database: %v", err)
			}
			create()
		}
		create()
	default:
		benchkit.Fail("-db must be sqlite or postgres, not %q", kind)
	}
	if fresh {
		reset()
	}
	for attempt := 0; ; attempt++ {
		db, err := store.Open(ctx, dbURL, "")
		if err != nil {
			benchkit.Fail("%v", err)
		}
		if _, err := db.Migrate(ctx); err != nil {
			benchkit.Fail("%v", err)
		}
		info, ok, err := dataset.Find(ctx, db)
		if err != nil {
			benchkit.Fail("%v", err)
		}
		if ok && info.Key == sc.Key() {
			return db, info, false
		}
		var workspaces int
		db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM workspaces`).Scan(&workspaces)
		if workspaces == 0 {
			fmt.Fprintf(os.Stderr, "bench: loading the dataset into %s (kept for the next run)…\n", db.Where)
			info, err := dataset.Load(ctx, db, sc, os.Stderr)
			if err != nil {
				benchkit.Fail("%v", err)
			}
			return db, info, true
		}
		// A load that did not finish: start again.
		db.Close()
		if attempt > 0 {
			benchkit.Fail("cannot clear the unfinished dataset in %s", db.Where)
		}
		reset()
	}
}

// checkAttribution checks the touches and line classes of n loaded orders,
// drawn at random times, against what ingestion's own code finds for them
// (orders.Reattribute), leaving out orders processed before an earlier
// order of their customer. It returns how many it checked and how many
// differ.
func checkAttribution(ctx context.Context, db *store.DB, st *orders.Store, info dataset.Info, days, n int) (checked, differ int) {
	span := time.Duration(days) * 24 * time.Hour
	seen := map[string]bool{}
	for i := 0; checked < n && i < n*4; i++ {
		t := info.End.Add(-time.Duration(int64(i+1) * int64(span) / int64(n*4+1)))
		var oid string
		err := db.R.QueryRowContext(ctx, `SELECT id FROM orders o WHERE workspace_id = $1 AND placed_at >= $2 AND NOT EXISTS (SELECT 1 FROM orders p
			WHERE p.workspace_id = o.workspace_id AND p.customer = o.customer AND p.customer <> '' AND p.placed_at <= o.placed_at AND p.created_at > o.created_at)
			ORDER BY placed_at LIMIT 1`, info.Workspace, t.UnixMicro()).Scan(&oid)
		if err == sql.ErrNoRows || seen[oid] {
			continue
		}
		if err != nil {
			benchkit.Fail("%v", err)
		}
		seen[oid] = true
		checked++
		ts, cs, err := st.Reattribute(ctx, info.Workspace, oid)
		if err != nil {
			benchkit.Fail("%v", err)
		}
		var got []string
		for _, t := range ts {
			got = append(got, strings.Join([]string{t.Key, t.How, fmt.Sprint(t.At.UnixMicro()), t.LinkID, t.PostID, t.AccountID, t.MemberID, t.OfferID, t.ClaimID}, " "))
		}
		for _, c := range cs {
			got = append(got, c.Kind+" "+c.How+" "+c.OfferID)
		}
		want := rows(ctx, db, `SELECT touch || ' ' || how || ' ' || CAST(at AS TEXT) || ' ' || link_id || ' ' || post_id || ' ' || account_id || ' ' || member_id
			|| ' ' || offer_id || ' ' || claim_id FROM order_touches WHERE order_id = $1 ORDER BY at, touch`, oid)
		want = append(want, rows(ctx, db, `SELECT kind || ' ' || how || ' ' || COALESCE(offer_id, '') FROM order_lines WHERE order_id = $1 ORDER BY n`, oid)...)
		slices.Sort(got[:len(ts)])
		slices.Sort(want[:min(len(ts), len(want))])
		if !slices.Equal(got, want) {
			differ++
			if differ <= 3 {
				fmt.Fprintf(os.Stderr, "bench: order %s: ingestion finds\n  %s\nloaded:\n  %s\n", oid, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		}
	}
	return checked, differ
}

func rows(ctx context.Context, db *store.DB, q string, args ...any) []string {
	rs, err := db.R.QueryContext(ctx, q, args...)
	if err != nil {
		benchkit.Fail("%v", err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var s string
		if err := rs.Scan(&s); err != nil {
			benchkit.Fail("%v", err)
		}
		out = append(out, s)
	}
	return out
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

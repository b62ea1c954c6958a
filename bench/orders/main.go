// Command orders measures order ingestion through the generic API,
// attribution included: each POST /api/v1/orders is checked, committed as
// a raw event, then processed (ledger, touches, deal/halo lines, code
// redemption) before the answer, as in production.
//
//	go run ./bench/orders [-db sqlite|postgres] [-orders 20000] [-concurrency 16]
//
// A third of the orders carry the click ID of a post's link, a third a
// code claimed through an offer, a third nothing; customers come back, so
// the customer match is exercised too. Roost runs in this process (its
// real HTTP handler on a loopback listener), so the figure is Roost's own
// work: JSON, authentication, idempotency, two transactions per order.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/roost-hq/roost/bench/internal/benchkit"
	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/posts"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/server"
	"github.com/roost-hq/roost/internal/team"
)

func main() {
	kind := flag.String("db", "sqlite", "database: sqlite or postgres")
	pgURL := flag.String("postgres-url", envOr("ROOST_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "PostgreSQL server for -db postgres (a database is created and dropped)")
	n := flag.Int("orders", 20_000, "orders to send")
	workers := flag.Int("concurrency", 16, "requests in flight at once")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the timed part to this file")
	flag.Parse()
	if *n < 3 || *workers < 1 {
		benchkit.Fail("-orders must be at least 3 and -concurrency positive")
	}
	ctx := context.Background()
	db, dir, closeDB := benchkit.OpenStore(ctx, *kind, *pgURL, "orders")
	defer closeDB()
	keys, _ := secret.New(secret.Generate())
	srv, err := server.New(ctx, server.Options{DB: db, Keys: keys, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), BaseURL: "http://127.0.0.1",
		Clicks: links.RecorderConfig{SpillDir: dir}})
	if err != nil {
		benchkit.Fail("%v", err)
	}
	defer srv.Close(ctx)
	w, m, err := srv.Team.CreateOwner(ctx, team.NewOwner{Workspace: "Bench", Email: "bench@example.com", Name: "Bench", Password: "a long benchmark password"})
	if err != nil {
		benchkit.Fail("%v", err)
	}
	_, apiKey, err := srv.Auth.CreateAPIKey(ctx, w.ID, "bench", m.ID)
	if err != nil {
		benchkit.Fail("%v", err)
	}

	// What touches the orders: a post of an offer and clicks on its link,
	// and claims of the offer's codes.
	acct, err := srv.Social.CreateSandboxAccount(ctx, w.ID, m.ID, "outlet", "Outlet")
	if err != nil {
		benchkit.Fail("%v", err)
	}
	third := *n / 3
	o, err := srv.Offers.Create(ctx, w.ID, m.ID, offers.Input{Slug: "xps", Title: "XPS deal", LandingURL: "https://shop.example.com/", Currency: "USD",
		Products: []offers.Product{{SKU: "XPS13", Name: "XPS 13", RegularPrice: 129900, DealPrice: 99900}}, Cap: int64(third + 1), Audience: offers.Public,
		CodeMode: offers.Unique, Published: true})
	if err != nil {
		benchkit.Fail("%v", err)
	}
	p, err := srv.Posts.Compose(ctx, w.ID, posts.Author{MemberID: m.ID}, posts.Compose{Body: "XPS deal", AccountIDs: []string{acct.ID}, OfferID: o.ID})
	if err != nil {
		benchkit.Fail("%v", err)
	}
	fmt.Fprintf(os.Stderr, "bench: seeding %d clicks and %d claims…\n", third, third)
	clicks := make([]string, third)
	now := time.Now()
	for i := range clicks {
		clicks[i] = id.NewAt("", now.Add(-time.Hour))
	}
	for start := 0; start < len(clicks); start += 500 {
		tx, err := db.W.BeginTx(ctx, nil)
		if err != nil {
			benchkit.Fail("%v", err)
		}
		for _, c := range clicks[start:min(start+500, len(clicks))] {
			if err := links.StoreClick(ctx, tx, links.Click{ID: c, WorkspaceID: w.ID, LinkID: p.Copies[0].LinkID, At: now.Add(-time.Hour), Visitor: "v"}, links.Classified{}, false); err != nil {
				benchkit.Fail("%v", err)
			}
		}
		if err := tx.Commit(); err != nil {
			benchkit.Fail("%v", err)
		}
	}
	codes := make([]string, third)
	for i := range codes {
		c, err := srv.Offers.Claim(ctx, o, offers.ClaimRequest{Identity: offers.Identity{Network: "sandbox", AccountID: fmt.Sprintf("p%d", i)}})
		if err != nil {
			benchkit.Fail("claim: %v", err)
		}
		codes[i] = c.Code
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		benchkit.Fail("%v", err)
	}
	hs := &http.Server{Handler: srv.Handler}
	go hs.Serve(ln)
	defer hs.Close()
	url := "http://" + ln.Addr().String() + "/api/v1/orders"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *workers}}

	body := func(i int) []byte {
		type line struct {
			SKU       string `json:"sku"`
			Quantity  int    `json:"quantity"`
			UnitPrice int64  `json:"unit_price"`
		}
		o := map[string]any{"id": fmt.Sprintf("o%d", i), "currency": "USD", "email": fmt.Sprintf("c%d@example.com", i/2),
			"lines": []line{{"XPS13", 1, 99900}, {"BAG", 1, 2500}}}
		switch i % 3 {
		case 0:
			o["click_id"] = clicks[i/3%len(clicks)]
		case 1:
			o["codes"] = []string{codes[i/3%len(codes)]}
		}
		b, _ := json.Marshal(o)
		return b
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			benchkit.Fail("%v", err)
		}
		pprof.StartCPUProfile(f)
	}
	cpu0 := cpuTime()
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr error
	var mu sync.Mutex
	lat := make([]time.Duration, 0, *n)
	start := time.Now()
	var wg sync.WaitGroup
	for range *workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= *n {
					return
				}
				req, _ := http.NewRequest("POST", url, bytes.NewReader(body(i)))
				req.Header.Set("Authorization", "Bearer "+apiKey)
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				resp, err := client.Do(req)
				d := time.Since(t0)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						err = fmt.Errorf("order %d: HTTP %d", i, resp.StatusCode)
					}
				}
				mu.Lock()
				lat = append(lat, d)
				if err != nil {
					failed.Add(1)
					if firstErr == nil {
						firstErr = err
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpuPerOrder := float64(cpuTime()-cpu0) / float64(time.Microsecond) / float64(*n)
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}

	count := func(q string, args ...any) int64 {
		var v int64
		if err := db.R.QueryRowContext(ctx, q, args...).Scan(&v); err != nil {
			benchkit.Fail("%v", err)
		}
		return v
	}
	stored := count(`SELECT COUNT(*) FROM orders`)
	deal := count(`SELECT COUNT(*) FROM order_lines WHERE kind = 'deal'`)
	halo := count(`SELECT COUNT(*) FROM order_lines WHERE kind = 'halo'`)
	ledger := count(`SELECT COALESCE(SUM(amount), 0) FROM ledger`)
	unprocessed := count(`SELECT COUNT(*) FROM order_events WHERE processed_at IS NULL`)
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(float64(len(lat)-1)*p)]) }
	rate := float64(*n) / elapsed.Seconds()
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\norders\torders/s\tp50 ms\tp99 ms\tCPU µs/order\tstored\tdeal lines\thalo lines\tunprocessed\tfailed\t")
	fmt.Fprintf(tw, "%d\t%.0f\t%s\t%s\t%.0f\t%d\t%d\t%d\t%d\t%d\t\n", *n, rate, benchkit.Ms(pct(.5)), benchkit.Ms(pct(.99)), cpuPerOrder, stored, deal, halo, unprocessed, failed.Load())
	tw.Flush()
	benchkit.Result(os.Stdout, "db", *kind, "orders", *n, "orders_per_s", fmt.Sprintf("%.0f", rate), "p50_ms", benchkit.Ms(pct(.5)), "p99_ms", benchkit.Ms(pct(.99)),
		"cpu_us_per_order", fmt.Sprintf("%.0f", cpuPerOrder),
		"stored", stored, "deal_lines", deal, "halo_lines", halo, "unprocessed", unprocessed, "failed", failed.Load())
	// Every touched order has its deal and halo line; the ledger holds
	// every sale to the cent.
	touched := int64(*n - *n/3)
	if stored != int64(*n) || failed.Load() != 0 || unprocessed != 0 || deal < touched || halo < touched || ledger != int64(*n)*(99900+2500) {
		if firstErr != nil {
			fmt.Fprintln(os.Stderr, "bench: first error:", firstErr)
		}
		fmt.Fprintln(os.Stderr, "bench: the orders are wrong")
		os.Exit(1)
	}
}

// cpuTime is the CPU time this process has used (user and system): on a
// shared machine, the cost of an order when the wall clock is noisy.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

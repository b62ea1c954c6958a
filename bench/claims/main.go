// Command claims races many claim attempts for a capped offer and checks
// that the database handed out exactly the cap: no code twice, no person
// with two, no unit oversold.
//
//	go run ./bench/claims [-db sqlite|postgres] [-attempts 10000] [-identities 5000] [-cap 500]
//
// It drives the claim transaction (internal/offers) directly, as the claim
// page and the API do.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/roost-hq/roost/bench/internal/benchkit"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/team"
)

func main() {
	kind := flag.String("db", "sqlite", "database: sqlite or postgres")
	pgURL := flag.String("postgres-url", envOr("ROOST_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "PostgreSQL server for -db postgres (a database is created and dropped)")
	attempts := flag.Int("attempts", 10_000, "claim attempts")
	identities := flag.Int("identities", 5_000, "distinct people making them (the rest are retries)")
	capUnits := flag.Int64("cap", 500, "units the offer has")
	workers := flag.Int("concurrency", 64, "attempts in flight at once")
	flag.Parse()
	if *attempts < 1 || *identities < 1 || *capUnits < 1 || *workers < 1 {
		benchkit.Fail("-attempts, -identities, -cap and -concurrency must be positive")
	}
	ctx := context.Background()
	db, _, closeDB := benchkit.OpenStore(ctx, *kind, *pgURL, "claims")
	defer closeDB()
	w, _, err := team.New(db).CreateOwner(ctx, team.NewOwner{Workspace: "Bench", Email: "bench@example.com", Name: "Bench", Password: "a long benchmark password"})
	if err != nil {
		benchkit.Fail("%v", err)
	}
	st := offers.NewStore(db)
	o, err := st.Create(ctx, w.ID, "", offers.Input{Slug: "bench", Title: "Bench deal", LandingURL: "https://shop.example.com/", Currency: "USD",
		Cap: *capUnits, Audience: offers.Public, CodeMode: offers.Unique, CodePrefix: "B-", Published: true})
	if err != nil {
		benchkit.Fail("%v", err)
	}

	fmt.Printf("claims benchmark: %s, %d attempts by %d people, %d at a time, cap %d\n", *kind, *attempts, *identities, *workers, *capUnits)
	var next atomic.Int64
	var mu sync.Mutex
	lat := make([]time.Duration, 0, *attempts)
	var ok, soldOut, failed atomic.Int64
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= *attempts {
					return
				}
				who := offers.Identity{Network: "sandbox", AccountID: fmt.Sprintf("person-%d", i%*identities)}
				t0 := time.Now()
				_, err := st.Claim(ctx, o, offers.ClaimRequest{Identity: who})
				d := time.Since(t0)
				var r *offers.Refusal
				switch {
				case err == nil:
					ok.Add(1)
				case errors.As(err, &r) && r.Code == "sold_out":
					soldOut.Add(1)
				default:
					failed.Add(1)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	count := func(q string, args ...any) int64 {
		var n int64
		if err := db.R.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
			benchkit.Fail("%v", err)
		}
		return n
	}
	issued := count(`SELECT COUNT(*) FROM claims WHERE offer_id = $1`, o.ID)
	dupCodes := count(`SELECT COUNT(*) FROM (SELECT code FROM claims WHERE offer_id = $1 GROUP BY code HAVING COUNT(*) > 1) d`, o.ID)
	multi := count(`SELECT COUNT(*) FROM (SELECT account_id FROM claims WHERE offer_id = $1 GROUP BY network, account_id HAVING COUNT(*) > 1) m`, o.ID)
	counter := count(`SELECT claimed FROM offers WHERE id = $1`, o.ID)
	oversold := max(0, issued-*capUnits, counter-*capUnits)

	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(float64(len(lat)-1)*p)]) }
	rate := float64(*attempts) / elapsed.Seconds()
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\nattempts\tclaims/s\tp50 ms\tp99 ms\tissued\tsold out\tfailed\tduplicate codes\tpeople with 2+\toversold\t")
	fmt.Fprintf(tw, "%d\t%.0f\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", *attempts, rate, benchkit.Ms(pct(.5)), benchkit.Ms(pct(.99)), issued, soldOut.Load(), failed.Load(), dupCodes, multi, oversold)
	tw.Flush()
	benchkit.Result(os.Stdout, "db", *kind, "issued", issued, "cap", *capUnits, "duplicate_codes", dupCodes, "multi_claims", multi, "oversold", oversold,
		"failed", failed.Load(), "claims_per_s", fmt.Sprintf("%.0f", rate), "p50_ms", benchkit.Ms(pct(.5)), "p99_ms", benchkit.Ms(pct(.99)))
	if issued != min(*capUnits, int64(*identities)) || dupCodes != 0 || multi != 0 || oversold != 0 || failed.Load() != 0 || counter != issued {
		if firstErr != nil {
			fmt.Fprintln(os.Stderr, "bench: first error:", firstErr)
		}
		fmt.Fprintln(os.Stderr, "bench: the claims are wrong")
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

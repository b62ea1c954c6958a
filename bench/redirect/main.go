// Command redirect measures Roost's short-link redirect against a bare
// net/http server that answers the same request with a 302 from a map, in
// alternating rounds of the same wrk load, then checks that every redirect
// Roost answered was stored as a click.
//
//	go run ./bench/redirect [-db sqlite|postgres] [-duration 10s] [-rounds 3] [-cpuprofile FILE]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/roost-hq/roost/bench/internal/benchkit"
	"github.com/roost-hq/roost/internal/store"
)

// bare is the reference: the least a Go server can do to answer a short
// link, a map lookup and a 302.
func bare(dest map[string]string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{code}", func(w http.ResponseWriter, r *http.Request) {
		d, ok := dest[r.PathValue("code")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Location", d)
		w.Header().Set("Cache-Control", "private, no-store")
		w.WriteHeader(http.StatusFound)
	})
	return mux
}

const browserUA = "User-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"

func main() {
	kind := flag.String("db", "sqlite", "database: sqlite or postgres")
	pgURL := flag.String("postgres-url", envOr("ROOST_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "PostgreSQL server for -db postgres (a database is created and dropped)")
	duration := flag.Duration("duration", 10*time.Second, "length of each measured round")
	rounds := flag.Int("rounds", 3, "rounds per server, alternating")
	conns := flag.Int("connections", 16, "wrk connections")
	threads := flag.Int("threads", 2, "wrk threads")
	cpuProfile := flag.String("cpuprofile", "", "write CPU profiles of the last round to FILE (roost serve) and FILE.bare (the reference server)")
	flag.Parse()
	if *duration < time.Second || *rounds < 1 {
		benchkit.Fail("-duration must be at least 1s and -rounds at least 1")
	}
	benchkit.Need("wrk", "apt-get install wrk")
	dir, err := os.MkdirTemp("", "roost-bench-redirect-")
	if err != nil {
		benchkit.Fail("%v", err)
	}
	defer os.RemoveAll(dir)
	bin := benchkit.Build(dir)
	db := benchkit.NewDatabase(*kind, *pgURL, dir)
	defer db.Drop()

	port := benchkit.FreePort()
	var debugAddr string
	var extra []string
	if *cpuProfile != "" {
		debugAddr = "127.0.0.1:" + benchkit.FreePort()
		extra = append(extra, "ROOST_DEBUG_ADDR="+debugAddr)
	}
	env := benchkit.Env(dir, db, port, extra...)
	benchkit.Run(bin, env, "a long benchmark password\n", "admin", "create", "--workspace", "Bench", "--email", "bench@example.com", "--name", "Bench", "--password-stdin")
	dest := "https://shop.example.com/deals/xps-13?ref=social"
	short := benchkit.Run(bin, env, "", "link", "create", "--workspace", "bench", dest)
	code := short[strings.LastIndexByte(short, '/')+1:]
	roost := benchkit.Start(bin, env, dir)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		benchkit.Fail("%v", err)
	}
	ref := &http.Server{Handler: bare(map[string]string{code: dest + "&roost_cid=01jbenchmarkclickid0000000"})}
	go ref.Serve(ln)
	defer ref.Close()
	bareURL := "http://" + ln.Addr().String() + "/" + code
	roostURL := roost.URL + "/" + code

	ctx := context.Background()
	fmt.Printf("redirect benchmark: %s, wrk -t%d -c%d, %d rounds of %s each, alternating\n", *kind, *threads, *conns, *rounds, *duration)
	// Warm both up (connections, caches, the JIT-free but cache-cold CPU).
	benchkit.Wrk(ctx, bareURL, *threads, *conns, time.Second, browserUA)
	benchkit.Wrk(ctx, roostURL, *threads, *conns, time.Second, browserUA)

	var bareRPS, roostRPS, bareP50, bareP99, roostP50, roostP99, bareCPU, roostCPU, wrkCPU, pgCPU []float64
	var errs int64
	for i := range *rounds {
		order := []string{"bare", "roost"}
		if i%2 == 1 {
			order = []string{"roost", "bare"}
		}
		for _, which := range order {
			target := bareURL
			if which == "roost" {
				target = roostURL
			}
			var profiled chan error
			if which == "roost" && i == *rounds-1 && *cpuProfile != "" {
				profiled = make(chan error, 1)
				go func() { profiled <- profile(debugAddr, *duration-time.Second, *cpuProfile) }()
			}
			var bareProfile *os.File
			if which == "bare" && i == *rounds-1 && *cpuProfile != "" {
				// The reference runs in this process: its profile, under the
				// same load, is what Roost's is compared with.
				if bareProfile, err = os.Create(*cpuProfile + ".bare"); err != nil {
					benchkit.Fail("%v", err)
				}
				pprof.StartCPUProfile(bareProfile)
			}
			cpu := benchkit.SelfCPU
			if which == "roost" {
				cpu = roost.CPU
			}
			before, pgBefore := cpu(), benchkit.CommandCPU("postgres")
			l := benchkit.Wrk(ctx, target, *threads, *conns, *duration, browserUA)
			// Processor time per request answered: what the server spent,
			// less noisy than requests/s on a machine others share.
			perReq := float64(cpu()-before) / float64(max(l.Requests, 1))
			wrkCPU = append(wrkCPU, float64(l.CPU)/float64(max(l.Requests, 1)))
			if which == "roost" && *kind == "postgres" {
				pgCPU = append(pgCPU, float64(benchkit.CommandCPU("postgres")-pgBefore)/float64(max(l.Requests, 1)))
			}
			if bareProfile != nil {
				pprof.StopCPUProfile()
				bareProfile.Close()
				fmt.Printf("  (this round was profiled: go tool pprof %s.bare)\n", *cpuProfile)
			}
			if profiled != nil {
				if err := <-profiled; err != nil {
					benchkit.Fail("CPU profile: %v", err)
				}
				fmt.Printf("  (this round was profiled: go tool pprof %s)\n", *cpuProfile)
			}
			errs += l.Errors
			fmt.Printf("  round %d %-5s %9.0f req/s  p50 %6s ms  p99 %6s ms  cpu %5s µs/req\n", i+1, which, l.RPS, benchkit.Ms(float64(l.P50)), benchkit.Ms(float64(l.P99)), us(perReq))
			if which == "roost" {
				roostRPS, roostP50, roostP99, roostCPU = append(roostRPS, l.RPS), append(roostP50, float64(l.P50)), append(roostP99, float64(l.P99)), append(roostCPU, perReq)
			} else {
				bareRPS, bareP50, bareP99, bareCPU = append(bareRPS, l.RPS), append(bareP50, float64(l.P50)), append(bareP99, float64(l.P99)), append(bareCPU, perReq)
			}
		}
	}
	// A handler that wrk left mid-request as its last round ended may still
	// be between buffering its click and counting its redirect: read the
	// count once it has stopped moving.
	answered := int64(roost.Metric(`roost_redirects_total{result="ok"}`))
	for {
		time.Sleep(200 * time.Millisecond)
		now := int64(roost.Metric(`roost_redirects_total{result="ok"}`))
		if now == answered {
			break
		}
		answered = now
	}
	roost.Stop() // SIGTERM: roost writes every buffered click before it exits
	st, err := store.Open(ctx, db.URL, dir)
	if err != nil {
		benchkit.Fail("%v", err)
	}
	var stored int64
	if err := st.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM clicks`).Scan(&stored); err != nil {
		benchkit.Fail("cannot count clicks: %v", err)
	}
	var human int64
	st.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM clicks WHERE NOT bot`).Scan(&human)
	st.Close()

	ratio := benchkit.Median(roostRPS) / benchkit.Median(bareRPS)
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\treq/s (median)\tp50 ms\tp99 ms\tcpu µs/req\t")
	fmt.Fprintf(tw, "bare net/http\t%.0f\t%s\t%s\t%s\t\n", benchkit.Median(bareRPS), benchkit.Ms(benchkit.Median(bareP50)), benchkit.Ms(benchkit.Median(bareP99)), us(benchkit.Median(bareCPU)))
	fmt.Fprintf(tw, "roost (%s)\t%.0f\t%s\t%s\t%s\t\n", *kind, benchkit.Median(roostRPS), benchkit.Ms(benchkit.Median(roostP50)), benchkit.Ms(benchkit.Median(roostP99)), us(benchkit.Median(roostCPU)))
	tw.Flush()
	lost := answered - stored
	fmt.Printf("\nwrk itself used %s µs of processor time per request; on a machine where the servers and wrk share every core, the ratio is\n"+
		"about (bare + wrk) / (roost + wrk) per request", us(benchkit.Median(wrkCPU)))
	if len(pgCPU) > 0 && benchkit.Median(pgCPU) > 0 {
		fmt.Printf(",\nplus what PostgreSQL spends when it runs here: %s µs per redirect (every postgres process of the machine: an upper bound\n"+
			"when others use the same server)", us(benchkit.Median(pgCPU)))
	}
	fmt.Println(".")
	fmt.Printf("\nratio roost/bare %.2f; redirects answered by roost %d, clicks stored %d (%d human), lost %d, wrk errors %d\n", ratio, answered, stored, human, lost, errs)
	kv := []any{"db", *kind, "ratio", fmt.Sprintf("%.2f", ratio), "roost_rps", fmt.Sprintf("%.0f", benchkit.Median(roostRPS)),
		"bare_rps", fmt.Sprintf("%.0f", benchkit.Median(bareRPS)), "p50_ms", benchkit.Ms(benchkit.Median(roostP50)), "p99_ms", benchkit.Ms(benchkit.Median(roostP99)),
		"bare_p99_ms", benchkit.Ms(benchkit.Median(bareP99)), "roost_cpu_us", us(benchkit.Median(roostCPU)), "bare_cpu_us", us(benchkit.Median(bareCPU)), "wrk_cpu_us", us(benchkit.Median(wrkCPU))}
	if len(pgCPU) > 0 {
		kv = append(kv, "pg_cpu_us", us(benchkit.Median(pgCPU)))
	}
	benchkit.Result(os.Stdout, append(kv, "answered", answered, "stored", stored, "lost", lost)...)
	if lost != 0 || errs != 0 {
		fmt.Fprintln(os.Stderr, "bench: clicks were lost or requests failed")
		os.Exit(1)
	}
}

// profile saves a CPU profile of roost serve taken over d.
func profile(debugAddr string, d time.Duration, path string) error {
	res, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", debugAddr, int(d.Seconds())))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", res.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// us formats nanoseconds as microseconds.
func us(ns float64) string { return fmt.Sprintf("%.1f", ns/1e3) }

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// Package benchkit is what Roost's benchmarks share: building and running
// the roost binary, fresh databases, wrk, and the report format (a table,
// then one RESULT line a script can read).
package benchkit

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/store"
)

// Fail prints a one-line error and exits 1.
func Fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}

// Need exits with an install hint when a tool is missing.
func Need(tool, install string) string {
	p, err := exec.LookPath(tool)
	if err != nil {
		Fail("%s is required and was not found: %s", tool, install)
	}
	return p
}

// Build compiles the roost binary into dir and returns its path.
func Build(dir string) string {
	bin := filepath.Join(dir, "roost")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/roost")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		Fail("cannot build roost (run the benchmark from the repository root): %v", err)
	}
	return bin
}

// Database is a fresh database for one run: a SQLite file, or a new
// PostgreSQL database that Drop removes.
type Database struct {
	URL  string // for ROOST_DATABASE_URL; "" means SQLite in the data dir
	Drop func()
}

// NewDatabase prepares a database of kind "sqlite" or "postgres".
func NewDatabase(kind, pgURL, dataDir string) Database {
	switch kind {
	case "sqlite":
		return Database{URL: "sqlite:" + filepath.Join(dataDir, "roost.db"), Drop: func() {}}
	case "postgres":
		admin, err := sql.Open("pgx", pgURL)
		if err == nil {
			err = admin.Ping()
		}
		if err != nil {
			Fail("cannot reach PostgreSQL at %s: %v", pgURL, err)
		}
		name := "roost_bench_" + strings.ToLower(id.Token(5))
		if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
			Fail("cannot create a benchmark database: %v", err)
		}
		u, _ := url.Parse(pgURL)
		u.Path = "/" + name
		return Database{URL: u.String(), Drop: func() {
			admin.Exec("DROP DATABASE " + name + " WITH (FORCE)")
			admin.Close()
		}}
	}
	Fail("-db must be sqlite or postgres, not %q", kind)
	return Database{}
}

// Roost is a running roost serve.
type Roost struct {
	cmd  *exec.Cmd
	URL  string
	Env  []string
	bin  string
	logs *os.File
}

// FreePort returns a TCP port free on the loopback interface.
func FreePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		Fail("no free port: %v", err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// Env returns the environment for roost commands on this data directory
// and database.
func Env(dataDir string, db Database, port string, extra ...string) []string {
	env := append(os.Environ(), "ROOST_DATA_DIR="+dataDir, "ROOST_ADDR=127.0.0.1:"+port, "ROOST_BASE_URL=http://127.0.0.1:"+port,
		"ROOST_LOG_LEVEL=warn", "ROOST_SECRET_KEY="+strings.Repeat("b", 40))
	if db.URL != "" {
		env = append(env, "ROOST_DATABASE_URL="+db.URL)
	}
	return append(env, extra...)
}

// Run runs a roost command and returns its standard output.
func Run(bin string, env []string, stdin string, args ...string) string {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out strings.Builder
	cmd.Stdout = &out
	errb := &strings.Builder{}
	cmd.Stderr = errb
	if err := cmd.Run(); err != nil {
		Fail("roost %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String())
}

// Start starts roost serve and waits until it is ready.
func Start(bin string, env []string, dataDir string) *Roost {
	logs, err := os.Create(filepath.Join(dataDir, "serve.log"))
	if err != nil {
		Fail("%v", err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		Fail("cannot start roost: %v", err)
	}
	var base string
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "ROOST_BASE_URL="); ok {
			base = v
		}
	}
	r := &Roost{cmd: cmd, URL: base, Env: env, bin: bin, logs: logs}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return r
			}
		}
		if time.Now().After(deadline) {
			r.Stop()
			Fail("roost did not become ready; see %s", logs.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Metric reads one sample from /metrics, e.g. `roost_redirects_total{result="ok"}`.
func (r *Roost) Metric(series string) float64 {
	res, err := http.Get(r.URL + "/metrics")
	if err != nil {
		Fail("cannot read metrics: %v", err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// CPU is the processor time roost serve has used so far (user and
// system), read from /proc; 0 where there is none.
func (r *Roost) CPU() time.Duration { return procCPU(strconv.Itoa(r.cmd.Process.Pid)) }

// SelfCPU is the processor time this process has used so far, for a
// reference server the benchmark runs itself.
func SelfCPU() time.Duration { return procCPU("self") }

// CommandCPU is the processor time used so far by every process named
// name on this machine (e.g. "postgres": the database server's share of
// the load, when it runs here); processes that exit meanwhile are missed.
func CommandCPU(name string) time.Duration {
	dirs, _ := filepath.Glob("/proc/[0-9]*/comm")
	var total time.Duration
	for _, comm := range dirs {
		b, err := os.ReadFile(comm)
		if err != nil || strings.TrimSpace(string(b)) != name {
			continue
		}
		total += procCPU(filepath.Base(filepath.Dir(comm)))
	}
	return total
}

// procCPU reads utime and stime from /proc/PID/stat, in clock ticks of
// 1/100 s on Linux.
func procCPU(pid string) time.Duration {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: fields are
	// counted after its closing parenthesis.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// Stop sends SIGTERM and waits for a clean exit (buffers flushed).
func (r *Roost) Stop() {
	r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			Fail("roost did not stop cleanly: %v (see %s)", err, r.logs.Name())
		}
	case <-time.After(60 * time.Second):
		r.cmd.Process.Kill()
		Fail("roost did not stop within 60s")
	}
	r.logs.Close()
}

// Load is one wrk run's figures.
type Load struct {
	Requests int64
	RPS      float64
	P50, P99 time.Duration
	Errors   int64
	CPU      time.Duration // processor time wrk itself used
}

const wrkScript = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
`

// Wrk loads url with wrk and returns its figures.
func Wrk(ctx context.Context, target string, threads, conns int, d time.Duration, headers ...string) Load {
	script := filepath.Join(os.TempDir(), "roost-bench-wrk.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
		Fail("%v", err)
	}
	args := []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", fmt.Sprintf("%ds", int(d.Seconds())), "-s", script}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	cmd := exec.CommandContext(ctx, "wrk", append(args, target)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		Fail("wrk: %v: %s", err, out)
	}
	l := Load{CPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	var dur, p50, p99 int64
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "WRK "); ok {
			fmt.Sscanf(rest, "requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d", &l.Requests, &dur, &p50, &p99, &l.Errors)
		}
	}
	if dur == 0 {
		Fail("cannot read wrk's output: %s", out)
	}
	l.RPS = float64(l.Requests) / (float64(dur) / 1e6)
	l.P50, l.P99 = time.Duration(p50)*time.Microsecond, time.Duration(p99)*time.Microsecond
	return l
}

// Median returns the median of xs.
func Median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Ms formats a duration in milliseconds.
func Ms(d float64) string { return strconv.FormatFloat(d/float64(time.Millisecond), 'f', 2, 64) }

// Result prints the RESULT line: keys in the order given.
func Result(w io.Writer, kv ...any) {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, fmt.Sprintf("%v=%v", kv[i], kv[i+1]))
	}
	fmt.Fprintln(w, "RESULT "+strings.Join(parts, " "))
}

// ErrLost marks a run whose correctness check failed.
var ErrLost = errors.New("correctness check failed")

// OpenStore makes a fresh, migrated database of kind for a benchmark that
// drives Roost's stores in-process. close drops it and its directory.
func OpenStore(ctx context.Context, kind, pgURL, name string) (db *store.DB, dir string, close func()) {
	dir, err := os.MkdirTemp("", "roost-bench-"+name+"-")
	if err != nil {
		Fail("%v", err)
	}
	d := NewDatabase(kind, pgURL, dir)
	db, err = store.Open(ctx, d.URL, dir)
	if err != nil {
		Fail("%v", err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		Fail("%v", err)
	}
	return db, dir, func() {
		db.Close()
		d.Drop()
		os.RemoveAll(dir)
	}
}

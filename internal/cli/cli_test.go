package cli

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
	"github.com/roost-hq/roost/internal/team"
)

type run struct {
	code           int
	stdout, stderr string
}

// roost runs the command with the given environment and standard input.
func roost(t *testing.T, env map[string]string, stdin string, args ...string) run {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), &Env{Args: args, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] }})
	return run{code, out.String(), errb.String()}
}

// lockedBuffer is written by the server's goroutines while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	env := map[string]string{"ROOST_DATA_DIR": t.TempDir()}
	for _, args := range [][]string{{}, {"bogus"}, {"admin"}, {"admin", "delete"}, {"serve", "--bogus"}, {"migrate", "extra"},
		{"apikey", "create", "--workspace", "x"}, {"admin", "create", "--email", "a@example.com"}} {
		r := roost(t, env, "", args...)
		if r.code != 2 {
			t.Errorf("roost %v: exit %d, want 2 (stderr %q)", args, r.code, r.stderr)
		}
	}
	if r := roost(t, env, "", "help"); r.code != 0 || !strings.Contains(r.stdout, "admin create") {
		t.Errorf("help: %d %q", r.code, r.stdout)
	}
	if r := roost(t, env, "", "serve", "-h"); r.code != 0 || !strings.Contains(r.stderr, "ROOST_DATABASE_URL") {
		t.Errorf("serve -h: %d %q", r.code, r.stderr)
	}
	if r := roost(t, env, "", "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "roost ") {
		t.Errorf("version: %d %q", r.code, r.stdout)
	}
}

func TestBadConfigurationIsOneLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o600)
	for name, env := range map[string]map[string]string{
		"bad url":          {"ROOST_DATABASE_URL": "mysql://x", "ROOST_DATA_DIR": dir},
		"unreachable":      {"ROOST_DATABASE_URL": "postgres://u:pw@127.0.0.1:1/x?connect_timeout=1", "ROOST_DATA_DIR": dir},
		"bad addr":         {"ROOST_ADDR": "nope", "ROOST_DATA_DIR": dir},
		"data dir is file": {"ROOST_DATA_DIR": filepath.Join(file, "sub")},
		"short key":        {"ROOST_SECRET_KEY": "short", "ROOST_DATA_DIR": dir},
	} {
		r := roost(t, env, "", "serve")
		if r.code != 1 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.HasPrefix(r.stderr, "roost serve: ") {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 and one line", name, r.code, r.stderr)
		}
		if strings.Contains(r.stderr, "pw@") {
			t.Errorf("%s: password printed: %q", name, r.stderr)
		}
	}
}

func TestAdminAndAPIKey(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"ROOST_DATA_DIR": t.TempDir(), "ROOST_DATABASE_URL": storetest.URL(t, d)}
			r := roost(t, env, "", "migrate")
			if r.code != 0 || !strings.Contains(r.stdout, "applied 0001_foundation") {
				t.Fatalf("migrate: %+v", r)
			}
			if r := roost(t, env, "", "migrate"); r.code != 0 || !strings.Contains(r.stdout, "up to date") {
				t.Fatalf("second migrate: %+v", r)
			}
			// No terminal and no --password-stdin: a clear refusal.
			r = roost(t, env, "", "admin", "create", "--workspace", "Dell Outlet", "--email", "lena@example.com", "--name", "Lena")
			if r.code != 2 || !strings.Contains(r.stderr, "--password-stdin") {
				t.Fatalf("no password: %+v", r)
			}
			r = roost(t, env, "short\n", "admin", "create", "--workspace", "Dell Outlet", "--email", "lena@example.com", "--name", "Lena", "--password-stdin")
			if r.code != 2 || !strings.Contains(r.stderr, "--password must be at least") {
				t.Fatalf("short password: %+v", r)
			}
			r = roost(t, env, "a long password\n", "admin", "create", "--workspace", "Dell Outlet", "--email", "lena@example.com", "--name", "Lena", "--signature", "^LB", "--password-stdin")
			if r.code != 0 || !strings.Contains(r.stdout, `workspace "Dell Outlet" (dell-outlet)`) {
				t.Fatalf("admin create: %+v", r)
			}
			r = roost(t, env, "", "apikey", "create", "--workspace", "dell-outlet", "--name", "Shop")
			if r.code != 0 || !strings.HasPrefix(r.stdout, "roost_") || strings.Count(r.stdout, "\n") != 1 || r.stderr != "" {
				t.Fatalf("apikey create must print the key alone: %+v", r)
			}
			r = roost(t, env, "", "apikey", "create", "--workspace", "nope", "--name", "Shop")
			if r.code != 1 || !strings.Contains(r.stderr, `no workspace with the address "nope"`) {
				t.Fatalf("unknown workspace: %+v", r)
			}
		})
	}
}

// TestServe starts roost serve on an empty data directory, checks that it
// answers, prints the setup link, and stops cleanly when cancelled.
func TestServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"ROOST_DATA_DIR": dir, "ROOST_ADDR": "127.0.0.1:0", "ROOST_LOG_FORMAT": "json", "ROOST_DEBUG_ADDR": "127.0.0.1:0"}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	var out, errb lockedBuffer
	done := make(chan int)
	start := time.Now()
	go func() {
		done <- Main(ctx, &Env{Args: []string{"serve"}, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
			Getenv: func(k string) string { return env[k] }, Ready: func(a string) { ready <- a }})
	}()
	var addr string
	select {
	case addr = <-ready:
	case code := <-done:
		t.Fatalf("serve exited %d: %s", code, errb.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	t.Logf("serve was ready after %v", time.Since(start))
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200, "/app/login": 200} {
		res, err := http.Get("http://" + addr + path)
		if err != nil || res.StatusCode != want {
			t.Fatalf("GET %s: %v %v", path, res, err)
		}
		res.Body.Close()
	}
	// The profiler answers on its own loopback listener, not on the public one.
	m := regexp.MustCompile(`"url":"(http://127\.0\.0\.1:\d+/debug/pprof/)"`).FindStringSubmatch(errb.String())
	if m == nil {
		t.Fatalf("no profiler address in the log:\n%s", errb.String())
	}
	res, err := http.Get(m[1] + "cmdline")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("profiler: %v %v", res, err)
	}
	res.Body.Close()
	res, err = http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil || res.StatusCode != 404 {
		t.Fatalf("the public listener serves the profiler: %v %v", res, err)
	}
	res.Body.Close()
	if !strings.Contains(out.String(), "/app/setup/") || !strings.Contains(out.String(), "roost admin create") {
		t.Fatalf("no first-run hint:\n%s", out.String())
	}
	if !strings.Contains(errb.String(), "generated a new secret key") {
		t.Fatalf("no word about the generated key:\n%s", errb.String())
	}
	if st, err := os.Stat(filepath.Join(dir, "secret.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret key file: %v %v", st, err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d: %s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(errb.String(), "roost stopped") {
		t.Fatalf("no stop message:\n%s", errb.String())
	}
	// A second node with another key is refused.
	env2 := map[string]string{"ROOST_DATA_DIR": t.TempDir(), "ROOST_DATABASE_URL": "sqlite:" + store.DefaultPath(dir), "ROOST_ADDR": "127.0.0.1:0"}
	r := roost(t, env2, "", "serve")
	if r.code != 1 || !strings.Contains(r.stderr, "secret key differs") {
		t.Fatalf("node with another key: %+v", r)
	}
}

func TestLinkCommands(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"ROOST_DATA_DIR": t.TempDir(), "ROOST_DATABASE_URL": storetest.URL(t, d), "ROOST_BASE_URL": "https://go.example.com"}
			if r := roost(t, env, "a long password\n", "admin", "create", "--workspace", "Acme", "--email", "o@example.com", "--name", "O", "--password-stdin"); r.code != 0 {
				t.Fatalf("admin create: %+v", r)
			}
			r := roost(t, env, "", "link", "create", "--workspace", "acme", "https://shop.example.com/deal?x=1")
			if r.code != 0 || !strings.HasPrefix(r.stdout, "https://go.example.com/") || strings.Count(r.stdout, "\n") != 1 || r.stderr != "" {
				t.Fatalf("link create must print the short URL alone: %+v", r)
			}
			code := strings.TrimSpace(strings.TrimPrefix(r.stdout, "https://go.example.com/"))
			// Flags after the URL work too.
			r = roost(t, env, "", "link", "create", "https://shop.example.com/b", "--workspace", "acme", "--code", "Spring-Sale", "--tag", "spring", "--expires", "72h")
			if r.code != 0 || r.stdout != "https://go.example.com/spring-sale\n" {
				t.Fatalf("link create with flags after the URL: %+v", r)
			}
			for _, bad := range [][]string{
				{"link", "create", "--workspace", "acme", "javascript:alert(1)"},
				{"link", "create", "--workspace", "acme"},
				{"link", "create", "--workspace", "acme", "https://x.example/", "--expires", "soon"},
				{"link", "create", "--workspace", "acme", "--code", "spring-sale", "https://x.example/"},
			} {
				if r := roost(t, env, "", bad...); r.code != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") > 1 {
					t.Errorf("roost %v: %+v, want exit 2 with a short message", bad, r)
				}
			}
			if r := roost(t, env, "", "link", "create", "--workspace", "nope", "https://x.example/"); r.code != 1 || !strings.Contains(r.stderr, `no workspace with the address "nope"`) {
				t.Errorf("unknown workspace: %+v", r)
			}
			r = roost(t, env, "", "link", "stats", "--workspace", "acme", strings.ToUpper(code))
			if r.code != 0 || !strings.Contains(r.stdout, "0 clicks, 0 human, 0 unique") || !strings.Contains(r.stdout, "https://shop.example.com/deal?x=1") {
				t.Fatalf("link stats: %+v", r)
			}
			if r := roost(t, env, "", "link", "stats", "--workspace", "acme", "nothing"); r.code != 1 || !strings.Contains(r.stderr, `no link "nothing"`) {
				t.Fatalf("stats of an unknown link: %+v", r)
			}
		})
	}
}

func TestSandboxCommands(t *testing.T) {
	t.Parallel()
	env := map[string]string{"ROOST_DATA_DIR": t.TempDir()}
	if r := roost(t, env, "a long password\n", "admin", "create", "--workspace", "Acme", "--email", "o@example.com", "--name", "O", "--password-stdin"); r.code != 0 {
		t.Fatalf("admin create: %+v", r)
	}
	r := roost(t, env, "", "sandbox", "account", "--workspace", "acme", "@Outlet", "--name", "Acme Outlet")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "acc_") {
		t.Fatalf("sandbox account: %+v", r)
	}
	if r := roost(t, env, "", "sandbox", "account", "--workspace", "acme", "bad handle!"); r.code != 2 {
		t.Fatalf("bad handle: %+v", r)
	}
	if r := roost(t, env, "", "sandbox", "followers", "--workspace", "acme", "--account", "@outlet", "ann", "@bob"); r.code != 0 || r.stdout != "@outlet has 2 followers\n" {
		t.Fatalf("set followers: %+v", r)
	}
	if r := roost(t, env, "", "sandbox", "followers", "--workspace", "acme", "--account", "outlet", "--add", "carl"); r.code != 0 || r.stdout != "@outlet has 3 followers\n" {
		t.Fatalf("add followers: %+v", r)
	}
	if r := roost(t, env, "", "sandbox", "followers", "--workspace", "acme", "--account", "outlet"); r.code != 0 || r.stdout != "@ann\n@bob\n@carl\n" {
		t.Fatalf("list followers: %+v", r)
	}
	if r := roost(t, env, "", "sandbox", "followers", "--workspace", "acme", "--account", "nobody", "x"); r.code != 1 || !strings.Contains(r.stderr, "no sandbox account @nobody") {
		t.Fatalf("unknown account: %+v", r)
	}
	if r := roost(t, env, "", "sandbox", "mention", "--workspace", "acme", "--account", "outlet", "--from", "ann", "@outlet", "ABCDE-FGHJK"); r.code != 0 || !strings.HasPrefix(r.stdout, "sbp_") {
		t.Fatalf("mention: %+v", r)
	}
	if r := roost(t, env, "", "sandbox", "mention", "--workspace", "acme", "--account", "outlet", "--from", "outlet", "hi"); r.code != 2 || !strings.Contains(r.stderr, "brand account itself") {
		t.Fatalf("mention from the account itself: %+v", r)
	}
	if r := roost(t, env, "", "sandbox", "mention", "--workspace", "acme", "--account", "outlet", "hi"); r.code != 2 {
		t.Fatalf("mention without --from: %+v", r)
	}
}

// demoRun runs roost demo until it serves, then stops it, and returns its
// output and the password it printed.
func demoRun(t *testing.T, env map[string]string, args ...string) (stdout, stderr, password string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, &Env{Args: append([]string{"demo"}, args...), Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
			Getenv: func(k string) string { return env[k] }, Ready: func(a string) { ready <- a }})
	}()
	select {
	case addr := <-ready:
		if res, err := http.Get("http://" + addr + "/app/login"); err != nil || res.StatusCode != 200 {
			t.Fatalf("the demo's login page: %v %v", res, err)
		}
	case code := <-done:
		t.Fatalf("demo exited %d: %s", code, errb.String())
	case <-time.After(5 * time.Minute):
		t.Fatal("demo did not start")
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("demo exited %d: %s", code, errb.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "password" {
			password = f[1]
		}
	}
	if password == "" || !strings.Contains(out.String(), "demo@example.com") {
		t.Fatalf("no login printed:\n%s", out.String())
	}
	return out.String(), errb.String(), password
}

func TestDemo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"ROOST_DATA_DIR": dir, "ROOST_ADDR": "127.0.0.1:0"}
	signIn := func(password string) error {
		db, err := store.Open(context.Background(), "", dir)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		_, err = team.New(db).Authenticate(context.Background(), "demo@example.com", password)
		return err
	}

	_, stderr, first := demoRun(t, env, "--scale", "0.02")
	if !strings.Contains(stderr, "Made the demo in") || !strings.Contains(stderr, "Replaying 90 days") {
		t.Fatalf("no progress or summary:\n%s", stderr)
	}
	if err := signIn(first); err != nil {
		t.Fatalf("the printed password does not sign in: %v", err)
	}
	// Again, not on a terminal: the same demo is served, with a new password.
	_, stderr, second := demoRun(t, env, "--scale", "0.02")
	if strings.Contains(stderr, "Made the demo") || second == first {
		t.Fatalf("the demo was remade, or the password kept:\n%s", stderr)
	}
	if signIn(first) == nil || signIn(second) != nil {
		t.Fatal("the old password still signs in, or the new one does not")
	}
	// --reset makes it afresh.
	if _, stderr, _ = demoRun(t, env, "--scale", "0.02", "--reset"); !strings.Contains(stderr, "Made the demo in") {
		t.Fatalf("--reset did not remake the demo:\n%s", stderr)
	}

	for name, args := range map[string][]string{"scale": {"demo", "--scale", "0"}, "argument": {"demo", "now"}} {
		if r := roost(t, env, "", args...); r.code != 2 {
			t.Errorf("%s: exit %d, %s", name, r.code, r.stderr)
		}
	}
	pg := map[string]string{"ROOST_DATA_DIR": t.TempDir(), "ROOST_DATABASE_URL": "postgres://nobody@127.0.0.1:1/x"}
	if r := roost(t, pg, "", "demo"); r.code != 2 || !strings.Contains(r.stderr, "own SQLite database") {
		t.Errorf("demo on PostgreSQL: %+v", r)
	}
}

// TestTuneGC is not parallel: the collector's setting is the process's.
func TestTuneGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	tuneGC(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != serveGCPercent {
		t.Fatalf("GOGC unset: collector at %d%%, want %d%%", got, serveGCPercent)
	}
	tuneGC(func(k string) string {
		if k == "GOGC" {
			return "50"
		}
		return ""
	})
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GOGC set by the operator was overridden: %d%%", got)
	}
}

package metrics

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func render(t *testing.T, r *Registry) string {
	t.Helper()
	var b strings.Builder
	n, err := r.WriteTo(&b)
	if err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if n != int64(b.Len()) {
		t.Errorf("WriteTo returned n=%d, wrote %d bytes", n, b.Len())
	}
	return b.String()
}

func TestWriteTo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(r *Registry)
		want  string
	}{
		{
			name:  "empty",
			setup: func(*Registry) {},
			want:  "",
		},
		{
			name: "registered but unused counter prints header only",
			setup: func(r *Registry) {
				r.Counter("idle_total", "Never incremented.", "code")
			},
			want: "# HELP idle_total Never incremented.\n# TYPE idle_total counter\n",
		},
		{
			name: "labelled counter sorted by label values",
			setup: func(r *Registry) {
				c := r.Counter("roost_redirects_total", "Redirects served.", "kind", "code")
				c.Inc("link", "302")
				c.Inc("link", "302")
				c.Add(2.5, "link", "301")
				c.Inc("alias", "302")
			},
			want: `# HELP roost_redirects_total Redirects served.
# TYPE roost_redirects_total counter
roost_redirects_total{kind="alias",code="302"} 1
roost_redirects_total{kind="link",code="301"} 2.5
roost_redirects_total{kind="link",code="302"} 2
`,
		},
		{
			name: "unlabelled gauge set and add",
			setup: func(r *Registry) {
				g := r.Gauge("roost_queue_depth", "Events waiting.")
				g.Set(10)
				g.Add(-3)
			},
			want: "# HELP roost_queue_depth Events waiting.\n# TYPE roost_queue_depth gauge\nroost_queue_depth 7\n",
		},
		{
			name: "gauge func special values",
			setup: func(r *Registry) {
				r.GaugeFunc("a_inf", "Positive infinity.", func() float64 { return math.Inf(1) })
				r.GaugeFunc("b_nan", "Not a number.", math.NaN)
				r.GaugeFunc("c_big", "Large value.", func() float64 { return 1e21 })
				r.CounterFunc("d_total", "Counter func.", func() float64 { return 42 })
			},
			want: `# HELP a_inf Positive infinity.
# TYPE a_inf gauge
a_inf +Inf
# HELP b_nan Not a number.
# TYPE b_nan gauge
b_nan NaN
# HELP c_big Large value.
# TYPE c_big gauge
c_big 1e+21
# HELP d_total Counter func.
# TYPE d_total counter
d_total 42
`,
		},
		{
			name: "histogram with labels, boundaries, NaN and trailing +Inf bucket",
			setup: func(r *Registry) {
				h := r.Histogram("roost_request_seconds", "Request latency.",
					[]float64{0.1, 0.5, math.Inf(1)}, "route")
				h.Observe(0.1, "api") // exactly on a bound: counts in that bucket
				h.Observe(0.3, "api")
				h.Observe(2, "api")
				h.Observe(0.05, "redirect")
			},
			want: `# HELP roost_request_seconds Request latency.
# TYPE roost_request_seconds histogram
roost_request_seconds_bucket{route="api",le="0.1"} 1
roost_request_seconds_bucket{route="api",le="0.5"} 2
roost_request_seconds_bucket{route="api",le="+Inf"} 3
roost_request_seconds_sum{route="api"} 2.4
roost_request_seconds_count{route="api"} 3
roost_request_seconds_bucket{route="redirect",le="0.1"} 1
roost_request_seconds_bucket{route="redirect",le="0.5"} 1
roost_request_seconds_bucket{route="redirect",le="+Inf"} 1
roost_request_seconds_sum{route="redirect"} 0.05
roost_request_seconds_count{route="redirect"} 1
`,
		},
		{
			name: "unlabelled histogram, NaN goes to +Inf",
			setup: func(r *Registry) {
				h := r.Histogram("h", "H.", []float64{1})
				h.Observe(math.NaN())
			},
			want: `# HELP h H.
# TYPE h histogram
h_bucket{le="1"} 0
h_bucket{le="+Inf"} 1
h_sum NaN
h_count 1
`,
		},
		{
			name: "families sorted by name across kinds",
			setup: func(r *Registry) {
				r.Histogram("c_seconds", "C.", []float64{1}).Observe(0.5)
				r.GaugeFunc("b_func", "B.", func() float64 { return -1.5 })
				r.Gauge("d_gauge", "D.", "x").Set(3, "y")
				r.Counter("a_total", "A.").Inc()
			},
			want: `# HELP a_total A.
# TYPE a_total counter
a_total 1
# HELP b_func B.
# TYPE b_func gauge
b_func -1.5
# HELP c_seconds C.
# TYPE c_seconds histogram
c_seconds_bucket{le="1"} 1
c_seconds_bucket{le="+Inf"} 1
c_seconds_sum 0.5
c_seconds_count 1
# HELP d_gauge D.
# TYPE d_gauge gauge
d_gauge{x="y"} 3
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := NewRegistry()
			tt.setup(r)
			if got := render(t, r); got != tt.want {
				t.Errorf("output mismatch\n got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, value, want string
	}{
		{"plain", "abc", `m{v="abc"} 1`},
		{"empty", "", `m{v=""} 1`},
		{"double quote", `say "hi"`, `m{v="say \"hi\""} 1`},
		{"backslash", `C:\path\`, `m{v="C:\\path\\"} 1`},
		{"newline", "a\nb", `m{v="a\nb"} 1`},
		{"escaped-looking", `\n`, `m{v="\\n"} 1`},
		{"unicode kept as is", "héllo 🐦 日本", `m{v="héllo 🐦 日本"} 1`},
		{"tab and carriage return kept", "a\tb\rc", "m{v=\"a\tb\rc\"} 1"},
		{"invalid utf-8 repaired", "a\xffb", `m{v="a` + "\uFFFD" + `b"} 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := NewRegistry()
			r.Counter("m", "Help.", "v").Inc(tt.value)
			lines := strings.Split(strings.TrimSuffix(render(t, r), "\n"), "\n")
			if got := lines[len(lines)-1]; got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}

	t.Run("help text", func(t *testing.T) {
		t.Parallel()
		r := NewRegistry()
		r.GaugeFunc("m", "line one\nback\\slash \"quotes\" stay", func() float64 { return 0 })
		want := `# HELP m line one\nback\\slash "quotes" stay` + "\n"
		if got := render(t, r); !strings.HasPrefix(got, want) {
			t.Errorf("got  %q\nwant prefix %q", got, want)
		}
	})
}

func TestConcurrentUpdates(t *testing.T) {
	t.Parallel()
	const goroutines, perG = 64, 1000
	r := NewRegistry()
	c := r.Counter("c_total", "C.", "k")
	g := r.Gauge("g", "G.")
	h := r.Histogram("h", "H.", []float64{0.5})

	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Go(func() {
			key := strconv.Itoa(i % 4) // several goroutines race to create each series
			for range perG {
				c.Inc(key)
				c.Add(0.5, "all")
				g.Add(1)
				h.Observe(0.25)
			}
		})
	}
	// Scrape concurrently with the updates to exercise the reader side under -race.
	wg.Go(func() {
		for range 20 {
			if _, err := r.WriteTo(io.Discard); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()

	got := render(t, r)
	for _, want := range []string{
		fmt.Sprintf(`c_total{k="0"} %d`, goroutines/4*perG),
		fmt.Sprintf(`c_total{k="3"} %d`, goroutines/4*perG),
		fmt.Sprintf(`c_total{k="all"} %d`, goroutines*perG/2),
		fmt.Sprintf("g %d", goroutines*perG),
		fmt.Sprintf(`h_bucket{le="0.5"} %d`, goroutines*perG),
		fmt.Sprintf("h_sum %d", goroutines*perG/4),
		fmt.Sprintf("h_count %d", goroutines*perG),
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

// TestHotPathAllocs is deliberately not parallel: AllocsPerRun counts every
// allocation in the process.
func TestHotPathAllocs(t *testing.T) {
	r := NewRegistry()
	c := r.Counter("c_total", "C.", "kind")
	c2 := r.Counter("c2_total", "C2.", "kind", "code")
	h := r.Histogram("h_seconds", "H.", DefBuckets, "route")
	c.Inc("link")
	c2.Inc("link", "302")
	h.Observe(0.01, "api")
	for name, f := range map[string]func(){
		"Counter.Inc one label":  func() { c.Inc("link") },
		"Counter.Inc two labels": func() { c2.Inc("link", "302") },
		"Histogram.Observe":      func() { h.Observe(0.2, "api") },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocs per call, want 0", name, n)
		}
	}
}

func TestPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    func(r *Registry)
		want string // substring of the panic message
	}{
		{"duplicate name", func(r *Registry) {
			r.Counter("x_total", "X.")
			r.Gauge("x_total", "X again.")
		}, "collides"},
		{"duplicate with func", func(r *Registry) {
			r.GaugeFunc("x", "X.", func() float64 { return 0 })
			r.GaugeFunc("x", "X.", func() float64 { return 0 })
		}, "collides"},
		{"counter clashes with histogram sample", func(r *Registry) {
			r.Histogram("lat", "L.", nil)
			r.Counter("lat_count", "C.")
		}, "lat_count collides"},
		{"histogram after counter of same name", func(r *Registry) {
			r.Counter("lat", "C.")
			r.Histogram("lat", "L.", nil)
		}, "lat collides"},
		{"histogram sample clashes with counter", func(r *Registry) {
			r.Counter("lat_sum", "C.")
			r.Histogram("lat", "L.", nil)
		}, "lat_sum collides"},
		{"empty name", func(r *Registry) { r.Counter("", "X.") }, "invalid metric name"},
		{"name starts with digit", func(r *Registry) { r.Counter("1x", "X.") }, "invalid metric name"},
		{"name with dash", func(r *Registry) { r.Gauge("a-b", "X.") }, "invalid metric name"},
		{"name with unicode", func(r *Registry) { r.Gauge("é", "X.") }, "invalid metric name"},
		{"label with colon", func(r *Registry) { r.Counter("x", "X.", "a:b") }, "invalid label name"},
		{"label reserved prefix", func(r *Registry) { r.Counter("x", "X.", "__name__") }, "invalid label name"},
		{"empty label", func(r *Registry) { r.Counter("x", "X.", "") }, "invalid label name"},
		{"duplicate label", func(r *Registry) { r.Counter("x", "X.", "a", "a") }, "duplicate label name"},
		{"le on histogram", func(r *Registry) { r.Histogram("x", "X.", nil, "le") }, `"le" is reserved`},
		{"unsorted buckets", func(r *Registry) { r.Histogram("x", "X.", []float64{1, 0.5}) }, "strictly increasing"},
		{"repeated bucket", func(r *Registry) { r.Histogram("x", "X.", []float64{1, 1}) }, "strictly increasing"},
		{"NaN bucket", func(r *Registry) { r.Histogram("x", "X.", []float64{math.NaN()}) }, "strictly increasing"},
		{"too few label values", func(r *Registry) { r.Counter("x", "X.", "a", "b").Inc("1") }, "got 1 label values [1], want 2"},
		{"too many label values", func(r *Registry) { r.Gauge("x", "X.").Set(1, "extra") }, "got 1 label values"},
		{"histogram label values", func(r *Registry) { r.Histogram("x", "X.", nil, "a").Observe(1) }, "got 0 label values"},
		{"negative counter add", func(r *Registry) { r.Counter("x", "X.").Add(-1) }, "cannot decrease"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				v := recover()
				msg, _ := v.(string)
				if v == nil || !strings.Contains(msg, tt.want) {
					t.Errorf("panic = %v, want message containing %q", v, tt.want)
				}
			}()
			tt.f(NewRegistry())
		})
	}
}

func TestFailedRegistrationLeavesRegistryUsable(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	func() {
		defer func() { _ = recover() }()
		r.Histogram("lat", "L.", nil, "le")
	}()
	// The rejected histogram must not have claimed its name.
	r.Counter("lat", "L.").Inc()
	if got := render(t, r); !strings.Contains(got, "\nlat 1\n") {
		t.Errorf("got %q", got)
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	r.Counter("hits_total", "Hits.", "path").Inc(`/a"b`)

	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d", resp.StatusCode)
	}
	if got, want := resp.Header.Get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8"; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
	if got := string(body); got != render(t, r) {
		t.Errorf("body = %q", got)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("boom") }

func TestWriteToError(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	r.Counter("x_total", "X.").Inc()
	if _, err := r.WriteTo(failWriter{}); err == nil {
		t.Error("WriteTo to a failing writer returned nil error")
	}
}

func TestRegisterRuntime(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	r.RegisterRuntime()
	out := render(t, r)

	values := map[string]float64{}
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			t.Fatalf("malformed line %q", line)
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		values[name] = v
	}
	for _, name := range []string{
		"go_goroutines",
		"go_memstats_heap_alloc_bytes",
		"go_memstats_sys_bytes",
		"go_gc_cycles_total",
		"process_start_time_seconds",
	} {
		v, ok := values[name]
		switch {
		case !ok:
			t.Errorf("%s missing from output:\n%s", name, out)
		case math.IsNaN(v) || v < 0:
			t.Errorf("%s = %v", name, v)
		case name != "go_gc_cycles_total" && v == 0:
			t.Errorf("%s = 0, want > 0", name)
		}
	}
	if !strings.Contains(out, "# TYPE go_gc_cycles_total counter\n") {
		t.Error("go_gc_cycles_total is not counter-typed")
	}
	if values["process_start_time_seconds"] < 1.7e9 {
		t.Errorf("process_start_time_seconds = %v, want a recent Unix time", values["process_start_time_seconds"])
	}
}

func BenchmarkCounterInc(b *testing.B) {
	c := NewRegistry().Counter("roost_redirects_total", "Redirects.", "kind")
	c.Inc("link")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Inc("link")
		}
	})
}

func BenchmarkHistogramObserve(b *testing.B) {
	h := NewRegistry().Histogram("roost_request_seconds", "Latency.", DefBuckets, "route")
	h.Observe(0.01, "redirect")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Observe(0.01, "redirect")
		}
	})
}

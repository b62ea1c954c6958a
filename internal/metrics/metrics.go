// Package metrics is a small registry of counters, gauges and histograms
// that it writes out in the Prometheus text exposition format (version 0.0.4)
// for the server's /metrics endpoint.
//
// It uses only the standard library. roost needs a few dozen series, so a
// few hundred lines here are cheaper to maintain than
// prometheus/client_golang and its dependencies. The hot path (Inc, Add,
// Observe on a series that already exists) takes no lock. It does a
// sync.Map load and an atomic compare-and-swap.
//
// Registration methods panic on programmer errors: a duplicate or invalid
// name, or unsorted buckets. So does passing the wrong number of label
// values.
package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	rtmetrics "runtime/metrics"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefBuckets are histogram bounds in seconds suited to HTTP request latency.
var DefBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Registry holds metric families. The zero value is not usable; call NewRegistry.
type Registry struct {
	mu       sync.RWMutex
	families map[string]*family
	taken    map[string]string // every exposed sample name -> owning family
}

// family is one metric as exposed: a HELP/TYPE header plus its samples.
type family struct {
	name, help, typ string
	write           func(w *bufio.Writer)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{families: map[string]*family{}, taken: map[string]string{}}
}

// register validates the names and adds f. suffixes are the extra
// sample-name suffixes the family emits (a histogram emits _bucket, _sum
// and _count). Reserving them stops a counter named "x_count" from
// clashing with a histogram named "x".
func (r *Registry) register(f *family, labels []string, suffixes ...string) {
	if !validName(f.name, true) {
		panic(fmt.Sprintf("metrics: invalid metric name %q", f.name))
	}
	seen := map[string]bool{}
	for _, l := range labels {
		switch {
		case !validName(l, false) || strings.HasPrefix(l, "__"):
			panic(fmt.Sprintf("metrics: %s: invalid label name %q", f.name, l))
		case f.typ == "histogram" && l == "le":
			panic(fmt.Sprintf("metrics: %s: label name \"le\" is reserved for histograms", f.name))
		case seen[l]:
			panic(fmt.Sprintf("metrics: %s: duplicate label name %q", f.name, l))
		}
		seen[l] = true
	}
	names := []string{f.name}
	for _, s := range suffixes {
		names = append(names, f.name+s)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range names {
		if owner, ok := r.taken[n]; ok {
			panic(fmt.Sprintf("metrics: %s collides with already registered metric %s", n, owner))
		}
	}
	for _, n := range names {
		r.taken[n] = f.name
	}
	r.families[f.name] = f
}

// validName reports whether s matches [a-zA-Z_:][a-zA-Z0-9_:]* for metric
// names, or the same without ':' for label names, as Prometheus requires.
func validName(s string, colon bool) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
			colon && c == ':' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			return false
		}
	}
	return true
}

// atomicFloat is a float64 that is updated with a CAS loop on its bits.
// Then concurrent adds do not need a mutex.
type atomicFloat struct{ bits atomic.Uint64 }

func (f *atomicFloat) add(v float64) {
	for {
		old := f.bits.Load()
		if f.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

func (f *atomicFloat) set(v float64) { f.bits.Store(math.Float64bits(v)) }
func (f *atomicFloat) get() float64  { return math.Float64frombits(f.bits.Load()) }

// vec maps label-value tuples to series of type T.
type vec[T any] struct {
	name   string
	labels []string
	m      sync.Map // joined label values -> *series[T]
	init   func(*T) // optional; prepares a new series
}

type series[T any] struct {
	values []string
	v      T
}

// get returns the series for lvs. It creates the series on first use.
func (v *vec[T]) get(lvs []string) *T {
	if len(lvs) != len(v.labels) {
		// Join copies, so lvs does not escape and callers' variadic slices stay on the stack.
		panic(fmt.Sprintf("metrics: %s: got %d label values [%s], want %d for labels %q",
			v.name, len(lvs), strings.Join(lvs, ", "), len(v.labels), v.labels))
	}
	// Build the key in a stack buffer: converting it for a map lookup
	// does not allocate, unlike strings.Join.
	var buf [128]byte
	if s, ok := v.m.Load(string(appendKey(buf[:0], lvs))); ok {
		return &s.(*series[T]).v
	}
	// Clone so that the caller's variadic slice does not escape on the hot path.
	s := &series[T]{values: slices.Clone(lvs)}
	if v.init != nil {
		v.init(&s.v)
	}
	actual, _ := v.m.LoadOrStore(string(appendKey(nil, lvs)), s)
	return &actual.(*series[T]).v
}

// appendKey appends the series key for lvs to b. The 0xff separator cannot
// occur in valid UTF-8, so distinct tuples of valid label values never share
// a key.
func appendKey(b []byte, lvs []string) []byte {
	for i, s := range lvs {
		if i > 0 {
			b = append(b, 0xff)
		}
		b = append(b, s...)
	}
	return b
}

// sorted returns the series ordered by label values, for stable output.
func (v *vec[T]) sorted() []*series[T] {
	var out []*series[T]
	v.m.Range(func(_, s any) bool {
		out = append(out, s.(*series[T]))
		return true
	})
	slices.SortFunc(out, func(a, b *series[T]) int { return slices.Compare(a.values, b.values) })
	return out
}

// Counter is a monotonically increasing value per label-value tuple.
type Counter struct{ vec vec[atomicFloat] }

// Counter registers a counter with the given label names.
func (r *Registry) Counter(name, help string, labels ...string) *Counter {
	c := &Counter{vec: vec[atomicFloat]{name: name, labels: slices.Clone(labels)}}
	r.register(&family{name: name, help: help, typ: "counter", write: floatWriter(&c.vec)}, labels)
	return c
}

// Add adds v, which must not be negative, to the series for labelValues.
func (c *Counter) Add(v float64, labelValues ...string) {
	if v < 0 {
		panic(fmt.Sprintf("metrics: %s: counter cannot decrease (Add(%v))", c.vec.name, v))
	}
	c.vec.get(labelValues).add(v)
}

// Inc adds 1 to the series for labelValues.
func (c *Counter) Inc(labelValues ...string) { c.vec.get(labelValues).add(1) }

// Gauge is a value that can go up and down, per label-value tuple.
type Gauge struct{ vec vec[atomicFloat] }

// Gauge registers a gauge with the given label names.
func (r *Registry) Gauge(name, help string, labels ...string) *Gauge {
	g := &Gauge{vec: vec[atomicFloat]{name: name, labels: slices.Clone(labels)}}
	r.register(&family{name: name, help: help, typ: "gauge", write: floatWriter(&g.vec)}, labels)
	return g
}

// Set sets the series for labelValues to v.
func (g *Gauge) Set(v float64, labelValues ...string) { g.vec.get(labelValues).set(v) }

// Add adds v, which may be negative, to the series for labelValues.
func (g *Gauge) Add(v float64, labelValues ...string) { g.vec.get(labelValues).add(v) }

// floatWriter writes one sample per series of a counter or gauge.
func floatWriter(v *vec[atomicFloat]) func(*bufio.Writer) {
	return func(w *bufio.Writer) {
		for _, s := range v.sorted() {
			writeSample(w, v.name, v.labels, s.values, "", "", formatFloat(s.v.get()))
		}
	}
}

// GaugeFunc registers an unlabelled gauge whose value is fn() at scrape
// time. fn must be safe for concurrent use. It may run on every scrape.
func (r *Registry) GaugeFunc(name, help string, fn func() float64) {
	r.funcFamily(name, help, "gauge", fn)
}

// CounterFunc is like GaugeFunc for a value that only ever increases and
// is tracked elsewhere, such as the runtime's GC cycle count.
func (r *Registry) CounterFunc(name, help string, fn func() float64) {
	r.funcFamily(name, help, "counter", fn)
}

func (r *Registry) funcFamily(name, help, typ string, fn func() float64) {
	write := func(w *bufio.Writer) { writeSample(w, name, nil, nil, "", "", formatFloat(fn())) }
	r.register(&family{name: name, help: help, typ: typ, write: write}, nil)
}

// Histogram counts observations into buckets per label-value tuple.
type Histogram struct {
	vec     vec[histSeries]
	buckets []float64
}

// histSeries keeps per-bucket (non-cumulative) counts; the last slot is
// +Inf. _count is derived from the bucket counts at scrape time, so it
// always equals the +Inf bucket even while observations are in flight.
type histSeries struct {
	counts []atomic.Uint64
	sum    atomicFloat
}

// Histogram registers a histogram with the given upper bounds. They must
// be strictly increasing. A trailing +Inf is implied and is dropped if
// given. nil buckets mean DefBuckets.
func (r *Registry) Histogram(name, help string, buckets []float64, labels ...string) *Histogram {
	if buckets == nil {
		buckets = DefBuckets
	}
	buckets = slices.Clone(buckets)
	if n := len(buckets); n > 0 && math.IsInf(buckets[n-1], 1) {
		buckets = buckets[:n-1]
	}
	for i, b := range buckets {
		if math.IsNaN(b) || i > 0 && b <= buckets[i-1] {
			panic(fmt.Sprintf("metrics: %s: buckets must be strictly increasing, got %v", name, buckets))
		}
	}
	h := &Histogram{buckets: buckets}
	h.vec = vec[histSeries]{name: name, labels: slices.Clone(labels),
		init: func(s *histSeries) { s.counts = make([]atomic.Uint64, len(buckets)+1) }}
	r.register(&family{name: name, help: help, typ: "histogram", write: h.write}, labels, "_bucket", "_sum", "_count")
	return h
}

// Observe records v in the series for labelValues.
func (h *Histogram) Observe(v float64, labelValues ...string) {
	s := h.vec.get(labelValues)
	// First bucket with bound >= v; NaN and values above all bounds land in +Inf.
	s.counts[sort.SearchFloat64s(h.buckets, v)].Add(1)
	s.sum.add(v)
}

func (h *Histogram) write(w *bufio.Writer) {
	name := h.vec.name
	for _, s := range h.vec.sorted() {
		var cum uint64
		for i := range s.v.counts {
			cum += s.v.counts[i].Load()
			le := "+Inf"
			if i < len(h.buckets) {
				le = formatFloat(h.buckets[i])
			}
			writeSample(w, name+"_bucket", h.vec.labels, s.values, "le", le, strconv.FormatUint(cum, 10))
		}
		writeSample(w, name+"_sum", h.vec.labels, s.values, "", "", formatFloat(s.v.sum.get()))
		writeSample(w, name+"_count", h.vec.labels, s.values, "", "", strconv.FormatUint(cum, 10))
	}
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// writeSample writes one line: name{labels="values",extra="value"} value.
func writeSample(w *bufio.Writer, name string, labels, values []string, extra, extraValue, value string) {
	w.WriteString(name)
	if len(labels) > 0 || extra != "" {
		w.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				w.WriteByte(',')
			}
			writeLabel(w, l, values[i])
		}
		if extra != "" {
			if len(labels) > 0 {
				w.WriteByte(',')
			}
			writeLabel(w, extra, extraValue)
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(value)
	w.WriteByte('\n')
}

func writeLabel(w *bufio.Writer, name, value string) {
	w.WriteString(name)
	w.WriteString(`="`)
	// Prometheus rejects the whole scrape on invalid UTF-8, so we repair it here.
	labelEscaper.WriteString(w, strings.ToValidUTF8(value, "\uFFFD"))
	w.WriteByte('"')
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// countingWriter records how many bytes reached the underlying writer, for
// the io.WriterTo contract.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// WriteTo writes every family in text format, sorted by name. It
// implements io.WriterTo.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	// Snapshot under the lock, then write without it. A GaugeFunc that
	// touches the registry then cannot deadlock, and a slow client cannot
	// block registration.
	r.mu.RLock()
	fams := make([]*family, 0, len(r.families))
	for _, f := range r.families {
		fams = append(fams, f)
	}
	r.mu.RUnlock()
	slices.SortFunc(fams, func(a, b *family) int { return strings.Compare(a.name, b.name) })

	cw := &countingWriter{w: w}
	bw := bufio.NewWriter(cw)
	for _, f := range fams {
		// bufio errors are sticky, so checking Flush once is enough.
		bw.WriteString("# HELP " + f.name + " ")
		helpEscaper.WriteString(bw, f.help)
		bw.WriteString("\n# TYPE " + f.name + " " + f.typ + "\n")
		f.write(bw)
	}
	err := bw.Flush()
	return cw.n, err
}

// ContentType is the media type of the text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Handler returns an http.Handler that serves the registry in text format.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ContentType)
		r.WriteTo(w) // a failed write means the client went away; nothing to report
	})
}

// processStart approximates the process start time: package initialisation
// runs before main.
var processStart = time.Now()

// RegisterRuntime registers the usual Go runtime and process metrics. Memory
// and GC values come from runtime/metrics. Unlike runtime.ReadMemStats,
// runtime/metrics does not stop the world on every scrape.
func (r *Registry) RegisterRuntime() {
	r.GaugeFunc("go_goroutines", "Number of goroutines that currently exist.",
		func() float64 { return float64(runtime.NumGoroutine()) })
	r.GaugeFunc("go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and still in use.",
		runtimeMetric("/memory/classes/heap/objects:bytes"))
	r.GaugeFunc("go_memstats_sys_bytes", "Number of bytes obtained from system.",
		runtimeMetric("/memory/classes/total:bytes"))
	r.CounterFunc("go_gc_cycles_total", "Number of completed GC cycles.",
		runtimeMetric("/gc/cycles/total:gc-cycles"))
	start := float64(processStart.UnixNano()) / 1e9
	r.GaugeFunc("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
		func() float64 { return start })
}

// runtimeMetric returns a func that reads one runtime/metrics value, or NaN
// if this Go version does not support it.
func runtimeMetric(name string) func() float64 {
	return func() float64 {
		s := []rtmetrics.Sample{{Name: name}}
		rtmetrics.Read(s)
		switch s[0].Value.Kind() {
		case rtmetrics.KindUint64:
			return float64(s[0].Value.Uint64())
		case rtmetrics.KindFloat64:
			return s[0].Value.Float64()
		}
		return math.NaN()
	}
}

package webhooks

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/money"
	"github.com/roost-hq/roost/internal/orders"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtures lists the files under testdata/dir, for fuzz seeds.
func fixtures(t testing.TB, dir string) [][]byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no fixtures in %s: %v", dir, err)
	}
	var out [][]byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func same(t *testing.T, got, want orders.Event) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("event differs\n got: %s\nwant: %s", g, w)
	}
}

// wantStatus checks that err answers the given HTTP status and, when
// reason is set, that the reason mentions it.
func wantStatus(t *testing.T, err error, status int, reason string) {
	t.Helper()
	if got := Status(err); got != status {
		t.Fatalf("status %d (%v), want %d", got, err, status)
	}
	if status == http.StatusOK && err != nil && !errors.Is(err, ErrIgnored) {
		t.Fatalf("a 200 error that is not ErrIgnored: %v", err)
	}
	if reason != "" && (err == nil || !strings.Contains(err.Error(), reason)) {
		t.Fatalf("error %v does not mention %q", err, reason)
	}
}

// invariants is what every parser promises about its answer, whatever the
// input: a consistent Event, or an error that answers 200 (ignored) or a
// 4xx. Fuzz tests run it on everything.
func invariants(t *testing.T, ev orders.Event, err error) {
	t.Helper()
	if err != nil {
		switch s := Status(err); {
		case s == http.StatusOK && errors.Is(err, ErrIgnored):
		case s >= 400 && s < 500:
			if err.Error() == "" {
				t.Fatalf("a %d without a reason", s)
			}
		default:
			t.Fatalf("error %v answers %d", err, s)
		}
		return
	}
	if ev.Source == "" {
		t.Fatal("no source")
	}
	known := func(c string) {
		if _, ok := money.Exponent(c); !ok {
			t.Fatalf("unknown currency %q", c)
		}
	}
	switch ev.Kind {
	case orders.Placed:
		o := ev.Order
		if o == nil || ev.Refund != nil || ev.Cancel != nil {
			t.Fatalf("kind %s with %+v", ev.Kind, ev)
		}
		if o.ExternalID == "" || o.PlacedAt.IsZero() {
			t.Fatalf("order without ID or date: %+v", o)
		}
		known(o.Currency)
		for _, l := range o.Lines {
			if l.Quantity <= 0 || l.UnitPrice < 0 || l.Discount < 0 || l.Discount > l.Quantity*l.UnitPrice {
				t.Fatalf("bad line %+v", l)
			}
		}
	case orders.Refunded:
		r := ev.Refund
		if r == nil || ev.Order != nil || ev.Cancel != nil {
			t.Fatalf("kind %s with %+v", ev.Kind, ev)
		}
		if r.ExternalID == "" || r.OrderExternalID == "" || r.Amount < 0 {
			t.Fatalf("bad refund %+v", r)
		}
		known(r.Currency)
		for _, l := range r.Lines {
			if l.Quantity <= 0 || l.Amount < 0 {
				t.Fatalf("bad refund line %+v", l)
			}
		}
	case orders.Cancelled:
		if ev.Cancel == nil || ev.Order != nil || ev.Refund != nil || ev.Cancel.OrderExternalID == "" {
			t.Fatalf("bad cancel %+v", ev)
		}
	default:
		t.Fatalf("kind %q", ev.Kind)
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 200},
		{ignored("topic %q", "x"), 200},
		{errorf(401, "bad signature"), 401},
		{errorf(422, "cannot use"), 422},
		{errors.New("boom"), 500},
	} {
		if got := Status(tc.err); got != tc.want {
			t.Errorf("Status(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	if !errors.Is(ignored("x"), ErrIgnored) {
		t.Error("ignored does not wrap ErrIgnored")
	}
}

func TestCheckContentType(t *testing.T) {
	t.Parallel()
	for ct, ok := range map[string]bool{
		"application/json":                  true,
		"application/json; charset=utf-8":   true,
		"Application/JSON":                  true,
		"":                                  false,
		"application/x-www-form-urlencoded": false,
		"text/plain":                        false,
		"application/json; charset":         false,
	} {
		h := http.Header{}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		err := CheckContentType(h)
		if (err == nil) != ok {
			t.Errorf("%q: %v", ct, err)
		}
		if err != nil && Status(err) != http.StatusUnsupportedMediaType {
			t.Errorf("%q: status %d", ct, Status(err))
		}
	}
}

func TestAmount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, cur string
		want    int64
		status  int
	}{
		{"19.99", "USD", 1999, 0},
		{"19.9", "USD", 1990, 0},
		{"20", "USD", 2000, 0},
		{"1000", "JPY", 1000, 0},
		{"1000.00", "JPY", 1000, 0}, // a store formatting yen with two decimals
		{"1000.50", "JPY", 0, 400},
		{"1.234", "KWD", 1234, 0},
		{"1.2340", "KWD", 1234, 0},
		{"1.2345", "KWD", 0, 400},
		{"195.66", "USD", 19566, 0},
		{"-1.00", "USD", 0, 400},
		{"1e3", "USD", 0, 400},
		{"", "USD", 0, 400},
		{"abc", "USD", 0, 400},
		{"1.00", "XYZ", 0, 400},
		{"99999999999999999999", "USD", 0, 400},
	} {
		got, err := amount("x", jsonDecimal(tc.in), tc.cur)
		if tc.status != 0 {
			if Status(err) != tc.status {
				t.Errorf("%s %s: %d, %v; want status %d", tc.in, tc.cur, got, err, tc.status)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s %s = %d, %v; want %d", tc.in, tc.cur, got, err, tc.want)
		}
	}
}

func TestUnitPrice(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ qty, sub, total, unit, discount int64 }{
		{2, 4500, 4050, 2250, 450},
		{3, 1000, 1000, 334, 2}, // 1000/3 rounds up; the 2 go to the discount
		{3, 10000, 9000, 3334, 1002},
		{75, 82875, 82875, 1105, 0},
		{1, 0, 0, 0, 0},
	} {
		unit, discount, err := unitPrice(0, tc.qty, tc.sub, tc.total)
		if err != nil || unit != tc.unit || discount != tc.discount {
			t.Errorf("%+v: %d, %d, %v", tc, unit, discount, err)
		}
		if err == nil && unit*tc.qty-discount != tc.total {
			t.Errorf("%+v: the line no longer sums to its total", tc)
		}
	}
	if _, _, err := unitPrice(0, 1, 100, 200); Status(err) != 400 {
		t.Errorf("total above subtotal: %v", err)
	}
	if _, _, err := unitPrice(0, 0, 100, 100); Status(err) != 400 {
		t.Errorf("zero quantity: %v", err)
	}
}

func TestClickIDFromURL(t *testing.T) {
	t.Parallel()
	const cid = "01j9z3k4m5n6p7q8r9s0t1v2w3"
	for in, want := range map[string]string{
		"/products/x?roost_cid=" + cid:                              cid,
		"/products/x?utm_source=bsky&roost_cid=" + cid + "#reviews": cid,
		"https://shop.example.com/?roost_cid=" + cid:                cid,
		"http://www.example.com?source=abc":                         "",
		"/products/x":                                               "",
		"":                                                          "",
		"/p?%zz&roost_cid=" + cid:                                   cid, // one bad pair
		"/p?roost_cid=" + cid + "%20":                               cid,
		"/p?roost_cid=<script>":                                     "",
		"/p?roost_cid=" + strings.Repeat("a", 65):                   "",
		"::not a url?roost_cid=" + cid:                              cid,
	} {
		if got := clickIDFromURL(in); got != want {
			t.Errorf("clickIDFromURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeReasons(t *testing.T) {
	t.Parallel()
	var v struct {
		Lines []struct {
			Quantity int64 `json:"quantity"`
		} `json:"line_items"`
	}
	for body, reason := range map[string]string{
		``:                                    "empty body",
		`{"line_items":[{"quantity":1}`:       "truncated",
		`{"line_items":[{"quantity":"two"}]}`: "line_items.quantity",
		`{"line_items":[{"quantity":1.5}]}`:   "an integer",
		`{"a":1} trailing`:                    "malformed JSON",
	} {
		err := decode([]byte(body), &v)
		wantStatus(t, err, 400, reason)
	}
}

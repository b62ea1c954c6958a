package links_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
)

// BenchmarkRedirectHandler measures the redirect handler alone: cache hit,
// click ID, visitor key, buffer append, 302.
func BenchmarkRedirectHandler(b *testing.B) {
	db := storetest.New(b, store.SQLite)
	s, err := links.New(context.Background(), links.Options{DB: db, Log: quiet, Recorder: links.RecorderConfig{Buffer: 1 << 20, FlushEvery: time.Hour, BatchSize: 1 << 20}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	w := workspace(b, db, "Bench")
	l, err := s.Create(context.Background(), w.ID, links.NewLink{Destination: "https://shop.example.com/deal?ref=1"})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{code}", s.Redirect)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest("GET", "/"+l.Code, nil)
		r.Header.Set("User-Agent", iphone)
		r.RemoteAddr = "203.0.113.7:1234"
		for pb.Next() {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, r)
			if rec.Code != http.StatusFound {
				b.Fatal(rec.Code)
			}
		}
	})
}

// BenchmarkRecorderInsert measures writing clicks through the recorder, in
// batches of its default size, from 5,000 visitors. cpu-ns/op is the
// processor time per click, writer included.
func BenchmarkRecorderInsert(b *testing.B) {
	for _, d := range storetest.Dialects() {
		b.Run(string(d), func(b *testing.B) {
			db := storetest.New(b, d)
			rec, err := links.NewRecorder(db, quiet, links.RecorderConfig{Buffer: 1 << 16, FlushEvery: 20 * time.Millisecond})
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			b.ResetTimer()
			cpu := processCPU()
			for i := range b.N {
				rec.Add(click("ws", "l1", fmt.Sprint(i%5000), iphone, now))
			}
			if err := rec.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

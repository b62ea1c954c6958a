package links_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
)

// writeCountryDB writes a small MaxMind-format country database, laid out
// like GeoLite2-Country: 203.0.113.0/24 in Germany.
func writeCountryDB(t *testing.T) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-Country", IncludeReservedNetworks: true, RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	_, network, _ := net.ParseCIDR("203.0.113.0/24")
	rec := mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String("DE"), "names": mmdbtype.Map{"en": mmdbtype.String("Germany")}}}
	if err := tree.Insert(network, rec); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "country.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

func TestCountryFromGeoIP(t *testing.T) {
	t.Parallel()
	db := storetest.New(t, store.SQLite)
	s, err := links.New(context.Background(), links.Options{DB: db, Log: quiet, GeoIPPath: writeCountryDB(t), Recorder: links.RecorderConfig{FlushEvery: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	w := workspace(t, db, "Acme")
	l, _ := s.Create(context.Background(), w.ID, links.NewLink{Destination: "https://shop.example.com/"})
	get(s, "GET", "/"+l.Code, "User-Agent", iphone) // from 203.0.113.7
	s.Close(context.Background())
	var cc string
	if err := db.R.QueryRow(`SELECT country FROM clicks`).Scan(&cc); err != nil || cc != "DE" {
		t.Fatalf("country %q, %v", cc, err)
	}
	if _, err := links.New(context.Background(), links.Options{DB: db, Log: quiet, GeoIPPath: "/nonexistent.mmdb"}); err == nil {
		t.Fatal("a missing GeoIP database was accepted")
	}
}

// TestConcurrentRedirects runs redirects from many goroutines (under the
// race detector in CI) and checks every one became exactly one click.
func TestConcurrentRedirects(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, err := links.New(context.Background(), links.Options{DB: db, Log: quiet, Recorder: links.RecorderConfig{Buffer: 64, BatchSize: 50, FlushEvery: time.Millisecond, SpillDir: t.TempDir()}})
		if err != nil {
			t.Fatal(err)
		}
		w := workspace(t, db, "Acme")
		l, _ := s.Create(context.Background(), w.ID, links.NewLink{Destination: "https://shop.example.com/"})
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 100 {
					if r := get(s, "GET", "/"+l.Code, "User-Agent", iphone); r.Code != 302 {
						t.Errorf("status %d", r.Code)
						return
					}
				}
			}()
		}
		wg.Wait()
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		var n, uniques int
		db.R.QueryRow(`SELECT COUNT(*), COUNT(CASE WHEN is_unique THEN 1 END) FROM clicks`).Scan(&n, &uniques)
		if n != 800 || uniques != 1 {
			t.Fatalf("%d clicks (%d unique) stored for 800 redirects from one visitor", n, uniques)
		}
	})
}

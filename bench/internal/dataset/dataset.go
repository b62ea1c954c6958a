// Package dataset loads a brand's year of Roost data into a database, for
// benchmarks of reports: a workspace with its team, brand accounts on
// Mastodon, Bluesky and X, offers with products, posts published on
// several accounts each with a tracked link, clicks on them (a fifth from
// bots and link previews, with the unique-visitor and hourly rollups the
// click writer keeps), claims of the offers' codes by followers (who
// become customers), and orders with deal and halo lines, refunds and
// cancellations.
//
// Most of it is written with multi-row inserts in large transactions,
// which is how ten million clicks load in minutes. Orders are attributed
// as ingestion would: their touches follow findTouches' rules (the click
// ID, the claim of a code and the click that brought its claimant, the
// same customer's earlier touches within the window), lines are classified
// by orders.Classify, refunds spread with orders.Split, and the revenue
// rollups are built by orders.RollUp. The last orders, with refunds (some
// before their order) and cancellations, then go through ingestion itself
// (Receive and Process), which keeps the rollups up to date from there.
// orders.Reattribute checks a sample of the loaded orders against
// ingestion's own code (see bench/reports).
package dataset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/store"
)

// Scale sizes a dataset.
type Scale struct {
	Clicks int // on the posts' links, bots included
	Claims int // of offers' codes
	Orders int // in all, Live included
	Days   int // of history, ending when the dataset is loaded
	Live   int // orders sent through ingestion at the end
}

// version changes when the data a Scale gives changes, so cached datasets
// of an older version are made again.
const version = 1

// Key names the dataset a Scale gives, for caches.
func (s Scale) Key() string {
	return fmt.Sprintf("v%d-c%d-k%d-o%d-d%d-l%d", version, s.Clicks, s.Claims, s.Orders, s.Days, s.Live)
}

// Info describes a loaded dataset.
type Info struct {
	Key       string    `json:"key"`
	Workspace string    `json:"workspace"`
	End       time.Time `json:"end"` // when the history ends (the load's start)
	Seconds   float64   `json:"seconds"`
	Rows      []Count   `json:"rows"`
}

// Count is a figure of the dataset.
type Count struct {
	What string `json:"what"`
	N    int64  `json:"n"`
}

// SecretKey is the instance key the dataset's customer hashes are made
// with: a roost serve on the dataset needs it (ROOST_SECRET_KEY) to match
// new orders to the loaded customers.
const SecretKey = "roost-benchmark-dataset-not-a-secret-0123456789"

// Keys returns the keys made from SecretKey.
func Keys() *secret.Keys {
	k, err := secret.New(SecretKey)
	if err != nil {
		panic(err)
	}
	return k
}

const infoKey = "bench.dataset"

// Find returns the dataset loaded in db, if one is, complete.
func Find(ctx context.Context, db *store.DB) (Info, bool, error) {
	var raw string
	err := db.R.QueryRowContext(ctx, `SELECT value FROM instance WHERE key = $1`, infoKey).Scan(&raw)
	if err != nil {
		var n int
		if db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM instance WHERE key = $1`, infoKey).Scan(&n) == nil && n == 0 {
			return Info{}, false, nil
		}
		return Info{}, false, err
	}
	var in Info
	if err := json.Unmarshal([]byte(raw), &in); err != nil {
		return Info{}, false, err
	}
	return in, true, nil
}

// Load loads the dataset sc gives into db, a migrated database with no
// workspace yet, telling progress to w.
func Load(ctx context.Context, db *store.DB, sc Scale, w io.Writer) (Info, error) {
	if sc.Days < 30 || sc.Clicks < 1000 || sc.Orders < 100 || sc.Claims < 10 || sc.Live < 0 || sc.Live > sc.Orders/2 {
		return Info{}, errors.New("dataset: want at least 30 days, 1000 clicks, 100 orders and 10 claims, and live orders at most half the orders")
	}
	start := time.Now()
	g := newGen(ctx, db, sc, w)
	if err := g.run(); err != nil {
		return Info{}, err
	}
	in := Info{Key: sc.Key(), Workspace: g.ws, End: at(g.end), Seconds: time.Since(start).Seconds(), Rows: g.counts}
	b, _ := json.Marshal(in)
	if _, err := db.W.ExecContext(ctx, `INSERT INTO instance (key, value) VALUES ($1, $2)`, infoKey, string(b)); err != nil {
		return in, err
	}
	return in, nil
}

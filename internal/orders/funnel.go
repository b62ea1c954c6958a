package orders

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/roost-hq/roost/internal/money"
)

// Funnel is what happened in a period, from posts to orders: copies
// published, human clicks on the workspace's links, claims, and orders
// Roost touched.
type Funnel struct {
	Posts  int64 `json:"posts"`
	Clicks int64 `json:"clicks"`
	Claims int64 `json:"claims"`
	Orders int64 `json:"orders"`
}

// Funnel counts the period's posts, clicks, claims and attributed orders.
func (s *Store) Funnel(ctx context.Context, wsID string, from, to time.Time) (Funnel, error) {
	var f Funnel
	a, b := from.UnixMicro(), to.UnixMicro()
	err := s.db.R.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM post_copies WHERE workspace_id = $1 AND status = 'published' AND published_at >= $2 AND published_at < $3),
		(SELECT COALESCE(SUM(human), 0) FROM click_counts WHERE workspace_id = $1 AND hour >= $2 AND hour < $3),
		(SELECT COUNT(*) FROM claims WHERE workspace_id = $1 AND created_at >= $2 AND created_at < $3),
		(SELECT COUNT(*) FROM orders o WHERE o.workspace_id = $1 AND o.placed_at >= $2 AND o.placed_at < $3
			AND EXISTS (SELECT 1 FROM order_touches t WHERE t.order_id = o.id))`, wsID, a, b).Scan(&f.Posts, &f.Clicks, &f.Claims, &f.Orders)
	if err != nil {
		return f, fmt.Errorf("orders: funnel: %w", err)
	}
	return f, nil
}

// activity fills each row's human clicks (posts, accounts, offers: the
// clicks on their links in the period) and claims (offers), and from them
// the conversion rate and the average order value.
func (s *Store) activity(ctx context.Context, wsID string, q Query, rows *[]Row) error {
	col := map[string]string{"post": "post_id", "account": "account_id", "offer": "offer_id"}[q.By]
	clicks, claims := map[string]int64{}, map[string]int64{}
	if col != "" {
		rs, err := s.db.R.QueryContext(ctx, `SELECT COALESCE(l.`+col+`, ''), SUM(c.human) FROM click_counts c JOIN links l ON l.id = c.link_id
			WHERE c.workspace_id = $1 AND c.hour >= $2 AND c.hour < $3 GROUP BY l.`+col, wsID, q.From.UnixMicro(), q.To.UnixMicro())
		if err != nil {
			return fmt.Errorf("orders: clicks by %s: %w", q.By, err)
		}
		for rs.Next() {
			var k string
			var n int64
			if err := rs.Scan(&k, &n); err != nil {
				rs.Close()
				return err
			}
			clicks[k] = n
		}
		rs.Close()
	}
	if q.By == "offer" {
		rs, err := s.db.R.QueryContext(ctx, `SELECT offer_id, COUNT(*) FROM claims WHERE workspace_id = $1 AND created_at >= $2 AND created_at < $3 GROUP BY offer_id`,
			wsID, q.From.UnixMicro(), q.To.UnixMicro())
		if err != nil {
			return fmt.Errorf("orders: claims by offer: %w", err)
		}
		for rs.Next() {
			var k string
			var n int64
			if err := rs.Scan(&k, &n); err != nil {
				rs.Close()
				return err
			}
			claims[k] = n
		}
		rs.Close()
	}
	// Rows that brought clicks but no revenue count too: they are the
	// funnel's leaks.
	have := map[string]bool{}
	for _, r := range *rows {
		have[r.Key] = true
	}
	for _, k := range slices.Sorted(maps.Keys(clicks)) {
		if !have[k] && k != "" {
			*rows = append(*rows, Row{Key: k})
		}
	}
	for i := range *rows {
		r := &(*rows)[i]
		r.Clicks, r.Claims = clicks[r.Key], claims[r.Key]
		if r.Clicks > 0 {
			r.Conversion = float64(int(r.Orders/float64(r.Clicks)*10000)) / 10000
		}
		if r.Orders > 0 {
			r.AOV = int64(float64(r.Total.Gross) / r.Orders)
		}
	}
	return nil
}

// WriteCSV writes a report as CSV: one row per line of the report, money
// as decimals of the reporting currency.
func (r Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	m := func(v int64) string { return money.Decimal(v, r.Currency) }
	cw.Write([]string{r.By, "key", "deal_gross", "deal_refunded", "deal_net", "halo_gross", "halo_refunded", "halo_net", "net", "orders", "clicks", "claims", "conversion", "aov", "currency", "model"})
	for _, row := range append(r.Rows, Row{Key: "", Label: "Total", Deal: r.Total.Deal, Halo: r.Total.Halo, Total: r.Total.Total, Orders: r.Total.Orders}) {
		cw.Write([]string{safeCell(row.Label), row.Key, m(row.Deal.Gross), m(row.Deal.Refunded), m(row.Deal.Net), m(row.Halo.Gross), m(row.Halo.Refunded), m(row.Halo.Net),
			m(row.Total.Net), strconv.FormatFloat(row.Orders, 'f', -1, 64), strconv.FormatInt(row.Clicks, 10), strconv.FormatInt(row.Claims, 10),
			strconv.FormatFloat(row.Conversion, 'f', -1, 64), m(row.AOV), r.Currency, string(r.Model)})
	}
	cw.Flush()
	return cw.Error()
}

// safeCell keeps a spreadsheet from reading a label as a formula.
func safeCell(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') {
		return "'" + s
	}
	return s
}

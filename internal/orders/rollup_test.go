package orders_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/posts"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
)

// checkRollups checks that reports read from the rollups equal reports
// computed from the stored touches, to the unit, for every model and
// dimension and periods that cut days in parts; and that rebuilding the
// rollups from scratch gives the very sums kept up to date so far.
func checkRollups(t *testing.T, e env) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	midnight := now.Truncate(24 * time.Hour)
	periods := [][2]time.Time{
		{now.Add(-90 * 24 * time.Hour), now.Add(time.Hour)},                // the dashboard's: parts of days at both ends
		{midnight.Add(-30 * 24 * time.Hour), midnight.Add(24 * time.Hour)}, // whole days only
		{now.Add(-9*24*time.Hour - 5*time.Hour), now.Add(-2*24*time.Hour + 3*time.Hour)},
		{midnight.Add(-3*24*time.Hour + time.Hour), midnight.Add(-3*24*time.Hour + 20*time.Hour)}, // inside one day
	}
	for _, p := range periods {
		for _, m := range orders.Models {
			for _, by := range orders.Dimensions {
				q := orders.Query{From: p[0], To: p[1], Model: m, By: by}
				got, err := e.orders.Revenue(ctx, e.ws.ID, q)
				if err != nil {
					t.Fatal(err)
				}
				want, err := e.orders.RevenueFromTouches(ctx, e.ws.ID, q)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s by %s, %s to %s:\nrollups: %+v\ntouches: %+v", m, by, p[0].Format(time.RFC3339), p[1].Format(time.RFC3339), got, want)
				}
			}
		}
	}
	before := rollupRows(t, e.db, e.ws.ID)
	if len(before) == 0 {
		t.Fatal("no rollups")
	}
	if err := e.orders.RollUp(ctx, e.ws.ID); err != nil {
		t.Fatal(err)
	}
	if after := rollupRows(t, e.db, e.ws.ID); !reflect.DeepEqual(before, after) {
		t.Fatalf("rollups kept up to date:\n%v\nrebuilt:\n%v", before, after)
	}
}

func rollupRows(t *testing.T, db *store.DB, wsID string) []string {
	t.Helper()
	rows, err := db.R.Query(`SELECT day, model, post_id, account_id, offer_id, member_id, CAST(SUM(deal_gross) AS BIGINT), CAST(SUM(deal_refunded) AS BIGINT),
		CAST(SUM(halo_gross) AS BIGINT), CAST(SUM(halo_refunded) AS BIGINT), CAST(SUM(orders) AS BIGINT)
		FROM revenue_rollups WHERE workspace_id = $1 GROUP BY day, model, post_id, account_id, offer_id, member_id ORDER BY day, model, post_id, account_id, offer_id, member_id`, wsID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var day, dg, dr, hg, hr, n int64
		var model, post, account, offer, member string
		if err := rows.Scan(&day, &model, &post, &account, &offer, &member, &dg, &dr, &hg, &hr, &n); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d %q %s %s %s %s deal %d-%d halo %d-%d orders %d", day, model, post, account, offer, member, dg, dr, hg, hr, n))
	}
	return out
}

func TestRollupsEqualTouches(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := setup(t, db)
		now := time.Now().UTC().Truncate(time.Microsecond)
		day := 24 * time.Hour
		so := social.NewStore(db, nil)
		second, err := so.CreateSandboxAccount(ctx, e.ws.ID, "", "outlet2", "")
		if err != nil {
			t.Fatal(err)
		}
		// Posts on two accounts over three weeks, each with clicks on both
		// copies' links.
		var clicks []string
		for i := range 6 {
			p, err := e.posts.Compose(ctx, e.ws.ID, posts.Author{MemberID: e.member.ID}, posts.Compose{Body: fmt.Sprint("Deal ", i),
				AccountIDs: []string{e.acct.ID, second.ID}, OfferID: e.offer.ID})
			if err != nil {
				t.Fatal(err)
			}
			for j, c := range p.Copies {
				at := now.Add(-time.Duration(21-3*i)*day - time.Duration(j)*time.Hour)
				cid := id.NewAt("", at)
				if err := links.StoreClick(context.Background(), db.W, links.Click{ID: cid, WorkspaceID: e.ws.ID, LinkID: c.LinkID, At: at, Visitor: "v"}, links.Classified{}, false); err != nil {
					t.Fatal(err)
				}
				clicks = append(clicks, cid)
			}
		}
		// Two claims, one brought by a click.
		var codes []string
		for i := range 2 {
			req := offers.ClaimRequest{Identity: social.Identity{Network: "web", AccountID: fmt.Sprint("claimant", i)}}
			if i == 0 {
				req.ClickID = clicks[3]
			}
			c, err := e.offers.Claim(ctx, e.offer, req)
			if err != nil {
				t.Fatal(err)
			}
			codes = append(codes, c.Code)
		}
		// Customers come back, so later orders carry the touches of earlier
		// ones: the models then share them differently. Odd amounts make
		// the shares round.
		lines := func(i int) []orders.Line {
			return []orders.Line{{ExternalID: "a", SKU: "XPS13", Quantity: 1, UnitPrice: 99901 + int64(i)}, {ExternalID: "b", SKU: "BAG", Quantity: 3, UnitPrice: 2503, Discount: 7},
				{ExternalID: "c", SKU: "MOUSE", Quantity: 1, UnitPrice: 1001}}
		}
		for i, cid := range clicks {
			ev := order(fmt.Sprint("o", i), now.Add(-time.Duration(20-3*(i/2))*day+time.Duration(i)*time.Hour), cid, fmt.Sprintf("c%d@example.com", i%3), lines(i)...)
			if i == 4 {
				ev.Order.Codes = []string{codes[0]}
			}
			e.receive(t, ev)
		}
		e.receive(t, order("coded", now.Add(-2*day), "", "c9@example.com", lines(20)...))
		e.receive(t, orders.Event{Source: orders.API, Kind: orders.Placed, Order: &orders.Order{ExternalID: "code2", PlacedAt: now.Add(-30 * time.Minute),
			Currency: "EUR", Rate: "1.0834", Codes: []string{codes[1]}, Lines: lines(21), Email: "c1@example.com"}})
		e.receive(t, order("nothing", now.Add(-5*day), "", "", lines(22)...))
		e.receive(t, order("nothing2", now.Add(-10*time.Minute), "", "", lines(23)...))
		// A refund that comes before its order.
		e.receive(t, orders.Event{Source: orders.API, ID: "early", Kind: orders.Refunded, Refund: &orders.Refund{ExternalID: "r0", OrderExternalID: "late", Amount: 333}})
		e.process(t)
		e.receive(t, order("late", now.Add(-4*day), clicks[9], "c1@example.com", lines(24)...))
		e.process(t)
		checkRollups(t, e)
		checkReattribute(t, e)

		// Refunds: per line, by amount (spread over the lines), twice the
		// same refund under two delivery IDs, and cancellations.
		refund := func(key, ref, order string, amount int64, rl ...orders.RefundLine) {
			e.receive(t, orders.Event{Source: orders.API, ID: key, Kind: orders.Refunded, Refund: &orders.Refund{ExternalID: ref, OrderExternalID: order, Amount: amount, Lines: rl}})
		}
		refund("k1", "r1", "o5", 0, orders.RefundLine{LineExternalID: "b", Amount: 2501})
		refund("k2", "r2", "o5", 10007)
		refund("k3", "r3", "o7", 777)
		refund("k3-again", "r3", "o7", 777)
		refund("k4", "r4", "nothing", 1234)
		refund("k5", "r5", "code2", 0, orders.RefundLine{SKU: "XPS13", Amount: 50001})
		e.receive(t, orders.Event{Source: orders.API, Kind: orders.Cancelled, Cancel: &orders.Cancel{OrderExternalID: "o5"}})
		e.receive(t, orders.Event{Source: orders.API, Kind: orders.Cancelled, Cancel: &orders.Cancel{OrderExternalID: "o8"}})
		e.process(t)
		var refunded int64
		db.R.QueryRow(`SELECT -SUM(amount) FROM ledger g JOIN orders o ON o.id = g.order_id WHERE o.external_id = 'o7' AND g.entry = 'refund'`).Scan(&refunded)
		if refunded != 777 {
			t.Fatalf("o7 refunded %d, want 777 once", refunded)
		}
		checkRollups(t, e)

		// A shorter window changes the touches of orders processed from
		// now on, and nothing before.
		if _, err := e.orders.SaveSettings(ctx, e.ws.ID, orders.Settings{Currency: "USD", WindowDays: 2}); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			e.receive(t, order(fmt.Sprint("w", i), now.Add(-time.Duration(i)*time.Hour), "", fmt.Sprintf("c%d@example.com", i), lines(30+i)...))
		}
		e.process(t)
		checkRollups(t, e)
		if _, err := e.orders.SaveSettings(ctx, e.ws.ID, orders.Settings{Currency: "USD", WindowDays: 60}); err != nil {
			t.Fatal(err)
		}
		e.receive(t, order("w9", now.Add(-time.Minute), "", "c0@example.com", lines(40)...))
		refund("k6", "r6", "w9", 999)
		e.process(t)
		checkRollups(t, e)

		// The models share these orders differently: the test would prove
		// little otherwise.
		last, _ := e.orders.Revenue(ctx, e.ws.ID, orders.Query{From: now.Add(-90 * day), To: now.Add(time.Hour), Model: orders.LastTouch, By: "post"})
		linear, _ := e.orders.Revenue(ctx, e.ws.ID, orders.Query{From: now.Add(-90 * day), To: now.Add(time.Hour), Model: orders.Linear, By: "post"})
		if reflect.DeepEqual(last.Rows, linear.Rows) || last.Total.Total != linear.Total.Total || last.Unattributed.Gross == 0 {
			t.Fatalf("last touch %+v\nlinear %+v", last, linear)
		}
	})
}

func TestRollupsPending(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := setup(t, db)
		now := time.Now().UTC()
		cid, _ := e.click(t, now.Add(-time.Hour))
		e.receive(t, order("1", now.Add(-time.Minute), cid, "a@example.com", orders.Line{SKU: "XPS13", Quantity: 1, UnitPrice: 99900}))
		e.receive(t, order("2", now.Add(-2*24*time.Hour), "", "a@example.com", orders.Line{SKU: "BAG", Quantity: 1, UnitPrice: 2500}))
		e.process(t)
		// As after the migration that brought rollups, with orders from
		// before it: reports come from touches until the rollups are built.
		if _, err := db.W.Exec(`DELETE FROM revenue_rollups`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.W.Exec(`INSERT INTO revenue_rollup_pending (workspace_id) VALUES ($1)`, e.ws.ID); err != nil {
			t.Fatal(err)
		}
		q := orders.Query{From: now.Add(-30 * 24 * time.Hour), To: now.Add(time.Minute), By: "post"}
		got, _ := e.orders.Revenue(ctx, e.ws.ID, q)
		if want, _ := e.orders.RevenueFromTouches(ctx, e.ws.ID, q); !reflect.DeepEqual(got, want) || got.Total.Total.Gross != 99900 {
			t.Fatalf("pending: %+v, want %+v", got, want)
		}
		if n, err := e.orders.RollUpPending(ctx); err != nil || n != 1 {
			t.Fatalf("built %d, %v", n, err)
		}
		if n, err := e.orders.RollUpPending(ctx); err != nil || n != 0 {
			t.Fatalf("built %d again, %v", n, err)
		}
		checkRollups(t, e)
	})
}

// checkReattribute checks that Reattribute finds for every order the
// touches and line classes its processing stored; but for orders processed
// before an earlier order of the same customer, whose touches they could
// not see then.
func checkReattribute(t *testing.T, e env) {
	t.Helper()
	ctx := context.Background()
	rows, err := e.db.R.Query(`SELECT id FROM orders o WHERE workspace_id = $1 AND NOT EXISTS (SELECT 1 FROM orders p
		WHERE p.workspace_id = o.workspace_id AND p.customer = o.customer AND p.customer <> '' AND p.placed_at <= o.placed_at AND p.created_at > o.created_at)`, e.ws.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		var oid string
		rows.Scan(&oid)
		ids = append(ids, oid)
	}
	rows.Close()
	stored := func(q, oid string) []string {
		rs, err := e.db.R.Query(q, oid)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		var out []string
		for rs.Next() {
			var a, b, c string
			rs.Scan(&a, &b, &c)
			out = append(out, a+" "+b+" "+c)
		}
		return out
	}
	touched := 0
	for _, oid := range ids {
		ts, cs, err := e.orders.Reattribute(ctx, e.ws.ID, oid)
		if err != nil {
			t.Fatal(err)
		}
		var gotT, gotL []string
		for _, x := range ts {
			gotT = append(gotT, x.Key+" "+x.How+" "+x.PostID)
		}
		for _, c := range cs {
			gotL = append(gotL, c.Kind+" "+c.How+" "+c.OfferID)
		}
		wantT := stored(`SELECT touch, how, post_id FROM order_touches WHERE order_id = $1 ORDER BY at, touch`, oid)
		wantL := stored(`SELECT kind, how, COALESCE(offer_id, '') FROM order_lines WHERE order_id = $1 ORDER BY n`, oid)
		if !reflect.DeepEqual(gotT, wantT) || !reflect.DeepEqual(gotL, wantL) {
			t.Errorf("order %s: reattributed %v %v, stored %v %v", oid, gotT, gotL, wantT, wantL)
		}
		touched += len(ts)
	}
	if touched == 0 {
		t.Fatal("no touches")
	}
}

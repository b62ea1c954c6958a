package orders_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/posts"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
	"github.com/roost-hq/roost/internal/team"
	"github.com/roost-hq/roost/internal/valid"
)

type env struct {
	db     *store.DB
	ws     team.Workspace
	member team.Member
	orders *orders.Store
	offers *offers.Store
	posts  *posts.Store
	acct   social.Account
	offer  offers.Offer
}

func setup(t *testing.T, db *store.DB) env {
	t.Helper()
	ctx := context.Background()
	w, m, err := team.New(db).CreateOwner(ctx, team.NewOwner{Workspace: storetest.Name("ws"), Email: storetest.Name("o") + "@example.com", Name: "Lionel B", Password: "long enough password"})
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := secret.New(secret.Generate())
	so := social.NewStore(db, nil)
	a, err := so.CreateSandboxAccount(ctx, w.ID, "", "outlet", "")
	if err != nil {
		t.Fatal(err)
	}
	os := offers.NewStore(db)
	o, err := os.Create(ctx, w.ID, "", offers.Input{Slug: storetest.Name("xps"), Title: "XPS 13 deal", LandingURL: "https://shop.example.com/xps",
		Currency: "USD", Products: []offers.Product{{SKU: "XPS13", Name: "XPS 13", RegularPrice: 129900, DealPrice: 99900}},
		Cap: 10, Audience: offers.Public, CodeMode: offers.Unique, Published: true})
	if err != nil {
		t.Fatal(err)
	}
	ls := links.NewStore(db)
	return env{db: db, ws: w, member: m, orders: orders.NewStore(db, keys), offers: os, posts: posts.NewStore(db, ls, os, so, "https://go.example"), acct: a, offer: o}
}

// click makes a post of the offer and a click on its link, at.
func (e env) click(t *testing.T, at time.Time) (clickID, postID string) {
	t.Helper()
	p, err := e.posts.Compose(context.Background(), e.ws.ID, posts.Author{MemberID: e.member.ID}, posts.Compose{Body: "XPS deal", AccountIDs: []string{e.acct.ID}, OfferID: e.offer.ID})
	if err != nil {
		t.Fatal(err)
	}
	clickID = id.NewAt("", at)
	if err := links.StoreClick(context.Background(), e.db.W, links.Click{ID: clickID, WorkspaceID: e.ws.ID, LinkID: p.Copies[0].LinkID, At: at, Visitor: "v"}, links.Classified{}, false); err != nil {
		t.Fatal(err)
	}
	return clickID, p.ID
}

func (e env) receive(t *testing.T, ev orders.Event) orders.Receipt {
	t.Helper()
	r, err := e.orders.Receive(context.Background(), e.ws.ID, ev)
	if err != nil {
		t.Fatalf("receive %+v: %v", ev, err)
	}
	return r
}

func (e env) process(t *testing.T) int {
	t.Helper()
	e.db.W.Exec(`UPDATE order_events SET due_at = 0 WHERE processed_at IS NULL`)
	n, err := e.orders.ProcessDue(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func order(ext string, at time.Time, click, email string, lines ...orders.Line) orders.Event {
	return orders.Event{Source: orders.API, Kind: orders.Placed, Order: &orders.Order{ExternalID: ext, PlacedAt: at, Currency: "USD", Lines: lines, ClickID: click, Email: email}}
}

func (e env) report(t *testing.T, by string, m orders.Model) orders.Report {
	t.Helper()
	r, err := e.orders.Revenue(context.Background(), e.ws.ID, orders.Query{From: time.Now().Add(-90 * 24 * time.Hour), To: time.Now().Add(time.Hour), Model: m, By: by})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func lineKinds(t *testing.T, db *store.DB, ext string) string {
	t.Helper()
	rows, err := db.R.Query(`SELECT l.sku, l.kind, l.how FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.external_id = $1 ORDER BY l.n`, ext)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var sku, kind, how string
		rows.Scan(&sku, &kind, &how)
		out = append(out, sku+"="+kind+"/"+how)
	}
	return strings.Join(out, " ")
}

func TestDealAndHaloToTheCent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		now := time.Now().UTC().Truncate(time.Microsecond)
		cid, postID := e.click(t, now.Add(-2*time.Hour))

		// The customer arrives from the post and buys the deal and a mouse.
		first := order("1001", now.Add(-time.Hour), cid, " Shopper@Example.com ",
			orders.Line{SKU: "XPS13", Quantity: 1, UnitPrice: 99900}, orders.Line{SKU: "MOUSE", Quantity: 2, UnitPrice: 1250, Discount: 1})
		r := e.receive(t, first)
		if again := e.receive(t, first); !again.Duplicate || again.EventID != r.EventID {
			t.Fatalf("the same order twice: %+v then %+v", r, again)
		}
		if n := e.process(t); n != 1 {
			t.Fatalf("processed %d events, want 1", n)
		}
		if got := lineKinds(t, db, "1001"); got != "XPS13=deal/click MOUSE=halo/click" {
			t.Fatalf("lines: %s", got)
		}
		// A later order by the same customer (no click, another email
		// spelling): halo, matched by customer.
		e.receive(t, order("1002", now.Add(-30*time.Minute), "", "shopper@example.com", orders.Line{SKU: "DOCK", Quantity: 1, UnitPrice: 19999}))
		// An order nothing touched.
		e.receive(t, order("1003", now.Add(-20*time.Minute), "", "other@example.com", orders.Line{SKU: "DOCK", Quantity: 1, UnitPrice: 19999}))
		e.process(t)
		if got := lineKinds(t, db, "1002"); got != "DOCK=halo/customer" {
			t.Fatalf("later order: %s", got)
		}
		v, err := e.orders.ByExternalID(context.Background(), e.ws.ID, orders.API, "1001")
		if err != nil || v.Explanation != "A click on a tracked link, after the post “XPS deal” on @outlet on sandbox by Lionel B. Deal 999.00 USD, halo 24.99 USD." {
			t.Fatalf("explanation: %q (%v)", v.Explanation, err)
		}
		if err := e.orders.CheckRefund(context.Background(), e.ws.ID, orders.API, orders.Refund{OrderExternalID: "1001", Amount: 200000}); err == nil {
			t.Error("CheckRefund let a refund larger than the order through")
		}
		if err := e.orders.CheckRefund(context.Background(), e.ws.ID, orders.API, orders.Refund{OrderExternalID: "nope", Amount: 1}); err == nil {
			t.Error("CheckRefund let a refund of an unknown order through")
		}
		if got := lineKinds(t, db, "1003"); got != "DOCK=none/" {
			t.Fatalf("untouched order: %s", got)
		}

		rep := e.report(t, "post", orders.LastTouch)
		if len(rep.Rows) != 1 || rep.Rows[0].Key != postID || rep.Rows[0].Label != "XPS deal" {
			t.Fatalf("rows: %+v", rep.Rows)
		}
		row := rep.Rows[0]
		if row.Deal.Gross != 99900 || row.Halo.Gross != 2499+19999 || row.Total.Net != 99900+2499+19999 || row.Orders != 2 {
			t.Fatalf("post row: %+v", row)
		}
		if rep.Unattributed.Gross != 19999 {
			t.Errorf("unattributed: %+v", rep.Unattributed)
		}

		// A refund of the mouse line, then one larger than what is left.
		e.receive(t, orders.Event{Source: orders.API, Kind: orders.Refunded, Refund: &orders.Refund{ExternalID: "r1", OrderExternalID: "1001",
			Lines: []orders.RefundLine{{SKU: "MOUSE", Quantity: 2, Amount: 2499}}}})
		big := e.receive(t, orders.Event{Source: orders.API, Kind: orders.Refunded, Refund: &orders.Refund{ExternalID: "r2", OrderExternalID: "1001", Amount: 100000}})
		e.process(t)
		var reason string
		db.R.QueryRow(`SELECT error FROM order_events WHERE id = $1`, big.EventID).Scan(&reason)
		if !strings.Contains(reason, "more than what is left") {
			t.Errorf("an oversized refund: %q", reason)
		}
		// The order is cancelled: what is left leaves the ledger.
		e.receive(t, orders.Event{Source: orders.API, Kind: orders.Cancelled, Cancel: &orders.Cancel{OrderExternalID: "1002"}})
		e.process(t)
		row = e.report(t, "post", orders.LastTouch).Rows[0]
		if row.Deal.Net != 99900 || row.Halo.Gross != 22498 || row.Halo.Refunded != 22498 || row.Halo.Net != 0 {
			t.Fatalf("after refund and cancel: %+v", row)
		}
		var ledger int64
		db.R.QueryRow(`SELECT SUM(amount) FROM ledger WHERE workspace_id = $1`, e.ws.ID).Scan(&ledger)
		if ledger != 99900+19999 {
			t.Errorf("ledger sums to %d", ledger)
		}
	})
}

func TestOutOfOrderAndCodes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := setup(t, db)
		now := time.Now().UTC()
		c, err := e.offers.Claim(ctx, e.offer, offers.ClaimRequest{Identity: social.Identity{Network: "web", AccountID: "v1"}})
		if err != nil {
			t.Fatal(err)
		}
		// The refund comes before its order: it waits, then applies.
		e.receive(t, orders.Event{Source: orders.Shopify, ID: "wh-2", Kind: orders.Refunded, Refund: &orders.Refund{ExternalID: "rf", OrderExternalID: "77", Amount: 500}})
		if n := e.process(t); n != 0 {
			t.Fatalf("a refund without its order settled: %d", n)
		}
		ev := orders.Event{Source: orders.Shopify, ID: "wh-1", Kind: orders.Placed, Order: &orders.Order{ExternalID: "77", PlacedAt: now, Currency: "USD",
			Codes: []string{strings.ToLower(c.Code)}, Lines: []orders.Line{{SKU: "OTHER", Quantity: 1, UnitPrice: 5000}, {SKU: "xps13", Quantity: 1, UnitPrice: 129900, Discount: 30000}}}}
		e.receive(t, ev)
		e.process(t)
		var waiting int
		db.R.QueryRow(`SELECT COUNT(*) FROM order_events WHERE processed_at IS NULL`).Scan(&waiting)
		if waiting != 0 {
			t.Fatalf("%d events still wait after their order came", waiting)
		}
		if got := lineKinds(t, db, "77"); got != "OTHER=halo/code xps13=deal/code" {
			t.Fatalf("lines: %s", got)
		}
		if v, _ := e.orders.ByExternalID(ctx, e.ws.ID, orders.Shopify, "77"); v.Explanation != "Code "+c.Code+". Deal 994.24 USD, halo 49.76 USD." {
			t.Errorf("explanation: %q", v.Explanation)
		}
		if cs, _ := e.offers.ClaimsFor(ctx, e.offer.ID, c.Identity); cs[0].Status != offers.Redeemed || cs[0].OrderRef != "shopify:77" {
			t.Fatalf("claim after the order: %+v", cs[0])
		}
		rep := e.report(t, "offer", orders.LastTouch)
		if len(rep.Rows) != 1 || rep.Rows[0].Label != "XPS 13 deal" || rep.Rows[0].Total.Refunded != 500 || rep.Rows[0].Total.Gross != 5000+99900 {
			t.Fatalf("by offer: %+v", rep.Rows)
		}
		// The same order again under another delivery ID changes nothing;
		// the cancellation releases the code.
		ev.ID = "wh-1-again"
		e.receive(t, ev)
		e.receive(t, orders.Event{Source: orders.Shopify, ID: "wh-3", Kind: orders.Cancelled, Cancel: &orders.Cancel{OrderExternalID: "77"}})
		e.process(t)
		var n int
		db.R.QueryRow(`SELECT COUNT(*) FROM orders WHERE workspace_id = $1`, e.ws.ID).Scan(&n)
		if n != 1 {
			t.Fatalf("%d orders", n)
		}
		if cs, _ := e.offers.ClaimsFor(ctx, e.offer.ID, c.Identity); cs[0].Status != offers.Active {
			t.Fatalf("claim after the cancellation: %+v", cs[0])
		}
	})
}

func TestCurrenciesAndBadInput(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := setup(t, db)
		now := time.Now()
		yen := order("jp-1", now, "", "", orders.Line{SKU: "A", Quantity: 3, UnitPrice: 1000})
		yen.Order.Currency = "JPY"
		_, err := e.orders.Receive(ctx, e.ws.ID, yen)
		if ve, ok := valid.As(err); !ok || !strings.Contains(ve.For("rate"), "workspace reports in USD") {
			t.Fatalf("an order in another currency without a rate: %v", err)
		}
		yen.Order.Rate = "0.0067"
		e.receive(t, yen)
		kwd := order("kw-1", now, "", "", orders.Line{SKU: "A", Quantity: 1, UnitPrice: 1234}) // 1.234 KWD
		kwd.Order.Currency, kwd.Order.Rate = "KWD", "3.25"
		e.receive(t, kwd)
		e.process(t)
		var jp, kw int64
		db.R.QueryRow(`SELECT total FROM orders WHERE external_id = 'jp-1'`).Scan(&jp)
		db.R.QueryRow(`SELECT total FROM orders WHERE external_id = 'kw-1'`).Scan(&kw)
		if jp != 2010 || kw != 401 { // 3000 JPY × 0.0067 = 20.10 USD; 1.234 KWD × 3.25 = 4.0105 → 4.01 USD
			t.Fatalf("converted totals: JPY %d, KWD %d", jp, kw)
		}
		for name, ev := range map[string]orders.Event{
			"currency":   {Source: orders.API, Kind: orders.Placed, Order: &orders.Order{ExternalID: "x", PlacedAt: now, Currency: "ZZZ", Lines: []orders.Line{{Quantity: 1}}}},
			"quantity":   order("x", now, "", "", orders.Line{SKU: "A", Quantity: -1, UnitPrice: 100}),
			"unit_price": order("x", now, "", "", orders.Line{SKU: "A", Quantity: 1_000_000, UnitPrice: 9_000_000_000_000}),
			"discount":   order("x", now, "", "", orders.Line{SKU: "A", Quantity: 1, UnitPrice: 100, Discount: 101}),
			"lines":      order("x", now, "", ""),
			"rate":       {Source: orders.API, Kind: orders.Placed, Order: &orders.Order{ExternalID: "x", PlacedAt: now, Currency: "EUR", Rate: "-1", Lines: []orders.Line{{Quantity: 1}}}},
			"amount":     {Source: orders.API, Kind: orders.Refunded, Refund: &orders.Refund{ExternalID: "r", OrderExternalID: "x"}},
		} {
			_, err := e.orders.Receive(ctx, e.ws.ID, ev)
			if ve, ok := valid.As(err); !ok || ve.For(name) == "" && !strings.Contains(err.Error(), name) {
				t.Errorf("%s: want an error on it, got %v", name, err)
			}
		}
		var n int
		db.R.QueryRow(`SELECT COUNT(*) FROM order_events`).Scan(&n)
		if n != 2 {
			t.Errorf("%d events stored, want the 2 good ones", n)
		}
	})
}

func TestModels(t *testing.T) {
	t.Parallel()
	now := time.Now()
	days := func(d ...int) []time.Time {
		var out []time.Time
		for _, x := range d {
			out = append(out, now.Add(-time.Duration(x)*24*time.Hour))
		}
		return out
	}
	for _, c := range []struct {
		m    orders.Model
		at   []time.Time
		want []int64
	}{
		{orders.LastTouch, days(9, 3, 1), []int64{0, 0, 1e6}},
		{orders.FirstTouch, days(9, 3, 1), []int64{1e6, 0, 0}},
		{orders.Linear, days(9, 3, 1), []int64{333334, 333333, 333333}},
		{orders.Position, days(9, 5, 3, 1), []int64{400000, 100000, 100000, 400000}},
		{orders.Position, days(9, 1), []int64{500000, 500000}},
		{orders.TimeDecay, days(7, 0), []int64{333333, 666667}},
	} {
		got := orders.Weights(c.m, c.at, now)
		if !equal(got, c.want) {
			t.Errorf("%s %d touches: %v, want %v", c.m, len(c.at), got, c.want)
		}
	}
	if _, err := orders.ParseModel("nope"); err == nil {
		t.Error("unknown model accepted")
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func FuzzSplit(f *testing.F) {
	f.Add(int64(100), int64(1), int64(2), int64(3))
	f.Add(int64(-7), int64(0), int64(5), int64(5))
	f.Fuzz(func(t *testing.T, amount, a, b, c int64) {
		if amount > 1e15 || amount < -1e15 || a > 1e9 || b > 1e9 || c > 1e9 {
			return
		}
		parts := orders.Split(amount, []int64{a, b, c})
		var sum int64
		for i, p := range parts {
			w := []int64{a, b, c}[i]
			if w <= 0 && p != 0 && (a > 0 || b > 0 || c > 0) {
				t.Fatalf("weight %d got %d", w, p)
			}
			sum += p
		}
		if sum != amount {
			t.Fatalf("Split(%d, %d %d %d) = %v sums to %d", amount, a, b, c, parts, sum)
		}
	})
}

// An order of the most lines a source may send is written in chunks of
// multi-row inserts, within SQLite's bound on a statement's variables, and
// a refund and a cancellation then touch every line.
func TestOrderOfManyLines(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := setup(t, db)
		now := time.Now().UTC()
		cid, _ := e.click(t, now.Add(-time.Hour))
		lines := make([]orders.Line, 1000)
		var total int64
		for i := range lines {
			sku := fmt.Sprintf("SKU-%d", i)
			if i%100 == 7 {
				sku = "XPS13"
			}
			lines[i] = orders.Line{ExternalID: fmt.Sprintf("l%d", i), SKU: sku, Name: "Item", Quantity: int64(1 + i%3), UnitPrice: int64(100 + i)}
			total += lines[i].Quantity * lines[i].UnitPrice
		}
		e.receive(t, order("big", now, cid, "big@example.com", lines...))
		if n := e.process(t); n != 1 {
			t.Fatalf("processed %d events, want 1", n)
		}
		v, err := e.orders.ByExternalID(ctx, e.ws.ID, orders.API, "big")
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Lines) != 1000 || v.Gross != total || v.Net != total || len(v.Touches) != 1 {
			t.Fatalf("%d lines, gross %d (want %d), net %d, %d touches", len(v.Lines), v.Gross, total, v.Net, len(v.Touches))
		}
		var deal int64
		for i, l := range v.Lines {
			if l.ExternalID != lines[i].ExternalID || l.SKU != lines[i].SKU || l.AmountRC != lines[i].Quantity*lines[i].UnitPrice {
				t.Fatalf("line %d: %+v, want %+v", i, l, lines[i])
			}
			want := "halo"
			if l.SKU == "XPS13" {
				want = "deal"
				deal += l.AmountRC
			}
			if l.Kind != want || l.How != orders.ByClick {
				t.Fatalf("line %d (%s): %s/%s, want %s/click", i, l.SKU, l.Kind, l.How, want)
			}
		}
		if v.Deal != deal || v.Halo != total-deal {
			t.Fatalf("deal %d, halo %d; want %d, %d", v.Deal, v.Halo, deal, total-deal)
		}
		ledger := func() (n int, sum int64) {
			t.Helper()
			if err := db.R.QueryRow(`SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM ledger WHERE order_id = $1`, v.ID).Scan(&n, &sum); err != nil {
				t.Fatal(err)
			}
			return n, sum
		}
		if n, sum := ledger(); n != 1000 || sum != total {
			t.Fatalf("ledger: %d entries summing to %d", n, sum)
		}
		// A refund of an amount is spread over every line.
		e.receive(t, orders.Event{Source: orders.API, Kind: orders.Refunded, Refund: &orders.Refund{ExternalID: "r1", OrderExternalID: "big", Amount: total / 2}})
		e.process(t)
		if n, sum := ledger(); n != 2000 || sum != total-total/2 {
			t.Fatalf("after the refund, ledger: %d entries summing to %d", n, sum)
		}
		e.receive(t, orders.Event{Source: orders.API, Kind: orders.Cancelled, Cancel: &orders.Cancel{OrderExternalID: "big"}})
		e.process(t)
		if n, sum := ledger(); n != 3000 || sum != 0 {
			t.Fatalf("after the cancellation, ledger: %d entries summing to %d", n, sum)
		}
	})
}

// Orders received and processed at once, as the API does under load: on
// SQLite their writes are committed in groups. Each is applied once, an
// order that must wait holds up no other, and the same event sent twice at
// once is stored and applied once.
func TestConcurrentIngestion(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := setup(t, db)
		now := time.Now().UTC()
		cid, _ := e.click(t, now.Add(-time.Hour))
		var codes []string
		for i := range 5 {
			c, err := e.offers.Claim(ctx, e.offer, offers.ClaimRequest{Identity: social.Identity{Network: "web", AccountID: fmt.Sprint("v", i)}})
			if err != nil {
				t.Fatal(err)
			}
			codes = append(codes, c.Code)
		}
		const n = 60
		events := make([]orders.Event, n)
		for i := range events {
			ev := order(fmt.Sprint("c", i), now, "", fmt.Sprintf("c%d@example.com", i%7), orders.Line{SKU: "XPS13", Quantity: 1, UnitPrice: 99900},
				orders.Line{SKU: "BAG", Quantity: 1, UnitPrice: 2500})
			switch {
			case i%10 == 9:
				ev.Order.ClickID = id.NewAt("", now) // not written yet: waits
			case i%3 == 0:
				ev.Order.ClickID = cid
			case i%3 == 1 && i/3 < len(codes):
				ev.Order.Codes = []string{codes[i/3]}
			}
			events[i] = ev
		}
		for _, ev := range events[:9] { // sent twice (as copies: Receive normalises an order's codes in place)
			o := *ev.Order
			o.Codes = append([]string(nil), o.Codes...)
			ev.Order = &o
			events = append(events, ev)
		}
		type outcome struct {
			r       orders.Receipt
			settled bool
			err     error
			view    *orders.View // half the calls are Ingest, which returns the order
			kept    error        // and why the event was not applied
		}
		out := make([]outcome, len(events))
		var wg sync.WaitGroup
		for i, ev := range events {
			wg.Go(func() {
				if i%2 == 1 {
					in, err := e.orders.Ingest(ctx, e.ws.ID, ev, ev.Order.ExternalID)
					out[i].r, out[i].err, out[i].view, out[i].kept = in.Receipt, err, in.Order, in.NotApplied
					out[i].settled = err == nil && in.NotApplied == nil && in.Order != nil
					return
				}
				r, err := e.orders.Receive(ctx, e.ws.ID, ev)
				if err == nil {
					out[i].settled, err = e.orders.Process(ctx, r.EventID)
				}
				out[i].r, out[i].err = r, err
			})
		}
		wg.Wait()
		for i, o := range out {
			if o.err != nil {
				t.Fatalf("event %d: %v", i, o.err)
			}
			first := i % n
			if waits := first%10 == 9; o.settled == waits {
				t.Errorf("event %d: settled %v", i, o.settled)
			} else if i%2 == 1 && waits != (orders.Expected(o.kept) && strings.Contains(o.kept.Error(), "not written yet")) {
				t.Errorf("event %d ingested: not applied because %v", i, o.kept)
			}
			if a := out[first].r; i >= n && (a.EventID != o.r.EventID || a.Duplicate == o.r.Duplicate) {
				t.Errorf("event %d sent twice: %+v and %+v", first, a, o.r)
			}
			if o.view == nil {
				continue
			}
			// The order read where its event was processed is the order
			// as read afterwards.
			if v, err := e.orders.ByExternalID(ctx, e.ws.ID, orders.API, events[i].Order.ExternalID); err != nil || !reflect.DeepEqual(*o.view, v) {
				t.Errorf("event %d: Ingest gave\n%+v\nByExternalID gives\n%+v (%v)", i, *o.view, v, err)
			}
		}
		count := func(q string) (v int64) {
			t.Helper()
			if err := db.R.QueryRow(q, e.ws.ID).Scan(&v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		if got := count(`SELECT COUNT(*) FROM order_events WHERE workspace_id = $1`); got != n {
			t.Errorf("%d events stored, want %d", got, n)
		}
		if got := count(`SELECT COUNT(*) FROM order_events WHERE workspace_id = $1 AND processed_at IS NULL AND attempts = 1 AND error LIKE '%not written yet'`); got != n/10 {
			t.Errorf("%d events wait for their click, want %d", got, n/10)
		}
		if got := count(`SELECT COUNT(*) FROM orders WHERE workspace_id = $1`); got != n-n/10 {
			t.Errorf("%d orders, want %d", got, n-n/10)
		}
		if got := count(`SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE workspace_id = $1`); got != (n-n/10)*(99900+2500) {
			t.Errorf("the ledger sums to %d", got)
		}
		if got := count(`SELECT COUNT(*) FROM claims WHERE workspace_id = $1 AND status = 'redeemed'`); got != int64(len(codes)) {
			t.Errorf("%d codes redeemed, want %d", got, len(codes))
		}
		for i := range n - n/10 {
			if i%10 == 9 {
				continue
			}
			ext := fmt.Sprint("c", i)
			want := "XPS13=none/ BAG=none/"
			if events[i].Order.ClickID != "" {
				want = "XPS13=deal/click BAG=halo/click"
			} else if len(events[i].Order.Codes) > 0 {
				want = "XPS13=deal/code BAG=halo/code"
			}
			if got := lineKinds(t, db, ext); got != want && !strings.Contains(got, "customer") {
				t.Errorf("order %s: %s, want %s", ext, got, want)
			}
		}
		checkRollups(t, e)
	})
}

func TestExpectedIsOnlyWaitsAndRejections(t *testing.T) {
	t.Parallel()
	if orders.Expected(nil) || orders.Expected(fmt.Errorf("orders: %w", context.DeadlineExceeded)) {
		t.Fatal("a fault counted as part of normal work")
	}
}

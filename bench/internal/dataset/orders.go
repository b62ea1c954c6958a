package dataset

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/store"
)

// Kinds of order.
const (
	organic = iota // nothing Roost did brought it (though its customer may have come before)
	byClick        // it carries a click ID
	byCode         // it used a claimed code (and maybe carries the claimant's click)
)

type spec struct {
	at    int64
	kind  int
	click int32 // -1: none
	claim int32 // -1: none
}

// recentCustomers is how many of the latest customers returning customers
// are drawn from: about a week of orders at full scale.
const recentCustomers = 20_000

func (g *gen) newCustomer() int {
	g.customers++
	return g.customers
}

func (g *gen) returning(fallback func() int) int {
	if len(g.recent) == 0 {
		return fallback()
	}
	return g.recent[g.r.IntN(len(g.recent))]
}

func (g *gen) email(customer int) string { return fmt.Sprintf("shopper%d@example.com", customer) }

func (g *gen) clickTouch(c int32, how string) orders.Touch {
	k := g.clicks[c]
	l := g.links[k.link]
	p := g.posts[l.post]
	t := orders.Touch{Key: "click:" + g.clickIDs[c], How: how, At: at(k.at), LinkID: l.id, PostID: p.id, AccountID: g.accounts[l.account].id, MemberID: g.members[p.member].id}
	if l.offer >= 0 {
		t.OfferID = g.offers[l.offer].id
	}
	return t
}

// writeOrders draws the orders and writes them with their lines, ledger
// and touches, attributed as ingestion would.
func (g *gen) writeOrders() error {
	bulk := g.sc.Orders - g.sc.Live
	var specs []spec
	for i, cl := range g.claims {
		if g.r.IntN(4) == 0 { // a quarter of the codes are never used
			continue
		}
		s := spec{at: cl.at + g.lognormal(4*hour, 1.3), kind: byCode, click: -1, claim: int32(i)}
		if cl.click >= 0 && g.r.IntN(2) == 0 {
			s.click = cl.click
		}
		if s.at < g.end {
			specs = append(specs, s)
		}
	}
	for i, c := range g.clicks {
		if c.use&useOrder != 0 {
			if t := c.at + g.lognormal(25*minute, 1.4); t < g.end {
				specs = append(specs, spec{at: t, kind: byClick, click: int32(i), claim: -1})
			}
		}
	}
	if len(specs) > bulk {
		g.r.Shuffle(len(specs), func(i, j int) { specs[i], specs[j] = specs[j], specs[i] })
		specs = specs[:bulk]
	}
	for len(specs) < bulk {
		specs = append(specs, spec{at: g.between(g.start, g.end), kind: organic, click: -1, claim: -1})
	}
	slices.SortFunc(specs, func(a, b spec) int { return cmp.Compare(a.at, b.at) })

	ld := newLoader(g.ctx, g.db)
	w := orderTables{
		orders: ld.table(`INSERT INTO orders (id, workspace_id, source, external_id, placed_at, version, currency, rate, click_id, customer, codes, status, total, created_at) VALUES `, 14),
		lines: ld.table(`INSERT INTO order_lines (id, order_id, workspace_id, n, external_id, sku, name, quantity, unit_price, discount, amount, amount_rc, kind, how, offer_id) VALUES `,
			15),
		ledger:  ld.table(`INSERT INTO ledger (id, workspace_id, order_id, line_id, entry, ref, amount, at) VALUES `, 8),
		touches: ld.table(`INSERT INTO order_touches (order_id, workspace_id, touch, how, at, link_id, post_id, account_id, member_id, offer_id, claim_id) VALUES `, 11),
	}
	for n, s := range specs {
		g.order(n, s, &w)
		if (n+1)%200_000 == 0 {
			fmt.Fprintf(g.w, "dataset: %d orders…\n", n+1)
		}
	}
	if err := ld.close(); err != nil {
		return err
	}
	g.count("orders (loaded)", int64(len(specs)))
	g.count("orders touched", w.touched)
	g.count("order lines", w.lines.Total)
	g.count("deal lines", w.deal)
	g.count("halo lines", w.halo)
	g.count("touches", w.touches.Total)
	g.count("refunds", w.refunds)
	g.count("cancellations", w.cancels)
	g.count("customers", int64(g.customers))
	g.say("%d orders written (%d touched, %d lines, %d refunds, %d cancellations)", len(specs), w.touched, w.lines.Total, w.refunds, w.cancels)
	return nil
}

type orderTables struct {
	orders, lines, ledger, touches *table
	touched, deal, halo            int64
	refunds, cancels               int64
}

// order writes one order: its customer, its touches by findTouches' rules,
// its lines classified by orders.Classify, its ledger.
func (g *gen) order(n int, s spec, w *orderTables) {
	placed := s.at
	source, ext := orders.Shopify, fmt.Sprint(100_001+n)
	if n%5 >= 3 {
		source, ext = orders.API, fmt.Sprintf("A-%d", n)
	}
	var cust int
	switch s.kind {
	case byCode:
		person := int(g.claims[s.claim].person)
		c, ok := g.claimant[person]
		if !ok {
			if g.r.IntN(10) < 3 {
				c = g.returning(g.newCustomer)
			} else {
				c = g.newCustomer()
			}
			g.claimant[person] = c
		}
		cust = c
	case byClick:
		if g.r.IntN(100) < 35 {
			cust = g.returning(g.newCustomer)
		} else {
			cust = g.newCustomer()
		}
	default:
		if g.r.IntN(100) < 40 {
			cust = g.returning(g.newCustomer)
		} else {
			cust = g.newCustomer()
		}
	}

	// The touches, as findTouches gathers them: the click, the claim of
	// the code (with the click that brought the claimant), then the
	// customer's earlier touches, each once, oldest first.
	from := placed - window
	in := func(t int64) bool { return t >= from && t <= placed+hour }
	var ts []orders.Touch
	seen := map[string]bool{}
	add := func(t orders.Touch) {
		if !seen[t.Key] {
			seen[t.Key] = true
			ts = append(ts, t)
		}
	}
	clickID := ""
	if s.click >= 0 {
		clickID = g.clickIDs[s.click]
		if t := g.clickTouch(s.click, orders.ByClick); in(t.At.UnixMicro()) {
			add(t)
		}
	}
	var codes []string
	if s.kind == byCode {
		cl := g.claims[s.claim]
		codes = []string{cl.code}
		if in(cl.at) {
			t := orders.Touch{Key: "claim:" + cl.id, How: orders.ByCode, At: at(cl.at), OfferID: g.offers[cl.offer].id, ClaimID: cl.id}
			if cl.click >= 0 {
				ct := g.clickTouch(cl.click, orders.ByCode)
				t.LinkID, t.PostID, t.AccountID, t.MemberID = ct.LinkID, ct.PostID, ct.AccountID, ct.MemberID
			}
			add(t)
		}
	}
	hist := g.history[cust]
	for _, t := range hist {
		if t.At.UnixMicro() >= from {
			t.How = orders.ByCustomer
			add(t)
		}
	}
	slices.SortStableFunc(ts, func(a, b orders.Touch) int { return a.At.Compare(b.At) })

	// What was bought: the offer's product (at its deal price) when the
	// customer came for an offer, and other things.
	offer := -1
	switch {
	case s.kind == byCode:
		offer = g.claims[s.claim].offer
	case s.click >= 0:
		offer = g.links[g.clicks[s.click].link].offer
	case len(ts) > 0 && g.r.IntN(4) == 0:
		for _, t := range ts {
			if i := g.offerIndex(t.OfferID); i >= 0 {
				offer = i
			}
		}
	}
	var lines []orders.Line
	storewide := offer >= 0 && len(g.offers[offer].products) == 0 && s.kind == byCode
	if offer >= 0 {
		o := g.offers[offer]
		if len(o.products) > 0 {
			j := g.r.IntN(len(o.products))
			p := g.catalog[o.products[j]]
			lines = append(lines, orders.Line{SKU: p.sku, Name: p.name, Quantity: 1, UnitPrice: o.deal[j]})
		}
	}
	extra := g.r.IntN(3)
	if len(lines) == 0 {
		extra++
	}
	for range extra {
		p := g.catalog[g.r.IntN(len(g.catalog))]
		l := orders.Line{SKU: p.sku, Name: p.name, Quantity: 1, UnitPrice: p.price}
		if g.r.IntN(6) == 0 {
			l.Quantity = 2
		}
		lines = append(lines, l)
	}
	if storewide {
		for i := range lines {
			lines[i].Discount = lines[i].Quantity * lines[i].UnitPrice * 15 / 100
		}
	}
	classes := orders.Classify(lines, ts, g.offerSKUs)

	orderID := id.NewAt("ord", at(placed))
	status := "placed"
	amounts := make([]int64, len(lines))
	lineIDs := make([]string, len(lines))
	var total int64
	for i, l := range lines {
		lines[i].ExternalID = fmt.Sprint(i + 1)
		amounts[i] = l.Quantity*l.UnitPrice - l.Discount
		lineIDs[i] = id.NewAt("oln", at(placed))
		total += amounts[i]
	}
	// Refunds (one order in twenty-five), per line or spread over the
	// lines as ingestion spreads an amount; cancellations (one in a
	// hundred) take what is left.
	left := slices.Clone(amounts)
	type entry struct {
		line       int
		kind, ref  string
		amount, at int64
	}
	var later []entry // written after the lines they are about
	refundAt := int64(0)
	if placed+day < g.end && g.r.IntN(25) == 0 {
		refundAt = min(placed+day+g.exp(5*day), g.end-1)
		ref := fmt.Sprintf("rf-%d", n)
		take := make([]int64, len(lines))
		if g.r.IntN(2) == 0 {
			j := g.r.IntN(len(lines))
			take[j] = amounts[j]
			if g.r.IntN(2) == 0 {
				take[j] = amounts[j] / 2
			}
		} else {
			take = orders.Split(total*int64(10+g.r.IntN(50))/100, left)
		}
		for i, amt := range take {
			if amt > 0 {
				later = append(later, entry{i, "refund", ref, -amt, refundAt})
				left[i] -= amt
			}
		}
		w.refunds++
	}
	cancelled := false
	if g.r.IntN(100) == 0 {
		ct := min(max(placed+g.exp(2*day), refundAt+hour), g.end-1)
		for i := range lines {
			if left[i] != 0 {
				later = append(later, entry{i, "cancel", "cancel", -left[i], ct})
			}
		}
		status, cancelled = "cancelled", true
		w.cancels++
	}
	if s.kind == byCode {
		cl := &g.claims[s.claim]
		if !cancelled {
			cl.status, cl.redeemedAt, cl.orderRef = "redeemed", placed+2_000_000, source+":"+ext
		}
	}

	w.orders.add(orderID, g.ws, source, ext, placed, placed, "USD", "", clickID, g.orders.Customer(g.ws, g.email(cust)), strings.Join(codes, " "), status, total, placed+2_000_000)
	for i, l := range lines {
		var offerID any
		if classes[i].OfferID != "" {
			offerID = classes[i].OfferID
		}
		w.lines.add(lineIDs[i], orderID, g.ws, i+1, l.ExternalID, l.SKU, l.Name, l.Quantity, l.UnitPrice, l.Discount, amounts[i], amounts[i], classes[i].Kind, classes[i].How, offerID)
		w.ledger.add(id.NewAt("led", at(placed)), g.ws, orderID, lineIDs[i], "sale", "", amounts[i], placed)
		switch classes[i].Kind {
		case "deal":
			w.deal++
		case "halo":
			w.halo++
		}
	}
	for _, e := range later {
		w.ledger.add(id.NewAt("led", at(e.at)), g.ws, orderID, lineIDs[e.line], e.kind, e.ref, e.amount, e.at)
	}
	for _, t := range ts {
		w.touches.add(orderID, g.ws, t.Key, t.How, t.At.UnixMicro(), t.LinkID, t.PostID, t.AccountID, t.MemberID, t.OfferID, t.ClaimID)
	}
	if len(ts) > 0 {
		w.touched++
	}

	// What later orders of this customer will find: the touches of this
	// one and the earlier ones, but those too old to count again.
	if len(ts) > 0 {
		merged := append(slices.Clone(hist), ts...)
		slices.SortStableFunc(merged, func(a, b orders.Touch) int { return a.At.Compare(b.At) })
		keep := map[string]bool{}
		hist = merged[:0]
		for _, t := range merged {
			if t.At.UnixMicro() >= placed-window && !keep[t.Key] {
				keep[t.Key] = true
				hist = append(hist, t)
			}
		}
		g.history[cust] = hist
	}
	if len(g.recent) < recentCustomers {
		g.recent = append(g.recent, cust)
	} else {
		g.recent[n%recentCustomers] = cust
	}
}

func (g *gen) offerIndex(offerID string) int {
	if i, ok := g.offerByID[offerID]; ok {
		return i
	}
	return -1
}

// writeClaims writes the claims (redeemed by the orders that used them),
// their codes, and the claimants as customers with their identity.
func (g *gen) writeClaims() error {
	ld := newLoader(g.ctx, g.db)
	claims := ld.table(`INSERT INTO claims (id, workspace_id, offer_id, network, account_id, handle, slot, request_key, code, click_id, status, created_at, redeemed_at, order_ref) VALUES `, 14)
	codes := ld.table(`INSERT INTO offer_codes (workspace_id, code, offer_id, claim_id) VALUES `, 4)
	customers := ld.table(`INSERT INTO customers (id, workspace_id, name, created_at) VALUES `, 4)
	identities := ld.table(`INSERT INTO customer_identities (workspace_id, network, person_id, handle, customer_id) VALUES `, 5)
	redeemed := 0
	for _, cl := range g.claims {
		o := g.offers[cl.offer]
		clickID := ""
		if cl.click >= 0 {
			clickID = g.clickIDs[cl.click]
		}
		person := fmt.Sprintf("person-%d", cl.person)
		var redeemedAt any
		if cl.status == "redeemed" {
			redeemedAt = cl.redeemedAt
			redeemed++
		}
		claims.add(cl.id, g.ws, o.id, cl.network, person, "@"+person, 1, id.Token(10), cl.code, clickID, cl.status, cl.at, redeemedAt, cl.orderRef)
		codes.add(g.ws, cl.code, o.id, cl.id)
		cus := id.NewAt("cus", at(cl.at))
		customers.add(cus, g.ws, "Person "+fmt.Sprint(cl.person), cl.at)
		identities.add(g.ws, cl.network, person, "@"+person, cus)
	}
	if err := ld.close(); err != nil {
		return err
	}
	g.count("claims", int64(len(g.claims)))
	g.count("claims redeemed", int64(redeemed))
	g.say("%d claims written (%d redeemed)", len(g.claims), redeemed)
	return nil
}

// rollUp builds the revenue rollups of what was loaded, with the code
// that builds them for workspaces whose orders predate them.
func (g *gen) rollUp() error {
	if err := g.orders.RollUp(g.ctx, g.ws); err != nil {
		return err
	}
	g.say("revenue rollups built")
	return nil
}

// live sends the last orders through ingestion, as the API does: each
// event received (committed raw), then processed, eight at a time. A tenth
// are refunded, half of those refunds arriving before their order; some
// are cancelled; some are in euros.
func (g *gen) live() error {
	if g.sc.Live == 0 {
		return nil
	}
	var active []int
	for i, cl := range g.claims {
		if cl.status == "active" {
			active = append(active, i)
		}
	}
	jobs := make([][]orders.Event, 0, g.sc.Live)
	for i := range g.sc.Live {
		placed := g.end - g.between(0, 36*hour)
		o := &orders.Order{ExternalID: fmt.Sprintf("L-%d", i), PlacedAt: at(placed), Currency: "USD"}
		offer := -1
		switch i % 6 {
		case 0, 1:
			if len(g.liveClicks) > 0 {
				c := g.liveClicks[g.r.IntN(len(g.liveClicks))]
				o.ClickID = g.clickIDs[c]
				o.PlacedAt = at(min(max(placed, g.clicks[c].at+10*minute), g.end-1))
				offer = g.links[g.clicks[c].link].offer
			}
		case 2:
			if len(active) > 0 {
				k := g.r.IntN(len(active))
				cl := g.claims[active[k]]
				active = slices.Delete(active, k, k+1)
				o.Codes = []string{cl.code}
				offer = cl.offer
			}
		}
		if g.r.IntN(2) == 0 {
			o.Email = g.email(g.returning(g.newCustomer))
		} else {
			o.Email = g.email(g.newCustomer())
		}
		if offer >= 0 && len(g.offers[offer].products) > 0 {
			of := g.offers[offer]
			j := g.r.IntN(len(of.products))
			o.Lines = append(o.Lines, orders.Line{ExternalID: "1", SKU: g.catalog[of.products[j]].sku, Name: g.catalog[of.products[j]].name, Quantity: 1, UnitPrice: of.deal[j]})
		}
		for range 1 + g.r.IntN(2) {
			p := g.catalog[g.r.IntN(len(g.catalog))]
			o.Lines = append(o.Lines, orders.Line{ExternalID: fmt.Sprint(len(o.Lines) + 1), SKU: p.sku, Name: p.name, Quantity: 1, UnitPrice: p.price})
		}
		if i%20 == 7 {
			o.Currency, o.Rate = "EUR", "1.0834"
		}
		var total int64
		for _, l := range o.Lines {
			total += l.Quantity*l.UnitPrice - l.Discount
		}
		job := []orders.Event{{Source: orders.API, ID: "live-" + o.ExternalID, Kind: orders.Placed, Order: o}}
		switch {
		case i%10 == 3: // the refund comes first
			job = append([]orders.Event{{Source: orders.API, ID: "live-rf-" + o.ExternalID, Kind: orders.Refunded,
				Refund: &orders.Refund{ExternalID: "rf", OrderExternalID: o.ExternalID, Amount: total / 3}}}, job...)
		case i%10 == 8:
			job = append(job, orders.Event{Source: orders.API, ID: "live-rf-" + o.ExternalID, Kind: orders.Refunded,
				Refund: &orders.Refund{ExternalID: "rf", OrderExternalID: o.ExternalID, Lines: []orders.RefundLine{{LineExternalID: "1", Amount: o.Lines[0].UnitPrice / 2}}}})
		}
		if i%33 == 5 {
			job = append(job, orders.Event{Source: orders.API, ID: "live-cx-" + o.ExternalID, Kind: orders.Cancelled, Cancel: &orders.Cancel{OrderExternalID: o.ExternalID}})
		}
		jobs = append(jobs, job)
	}
	work := make(chan []orders.Event)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for job := range work {
				for _, ev := range job {
					rc, err := g.orders.Receive(g.ctx, g.ws, ev)
					if err == nil {
						_, err = g.orders.Process(g.ctx, rc.EventID)
					}
					if err != nil {
						select {
						case errs <- fmt.Errorf("dataset: live event %s: %w", ev.ID, err):
						default:
						}
					}
				}
			}
		})
	}
	for _, job := range jobs {
		work <- job
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	// Whatever still waits (nothing should) is processed now.
	if _, err := g.db.W.ExecContext(g.ctx, `UPDATE order_events SET due_at = 0 WHERE processed_at IS NULL`); err != nil {
		return err
	}
	for {
		n, err := g.orders.ProcessDue(g.ctx, 500)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	var waiting, failed int64
	g.db.R.QueryRowContext(g.ctx, `SELECT COUNT(*) FROM order_events WHERE processed_at IS NULL`).Scan(&waiting)
	g.db.R.QueryRowContext(g.ctx, `SELECT COUNT(*) FROM order_events WHERE error <> ''`).Scan(&failed)
	if waiting != 0 || failed != 0 {
		return fmt.Errorf("dataset: %d live events unprocessed, %d failed", waiting, failed)
	}
	g.count("orders (through ingestion)", int64(g.sc.Live))
	g.say("%d orders sent through ingestion, with refunds and cancellations", g.sc.Live)
	return nil
}

// finish leaves the database as a running Roost would find it.
func (g *gen) finish() error {
	var err error
	if g.db.Dialect == store.SQLite {
		_, err = g.db.W.ExecContext(g.ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	} else {
		_, err = g.db.W.ExecContext(g.ctx, `VACUUM ANALYZE`) // as autovacuum would after a load
	}
	g.say("done")
	return err
}

package orders

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/money"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/store"
)

// retryLater is an event that cannot be applied yet (a refund whose order
// has not arrived, a click not yet written): it waits and is tried again.
type retryLater struct{ reason string }

func (r retryLater) Error() string { return r.reason }

// rejected is an event that can never be applied (a refund larger than
// what is left of its order): it is kept, marked with the reason, and not
// tried again.
type rejected struct{ reason string }

func (r rejected) Error() string { return r.reason }

// Retry policy for events that wait on something.
const (
	maxAttempts = 20
	firstWait   = 2 * time.Second
	maxWait     = 10 * time.Minute
)

// ProcessDue applies received events that are due, oldest first, and
// returns how many it settled. Several processes may run it at once: each
// event is applied in one transaction that first marks it processed, so
// only one of them commits its effects.
func (s *Store) ProcessDue(ctx context.Context, limit int) (int, error) {
	rows, err := s.reader().QueryContext(ctx, `SELECT id FROM order_events WHERE processed_at IS NULL AND due_at <= $1 ORDER BY due_at, id LIMIT $2`,
		time.Now().UnixMicro(), limit)
	if err != nil {
		return 0, fmt.Errorf("orders: due events: %w", err)
	}
	var ids []string
	for rows.Next() {
		var eid string
		if err := rows.Scan(&eid); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, eid)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, eid := range ids {
		done, err := s.Process(ctx, eid)
		if err != nil {
			return n, err
		}
		if done {
			n++
		}
	}
	return n, nil
}

// Process applies one received event. It reports whether the event is
// settled (applied, or rejected for good); one that must wait is
// rescheduled. On SQLite, concurrent calls commit together (see group).
func (s *Store) Process(ctx context.Context, eventID string) (bool, error) {
	out, err := s.processOnce(ctx, eventID, nil)
	return s.settle(ctx, eventID, out, err, nil)
}

// Ingested is what Ingest did: the event as received, and the order it
// concerns.
type Ingested struct {
	Receipt
	Order *View // the order as it stands after the event; nil if there is none
	// NotApplied is why the event was not applied, if it was not: it waits
	// for something (and is tried again later), it is rejected for good,
	// or an error stopped it (and the processor takes it up again).
	NotApplied error
}

// Expected reports whether err, an Ingested.NotApplied, is part of normal
// work (the event waits for something, or is rejected for good and marked
// so) rather than a fault that stopped it.
func Expected(err error) bool {
	var wait retryLater
	var rej rejected
	return errors.As(err, &wait) || errors.As(err, &rej)
}

// Ingest receives an event and processes it at once, as Receive then
// Process do, and returns the order source's externalID names in wsID as
// it stands after. An error means the event was not stored; once it is
// stored, a failure to apply it is only reported (NotApplied).
//
// On SQLite the event is stored, applied, and the order read back in one
// transaction, shared with concurrent calls (see group): the answer waits
// for the commit, so the event is stored before it is acknowledged, and
// should applying it fail, it is stored on its own and applied again
// apart, as without groups. Reading the order in the transaction that
// wrote it spares a read from the pool just after a commit, which on
// SQLite starts from an empty page cache.
func (s *Store) Ingest(ctx context.Context, wsID string, ev Event, externalID string) (Ingested, error) {
	rec, err := s.toReceive(ctx, wsID, ev)
	if err != nil {
		return Ingested{}, err
	}
	want := &viewWant{wsID: wsID, source: ev.Source, externalID: externalID}
	var in Ingested
	if s.group != nil {
		j := s.group.ingest(ctx, rec, want)
		if !j.received {
			return Ingested{}, j.err
		}
		in.Receipt = j.receipt
		_, err = s.settle(ctx, j.receipt.EventID, j.out, j.err, want)
		in.NotApplied = cmp.Or(j.err, err)
	} else {
		if in.Receipt, err = s.insertEvent(ctx, s.writer(), rec); err != nil {
			return Ingested{}, err
		}
		out, perr := s.processOnce(ctx, in.EventID, want)
		_, err = s.settle(ctx, in.EventID, out, perr, want)
		in.NotApplied = cmp.Or(perr, err)
	}
	if want.done {
		if want.found {
			in.Order = &want.v
		}
		return in, nil
	}
	v, err := s.ByExternalID(ctx, wsID, ev.Source, externalID)
	switch {
	case err == nil:
		in.Order = &v
	case !errors.Is(err, store.ErrNotFound) && in.NotApplied == nil:
		in.NotApplied = err
	}
	return in, nil
}

// viewWant is an order to read in the transaction that processes an
// event; done once it is read there and the transaction committed.
type viewWant struct {
	wsID, source, externalID string
	v                        View
	found, done              bool
}

// readIn reads the order wanted (if any) in the transaction of q.
func (w *viewWant) readIn(ctx context.Context, s *Store, q querier) error {
	if w == nil {
		return nil
	}
	v, err := s.viewWhere(context.WithoutCancel(ctx), q, byExternalID, w.wsID, w.source, w.externalID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	w.v, w.found, w.done = v, err == nil, true
	return nil
}

// processOnce marks an event processed and applies it in a transaction
// (on SQLite, a group's): err is why it could not.
func (s *Store) processOnce(ctx context.Context, eventID string, want *viewWant) (out outcome, err error) {
	if s.group != nil {
		return s.group.process(ctx, eventID, want)
	}
	s.stmts.prepareWanted(ctx) // before the transaction holds the writer
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.processIn(ctx, tx, eventID, want)
		return err
	})
	return out, err
}

// settle finishes processing an event after its transaction: err is its
// error. Events that wait for the order are applied now; an event that
// must wait is rescheduled, one that is rejected marked so.
func (s *Store) settle(ctx context.Context, eventID string, out outcome, err error, want *viewWant) (bool, error) {
	if err != nil && want != nil {
		want.done = false // read in a transaction that did not commit
	}
	var wait retryLater
	var rej rejected
	switch {
	case err == nil:
		// Refunds and cancellations that came before their order apply
		// now rather than at their next try. On SQLite, whether any
		// waited is known from the transaction: no event can be stored
		// while it holds the writer. On PostgreSQL one may have been
		// stored (and failed to find the order) since, so look.
		if out.applied.Kind == Placed && (out.waiting || s.db.Dialect != store.SQLite) {
			return true, s.processWaiting(ctx, out.wsID, out.applied.Source, out.applied.Order.ExternalID)
		}
		return true, nil
	case errors.As(err, &rej):
		_, err := s.db.W.ExecContext(ctx, `UPDATE order_events SET processed_at = $1, error = $2, attempts = attempts + 1 WHERE id = $3 AND processed_at IS NULL`,
			time.Now().UnixMicro(), rej.reason, eventID)
		return true, err
	case errors.As(err, &wait):
		var attempts int
		if err := s.db.W.QueryRowContext(ctx, `UPDATE order_events SET attempts = attempts + 1, error = $1 WHERE id = $2 RETURNING attempts`,
			wait.reason, eventID).Scan(&attempts); err != nil {
			return false, err
		}
		if attempts >= maxAttempts {
			_, err := s.db.W.ExecContext(ctx, `UPDATE order_events SET processed_at = $1, error = $2 WHERE id = $3 AND processed_at IS NULL`,
				time.Now().UnixMicro(), "gave up: "+wait.reason, eventID)
			return true, err
		}
		due := time.Now().Add(min(firstWait<<min(attempts, 16), maxWait))
		_, err := s.db.W.ExecContext(ctx, `UPDATE order_events SET due_at = $1 WHERE id = $2`, due.UnixMicro(), eventID)
		return false, err
	}
	return false, fmt.Errorf("orders: process %s: %w", eventID, err)
}

// outcome is what processing an event did.
type outcome struct {
	applied stored // the event applied: zero if another process settled it
	wsID    string
	waiting bool // events about the order applied wait for it
}

// processIn marks an event processed and applies it, in tx, with its
// rollups, and reads the order wanted (if any).
func (s *Store) processIn(ctx context.Context, tx *sql.Tx, eventID string, want *viewWant) (outcome, error) {
	q := s.inTx(tx).keepRollups()
	out, err := s.processWith(ctx, q, eventID)
	if err == nil {
		err = want.readIn(ctx, s, q)
	}
	if err != nil {
		return out, err
	}
	return out, s.writeRollups(ctx, q)
}

// processWith marks an event processed and applies it, in the
// transaction of q, adding to the rollups q keeps.
func (s *Store) processWith(ctx context.Context, q querier, eventID string) (outcome, error) {
	// The transaction ends if ctx does (database/sql rolls it back before
	// its next statement); its statements, all short, are not interrupted
	// midway, which spares the driver a watcher per statement.
	ctx = context.WithoutCancel(ctx)
	var out outcome
	var payload string
	var currency, existing sql.NullString
	var windowDays sql.NullInt64
	now := time.Now().UnixMicro()
	// Marking the event processed comes first and also reads what
	// applying it needs: the workspace's settings; for an order whether
	// it is recorded already, and whether refunds or cancellations of it
	// wait for it.
	err := q.QueryRowContext(ctx, `UPDATE order_events SET processed_at = $1, error = '' WHERE id = $2 AND processed_at IS NULL
		RETURNING workspace_id, payload,
		(SELECT currency FROM order_settings s WHERE s.workspace_id = order_events.workspace_id),
		(SELECT window_days FROM order_settings s WHERE s.workspace_id = order_events.workspace_id),
		CASE WHEN kind = 'order' THEN (SELECT id FROM orders o WHERE o.workspace_id = order_events.workspace_id AND o.source = order_events.source
			AND o.external_id = order_events.order_ref) END,
		kind = 'order' AND EXISTS (SELECT 1 FROM order_events w WHERE w.workspace_id = order_events.workspace_id AND w.source = order_events.source
			AND w.order_ref = order_events.order_ref AND w.processed_at IS NULL AND w.kind <> 'order')`,
		now, eventID).Scan(&out.wsID, &payload, &currency, &windowDays, &existing, &out.waiting)
	if errors.Is(err, sql.ErrNoRows) {
		return outcome{}, nil // another process settled it
	}
	if err != nil {
		return outcome{}, err
	}
	if err := json.Unmarshal([]byte(payload), &out.applied); err != nil {
		return outcome{}, rejected{"the stored event is unreadable: " + err.Error()}
	}
	st := DefaultSettings
	if currency.Valid {
		st = Settings{Currency: currency.String, WindowDays: int(windowDays.Int64)}
	}
	return out, s.apply(ctx, q, out.wsID, out.applied, st, existing.String)
}

func (s *Store) processWaiting(ctx context.Context, wsID, source, orderRef string) error {
	rows, err := s.reader().QueryContext(ctx, `SELECT id FROM order_events WHERE workspace_id = $1 AND source = $2 AND order_ref = $3
		AND processed_at IS NULL AND kind <> 'order' ORDER BY received_at`, wsID, source, orderRef)
	if err != nil {
		return err
	}
	var ids []string
	for rows.Next() {
		var eid string
		if err := rows.Scan(&eid); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, eid)
	}
	rows.Close()
	for _, eid := range ids {
		if _, err := s.Process(ctx, eid); err != nil {
			return err
		}
	}
	return rows.Err()
}

// apply applies an event in the transaction q: st are the workspace's
// settings and, for an order, existing is the ID under which it is
// recorded already ("" if it is not).
func (s *Store) apply(ctx context.Context, q querier, wsID string, ev stored, st Settings, existing string) error {
	switch ev.Kind {
	case Placed:
		return s.place(ctx, q, wsID, ev, st, existing)
	case Refunded:
		return s.refund(ctx, q, wsID, ev.Source, *ev.Refund, st)
	case Cancelled:
		return s.cancel(ctx, q, wsID, ev.Source, *ev.Cancel)
	}
	return rejected{"unknown event kind " + string(ev.Kind)}
}

// converter turns amounts in the order's currency into the workspace's,
// exactly, rounding half away from zero once per amount.
type converter struct {
	rate *big.Rat // reporting units per order unit, scaled by the exponents
}

func newConverter(from, to, rate string) (converter, error) {
	if from == to {
		return converter{}, nil
	}
	r, err := parseRate(rate)
	if err != nil {
		return converter{}, err
	}
	ef, _ := money.Exponent(from)
	et, _ := money.Exponent(to)
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(et-ef))), nil))
	if et >= ef {
		r.Mul(r, scale)
	} else {
		r.Quo(r, scale)
	}
	return converter{rate: r}, nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func (c converter) convert(minor int64) int64 {
	if c.rate == nil {
		return minor
	}
	v := new(big.Rat).Mul(new(big.Rat).SetInt64(minor), c.rate)
	// Round half away from zero.
	num, den := v.Num(), v.Denom()
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	if new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2)).Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q.Int64()
}

// place records a paid order, its lines and sales, what touched it, and
// redeems the codes it used. A version of an order already recorded
// changes nothing: amounts, once in the ledger, change only by refunds.
func (s *Store) place(ctx context.Context, q querier, wsID string, ev stored, st Settings, existing string) error {
	o := ev.Order
	if existing != "" {
		_, err := q.ExecContext(ctx, `UPDATE orders SET version = $1 WHERE id = $2 AND version < $1`, o.UpdatedAt.UnixMicro(), existing)
		return err
	}
	conv, err := newConverter(o.Currency, st.Currency, o.Rate)
	if err != nil {
		return rejected{fmt.Sprintf("the order is in %s, the workspace reports in %s: %v", o.Currency, st.Currency, err)}
	}
	orderID := id.New("ord")
	placed := o.PlacedAt.UTC()
	lines := make([]lineRow, len(o.Lines))
	var total int64
	for i, l := range o.Lines {
		amount := l.Quantity*l.UnitPrice - l.Discount
		lines[i] = lineRow{Line: l, id: id.New("oln"), amount: amount, amountRC: conv.convert(amount), kind: "none"}
		total += lines[i].amountRC
	}
	touches, err := findTouches(ctx, q, wsID, orderID, o, ev.Customer, placed, time.Duration(st.WindowDays)*24*time.Hour)
	if err != nil {
		return err
	}
	if o.ClickID != "" && !touches.clickFound && time.Since(placed) < 2*time.Minute {
		// The click may still be in a node's buffer (written within a
		// second or two): wait for it rather than lose the attribution.
		return retryLater{"the order's click " + o.ClickID + " is not written yet"}
	}
	if err := s.classify(ctx, q, lines, touches.list); err != nil {
		return err
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO orders (id, workspace_id, source, external_id, placed_at, version, currency, rate, click_id, customer, codes, status, total, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'placed', $12, $13)`,
		orderID, wsID, ev.Source, o.ExternalID, placed.UnixMicro(), o.UpdatedAt.UnixMicro(), o.Currency, strings.TrimSpace(o.Rate), o.ClickID, ev.Customer,
		strings.Join(o.Codes, " "), total, time.Now().UnixMicro()); err != nil {
		return fmt.Errorf("orders: insert order: %w", err)
	}
	if err := s.insertRows(ctx, q, `INSERT INTO order_lines (id, order_id, workspace_id, n, external_id, sku, name, quantity, unit_price, discount, amount, amount_rc, kind, how, offer_id) VALUES `, "",
		15, len(lines), func(i int, args []any) []any {
			l := lines[i]
			return append(args, l.id, orderID, wsID, i+1, l.ExternalID, l.SKU, l.Name, l.Quantity, l.UnitPrice, l.Discount, l.amount, l.amountRC, l.kind, l.how, store.Null(l.offerID))
		}, nil); err != nil {
		return fmt.Errorf("orders: insert lines: %w", err)
	}
	sales := make([]entry, len(lines))
	for i, l := range lines {
		sales[i] = entry{lineID: l.id, amount: l.amountRC}
	}
	if _, err := s.ledger(ctx, q, wsID, orderID, "sale", "", placed, sales); err != nil {
		return err
	}
	if err := s.insertRows(ctx, q, `INSERT INTO order_touches (order_id, workspace_id, touch, how, at, link_id, post_id, account_id, member_id, offer_id, claim_id) VALUES `, "",
		11, len(touches.list), func(i int, args []any) []any {
			t := touches.list[i]
			return append(args, orderID, wsID, t.Key, t.How, t.At.UnixMicro(), t.LinkID, t.PostID, t.AccountID, t.MemberID, t.OfferID, t.ClaimID)
		}, nil); err != nil {
		return fmt.Errorf("orders: insert touches: %w", err)
	}
	ref := ev.Source + ":" + o.ExternalID
	for _, code := range o.Codes {
		if _, err := offers.RedeemIn(ctx, q, wsID, code, ref); err != nil && !isRefusal(err) && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return s.rollUpOrder(ctx, q, wsID, orderID, placed, touches.list, lines)
}

func isRefusal(err error) bool {
	var r *offers.Refusal
	return errors.As(err, &r)
}

type lineRow struct {
	Line
	id               string
	amount, amountRC int64
	kind, how        string
	offerID          string
}

// entry is a ledger entry of an order line.
type entry struct {
	lineID string
	amount int64
}

// ledger writes entries of one kind (sale, refund or cancel) and ref; an
// entry written already is not written again. For refunds and
// cancellations it returns the lines whose entries it wrote.
func (s *Store) ledger(ctx context.Context, q store.Querier, wsID, orderID, kind, ref string, at time.Time, entries []entry) (map[string]bool, error) {
	var written map[string]bool
	var scan func(*sql.Rows) error
	tail := ` ON CONFLICT (line_id, entry, ref) DO NOTHING`
	if kind != "sale" { // a sale is a new line's first entry
		written = map[string]bool{}
		tail += ` RETURNING line_id`
		scan = func(rows *sql.Rows) error {
			var lineID string
			err := rows.Scan(&lineID)
			written[lineID] = true
			return err
		}
	}
	err := s.insertRows(ctx, q, `INSERT INTO ledger (id, workspace_id, order_id, line_id, entry, ref, amount, at) VALUES `, tail,
		8, len(entries), func(i int, args []any) []any {
			return append(args, id.New("led"), wsID, orderID, entries[i].lineID, kind, ref, entries[i].amount, at.UnixMicro())
		}, scan)
	if err != nil {
		return nil, fmt.Errorf("orders: ledger: %w", err)
	}
	return written, nil
}

// rollUpEntries adds to the rollups the refunds or cancellation just
// written to the order's ledger: entries, of which written went in.
func (s *Store) rollUpEntries(ctx context.Context, q querier, wsID string, o openOrder, entries []entry, written map[string]bool) error {
	var lines []refundedLine
	for _, e := range entries {
		if !written[e.lineID] {
			continue
		}
		for _, l := range o.lines {
			if l.id == e.lineID {
				before := l.amountRC - l.left
				lines = append(lines, refundedLine{kind: l.kind, gross: l.amountRC, before: before, after: before - e.amount})
			}
		}
	}
	return s.rollUpRefund(ctx, q, wsID, o.id, o.placed, lines)
}

// openLine is an order line and what is left of it to refund.
type openLine struct {
	id, externalID, sku, kind string
	quantity                  int64
	amountRC, left            int64
}

// openOrder finds and locks the order an event is about, with its
// currency and rate, and reads what is left of each of its lines.
func (s *Store) openOrder(ctx context.Context, q querier, wsID, source, externalID string) (o openOrder, err error) {
	err = q.QueryRowContext(ctx, `SELECT id, status, currency, rate, placed_at FROM orders WHERE workspace_id = $1 AND source = $2 AND external_id = $3`+s.db.ForUpdate(),
		wsID, source, externalID).Scan(&o.id, &o.status, &o.currency, &o.rate, store.T(&o.placed))
	if errors.Is(err, sql.ErrNoRows) {
		return o, retryLater{"order " + externalID + " has not arrived yet"}
	}
	if err != nil {
		return o, err
	}
	rows, err := q.QueryContext(ctx, `SELECT l.id, l.external_id, l.sku, l.kind, l.quantity, l.amount_rc, COALESCE(SUM(g.amount), 0)
		FROM order_lines l LEFT JOIN ledger g ON g.line_id = l.id WHERE l.order_id = $1 GROUP BY l.id, l.external_id, l.sku, l.kind, l.quantity, l.amount_rc, l.n ORDER BY l.n`, o.id)
	if err != nil {
		return o, err
	}
	defer rows.Close()
	for rows.Next() {
		var l openLine
		if err := rows.Scan(&l.id, &l.externalID, &l.sku, &l.kind, &l.quantity, &l.amountRC, &l.left); err != nil {
			return o, err
		}
		o.lines = append(o.lines, l)
	}
	return o, rows.Err()
}

type openOrder struct {
	id, status     string
	currency, rate string
	placed         time.Time
	lines          []openLine
}

// refund writes a refund into the ledger: per line where the store named
// the lines, else spread over the lines in proportion to what is left of
// each. A refund larger than what is left is rejected whole.
func (s *Store) refund(ctx context.Context, q querier, wsID, source string, r Refund, st Settings) error {
	o, err := s.openOrder(ctx, q, wsID, source, r.OrderExternalID)
	if err != nil {
		return err
	}
	orderID, lines, cur := o.id, o.lines, o.currency
	if r.Currency != "" && r.Currency != cur {
		return rejected{fmt.Sprintf("the refund is in %s but order %s is in %s", r.Currency, r.OrderExternalID, cur)}
	}
	conv, err := newConverter(cur, st.Currency, o.rate)
	if err != nil {
		return rejected{err.Error()}
	}
	take := map[string]int64{} // line ID → amount refunded now, reporting currency
	if len(r.Lines) > 0 {
		for _, rl := range r.Lines {
			i := findLine(lines, rl)
			if i < 0 {
				return rejected{fmt.Sprintf("order %s has no line %s", r.OrderExternalID, firstNonEmpty(rl.LineExternalID, rl.SKU))}
			}
			take[lines[i].id] += conv.convert(rl.Amount)
		}
	} else {
		var left int64
		for _, l := range lines {
			left += l.left
		}
		amount := conv.convert(r.Amount)
		if amount > left {
			return rejected{fmt.Sprintf("the refund (%s) is more than what is left of order %s (%s)", money.Format(amount, st.Currency), r.OrderExternalID, money.Format(left, st.Currency))}
		}
		weights := make([]int64, len(lines))
		for i, l := range lines {
			weights[i] = l.left
		}
		for i, part := range Split(amount, weights) {
			if part > 0 {
				take[lines[i].id] += part
			}
		}
	}
	at := r.At
	if at.IsZero() {
		at = time.Now()
	}
	var entries []entry
	for _, l := range lines {
		amt, ok := take[l.id]
		if !ok {
			continue
		}
		if amt > l.left {
			return rejected{fmt.Sprintf("the refund of line %s (%s) is more than what is left of it (%s)", firstNonEmpty(l.externalID, l.sku), money.Format(amt, st.Currency), money.Format(l.left, st.Currency))}
		}
		entries = append(entries, entry{lineID: l.id, amount: -amt})
	}
	written, err := s.ledger(ctx, q, wsID, orderID, "refund", r.ExternalID, at, entries)
	if err != nil {
		return err
	}
	return s.rollUpEntries(ctx, q, wsID, o, entries, written)
}

func findLine(lines []openLine, rl RefundLine) int {
	for i, l := range lines {
		if rl.LineExternalID != "" && l.externalID == rl.LineExternalID {
			return i
		}
	}
	if rl.LineExternalID == "" {
		for i, l := range lines {
			if rl.SKU != "" && l.sku == rl.SKU && l.left > 0 {
				return i
			}
		}
	}
	return -1
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// cancel voids an order: what is left of each line leaves the ledger, and
// the codes it used are released.
func (s *Store) cancel(ctx context.Context, q querier, wsID, source string, c Cancel) error {
	o, err := s.openOrder(ctx, q, wsID, source, c.OrderExternalID)
	if err != nil || o.status == "cancelled" {
		return err
	}
	at := c.At
	if at.IsZero() {
		at = time.Now()
	}
	var entries []entry
	for _, l := range o.lines {
		if l.left != 0 {
			entries = append(entries, entry{lineID: l.id, amount: -l.left})
		}
	}
	written, err := s.ledger(ctx, q, wsID, o.id, "cancel", "cancel", at, entries)
	if err != nil {
		return err
	}
	var codes string
	if err := q.QueryRowContext(ctx, `UPDATE orders SET status = 'cancelled' WHERE id = $1 RETURNING codes`, o.id).Scan(&codes); err != nil {
		return err
	}
	for _, code := range strings.Fields(codes) {
		if _, err := offers.ReleaseIn(ctx, q, wsID, code, source+":"+c.OrderExternalID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return s.rollUpEntries(ctx, q, wsID, o, entries, written)
}

// Split divides amount in proportion to weights, to the unit: the parts
// add up to amount exactly (largest remainders get the leftover units).
// With no positive weight, everything goes to the first part.
func Split(amount int64, weights []int64) []int64 {
	parts := make([]int64, len(weights))
	if len(weights) == 0 {
		return parts
	}
	var sum int64
	for _, w := range weights {
		if w > 0 {
			sum += w
		}
	}
	if sum == 0 {
		parts[0] = amount
		return parts
	}
	type rem struct {
		i int
		r *big.Int
	}
	rems := make([]rem, 0, len(weights))
	var given int64
	bs := big.NewInt(sum)
	for i, w := range weights {
		if w <= 0 {
			continue
		}
		q, r := new(big.Int).QuoRem(new(big.Int).Mul(big.NewInt(amount), big.NewInt(w)), bs, new(big.Int))
		parts[i] = q.Int64()
		given += parts[i]
		rems = append(rems, rem{i, r.Abs(r)})
	}
	left := amount - given
	step := int64(1)
	if left < 0 {
		step = -1
	}
	for left != 0 {
		best := 0
		for j := range rems {
			if rems[j].r.Cmp(rems[best].r) > 0 {
				best = j
			}
		}
		parts[rems[best].i] += step
		rems[best].r = big.NewInt(-1)
		left -= step
	}
	return parts
}

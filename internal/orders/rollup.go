package orders

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/roost-hq/roost/internal/store"
)

// Rollups keep what revenue reports add up, summed per workspace, UTC day
// (the day the order was placed), model and what is credited (post,
// account, offer, member), so a report of a month reads a few thousand
// rows instead of every order, line, ledger entry and touch of the month.
//
// They are written in the transaction that applies each order, refund and
// cancellation, from the same touches and the same arithmetic as the
// computation from touches (modelCredits), so they never lag and never
// count twice: an event applied is in them, an event rolled back is not.
// Every model is rolled up, so switching models reads no more than the
// default does. An order whose touches all credit the same post, account,
// offer and member (most orders: one click, one code) gives every model
// the same credit; it is kept once, under the model "" (every model). An
// order nothing touched is kept under "-", its money in the halo columns.
//
// Refunds count against the day their order was placed. A refund's
// credit is the difference it makes to the split of each line's refunded
// total: the shares of a total are not the sums of the shares of its
// parts (units left over by rounding go to the largest remainders), and
// the rollups must equal, to the unit, what the computation from touches
// gives.
//
// The attribution window is applied once, when an order's touches are
// found and stored; reports, with rollups or without, weigh the stored
// touches. Changing the window therefore changes the touches of orders
// processed afterwards, in both the same way, and leaves no rollup wrong.
//
// On PostgreSQL, where transactions run side by side, each order's credit
// goes to one of rollupShards copies of its rows (chosen by the order's
// ID): a row is locked from the write until the commit, and without
// copies every order of a busy post, or every order nothing touched, would
// wait for the one before it to commit. Reports add the copies up.
//
// Workspaces that had orders before rollups existed are listed in
// revenue_rollup_pending; their reports are computed from touches until
// RollUpPending has built their rollups.

// touchKey is what a touch credits.
type touchKey struct{ post, account, offer, member string }

func keyOf(t Touch) touchKey { return touchKey{t.PostID, t.AccountID, t.OfferID, t.MemberID} }

// credit is revenue credited, in minor units of the reporting currency,
// and orders credited, in millionths of an order.
type credit struct {
	dealGross, dealRefunded int64
	haloGross, haloRefunded int64
	orders                  int64
}

func (c *credit) plus(d credit) {
	c.dealGross += d.dealGross
	c.dealRefunded += d.dealRefunded
	c.haloGross += d.haloGross
	c.haloRefunded += d.haloRefunded
	c.orders += d.orders
}

func (c credit) minus(d credit) credit {
	return credit{c.dealGross - d.dealGross, c.dealRefunded - d.dealRefunded, c.haloGross - d.haloGross, c.haloRefunded - d.haloRefunded, c.orders - d.orders}
}

func (c credit) row(key string) Row {
	r := Row{Key: key}
	r.Deal.add(c.dealGross, c.dealRefunded)
	r.Halo.add(c.haloGross, c.haloRefunded)
	r.Total.add(c.dealGross+c.haloGross, c.dealRefunded+c.haloRefunded)
	r.Orders = math.Round(float64(c.orders)/1000) / 1000
	return r
}

// modelCredits shares an order among its touches (oldest first; equal
// times in the order of their keys) under model m, and sums the shares per
// touchKey: each line's gross and refunded split to the unit by the
// touches' weights and, with orders, the order itself in millionths. Only
// touches with a share are credited.
func modelCredits(m Model, placed time.Time, touches []Touch, lines []lineSum, orders bool) map[touchKey]credit {
	out := make(map[touchKey]credit, 1)
	times := make([]time.Time, len(touches))
	for i, t := range touches {
		times[i] = t.At
	}
	w := Weights(m, times, placed)
	sole := -1 // the only touch with a share, if one has it all
	for i := range touches {
		if w[i] == weightScale {
			sole = i
		}
		if w[i] > 0 && orders {
			k := keyOf(touches[i])
			c := out[k]
			c.orders += w[i]
			out[k] = c
		}
	}
	split := func(amount int64) []int64 {
		if amount == 0 {
			return make([]int64, len(w))
		}
		if sole >= 0 {
			parts := make([]int64, len(w))
			parts[sole] = amount
			return parts
		}
		return Split(amount, w)
	}
	for _, l := range lines {
		gs, rs := split(l.gross), split(l.refunded)
		for i, t := range touches {
			if gs[i] == 0 && rs[i] == 0 {
				continue
			}
			k := keyOf(t)
			c := out[k]
			if l.kind == "deal" {
				c.dealGross += gs[i]
				c.dealRefunded += rs[i]
			} else {
				c.haloGross += gs[i]
				c.haloRefunded += rs[i]
			}
			out[k] = c
		}
	}
	return out
}

// Rollup models besides the attribution models.
const (
	everyModel   Model = ""  // the credit is the same under every model
	unattributed Model = "-" // nothing touched the order
)

// bucket is a rollup row of one day.
type bucket struct {
	model Model
	touchKey
}

// rollupCredits is what an order gives the rollups of the day it was
// placed: under every model, or once under "" when every touch credits the
// same key, or under "-" when nothing touched it. touches must be sorted
// as reports read them (sortTouches).
func rollupCredits(placed time.Time, touches []Touch, lines []lineSum, orders bool) map[bucket]credit {
	out := map[bucket]credit{}
	if len(touches) == 0 {
		var c credit
		for _, l := range lines {
			c.haloGross += l.gross
			c.haloRefunded += l.refunded
		}
		if orders {
			c.orders = weightScale
		}
		out[bucket{model: unattributed}] = c
		return out
	}
	same := true
	for _, t := range touches[1:] {
		same = same && keyOf(t) == keyOf(touches[0])
	}
	models := Models
	if same {
		models = []Model{everyModel}
	}
	for _, m := range models {
		for k, c := range modelCredits(m, placed, touches, lines, orders) {
			out[bucket{m, k}] = c
		}
	}
	return out
}

// sortTouches returns the touches as reports read them back: times to the
// microsecond, oldest first, equal times in the order of their keys.
func sortTouches(touches []Touch) []Touch {
	out := make([]Touch, len(touches))
	for i, t := range touches {
		t.At = time.UnixMicro(t.At.UnixMicro()).UTC()
		out[i] = t
	}
	slices.SortStableFunc(out, func(a, b Touch) int { return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Key, b.Key)) })
	return out
}

// dayOf is the day (since the epoch, UTC) of a time in microseconds.
func dayOf(micros int64) int64 { return floorDiv(micros, microsPerDay) }

const (
	rollupHead = `INSERT INTO revenue_rollups (workspace_id, day, model, post_id, account_id, offer_id, member_id, shard,
		deal_gross, deal_refunded, halo_gross, halo_refunded, orders) VALUES `
	rollupAdd = ` ON CONFLICT (workspace_id, day, model, post_id, account_id, offer_id, member_id, shard) DO UPDATE SET
		deal_gross = revenue_rollups.deal_gross + excluded.deal_gross, deal_refunded = revenue_rollups.deal_refunded + excluded.deal_refunded,
		halo_gross = revenue_rollups.halo_gross + excluded.halo_gross, halo_refunded = revenue_rollups.halo_refunded + excluded.halo_refunded,
		orders = revenue_rollups.orders + excluded.orders`
)

// dayBucket is a rollup row.
type dayBucket struct {
	day int64
	bucket
}

func compareBuckets(a, b dayBucket) int {
	return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.model, b.model), cmp.Compare(a.post, b.post), cmp.Compare(a.account, b.account),
		cmp.Compare(a.offer, b.offer), cmp.Compare(a.member, b.member))
}

// rollupShards is how many copies of each rollup row orders share on
// PostgreSQL.
const rollupShards = 16

// shard is the copy of the rollup rows an order's credit goes to.
func (s *Store) shard(orderID string) int {
	if s.db.Dialect != store.Postgres {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(orderID))
	return int(h.Sum32() % rollupShards)
}

// rollupKey is a rollup row of a workspace.
type rollupKey struct {
	ws    string
	shard int
	dayBucket
}

// addRollups adds sums to the rollups, in q. Rows are written in a fixed
// order, so two transactions never deadlock on them.
func (s *Store) addRollups(ctx context.Context, q store.Querier, sums map[rollupKey]credit, tail string) error {
	keys := slices.SortedFunc(maps.Keys(sums), func(a, b rollupKey) int {
		return cmp.Or(cmp.Compare(a.ws, b.ws), cmp.Compare(a.shard, b.shard), compareBuckets(a.dayBucket, b.dayBucket))
	})
	keys = slices.DeleteFunc(keys, func(k rollupKey) bool { return sums[k] == credit{} })
	err := s.insertRows(ctx, q, rollupHead, tail, 13, len(keys), func(i int, args []any) []any {
		k := keys[i]
		c := sums[k]
		return append(args, k.ws, k.day, string(k.model), k.post, k.account, k.offer, k.member, k.shard, c.dealGross, c.dealRefunded, c.haloGross, c.haloRefunded, c.orders)
	}, nil)
	if err != nil {
		return fmt.Errorf("orders: rollups: %w", err)
	}
	return nil
}

// rollUp adds an event's credits to the day's rollups: to the sum q keeps
// for its transaction, or at once if it keeps none.
func (s *Store) rollUp(ctx context.Context, q querier, wsID string, shard int, day int64, credits map[bucket]credit) error {
	sums := q.rollups
	if sums == nil {
		sums = make(map[rollupKey]credit, len(credits))
	}
	for b, c := range credits {
		k := rollupKey{wsID, shard, dayBucket{day, b}}
		v := sums[k]
		v.plus(c)
		sums[k] = v
	}
	if q.rollups == nil {
		return s.addRollups(ctx, q, sums, rollupAdd)
	}
	return nil
}

// writeRollups writes the rollups q kept for its transaction. Being the
// last writes of the transaction, on PostgreSQL they keep the rows that
// concurrent orders share locked for as short a time as can be.
func (s *Store) writeRollups(ctx context.Context, q querier) error {
	if len(q.rollups) == 0 {
		return nil
	}
	err := s.addRollups(ctx, q, q.rollups, rollupAdd)
	clear(q.rollups)
	return err
}

// rollUpOrder adds a newly placed order to the rollups.
func (s *Store) rollUpOrder(ctx context.Context, q querier, wsID, orderID string, placed time.Time, touches []Touch, lines []lineRow) error {
	placed = time.UnixMicro(placed.UnixMicro()).UTC()
	sums := make([]lineSum, len(lines))
	for i, l := range lines {
		sums[i] = lineSum{kind: l.kind, gross: l.amountRC}
	}
	return s.rollUp(ctx, q, wsID, s.shard(orderID), dayOf(placed.UnixMicro()), rollupCredits(placed, sortTouches(touches), sums, true))
}

// refundedLine is how much of an order line was refunded before and after
// an event.
type refundedLine struct {
	kind                 string
	gross, before, after int64
}

// rollUpRefund adds to the rollups what refunds (or a cancellation) of an
// order change: for each line, the split of its new refunded total less
// the split of the old.
func (s *Store) rollUpRefund(ctx context.Context, q querier, wsID, orderID string, placed time.Time, lines []refundedLine) error {
	if len(lines) == 0 {
		return nil
	}
	rows, err := q.QueryContext(ctx, `SELECT touch, at, post_id, account_id, offer_id, member_id FROM order_touches WHERE order_id = $1`, orderID)
	if err != nil {
		return fmt.Errorf("orders: rollups: %w", err)
	}
	var touches []Touch
	for rows.Next() {
		var t Touch
		if err := rows.Scan(&t.Key, store.T(&t.At), &t.PostID, &t.AccountID, &t.OfferID, &t.MemberID); err != nil {
			rows.Close()
			return err
		}
		touches = append(touches, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	touches = sortTouches(touches)
	before, after := make([]lineSum, len(lines)), make([]lineSum, len(lines))
	for i, l := range lines {
		before[i] = lineSum{kind: l.kind, refunded: l.before}
		after[i] = lineSum{kind: l.kind, refunded: l.after}
	}
	was := rollupCredits(placed, touches, before, false)
	delta := map[bucket]credit{}
	for b, c := range rollupCredits(placed, touches, after, false) {
		delta[b] = c.minus(was[b])
	}
	for b, c := range was {
		if _, ok := delta[b]; !ok {
			delta[b] = credit{}.minus(c)
		}
	}
	return s.rollUp(ctx, q, wsID, s.shard(orderID), dayOf(placed.UnixMicro()), delta)
}

// rolledUp reports whether the workspace's rollups are complete.
func (s *Store) rolledUp(ctx context.Context, wsID string) (bool, error) {
	var n int
	if err := s.reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM revenue_rollup_pending WHERE workspace_id = $1`, wsID).Scan(&n); err != nil {
		return false, fmt.Errorf("orders: rollups: %w", err)
	}
	return n == 0, nil
}

// tallyRollups adds the rollups of days [first, last) to t.
func (s *Store) tallyRollups(ctx context.Context, wsID string, m Model, first, last int64, t *tally) error {
	key := map[string]string{"post": "post_id", "account": "account_id", "offer": "offer_id", "member": "member_id"}[t.by]
	cols, group := "0, "+key, key+", model"
	switch {
	case t.by == "day":
		cols, group = "day, ''", "day, model"
	case key == "":
		cols, group = "0, ''", "model"
	}
	rows, err := s.reader().QueryContext(ctx, `SELECT `+cols+`, model, CAST(SUM(deal_gross) AS BIGINT), CAST(SUM(deal_refunded) AS BIGINT),
		CAST(SUM(halo_gross) AS BIGINT), CAST(SUM(halo_refunded) AS BIGINT), CAST(SUM(orders) AS BIGINT)
		FROM revenue_rollups WHERE workspace_id = $1 AND day >= $2 AND day < $3 AND model IN ($4, '', '-') GROUP BY `+group,
		wsID, first, last, string(m))
	if err != nil {
		return fmt.Errorf("orders: report rollups: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var day int64
		var k, model string
		var c credit
		if err := rows.Scan(&day, &k, &model, &c.dealGross, &c.dealRefunded, &c.haloGross, &c.haloRefunded, &c.orders); err != nil {
			return err
		}
		switch {
		case Model(model) == unattributed:
			t.unattributed.add(c.dealGross+c.haloGross, c.dealRefunded+c.haloRefunded)
		case t.by == "day":
			t.add(time.UnixMicro(day*microsPerDay).UTC().Format("2006-01-02"), c)
		default:
			t.add(k, c)
		}
	}
	return rows.Err()
}

// RollUp rebuilds a workspace's rollups from its orders, in one
// transaction.
func (s *Store) RollUp(ctx context.Context, wsID string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockRollups(ctx, tx); err != nil {
			return err
		}
		return s.rollUpIn(ctx, tx, wsID)
	})
}

// RollUpPending builds the rollups of the workspaces that had orders
// before rollups existed, and returns how many it built. Each is built in
// one transaction; several nodes may run this at once.
func (s *Store) RollUpPending(ctx context.Context) (int, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT workspace_id FROM revenue_rollup_pending`)
	if err != nil {
		return 0, fmt.Errorf("orders: pending rollups: %w", err)
	}
	var ids []string
	for rows.Next() {
		var wsID string
		if err := rows.Scan(&wsID); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, wsID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, wsID := range ids {
		built := false
		err := s.db.Tx(ctx, func(tx *sql.Tx) error {
			if err := s.lockRollups(ctx, tx); err != nil {
				return err
			}
			var pending int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM revenue_rollup_pending WHERE workspace_id = $1`, wsID).Scan(&pending); err != nil || pending == 0 {
				return err // another node built them
			}
			built = true
			return s.rollUpIn(ctx, tx, wsID)
		})
		if err != nil {
			return n, err
		}
		if built {
			n++
		}
	}
	return n, nil
}

// lockRollups keeps ingestion from writing rollups until a rebuild
// commits. On PostgreSQL, an ingesting transaction that wrote to them
// already is waited for (its order is then visible to the rebuild); one
// that has not waits, and adds its order after the rebuild, which did not
// see it. On SQLite the transaction holds the only write lock already.
func (s *Store) lockRollups(ctx context.Context, tx *sql.Tx) error {
	if s.db.Dialect != store.Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `LOCK TABLE revenue_rollups IN EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("orders: lock rollups: %w", err)
	}
	return nil
}

// rollUpWeeks is how much of a workspace's orders a rebuild reads at once.
const rollUpWeeks = 7 * microsPerDay

func (s *Store) rollUpIn(ctx context.Context, tx *sql.Tx, wsID string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM revenue_rollups WHERE workspace_id = $1`, wsID); err != nil {
		return fmt.Errorf("orders: rollups: %w", err)
	}
	var lo, hi sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MIN(placed_at), MAX(placed_at) FROM orders WHERE workspace_id = $1`, wsID).Scan(&lo, &hi); err != nil {
		return fmt.Errorf("orders: rollups: %w", err)
	}
	sums := map[rollupKey]credit{}
	for from := lo.Int64; lo.Valid && from <= hi.Int64; from += rollUpWeeks {
		err := s.tallyTouches(ctx, tx, wsID, "", from, min(from+rollUpWeeks, hi.Int64+1), func(_ Model, o *orderSum) {
			day := dayOf(o.placed.UnixMicro())
			for b, c := range rollupCredits(o.placed, o.touches, o.lines, true) {
				k := rollupKey{wsID, 0, dayBucket{day, b}}
				v := sums[k]
				v.plus(c)
				sums[k] = v
			}
		})
		if err != nil {
			return err
		}
	}
	if err := s.addRollups(ctx, tx, sums, ""); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM revenue_rollup_pending WHERE workspace_id = $1`, wsID); err != nil {
		return fmt.Errorf("orders: rollups: %w", err)
	}
	return nil
}

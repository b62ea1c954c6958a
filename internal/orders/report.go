package orders

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/roost-hq/roost/internal/store"
)

// Model is an attribution model: how an order's revenue is shared among
// the touches that led to it. Models are applied when a report is asked
// for, from the stored touches, so switching models re-reads nothing.
type Model string

const (
	LastTouch  Model = "last"     // all to the latest touch (the default)
	FirstTouch Model = "first"    // all to the earliest
	Linear     Model = "linear"   // equal shares
	Position   Model = "position" // 40% first, 40% last, 20% shared by the middle
	TimeDecay  Model = "decay"    // halving for every 7 days before the order
)

// Models lists the models, default first.
var Models = []Model{LastTouch, FirstTouch, Linear, Position, TimeDecay}

// ParseModel reads a model name; "" is the default.
func ParseModel(s string) (Model, error) {
	if s == "" {
		return LastTouch, nil
	}
	for _, m := range Models {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown attribution model %q: use last, first, linear, position or decay", s)
}

// Describe says in words what a model does.
func (m Model) Describe() string {
	switch m {
	case FirstTouch:
		return "First touch: each order to the first post that reached the customer"
	case Linear:
		return "Linear: each order shared equally among every post that reached the customer"
	case Position:
		return "Position-based: 40% to the first touch, 40% to the last, 20% shared by those between"
	case TimeDecay:
		return "Time decay: touches closer to the order count more, halving every 7 days"
	}
	return "Last touch: each order to the last post that reached the customer before it"
}

const weightScale = 1_000_000

// Weights shares one order among its touches (times, oldest first) under
// the model, in parts per million that add up to exactly a million.
func Weights(m Model, touches []time.Time, order time.Time) []int64 {
	n := len(touches)
	w := make([]int64, n)
	switch {
	case n == 0:
		return w
	case n == 1 || m == LastTouch || m == "":
		w[n-1] = weightScale
	case m == FirstTouch:
		w[0] = weightScale
	case m == Linear:
		for i := range w {
			w[i] = 1
		}
		w = Split(weightScale, w)
	case m == Position:
		if n == 2 {
			w[0], w[1] = weightScale/2, weightScale/2
			break
		}
		w[0], w[n-1] = weightScale*4/10, weightScale*4/10
		mid := make([]int64, n-2)
		for i := range mid {
			mid[i] = 1
		}
		copy(w[1:], Split(weightScale*2/10, mid))
	case m == TimeDecay:
		raw := make([]int64, n)
		for i, t := range touches {
			days := max(order.Sub(t).Hours()/24, 0)
			raw[i] = max(int64(math.Round(weightScale*math.Pow(0.5, days/7))), 1)
		}
		w = Split(weightScale, raw)
	}
	return w
}

// Revenue is money in the reporting currency's minor units.
type Revenue struct {
	Gross    int64 `json:"gross"`
	Refunded int64 `json:"refunded"` // refunds and cancellations
	Net      int64 `json:"net"`
}

func (r *Revenue) add(gross, refunded int64) {
	r.Gross += gross
	r.Refunded += refunded
	r.Net += gross - refunded
}

// Row is one line of a revenue report.
type Row struct {
	Key    string  `json:"key"`
	Label  string  `json:"label"`
	Deal   Revenue `json:"deal"`
	Halo   Revenue `json:"halo"`
	Total  Revenue `json:"total"`
	Orders float64 `json:"orders"` // orders credited (fractional under shared models)
	// Activity in the period: human clicks on the row's links (posts,
	// accounts, offers) and claims (offers); orders per click; and the
	// average order value (gross per order credited).
	Clicks     int64   `json:"clicks"`
	Claims     int64   `json:"claims"`
	Conversion float64 `json:"conversion"`
	AOV        int64   `json:"aov"`
}

// Dimensions a report can group by.
var Dimensions = []string{"post", "account", "offer", "member", "day"}

// Query asks for a revenue report.
type Query struct {
	From, To time.Time
	Model    Model
	By       string // one of Dimensions
}

// Report is revenue attributed to Roost in a period, grouped.
type Report struct {
	Currency string    `json:"currency"`
	Model    Model     `json:"model"`
	By       string    `json:"by"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Rows     []Row     `json:"rows"`
	// Total is everything attributed; Unattributed the store's other
	// revenue in the period, for scale.
	Total        Row     `json:"total"`
	Unattributed Revenue `json:"unattributed"`
}

// Revenue reports attributed revenue by the query's dimension. Orders are
// counted by when they were placed; their refunds count against them
// whenever they came.
//
// Whole UTC days of the period are read from the rollups (see rollup.go),
// which hold what the computation below gives, summed per day; the part of
// a day at either end of the period, and a workspace whose rollups are
// still being built, are computed from the stored touches.
func (s *Store) Revenue(ctx context.Context, wsID string, q Query) (Report, error) {
	return s.revenue(ctx, wsID, q, true)
}

// RevenueFromTouches is Revenue computed from the stored touches alone,
// without the rollups: what the rollups must add up to, to the cent. It
// reads every order of the period, so it is slow on a large workspace.
func (s *Store) RevenueFromTouches(ctx context.Context, wsID string, q Query) (Report, error) {
	return s.revenue(ctx, wsID, q, false)
}

func (s *Store) revenue(ctx context.Context, wsID string, q Query, rollups bool) (Report, error) {
	st, err := s.Settings(ctx, wsID)
	if err != nil {
		return Report{}, err
	}
	if q.Model == "" {
		q.Model = LastTouch
	}
	rep := Report{Currency: st.Currency, Model: q.Model, By: q.By, From: q.From, To: q.To, Rows: []Row{}}
	t := newTally(q.By)
	from, to := q.From.UnixMicro(), q.To.UnixMicro()
	// Whole days: [first, last).
	first, last := -floorDiv(-from, microsPerDay), floorDiv(to, microsPerDay)
	if rollups && first < last {
		if rollups, err = s.rolledUp(ctx, wsID); err != nil {
			return rep, err
		}
	}
	if !rollups || first >= last {
		err = s.tallyTouches(ctx, s.db.R, wsID, q.Model, from, to, t.addOrder)
	} else {
		err = s.tallyTouches(ctx, s.db.R, wsID, q.Model, from, first*microsPerDay, t.addOrder)
		if err == nil {
			err = s.tallyRollups(ctx, wsID, q.Model, first, last, t)
		}
		if err == nil {
			err = s.tallyTouches(ctx, s.db.R, wsID, q.Model, last*microsPerDay, to, t.addOrder)
		}
	}
	if err != nil {
		return rep, err
	}
	rep.Rows, rep.Total, rep.Unattributed = t.rows(), t.total.row(""), t.unattributed
	if q.By == "day" {
		sort.Slice(rep.Rows, func(i, j int) bool { return rep.Rows[i].Key < rep.Rows[j].Key })
	} else {
		sort.Slice(rep.Rows, func(i, j int) bool {
			a, b := rep.Rows[i], rep.Rows[j]
			if a.Total.Net != b.Total.Net {
				return a.Total.Net > b.Total.Net
			}
			return a.Key < b.Key
		})
	}
	if err := s.activity(ctx, wsID, q, &rep.Rows); err != nil {
		return rep, err
	}
	return rep, s.label(ctx, wsID, q.By, rep.Rows)
}

const microsPerDay = 86_400_000_000

// floorDiv is a / b rounded down (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// lineSum is an order line's money in the reporting currency: its sale,
// and what refunds and cancellations took back.
type lineSum struct {
	kind            string
	gross, refunded int64
}

// orderSum is an order as reports weigh it: when it was placed, its lines,
// and its touches, oldest first.
type orderSum struct {
	placed  time.Time
	lines   []lineSum
	touches []Touch
}

// tallyTouches reads the orders placed in [from, to) with their lines,
// ledger sums and touches, and passes each to add.
func (s *Store) tallyTouches(ctx context.Context, q store.Querier, wsID string, m Model, from, to int64, add func(m Model, o *orderSum)) error {
	if from >= to {
		return nil
	}
	orders := map[string]*orderSum{}
	var ids []string
	rows, err := q.QueryContext(ctx, `SELECT o.id, o.placed_at, l.kind,
		COALESCE(SUM(CASE WHEN g.entry = 'sale' THEN g.amount ELSE 0 END), 0), COALESCE(SUM(CASE WHEN g.entry <> 'sale' THEN -g.amount ELSE 0 END), 0)
		FROM orders o JOIN order_lines l ON l.order_id = o.id LEFT JOIN ledger g ON g.line_id = l.id
		WHERE o.workspace_id = $1 AND o.placed_at >= $2 AND o.placed_at < $3 GROUP BY o.id, o.placed_at, l.id, l.kind`, wsID, from, to)
	if err != nil {
		return fmt.Errorf("orders: report lines: %w", err)
	}
	for rows.Next() {
		var oid string
		var placed time.Time
		var l lineSum
		if err := rows.Scan(&oid, store.T(&placed), &l.kind, &l.gross, &l.refunded); err != nil {
			rows.Close()
			return err
		}
		o := orders[oid]
		if o == nil {
			o = &orderSum{placed: placed}
			orders[oid] = o
			ids = append(ids, oid)
		}
		o.lines = append(o.lines, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// Touches taken at the same moment are weighed in the order of their
	// keys, here and in the rollups.
	rows, err = q.QueryContext(ctx, `SELECT t.order_id, t.at, t.touch, t.post_id, t.account_id, t.member_id, t.offer_id
		FROM order_touches t JOIN orders o ON o.id = t.order_id
		WHERE o.workspace_id = $1 AND o.placed_at >= $2 AND o.placed_at < $3 ORDER BY t.order_id, t.at, t.touch`, wsID, from, to)
	if err != nil {
		return fmt.Errorf("orders: report touches: %w", err)
	}
	for rows.Next() {
		var oid string
		var t Touch
		if err := rows.Scan(&oid, store.T(&t.At), &t.Key, &t.PostID, &t.AccountID, &t.MemberID, &t.OfferID); err != nil {
			rows.Close()
			return err
		}
		if o := orders[oid]; o != nil {
			o.touches = append(o.touches, t)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, oid := range ids {
		add(m, orders[oid])
	}
	return nil
}

// tally adds up report rows.
type tally struct {
	by           string
	byKey        map[string]*credit
	total        credit // everything attributed
	unattributed Revenue
}

func newTally(by string) *tally { return &tally{by: by, byKey: map[string]*credit{}} }

func (t *tally) add(key string, c credit) {
	r := t.byKey[key]
	if r == nil {
		r = &credit{}
		t.byKey[key] = r
	}
	r.plus(c)
	t.total.plus(c)
}

// addOrder adds what an order gives each row under model m.
func (t *tally) addOrder(m Model, o *orderSum) {
	if len(o.touches) == 0 {
		for _, l := range o.lines {
			t.unattributed.add(l.gross, l.refunded)
		}
		return
	}
	day := o.placed.UTC().Format("2006-01-02")
	for k, c := range modelCredits(m, o.placed, o.touches, o.lines, true) {
		t.add(k.dimension(t.by, day), c)
	}
}

func (t *tally) rows() []Row {
	out := make([]Row, 0, len(t.byKey))
	for k, c := range t.byKey {
		out = append(out, c.row(k))
	}
	return out
}

// dimension is the report key a touch's credit goes to; day is the day
// the order was placed, as 2006-01-02.
func (k touchKey) dimension(by, day string) string {
	switch by {
	case "post":
		return k.post
	case "account":
		return k.account
	case "offer":
		return k.offer
	case "member":
		return k.member
	case "day":
		return day
	}
	return ""
}

// label names report rows for people: a post by its first words, an
// account by handle, an offer by title, a member by name.
func (s *Store) label(ctx context.Context, wsID, by string, rows []Row) error {
	var query string
	switch by {
	case "post":
		query = `SELECT id, body FROM posts WHERE workspace_id = $1`
	case "account":
		query = `SELECT id, '@' || handle || ' (' || network || ')' FROM accounts WHERE workspace_id = $1`
	case "offer":
		query = `SELECT id, title FROM offers WHERE workspace_id = $1`
	case "member":
		query = `SELECT id, name FROM members WHERE workspace_id = $1`
	}
	names := map[string]string{}
	if query != "" {
		rs, err := s.db.R.QueryContext(ctx, query, wsID)
		if err != nil {
			return fmt.Errorf("orders: report labels: %w", err)
		}
		for rs.Next() {
			var k, v string
			if err := rs.Scan(&k, &v); err != nil {
				rs.Close()
				return err
			}
			names[k] = v
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return err
		}
	}
	for i := range rows {
		switch {
		case by == "day":
			rows[i].Label = rows[i].Key
		case rows[i].Key == "":
			rows[i].Label = map[string]string{"post": "Not from a post", "account": "No account", "offer": "No offer", "member": "No member"}[by]
		default:
			rows[i].Label = ClipWords(names[rows[i].Key], 60)
		}
	}
	return nil
}

// ClipWords is a text's first line, cut to n characters: how a post is
// named in reports.
func ClipWords(s string, n int) string {
	r := []rune(s)
	for i, c := range r {
		if c == '\n' {
			r = r[:i]
			break
		}
	}
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return string(r)
}

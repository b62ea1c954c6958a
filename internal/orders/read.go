package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/money"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// View is an order as reports and people see it: amounts in the
// workspace's currency (ledger sums), its lines with how each was
// attributed, its touches named, and the attribution in words.
type View struct {
	ID          string      `json:"id"`
	Source      string      `json:"source"`
	ExternalID  string      `json:"external_id"`
	PlacedAt    time.Time   `json:"placed_at"`
	Status      string      `json:"status"`
	Currency    string      `json:"currency"` // the order's own
	Rate        string      `json:"rate,omitempty"`
	Reporting   string      `json:"reporting_currency"`
	Gross       int64       `json:"gross"`
	Refunded    int64       `json:"refunded"`
	Net         int64       `json:"net"`
	Deal        int64       `json:"deal"` // net deal revenue
	Halo        int64       `json:"halo"` // net halo revenue
	Codes       []string    `json:"codes"`
	ClickID     string      `json:"click_id,omitempty"`
	Lines       []LineView  `json:"lines"`
	Touches     []TouchView `json:"touches"`
	Explanation string      `json:"explanation"`
	Customer    string      `json:"-"`
}

// LineView is an order line and what became of it.
type LineView struct {
	ExternalID string `json:"id,omitempty"`
	SKU        string `json:"sku"`
	Name       string `json:"name"`
	Quantity   int64  `json:"quantity"`
	UnitPrice  int64  `json:"unit_price"`
	Discount   int64  `json:"discount"`
	Amount     int64  `json:"amount"`    // in the order's currency
	AmountRC   int64  `json:"amount_rc"` // in the workspace's
	Refunded   int64  `json:"refunded"`  // in the workspace's
	Kind       string `json:"kind"`      // deal, halo or none
	How        string `json:"how,omitempty"`
	OfferID    string `json:"offer_id,omitempty"`
}

// TouchView is a touch with the names of what it credits.
type TouchView struct {
	Touch
	Post    string `json:"post,omitempty"` // the post's first words
	Account string `json:"account,omitempty"`
	Member  string `json:"member,omitempty"`
	Offer   string `json:"offer,omitempty"`
	Person  string `json:"person,omitempty"` // the claimant's handle
	Code    string `json:"code,omitempty"`
}

const orderCols = `id, source, external_id, placed_at, status, currency, rate, codes, click_id, customer`

func scanOrder(row interface{ Scan(...any) error }) (View, error) {
	var v View
	var codes string
	err := row.Scan(&v.ID, &v.Source, &v.ExternalID, store.T(&v.PlacedAt), &v.Status, &v.Currency, &v.Rate, &codes, &v.ClickID, &v.Customer)
	if errors.Is(err, sql.ErrNoRows) {
		return v, store.ErrNotFound
	}
	v.Codes = append([]string{}, strings.Fields(codes)...)
	return v, err
}

// Filter narrows an order list.
type Filter struct {
	Before string // an order ID: list older ones (cursor)
	Limit  int
	Kind   string // "deal", "halo" (has such a line), "none" (untouched), or ""
	// Reached lists only orders one of whose touches came through this
	// post, account, offer or member (Dimension: post, account, offer or
	// member; ID: its ID).
	Reached struct{ Dimension, ID string }
}

// List returns the workspace's orders, newest first, with their lines and
// touches.
func (s *Store) List(ctx context.Context, wsID string, f Filter) ([]View, error) {
	where, args := `workspace_id = $1`, []any{wsID}
	if f.Before != "" {
		args = append(args, f.Before)
		where += fmt.Sprintf(` AND id < $%d`, len(args))
	}
	switch f.Kind {
	case "deal", "halo", "none":
		args = append(args, f.Kind)
		where += fmt.Sprintf(` AND id IN (SELECT order_id FROM order_lines WHERE workspace_id = $1 AND kind = $%d)`, len(args))
	}
	if col, ok := map[string]string{"post": "post_id", "account": "account_id", "offer": "offer_id", "member": "member_id"}[f.Reached.Dimension]; ok && f.Reached.ID != "" {
		args = append(args, f.Reached.ID)
		where += fmt.Sprintf(` AND id IN (SELECT order_id FROM order_touches WHERE workspace_id = $1 AND %s = $%d)`, col, len(args))
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	args = append(args, f.Limit)
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+orderCols+` FROM orders WHERE `+where+fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("orders: list: %w", err)
	}
	var out []View
	for rows.Next() {
		v, err := scanOrder(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	st, err := s.Settings(ctx, wsID)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if err := s.fill(ctx, s.reader(), st.Currency, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// orderWithSettings reads one order and the workspace's reporting
// currency in one query.
const orderWithSettings = `SELECT o.id, o.source, o.external_id, o.placed_at, o.status, o.currency, o.rate, o.codes, o.click_id, o.customer, s.currency
	FROM orders o LEFT JOIN order_settings s ON s.workspace_id = o.workspace_id WHERE o.workspace_id = $1 AND `

// Get returns one order of the workspace.
func (s *Store) Get(ctx context.Context, wsID, orderID string) (View, error) {
	return s.getWhere(ctx, `o.id = $2`, wsID, orderID)
}

// ByExternalID finds an order by the source's ID.
func (s *Store) ByExternalID(ctx context.Context, wsID, source, externalID string) (View, error) {
	return s.getWhere(ctx, byExternalID, wsID, source, externalID)
}

const byExternalID = `o.source = $2 AND o.external_id = $3`

func (s *Store) getWhere(ctx context.Context, where string, args ...any) (View, error) {
	return s.viewWhere(ctx, s.reader(), where, args...)
}

// viewWhere reads an order through q: the read pool, or a transaction.
func (s *Store) viewWhere(ctx context.Context, q querier, where string, args ...any) (View, error) {
	var v View
	var codes string
	var reporting sql.NullString
	err := q.QueryRowContext(ctx, orderWithSettings+where, args...).Scan(&v.ID, &v.Source, &v.ExternalID, store.T(&v.PlacedAt), &v.Status, &v.Currency, &v.Rate,
		&codes, &v.ClickID, &v.Customer, &reporting)
	if errors.Is(err, sql.ErrNoRows) {
		return View{}, store.ErrNotFound
	}
	if err != nil {
		return View{}, err
	}
	v.Codes = append([]string{}, strings.Fields(codes)...)
	if !reporting.Valid {
		reporting.String = DefaultSettings.Currency
	}
	return v, s.fill(ctx, q, reporting.String, &v)
}

func (s *Store) fill(ctx context.Context, q querier, reporting string, v *View) error {
	v.Reporting = reporting
	rows, err := q.QueryContext(ctx, `SELECT l.external_id, l.sku, l.name, l.quantity, l.unit_price, l.discount, l.amount, l.amount_rc, l.kind, l.how,
		COALESCE(l.offer_id, ''), COALESCE((SELECT -SUM(g.amount) FROM ledger g WHERE g.line_id = l.id AND g.entry <> 'sale'), 0)
		FROM order_lines l WHERE l.order_id = $1 ORDER BY l.n`, v.ID)
	if err != nil {
		return fmt.Errorf("orders: lines: %w", err)
	}
	v.Lines = []LineView{}
	for rows.Next() {
		var l LineView
		if err := rows.Scan(&l.ExternalID, &l.SKU, &l.Name, &l.Quantity, &l.UnitPrice, &l.Discount, &l.Amount, &l.AmountRC, &l.Kind, &l.How, &l.OfferID, &l.Refunded); err != nil {
			rows.Close()
			return err
		}
		v.Lines = append(v.Lines, l)
		v.Gross += l.AmountRC
		v.Refunded += l.Refunded
		switch l.Kind {
		case "deal":
			v.Deal += l.AmountRC - l.Refunded
		case "halo":
			v.Halo += l.AmountRC - l.Refunded
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	v.Net = v.Gross - v.Refunded
	rows, err = q.QueryContext(ctx, `SELECT t.touch, t.how, t.at, t.link_id, t.post_id, t.account_id, t.member_id, t.offer_id, t.claim_id,
		COALESCE(p.body, ''), COALESCE(a.handle, ''), COALESCE(a.network, ''), COALESCE(m.name, ''), COALESCE(f.title, ''), COALESCE(c.handle, ''), COALESCE(c.code, '')
		FROM order_touches t LEFT JOIN posts p ON p.id = t.post_id LEFT JOIN accounts a ON a.id = t.account_id LEFT JOIN members m ON m.id = t.member_id
		LEFT JOIN offers f ON f.id = t.offer_id LEFT JOIN claims c ON c.id = t.claim_id
		WHERE t.order_id = $1 ORDER BY t.at`, v.ID)
	if err != nil {
		return fmt.Errorf("orders: touches: %w", err)
	}
	v.Touches = []TouchView{}
	for rows.Next() {
		var t TouchView
		var network string
		if err := rows.Scan(&t.Key, &t.How, store.T(&t.At), &t.LinkID, &t.PostID, &t.AccountID, &t.MemberID, &t.OfferID, &t.ClaimID,
			&t.Post, &t.Account, &network, &t.Member, &t.Offer, &t.Person, &t.Code); err != nil {
			rows.Close()
			return err
		}
		t.Post = ClipWords(t.Post, 48)
		if t.Account != "" {
			t.Account = "@" + t.Account + " on " + network
		}
		v.Touches = append(v.Touches, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	v.Explanation = explain(*v)
	return nil
}

// explain says in words why the order counts: the last touch, how it was
// matched, and what it credits, e.g. "Code OUT-7KQ4, claimed by @ann,
// after “XPS deal” on @outlet on sandbox by Lionel B".
func explain(v View) string {
	if len(v.Touches) == 0 {
		return "Nothing from Roost led to this order."
	}
	t := v.Touches[len(v.Touches)-1]
	var b strings.Builder
	switch t.How {
	case ByCode:
		if t.Code != "" {
			fmt.Fprintf(&b, "Code %s", t.Code)
			if t.Person != "" {
				fmt.Fprintf(&b, ", claimed by %s", t.Person)
			}
		} else {
			fmt.Fprintf(&b, "The code of “%s”", t.Offer)
		}
	case ByClick:
		b.WriteString("A click on a tracked link")
	case ByCustomer:
		fmt.Fprintf(&b, "The same customer, who came from Roost %s before", ago(v.PlacedAt.Sub(t.At)))
	}
	if t.Post != "" {
		fmt.Fprintf(&b, ", after the post “%s”", t.Post)
	} else if t.Offer != "" && t.How != ByCode {
		fmt.Fprintf(&b, " to “%s”", t.Offer)
	}
	if t.Account != "" {
		fmt.Fprintf(&b, " on %s", t.Account)
	}
	if t.Member != "" {
		fmt.Fprintf(&b, " by %s", t.Member)
	}
	if n := len(v.Touches); n > 1 {
		fmt.Fprintf(&b, " (and %d earlier touch%s)", n-1, map[bool]string{true: "", false: "es"}[n == 2])
	}
	b.WriteString(". ")
	switch {
	case v.Deal > 0 && v.Halo > 0:
		fmt.Fprintf(&b, "Deal %s, halo %s.", money.Format(v.Deal, v.Reporting), money.Format(v.Halo, v.Reporting))
	case v.Deal > 0:
		fmt.Fprintf(&b, "Deal %s.", money.Format(v.Deal, v.Reporting))
	default:
		fmt.Fprintf(&b, "Halo %s.", money.Format(v.Halo, v.Reporting))
	}
	return b.String()
}

func ago(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	case d >= 2*time.Minute:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	}
	return "moments"
}

// CheckRefund tells a caller, before anything is stored, whether a refund
// fits its order: the order exists, the lines named are its own, and no
// more is refunded than is left.
func (s *Store) CheckRefund(ctx context.Context, wsID, source string, r Refund) error {
	v, err := s.ByExternalID(ctx, wsID, source, r.OrderExternalID)
	if errors.Is(err, store.ErrNotFound) {
		return valid.New("order_id", "no order %q from this source: send the order first", r.OrderExternalID)
	}
	if err != nil {
		return err
	}
	if r.Currency != "" && r.Currency != v.Currency {
		return valid.New("currency", "the order is in %s", v.Currency)
	}
	conv, err := newConverter(v.Currency, v.Reporting, v.Rate)
	if err != nil {
		return err
	}
	lines := make([]openLine, len(v.Lines))
	var left int64
	for i, l := range v.Lines {
		lines[i] = openLine{externalID: l.ExternalID, sku: l.SKU, left: l.AmountRC - l.Refunded}
		left += lines[i].left
	}
	if v.Status == "cancelled" {
		return valid.New("order_id", "order %s is cancelled", r.OrderExternalID)
	}
	if len(r.Lines) == 0 {
		if a := conv.convert(r.Amount); a > left {
			return valid.New("amount", "is more than what is left of the order (%s)", money.Format(left, v.Reporting))
		}
		return nil
	}
	for i, rl := range r.Lines {
		j := findLine(lines, rl)
		if j < 0 {
			return valid.New(fmt.Sprintf("lines[%d].line_id", i), "order %s has no such line", r.OrderExternalID)
		}
		lines[j].left -= conv.convert(rl.Amount)
		if lines[j].left < 0 {
			return valid.New(fmt.Sprintf("lines[%d].amount", i), "is more than what is left of the line")
		}
	}
	return nil
}

package orders

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/store"
)

// How a touch was matched to an order.
const (
	ByCode     = "code"     // the order used a code claimed through Roost
	ByClick    = "click"    // the order carried a Roost click ID
	ByCustomer = "customer" // the same customer's earlier order was touched
)

// Touch is something Roost did that led to an order.
type Touch struct {
	Key       string    `json:"touch"` // "click:…", "claim:…", "offer:…"
	How       string    `json:"how"`
	At        time.Time `json:"at"`
	LinkID    string    `json:"link_id,omitempty"`
	PostID    string    `json:"post_id,omitempty"`
	AccountID string    `json:"account_id,omitempty"`
	MemberID  string    `json:"member_id,omitempty"`
	OfferID   string    `json:"offer_id,omitempty"`
	ClaimID   string    `json:"claim_id,omitempty"`
}

type touchSet struct {
	list       []Touch
	seen       map[string]bool
	clickFound bool
}

func (t *touchSet) add(x Touch) {
	if t.seen == nil {
		t.seen = map[string]bool{}
	}
	if !t.seen[x.Key] {
		t.seen[x.Key] = true
		t.list = append(t.list, x)
	}
}

// findTouches gathers the order's touches inside the window before it:
// its click, the claims of the codes it used (and the clicks that brought
// their claimants), and the touches of the same customer's earlier orders.
func findTouches(ctx context.Context, q store.Querier, wsID, orderID string, o *Order, customer string, placed time.Time, window time.Duration) (touchSet, error) {
	var ts touchSet
	from := placed.Add(-window)
	inWindow := func(at time.Time) bool { return !at.Before(from) && !at.After(placed.Add(time.Hour)) }
	if o.ClickID != "" {
		t, ok, err := clickTouch(ctx, q, wsID, o.ClickID, ByClick)
		if err != nil {
			return ts, err
		}
		ts.clickFound = ok
		if ok && inWindow(t.At) {
			ts.add(t)
		}
	}
	for _, code := range o.Codes {
		c, err := offers.ClaimByCode(ctx, q, wsID, code)
		switch {
		case err == nil:
			if !inWindow(c.CreatedAt) {
				continue
			}
			t := Touch{Key: "claim:" + c.ID, How: ByCode, At: c.CreatedAt, OfferID: c.OfferID, ClaimID: c.ID}
			if c.ClickID != "" {
				if ct, ok, err := clickTouch(ctx, q, wsID, c.ClickID, ByCode); err != nil {
					return ts, err
				} else if ok {
					t.LinkID, t.PostID, t.AccountID, t.MemberID = ct.LinkID, ct.PostID, ct.AccountID, ct.MemberID
				}
			}
			ts.add(t)
		case errors.Is(err, store.ErrNotFound):
			// A shared code names its offer, not a person.
			offerID, err := offers.SharedCodeOffer(ctx, q, wsID, code)
			if err != nil {
				return ts, err
			}
			if offerID != "" {
				ts.add(Touch{Key: "offer:" + offerID, How: ByCode, At: placed, OfferID: offerID})
			}
		default:
			return ts, err
		}
	}
	if customer != "" {
		rows, err := q.QueryContext(ctx, `SELECT t.touch, t.at, t.link_id, t.post_id, t.account_id, t.member_id, t.offer_id, t.claim_id
			FROM order_touches t JOIN orders o ON o.id = t.order_id
			WHERE o.workspace_id = $1 AND o.customer = $2 AND o.placed_at <= $3 AND t.at >= $4 AND o.id <> $5 ORDER BY t.at`,
			wsID, customer, placed.UnixMicro(), from.UnixMicro(), orderID)
		if err != nil {
			return ts, err
		}
		defer rows.Close()
		for rows.Next() {
			t := Touch{How: ByCustomer}
			if err := rows.Scan(&t.Key, store.T(&t.At), &t.LinkID, &t.PostID, &t.AccountID, &t.MemberID, &t.OfferID, &t.ClaimID); err != nil {
				return ts, err
			}
			ts.add(t)
		}
		if err := rows.Err(); err != nil {
			return ts, err
		}
	}
	sort.SliceStable(ts.list, func(i, j int) bool { return ts.list[i].At.Before(ts.list[j].At) })
	return ts, nil
}

// clickTouch resolves a click to what it credits: its link, and the
// link's post, account, offer and the member who posted (or made the
// link). Bots' and previews' clicks credit nothing.
func clickTouch(ctx context.Context, q store.Querier, wsID, clickID, how string) (Touch, bool, error) {
	if len(clickID) > 40 || strings.Trim(clickID, "0123456789abcdefghjkmnpqrstvwxyz") != "" {
		return Touch{}, false, nil
	}
	t := Touch{Key: "click:" + clickID, How: how}
	var bot bool
	err := q.QueryRowContext(ctx, `SELECT c.at, c.bot, c.link_id, COALESCE(l.post_id, ''), COALESCE(l.account_id, ''), COALESCE(l.offer_id, ''),
		COALESCE(p.member_id, l.created_by, '') FROM clicks c JOIN links l ON l.id = c.link_id LEFT JOIN posts p ON p.id = l.post_id
		WHERE c.id = $1 AND c.workspace_id = $2`, clickID, wsID).Scan(store.T(&t.At), &bot, &t.LinkID, &t.PostID, &t.AccountID, &t.OfferID, &t.MemberID)
	if errors.Is(err, sql.ErrNoRows) {
		return t, false, nil
	}
	if err != nil || bot {
		return t, false, err
	}
	return t, true, nil
}

// classify marks each line deal or halo (see Classify), reading the
// products of the offers the touches name.
func (s *Store) classify(ctx context.Context, q store.Querier, lines []lineRow, touches []Touch) error {
	if len(touches) == 0 {
		return nil
	}
	var order []string
	skus := map[string][]string{}
	for _, t := range touches {
		if _, ok := skus[t.OfferID]; t.OfferID != "" && !ok {
			skus[t.OfferID] = nil
			order = append(order, t.OfferID)
		}
	}
	if len(order) > 0 {
		// The products of every touched offer, in one query.
		args := make([]any, len(order))
		for i, offerID := range order {
			args[i] = offerID
		}
		rows, err := q.QueryContext(ctx, `SELECT offer_id, sku FROM offer_products WHERE offer_id IN (`+s.params(1, len(order))+`)`, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var offerID, sku string
			if err := rows.Scan(&offerID, &sku); err != nil {
				rows.Close()
				return err
			}
			skus[offerID] = append(skus[offerID], sku)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	ls := make([]Line, len(lines))
	for i, l := range lines {
		ls[i] = l.Line
	}
	for i, c := range Classify(ls, touches, skus) {
		lines[i].kind, lines[i].how, lines[i].offerID = c.Kind, c.How, c.OfferID
	}
	return nil
}

// LineClass is what attribution made of an order line.
type LineClass struct {
	Kind    string // deal, halo, or none when nothing touched the order
	How     string // how the order was matched: code, click or customer
	OfferID string // the offer that made it a deal
}

// Classify marks each line of an order deal or halo, given its touches
// (oldest first) and the products (SKUs) of the offers they name. A line
// is deal revenue when its SKU is one of a touched offer's products, or
// when the order used the offer's code and the offer names no products (a
// store-wide deal) and the line was discounted; every other line of a
// touched order is halo. With no touches every line is none.
func Classify(lines []Line, touches []Touch, offerSKUs map[string][]string) []LineClass {
	out := make([]LineClass, len(lines))
	if len(touches) == 0 {
		for i := range out {
			out[i].Kind = "none"
		}
		return out
	}
	best := touches[len(touches)-1].How // the latest touch says how the order was matched
	for _, t := range touches {
		if t.How == ByCode {
			best = ByCode
		}
	}
	type offerInfo struct {
		skus    map[string]bool
		how     string
		hasCode bool
	}
	byOffer := map[string]*offerInfo{}
	var order []string
	for _, t := range touches {
		if t.OfferID == "" {
			continue
		}
		oi := byOffer[t.OfferID]
		if oi == nil {
			oi = &offerInfo{skus: map[string]bool{}, how: t.How}
			for _, sku := range offerSKUs[t.OfferID] {
				oi.skus[strings.ToUpper(sku)] = true
			}
			byOffer[t.OfferID] = oi
			order = append(order, t.OfferID)
		}
		if t.How == ByCode {
			oi.how, oi.hasCode = ByCode, true
		}
	}
	for i, l := range lines {
		out[i] = LineClass{Kind: "halo", How: best}
		for _, offerID := range order {
			oi := byOffer[offerID]
			if l.SKU != "" && oi.skus[strings.ToUpper(l.SKU)] || len(oi.skus) == 0 && oi.hasCode && l.Discount > 0 {
				out[i] = LineClass{Kind: "deal", How: oi.how, OfferID: offerID}
				break
			}
		}
	}
	return out
}

// Reattribute finds the touches and line classes that processing a
// recorded order would give it now, from what is stored (the order's own
// touches left out): a check that orders loaded by other means, such as
// benchmark data, are what ingestion would have made of them. It differs
// from what processing stored when an earlier order of the same customer
// was processed after it, or the window changed since.
func (s *Store) Reattribute(ctx context.Context, wsID, orderID string) ([]Touch, []LineClass, error) {
	st, err := s.Settings(ctx, wsID)
	if err != nil {
		return nil, nil, err
	}
	var o Order
	var codes, customer string
	err = s.db.R.QueryRowContext(ctx, `SELECT placed_at, click_id, codes, customer FROM orders WHERE id = $1 AND workspace_id = $2`, orderID, wsID).Scan(
		store.T(&o.PlacedAt), &o.ClickID, &codes, &customer)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, store.ErrNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	o.Codes = strings.Fields(codes)
	rows, err := s.db.R.QueryContext(ctx, `SELECT external_id, sku, name, quantity, unit_price, discount FROM order_lines WHERE order_id = $1 ORDER BY n`, orderID)
	if err != nil {
		return nil, nil, err
	}
	var lines []lineRow
	for rows.Next() {
		var l lineRow
		if err := rows.Scan(&l.ExternalID, &l.SKU, &l.Name, &l.Quantity, &l.UnitPrice, &l.Discount); err != nil {
			rows.Close()
			return nil, nil, err
		}
		l.kind = "none"
		lines = append(lines, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	ts, err := findTouches(ctx, s.db.R, wsID, orderID, &o, customer, o.PlacedAt, time.Duration(st.WindowDays)*24*time.Hour)
	if err != nil {
		return nil, nil, err
	}
	if err := s.classify(ctx, s.db.R, lines, ts.list); err != nil {
		return nil, nil, err
	}
	classes := make([]LineClass, len(lines))
	for i, l := range lines {
		classes[i] = LineClass{Kind: l.kind, How: l.how, OfferID: l.offerID}
	}
	return ts.list, classes, nil
}

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

// classify marks each line deal or halo. A line is deal revenue when its
// SKU is one of a touched offer's products, or when the order used the
// offer's code and the offer names no products (a store-wide deal) and
// the line was discounted; every other line of a touched order is halo.
func (s *Store) classify(ctx context.Context, q store.Querier, lines []lineRow, touches []Touch) error {
	if len(touches) == 0 {
		return nil
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
			byOffer[t.OfferID] = oi
			order = append(order, t.OfferID)
		}
		if t.How == ByCode {
			oi.how, oi.hasCode = ByCode, true
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
			byOffer[offerID].skus[strings.ToUpper(sku)] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	for i := range lines {
		l := &lines[i]
		l.kind, l.how = "halo", best
		for _, offerID := range order {
			oi := byOffer[offerID]
			if l.SKU != "" && oi.skus[strings.ToUpper(l.SKU)] || len(oi.skus) == 0 && oi.hasCode && l.Discount > 0 {
				l.kind, l.how, l.offerID = "deal", oi.how, offerID
				break
			}
		}
	}
	return nil
}

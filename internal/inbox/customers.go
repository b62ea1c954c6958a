package inbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// Customer is a person the brand knows: their network identities, what
// they said, claimed and bought, and what that was worth.
type Customer struct {
	ID            string            `json:"id"`
	Name          string            `json:"name"`
	Identities    []social.Identity `json:"identities"`
	Conversations []Conversation    `json:"conversations"`
	Claims        []CustomerClaim   `json:"claims"`
	Orders        []CustomerOrder   `json:"orders"`
	Deal          int64             `json:"deal"` // net, in the workspace's reporting currency
	Halo          int64             `json:"halo"`
	FirstTouch    *time.Time        `json:"first_touch"`
	LastTouch     *time.Time        `json:"last_touch"`
}

// CustomerClaim is a claim the customer made.
type CustomerClaim struct {
	Offer     string    `json:"offer"`
	Code      string    `json:"code"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// CustomerOrder is an order linked to the customer: one that used a code
// they claimed, or a later one by the same shopper (the store's customer).
type CustomerOrder struct {
	ID         string    `json:"id"`
	ExternalID string    `json:"external_id"`
	PlacedAt   time.Time `json:"placed_at"`
	Deal, Halo int64     `json:"-"`
	Net        int64     `json:"net"`
}

// ensureCustomer files an identity under a customer the first time Roost
// meets it, inside the caller's transaction, and keeps the follower count
// the network gave with the message (nil: it gave none).
func ensureCustomer(ctx context.Context, tx *sql.Tx, wsID string, who social.Identity, followers *int64, now time.Time) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM customer_identities WHERE workspace_id = $1 AND network = $2 AND person_id = $3`,
		wsID, who.Network, who.AccountID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		cid := id.New("cus")
		if _, err := tx.ExecContext(ctx, `INSERT INTO customers (id, workspace_id, name, created_at) VALUES ($1, $2, $3, $4)`, cid, wsID, who.Handle, now.UnixMicro()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO customer_identities (workspace_id, network, person_id, handle, customer_id) VALUES ($1, $2, $3, $4, $5)`,
			wsID, who.Network, who.AccountID, who.Handle, cid); err != nil {
			return err
		}
	}
	if followers == nil || *followers < 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE customer_identities SET followers = $1, followers_at = $2 WHERE workspace_id = $3 AND network = $4 AND person_id = $5`,
		*followers, now.UnixMicro(), wsID, who.Network, who.AccountID)
	return err
}

// customerOrders are the orders tied to a customer: those that used codes
// the customer's identities claimed, and the same shoppers' other orders.
const customerOrders = `SELECT o.id FROM orders o WHERE o.workspace_id = $1 AND (
	o.source || ':' || o.external_id IN (SELECT c.order_ref FROM claims c JOIN customer_identities ci ON ci.workspace_id = c.workspace_id
		AND ci.network = c.network AND ci.person_id = c.account_id WHERE ci.customer_id = $2 AND c.order_ref <> '')
	OR (o.customer <> '' AND o.customer IN (SELECT o2.customer FROM orders o2 JOIN claims c ON c.workspace_id = o2.workspace_id
		AND c.order_ref = o2.source || ':' || o2.external_id JOIN customer_identities ci ON ci.workspace_id = c.workspace_id
		AND ci.network = c.network AND ci.person_id = c.account_id WHERE ci.customer_id = $2 AND o2.workspace_id = $1)))`

// CustomerRow is a customer in the list.
type CustomerRow struct {
	ID            string            `json:"id"`
	Name          string            `json:"name"`
	Identities    []social.Identity `json:"identities"`
	Conversations int               `json:"conversations"`
	Net           int64             `json:"net"`
	LastMessageAt *time.Time        `json:"last_message_at"`
}

// Customers lists the workspace's customers, latest message first, in a
// fixed number of queries: one for the page with each customer's net
// revenue, one for their identities.
func (s *Store) Customers(ctx context.Context, wsID string, limit int) ([]CustomerRow, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	rows, err := s.r.QueryContext(ctx, `WITH `+customerNetSQL("$1")+` SELECT cu.id, cu.name, COUNT(DISTINCT cv.id), COALESCE(MAX(cv.last_message_at), 0),
		COALESCE(MAX(n.net), 0) FROM customers cu
		LEFT JOIN customer_net n ON n.customer_id = cu.id
		LEFT JOIN customer_identities ci ON ci.customer_id = cu.id
		LEFT JOIN conversations cv ON cv.workspace_id = ci.workspace_id AND cv.network = ci.network AND cv.person_id = ci.person_id
		WHERE cu.workspace_id = $1 GROUP BY cu.id, cu.name ORDER BY COALESCE(MAX(cv.last_message_at), 0) DESC, cu.id LIMIT $2`, wsID, limit)
	if err != nil {
		return nil, fmt.Errorf("inbox: customers: %w", err)
	}
	var out []CustomerRow
	byID := map[string]int{}
	for rows.Next() {
		var c CustomerRow
		var last int64
		if err := rows.Scan(&c.ID, &c.Name, &c.Conversations, &last, &c.Net); err != nil {
			rows.Close()
			return nil, err
		}
		if last > 0 {
			t := time.UnixMicro(last).UTC()
			c.LastMessageAt = &t
		}
		c.Identities = []social.Identity{}
		byID[c.ID] = len(out)
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	var a args
	marks := make([]string, len(out))
	for i, c := range out {
		marks[i] = a.add(c.ID)
	}
	rows, err = s.r.QueryContext(ctx, `SELECT customer_id, network, person_id, handle FROM customer_identities WHERE customer_id IN (`+strings.Join(marks, ", ")+`)
		ORDER BY customer_id, network, handle`, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var cid string
		var i social.Identity
		if err := rows.Scan(&cid, &i.Network, &i.AccountID, &i.Handle); err != nil {
			return nil, err
		}
		if k, ok := byID[cid]; ok {
			out[k].Identities = append(out[k].Identities, i)
		}
	}
	return out, rows.Err()
}

func (s *Store) identities(ctx context.Context, customerID string) ([]social.Identity, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT network, person_id, handle FROM customer_identities WHERE customer_id = $1 ORDER BY network, handle`, customerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []social.Identity
	for rows.Next() {
		var i social.Identity
		if err := rows.Scan(&i.Network, &i.AccountID, &i.Handle); err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// Customer returns one customer of the workspace with everything Roost
// knows of them.
func (s *Store) Customer(ctx context.Context, wsID, memberID, customerID string) (Customer, error) {
	c := Customer{ID: customerID, Conversations: []Conversation{}, Claims: []CustomerClaim{}, Orders: []CustomerOrder{}}
	err := s.db.R.QueryRowContext(ctx, `SELECT name FROM customers WHERE workspace_id = $1 AND id = $2`, wsID, customerID).Scan(&c.Name)
	if errors.Is(err, sql.ErrNoRows) {
		return c, store.ErrNotFound
	}
	if err != nil {
		return c, err
	}
	if c.Identities, err = s.identities(ctx, customerID); err != nil {
		return c, err
	}
	touch := func(t time.Time) {
		if c.FirstTouch == nil || t.Before(*c.FirstTouch) {
			c.FirstTouch = &t
		}
		if c.LastTouch == nil || t.After(*c.LastTouch) {
			c.LastTouch = &t
		}
	}
	st, err := s.Settings(ctx, wsID)
	if err != nil {
		return c, err
	}
	q := convQuery{ws: wsID, member: memberID, st: st, limit: 500}
	q.where = ` AND ci.customer_id = ` + q.a.add(customerID)
	if c.Conversations, err = s.conversations(ctx, q); err != nil {
		return c, err
	}
	for _, cv := range c.Conversations {
		touch(cv.CreatedAt)
		touch(cv.LastMessageAt)
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT o.title, c.code, c.status, c.created_at FROM claims c JOIN offers o ON o.id = c.offer_id
		JOIN customer_identities ci ON ci.workspace_id = c.workspace_id AND ci.network = c.network AND ci.person_id = c.account_id
		WHERE c.workspace_id = $1 AND ci.customer_id = $2 ORDER BY c.created_at DESC`, wsID, customerID)
	if err != nil {
		return c, err
	}
	for rows.Next() {
		var cl CustomerClaim
		if err := rows.Scan(&cl.Offer, &cl.Code, &cl.Status, store.T(&cl.CreatedAt)); err != nil {
			rows.Close()
			return c, err
		}
		c.Claims = append(c.Claims, cl)
		touch(cl.CreatedAt)
	}
	rows.Close()
	rows, err = s.db.R.QueryContext(ctx, `SELECT o.id, o.external_id, o.placed_at,
		COALESCE(SUM(CASE WHEN l.kind = 'deal' THEN g.amount ELSE 0 END), 0), COALESCE(SUM(CASE WHEN l.kind <> 'deal' THEN g.amount ELSE 0 END), 0)
		FROM orders o JOIN order_lines l ON l.order_id = o.id LEFT JOIN ledger g ON g.line_id = l.id
		WHERE o.id IN (`+customerOrders+`) GROUP BY o.id, o.external_id, o.placed_at ORDER BY o.placed_at DESC`, wsID, customerID)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	for rows.Next() {
		var o CustomerOrder
		if err := rows.Scan(&o.ID, &o.ExternalID, store.T(&o.PlacedAt), &o.Deal, &o.Halo); err != nil {
			return c, err
		}
		o.Net = o.Deal + o.Halo
		c.Deal += o.Deal
		c.Halo += o.Halo
		c.Orders = append(c.Orders, o)
		touch(o.PlacedAt)
	}
	return c, rows.Err()
}

// Link moves an identity (network and stable account ID) to a customer:
// the same person under two networks becomes one customer. A customer
// left with no identity is removed.
func (s *Store) Link(ctx context.Context, wsID, customerID, network, personID string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM customers WHERE workspace_id = $1 AND id = $2`, wsID, customerID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		var from string
		err := tx.QueryRowContext(ctx, `SELECT customer_id FROM customer_identities WHERE workspace_id = $1 AND network = $2 AND person_id = $3`,
			wsID, network, personID).Scan(&from)
		if errors.Is(err, sql.ErrNoRows) {
			return valid.New("identity", "no %s identity %q has written to the brand yet", network, personID)
		}
		if err != nil || from == customerID {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE customer_identities SET customer_id = $1 WHERE workspace_id = $2 AND network = $3 AND person_id = $4`,
			customerID, wsID, network, personID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM customers WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM customer_identities WHERE customer_id = $1)`, from)
		return err
	})
}

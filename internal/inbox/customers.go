package inbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
// meets it, inside the caller's transaction.
func ensureCustomer(ctx context.Context, tx *sql.Tx, wsID string, who social.Identity) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM customer_identities WHERE workspace_id = $1 AND network = $2 AND person_id = $3`,
		wsID, who.Network, who.AccountID).Scan(&n); err != nil || n > 0 {
		return err
	}
	cid := id.New("cus")
	if _, err := tx.ExecContext(ctx, `INSERT INTO customers (id, workspace_id, name, created_at) VALUES ($1, $2, $3, $4)`, cid, wsID, who.Handle, time.Now().UnixMicro()); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO customer_identities (workspace_id, network, person_id, handle, customer_id) VALUES ($1, $2, $3, $4, $5)`,
		wsID, who.Network, who.AccountID, who.Handle, cid)
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

// customerNet is the customer's net revenue, deal and halo together.
func customerNet(ctx context.Context, q store.Querier, wsID, customerID string) (int64, error) {
	var net int64
	err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(g.amount), 0) FROM ledger g WHERE g.order_id IN (`+customerOrders+`)`, wsID, customerID).Scan(&net)
	return net, err
}

// CustomerRow is a customer in the list.
type CustomerRow struct {
	ID            string            `json:"id"`
	Name          string            `json:"name"`
	Identities    []social.Identity `json:"identities"`
	Conversations int               `json:"conversations"`
	Net           int64             `json:"net"`
	LastMessageAt *time.Time        `json:"last_message_at"`
}

// Customers lists the workspace's customers, latest message first.
func (s *Store) Customers(ctx context.Context, wsID string, limit int) ([]CustomerRow, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT cu.id, cu.name, COUNT(DISTINCT cv.id), MAX(cv.last_message_at) FROM customers cu
		LEFT JOIN customer_identities ci ON ci.customer_id = cu.id
		LEFT JOIN conversations cv ON cv.workspace_id = ci.workspace_id AND cv.network = ci.network AND cv.person_id = ci.person_id
		WHERE cu.workspace_id = $1 GROUP BY cu.id, cu.name ORDER BY MAX(cv.last_message_at) DESC, cu.id LIMIT $2`, wsID, limit)
	if err != nil {
		return nil, fmt.Errorf("inbox: customers: %w", err)
	}
	var out []CustomerRow
	for rows.Next() {
		var c CustomerRow
		var last time.Time
		if err := rows.Scan(&c.ID, &c.Name, &c.Conversations, store.T(&last)); err != nil {
			rows.Close()
			return nil, err
		}
		if !last.IsZero() {
			c.LastMessageAt = &last
		}
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Identities, err = s.identities(ctx, out[i].ID); err != nil {
			return nil, err
		}
		if out[i].Net, err = customerNet(ctx, s.db.R, wsID, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
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
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+convCols+convFrom+` WHERE c.workspace_id = $1 AND ci.customer_id = $2 ORDER BY c.last_message_at DESC`, wsID, customerID)
	if err != nil {
		return c, err
	}
	for rows.Next() {
		cv, err := scanConv(rows)
		if err != nil {
			rows.Close()
			return c, err
		}
		c.Conversations = append(c.Conversations, cv)
		touch(cv.CreatedAt)
		touch(cv.LastMessageAt)
	}
	rows.Close()
	if err := s.decorate(ctx, wsID, memberID, c.Conversations); err != nil {
		return c, err
	}
	rows, err = s.db.R.QueryContext(ctx, `SELECT o.title, c.code, c.status, c.created_at FROM claims c JOIN offers o ON o.id = c.offer_id
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

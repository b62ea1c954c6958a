package orders

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/money"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// Store keeps orders, their ledger and their touches.
type Store struct {
	db    *store.DB
	keys  *secret.Keys
	stmts *stmtCache // nil: statements are not kept prepared
	group *group     // nil: each event is applied in a transaction of its own
}

// NewStore returns a Store. keys salts customers' email hashes and seals
// webhook secrets.
func NewStore(db *store.DB, keys *secret.Keys) *Store {
	s := &Store{db: db, keys: keys, stmts: newStmtCache(db)}
	s.group = newGroup(s)
	return s
}

// Settings are a workspace's order settings.
type Settings struct {
	Currency   string `json:"currency"`    // the reporting currency
	WindowDays int    `json:"window_days"` // how old a touch may be and still count
}

// DefaultSettings apply until a workspace saves its own.
var DefaultSettings = Settings{Currency: "USD", WindowDays: 30}

// Settings returns the workspace's order settings.
func (s *Store) Settings(ctx context.Context, wsID string) (Settings, error) {
	return settingsIn(ctx, s.reader(), wsID)
}

func settingsIn(ctx context.Context, q store.Querier, wsID string) (Settings, error) {
	st := DefaultSettings
	err := q.QueryRowContext(ctx, `SELECT currency, window_days FROM order_settings WHERE workspace_id = $1`, wsID).Scan(&st.Currency, &st.WindowDays)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultSettings, nil
	}
	return st, err
}

// SaveSettings checks and stores the workspace's order settings.
func (s *Store) SaveSettings(ctx context.Context, wsID string, st Settings) (Settings, error) {
	var e valid.Errors
	st.Currency = strings.ToUpper(strings.TrimSpace(st.Currency))
	if _, ok := money.Exponent(st.Currency); !ok {
		e.Add("currency", "must be an ISO 4217 currency code, such as USD or EUR")
	}
	if st.WindowDays < 1 || st.WindowDays > 365 {
		e.Add("window_days", "must be between 1 and 365")
	}
	if err := e.Err(); err != nil {
		return st, err
	}
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO order_settings (workspace_id, currency, window_days) VALUES ($1, $2, $3)
		ON CONFLICT (workspace_id) DO UPDATE SET currency = excluded.currency, window_days = excluded.window_days`, wsID, st.Currency, st.WindowDays)
	if err != nil {
		return st, fmt.Errorf("orders: save settings: %w", err)
	}
	return st, nil
}

// Customer is how an email is kept: normalised, then an HMAC under the
// instance key and the workspace, so equal emails match within a
// workspace and nothing outside it can test an address against the hash.
func (s *Store) Customer(wsID, email string) string {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" || !strings.Contains(email, "@") {
		return ""
	}
	return s.keys.Sign("customer", wsID, email)
}

// Receipt says what became of a received event.
type Receipt struct {
	EventID   string `json:"event_id"`
	Duplicate bool   `json:"duplicate"` // the same event came before: nothing changed
}

// stored is an event as kept: the customer's email replaced by its hash.
type stored struct {
	Event
	Customer string `json:"customer,omitempty"`
}

// Bounds on what a source may send.
const (
	maxLineTotal = 1e13 // minor units: 100 billion dollars
	maxLines     = 1000
	maxCodes     = 20
	maxText      = 200
)

// Check validates an event against the workspace's settings: the errors a
// sender must fix, with the field that is wrong.
func (s *Store) Check(ctx context.Context, wsID string, ev Event) error {
	st, err := s.Settings(ctx, wsID)
	if err != nil {
		return err
	}
	var e valid.Errors
	text := func(field, v string, required bool) {
		switch {
		case required && strings.TrimSpace(v) == "":
			e.Add(field, "is required")
		case len(v) > maxText || !utf8.ValidString(v) || strings.ContainsRune(v, 0):
			e.Add(field, "%s", fmt.Sprintf("must be valid text of at most %d bytes", maxText))
		}
	}
	currency := func(field, c string) {
		if _, ok := money.Exponent(c); !ok {
			e.Add(field, "%s", fmt.Sprintf("%q is not an ISO 4217 currency code", c))
		}
	}
	switch ev.Kind {
	case Placed:
		o := ev.Order
		if o == nil {
			e.Add("order", "is required")
			return e.Err()
		}
		text("external_id", o.ExternalID, true)
		currency("currency", o.Currency)
		if o.PlacedAt.IsZero() {
			e.Add("placed_at", "is required")
		}
		if len(o.Lines) == 0 || len(o.Lines) > maxLines {
			e.Add("lines", "%s", fmt.Sprintf("must hold between 1 and %d lines", maxLines))
		}
		for i, l := range o.Lines {
			f := fmt.Sprintf("lines[%d].", i)
			text(f+"sku", l.SKU, false)
			text(f+"name", l.Name, false)
			text(f+"id", l.ExternalID, false)
			if l.Quantity <= 0 || l.Quantity > 1e6 {
				e.Add(f+"quantity", "must be a whole number from 1 to 1,000,000")
			}
			if l.UnitPrice < 0 || l.UnitPrice > 1e13 {
				e.Add(f+"unit_price", "must be zero or more (minor units), and below 10^13")
			}
			// A line's total stays far inside int64, so no sum or
			// conversion of it can overflow.
			if l.Quantity > 0 && l.UnitPrice > 0 && l.UnitPrice > maxLineTotal/l.Quantity {
				e.Add(f+"unit_price", "%s", fmt.Sprintf("makes the line total over %d minor units", int64(maxLineTotal)))
			} else if l.Discount < 0 || l.Quantity > 0 && l.Discount > l.Quantity*l.UnitPrice {
				e.Add(f+"discount", "must be between zero and the line's quantity × unit price")
			}
		}
		if len(o.Codes) > maxCodes {
			e.Add("codes", "%s", fmt.Sprintf("at most %d", maxCodes))
		}
		for i, c := range o.Codes {
			text(fmt.Sprintf("codes[%d]", i), c, true)
		}
		if len(o.ClickID) > 40 {
			e.Add("click_id", "is not a Roost click ID")
		}
		if len(o.Email) > 320 {
			e.Add("email", "is too long")
		}
		if o.Currency != st.Currency && e.Err() == nil {
			if o.Rate == "" {
				e.Add("rate", "%s", fmt.Sprintf("is required: the order is in %s and the workspace reports in %s; give how many %s one %s is worth", o.Currency, st.Currency, st.Currency, o.Currency))
			} else if _, err := parseRate(o.Rate); err != nil {
				e.Add("rate", "%s", err.Error())
			}
		}
	case Refunded:
		r := ev.Refund
		if r == nil {
			e.Add("refund", "is required")
			return e.Err()
		}
		text("order_id", r.OrderExternalID, true)
		text("id", r.ExternalID, true)
		if r.Currency != "" {
			currency("currency", r.Currency)
		}
		if r.Amount < 0 {
			e.Add("amount", "must be zero or more")
		}
		if len(r.Lines) == 0 && r.Amount == 0 {
			e.Add("amount", "give the lines refunded, or an amount")
		}
		if len(r.Lines) > maxLines {
			e.Add("lines", "%s", fmt.Sprintf("at most %d", maxLines))
		}
		for i, l := range r.Lines {
			f := fmt.Sprintf("lines[%d].", i)
			if l.LineExternalID == "" && l.SKU == "" {
				e.Add(f+"line_id", "give the order line's ID or its SKU")
			}
			if l.Quantity < 0 {
				e.Add(f+"quantity", "must be zero or more")
			}
			if l.Amount <= 0 {
				e.Add(f+"amount", "must be more than zero")
			}
		}
	case Cancelled:
		if ev.Cancel == nil {
			e.Add("cancel", "is required")
			return e.Err()
		}
		text("order_id", ev.Cancel.OrderExternalID, true)
	default:
		e.Add("kind", "must be order, refund or cancel")
	}
	return e.Err()
}

// parseRate reads a positive decimal exchange rate exactly.
func parseRate(s string) (*big.Rat, error) {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok || r.Sign() <= 0 || strings.ContainsAny(s, "/eE") || len(s) > 40 {
		return nil, fmt.Errorf("%q is not a positive decimal rate such as 1.0834", s)
	}
	// Bounded so a converted line total cannot overflow: no two ISO
	// currencies are a million times apart.
	if r.Cmp(big.NewRat(1, 1_000_000)) < 0 || r.Cmp(big.NewRat(1_000_000, 1)) > 0 {
		return nil, fmt.Errorf("%q is outside the rates currencies have (between 0.000001 and 1000000)", s)
	}
	return r, nil
}

func (ev Event) orderRef() string {
	switch ev.Kind {
	case Placed:
		return ev.Order.ExternalID
	case Refunded:
		return ev.Refund.OrderExternalID
	case Cancelled:
		return ev.Cancel.OrderExternalID
	}
	return ""
}

// key names the event for deduplication: the source's own delivery ID,
// else what the event is about and its version.
func (ev Event) key() string {
	if ev.ID != "" {
		return "id:" + ev.ID
	}
	switch ev.Kind {
	case Placed:
		return fmt.Sprintf("order:%s:%d", ev.Order.ExternalID, ev.Order.UpdatedAt.UnixMicro())
	case Refunded:
		return "refund:" + ev.Refund.OrderExternalID + ":" + ev.Refund.ExternalID
	}
	return "cancel:" + ev.orderRef()
}

// Receive checks an event and commits it, raw, before anything else: the
// caller answers the sender only after this returns. The same event
// received twice is stored once. Processing happens after (Process). On
// SQLite, concurrent calls commit together (see group).
func (s *Store) Receive(ctx context.Context, wsID string, ev Event) (Receipt, error) {
	rec, err := s.toReceive(ctx, wsID, ev)
	if err != nil {
		return Receipt{}, err
	}
	if s.group != nil {
		return s.group.receive(ctx, rec)
	}
	return s.insertEvent(ctx, s.writer(), rec)
}

// toReceive checks an event and makes it the row Receive stores.
func (s *Store) toReceive(ctx context.Context, wsID string, ev Event) (*received, error) {
	if err := s.Check(ctx, wsID, ev); err != nil {
		return nil, err
	}
	st := stored{Event: ev}
	if ev.Kind == Placed {
		o := *ev.Order
		st.Customer, o.Email = s.Customer(wsID, o.Email), ""
		for i := range o.Codes {
			o.Codes[i] = strings.ToUpper(strings.TrimSpace(o.Codes[i]))
		}
		st.Order = &o
	}
	payload, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	rec := &received{id: id.New("oev"), wsID: wsID, source: ev.Source, key: ev.key(), kind: ev.Kind, orderRef: ev.orderRef(), payload: string(payload),
		at: time.Now().UnixMicro()}
	if ev.Kind == Placed {
		rec.version = fmt.Sprintf("%s:%d", ev.Order.ExternalID, ev.Order.UpdatedAt.UnixMicro())
	}
	return rec, nil
}

// received is an event as order_events keeps it.
type received struct {
	id, wsID, source, key string
	version               any // NULL: only orders have versions
	kind                  Kind
	orderRef, payload     string
	at                    int64
}

// insertEvent stores a raw event, or finds the one stored before it.
func (s *Store) insertEvent(ctx context.Context, q store.Querier, e *received) (Receipt, error) {
	r := Receipt{EventID: e.id}
	res, err := q.ExecContext(ctx, `INSERT INTO order_events (id, workspace_id, source, event_key, version_key, kind, order_ref, payload, received_at, due_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT DO NOTHING`,
		e.id, e.wsID, e.source, e.key, e.version, e.kind, e.orderRef, e.payload, e.at)
	if err != nil {
		return Receipt{}, fmt.Errorf("orders: receive: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		r.Duplicate = true
		err = q.QueryRowContext(ctx, `SELECT id FROM order_events WHERE workspace_id = $1 AND source = $2 AND (event_key = $3 OR version_key = $4)
			ORDER BY received_at LIMIT 1`, e.wsID, e.source, e.key, e.version).Scan(&r.EventID)
	}
	return r, err
}

// Package orders is what the store tells Roost: orders, refunds and
// cancellations, from Shopify, Stripe and WooCommerce webhooks, the API and
// CSV files. Every source is turned into an Event; the raw event is
// committed before anything else happens, and processed (into the ledger,
// then attributed) after, so a crash between the two loses nothing.
package orders

import "time"

// Sources of orders.
const (
	Shopify     = "shopify"
	Stripe      = "stripe"
	WooCommerce = "woocommerce"
	API         = "api"
	CSV         = "csv"
)

// Kind is what an event says happened.
type Kind string

const (
	Placed    Kind = "order"  // an order was paid (or, for sources without payment events, placed)
	Refunded  Kind = "refund" // money went back, for some lines or an amount
	Cancelled Kind = "cancel" // the order was cancelled: its codes are released
)

// Event is one thing the store reported, in Roost's terms. Exactly one of
// Order, Refund and Cancel is set, matching Kind.
type Event struct {
	Source string
	// ID identifies the delivery at the source (a webhook ID, an event ID,
	// an Idempotency-Key): the same ID twice is the same event. Empty when
	// the source has none; the order's own ID and version dedupe then.
	ID     string
	Kind   Kind
	Order  *Order
	Refund *Refund
	Cancel *Cancel
}

// Order is a paid order. Amounts are int64 minor units of Currency.
type Order struct {
	ExternalID string    // unique per source within a workspace
	PlacedAt   time.Time // when the customer ordered
	UpdatedAt  time.Time // the source's version of the order (zero: unknown)
	Currency   string    // ISO 4217
	Lines      []Line
	Codes      []string // discount codes used
	ClickID    string   // the Roost click ID carried through the checkout
	Email      string   // the customer's email as the store sent it; Roost keeps only a salted hash
	// Rate converts Currency to the workspace's reporting currency: a
	// decimal such as "1.0834" (one unit of Currency is Rate units of the
	// reporting currency). Required when the currencies differ; never
	// assumed.
	Rate string
}

// Line is one product line of an order.
type Line struct {
	ExternalID string // the store's line ID, so refunds can name it
	SKU        string
	Name       string
	Quantity   int64
	UnitPrice  int64 // before discounts
	Discount   int64 // the line's total discount
}

// Refund gives money back on an order: per line where the store says
// which, or an amount.
type Refund struct {
	ExternalID      string // unique per order
	OrderExternalID string
	At              time.Time
	Currency        string
	Lines           []RefundLine
	Amount          int64 // the total refunded when no lines are given
}

// RefundLine is money returned for part of a line.
type RefundLine struct {
	LineExternalID string // the order line's ExternalID, or empty to match by SKU
	SKU            string
	Quantity       int64
	Amount         int64
}

// Cancel voids an order.
type Cancel struct {
	OrderExternalID string
	At              time.Time
}

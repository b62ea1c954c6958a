package webhooks

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/roost-hq/roost/internal/money"
	"github.com/roost-hq/roost/internal/orders"
)

// StripeTolerance is how old a Stripe-Signature timestamp may be: the
// library's default, five minutes.
const StripeTolerance = webhook.DefaultTolerance

// The Stripe event, read again by us: only the fields Roost uses. These
// have kept their names and meaning across Stripe API versions.
type stripeEvent struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Created int64  `json:"created"`
	Data    struct {
		Object             json.RawMessage `json:"object"`
		PreviousAttributes struct {
			AmountRefunded *int64 `json:"amount_refunded"`
		} `json:"previous_attributes"`
	} `json:"data"`
}

type stripeSession struct {
	ID                string            `json:"id"`
	Created           int64             `json:"created"`
	PaymentStatus     string            `json:"payment_status"`
	PaymentIntent     *jsonID           `json:"payment_intent"`
	Currency          string            `json:"currency"`
	AmountSubtotal    *int64            `json:"amount_subtotal"`
	ClientReferenceID string            `json:"client_reference_id"`
	Metadata          map[string]string `json:"metadata"`
	CustomerEmail     string            `json:"customer_email"`
	CustomerDetails   *struct {
		Email string `json:"email"`
	} `json:"customer_details"`
	TotalDetails *struct {
		AmountDiscount int64 `json:"amount_discount"`
	} `json:"total_details"`
}

type stripeCharge struct {
	ID             string  `json:"id"`
	PaymentIntent  *jsonID `json:"payment_intent"`
	Currency       string  `json:"currency"`
	AmountRefunded int64   `json:"amount_refunded"`
	Refunds        *struct {
		Data []struct {
			ID     string `json:"id"`
			Amount int64  `json:"amount"`
		} `json:"data"`
	} `json:"refunds"`
}

// ParseStripe verifies a Stripe webhook and reads it. sigHeader is the
// Stripe-Signature header, secret the endpoint's signing secret (whsec_…),
// tolerance how old its timestamp may be (zero or less: StripeTolerance).
// The check itself is stripe-go's webhook.ConstructEventWithOptions: an
// HMAC-SHA256 over "timestamp.body", compared in constant time against
// every v1 signature of the header (several during a secret's rotation).
// It reads the clock itself, so there is no "now" to pass.
//
// API versions: stripe-go refuses, by default, events rendered for an API
// version of another release train than the one it is pinned to, because
// it would decode them into its own typed objects. Roost does not: it reads
// a handful of fields that have kept their names and meaning across recent
// API versions (ids, integer amounts, currency, metadata, payment_status,
// previous_attributes) into its own structs, and checks each. So the check
// is off (IgnoreAPIVersionMismatch): otherwise every webhook endpoint
// created on an older version would fail after a library upgrade, and one
// on a newer version before it.
//
// Events:
//
//   - checkout.session.completed and checkout.session.async_payment_succeeded,
//     when payment_status is "paid" (else ignored): Placed. ExternalID is
//     the session's payment_intent (what refunds name), or the session ID
//     when there is none (subscriptions). The payload has no line items, so
//     the order has one line: UnitPrice amount_subtotal, Discount
//     total_details.amount_discount, SKU from metadata "sku", Name "Stripe
//     checkout"; per-product lines need the API path. The click ID is
//     metadata roost_cid, else client_reference_id; the code metadata
//     discount_code; the email customer_details.email.
//   - charge.refunded: Refunded, for the payment_intent's order. The charge's
//     amount_refunded is cumulative, so the refund is the change from
//     previous_attributes.amount_refunded; when that is absent, the newest
//     refund in the charge's refunds list (only sent by API versions before
//     2022-11-15). Neither: 422. ExternalID is that refund's ID when known,
//     else the event ID (a retry of the event keeps it).
//
// Others are ignored. Amounts are converted from Stripe's minor units to
// ISO 4217 ones where they differ (ISK, MGA). Event.ID is the event's ID.
func ParseStripe(body []byte, sigHeader, secret string, tolerance time.Duration) (orders.Event, error) {
	ev := orders.Event{Source: orders.Stripe}
	if secret == "" {
		return ev, errorf(http.StatusUnauthorized, "no Stripe signing secret is set up, so no signature can match")
	}
	if tolerance <= 0 {
		tolerance = StripeTolerance
	}
	// Without a t= part the library would call the signature stale.
	if sigHeader != "" && !strings.HasPrefix(sigHeader, "t=") && !strings.Contains(sigHeader, ",t=") {
		return ev, errorf(http.StatusUnauthorized, "the Stripe-Signature header has no timestamp")
	}
	_, err := webhook.ConstructEventWithOptions(body, sigHeader, secret, webhook.ConstructEventOptions{
		Tolerance:                tolerance,
		IgnoreAPIVersionMismatch: true,
	})
	switch {
	case errors.Is(err, webhook.ErrTooOld):
		return ev, errorf(http.StatusBadRequest, "the Stripe-Signature timestamp is older than %s (a replay, or a clock far off)", tolerance)
	case errors.Is(err, webhook.ErrNotSigned):
		return ev, errorf(http.StatusUnauthorized, "no Stripe-Signature header")
	case errors.Is(err, webhook.ErrInvalidHeader), errors.Is(err, webhook.ErrNoValidSignature):
		return ev, errorf(http.StatusUnauthorized, "the Stripe signature does not match")
	case err != nil:
		// Signed, but not an event we can read: not JSON, or a thin event.
		return ev, errorf(http.StatusBadRequest, "not a Stripe event: %s", truncate(err.Error(), 200))
	}

	var e stripeEvent
	if err := decode(body, &e); err != nil {
		return ev, err
	}
	if ev.ID, err = checkID("the event ID", jsonID(e.ID)); err != nil {
		return ev, err
	}
	var at time.Time // when Stripe made the event
	if e.Created > 0 {
		at = time.Unix(e.Created, 0).UTC()
	}

	switch e.Type {
	case "checkout.session.completed", "checkout.session.async_payment_succeeded":
		var s stripeSession
		if err := decodeObject(e.Data.Object, &s); err != nil {
			return ev, err
		}
		if s.PaymentStatus != "paid" {
			return ev, ignored("checkout session %s is %q, not paid", truncate(s.ID, 80), truncate(s.PaymentStatus, 40))
		}
		order, err := stripePlaced(&s, at)
		if err != nil {
			return ev, err
		}
		ev.Kind, ev.Order = orders.Placed, order
	case "charge.refunded":
		var c stripeCharge
		if err := decodeObject(e.Data.Object, &c); err != nil {
			return ev, err
		}
		refund, err := stripeRefunded(&c, &e, at)
		if err != nil {
			return ev, err
		}
		ev.Kind, ev.Refund = orders.Refunded, refund
	default:
		return ev, ignored("Stripe event type %q is not used", truncate(e.Type, 80))
	}
	return check(ev)
}

// decodeObject reads the event's data.object.
func decodeObject(obj json.RawMessage, v any) error {
	if len(obj) == 0 || string(obj) == "null" {
		return errorf(http.StatusBadRequest, "the event has no data.object")
	}
	return decode(obj, v)
}

func stripePlaced(s *stripeSession, eventAt time.Time) (*orders.Order, error) {
	id := ""
	if s.PaymentIntent != nil {
		id = string(*s.PaymentIntent)
	}
	if id == "" {
		id = s.ID
	}
	id, err := checkID("the session's payment_intent and id", jsonID(id))
	if err != nil {
		return nil, err
	}
	cur, err := currency(s.Currency)
	if err != nil {
		return nil, err
	}
	if s.AmountSubtotal == nil {
		return nil, errorf(http.StatusBadRequest, "the session has no amount_subtotal")
	}
	unit, err := stripeAmount("amount_subtotal", *s.AmountSubtotal, cur)
	if err != nil {
		return nil, err
	}
	var discount int64
	if s.TotalDetails != nil {
		if discount, err = stripeAmount("total_details.amount_discount", s.TotalDetails.AmountDiscount, cur); err != nil {
			return nil, err
		}
	}
	placed := eventAt
	if s.Created > 0 {
		placed = time.Unix(s.Created, 0).UTC()
	}
	order := &orders.Order{
		ExternalID: id,
		PlacedAt:   placed,
		Currency:   cur,
		Lines: []orders.Line{{
			SKU:       text(s.Metadata["sku"], 255),
			Name:      "Stripe checkout",
			Quantity:  1,
			UnitPrice: unit,
			Discount:  discount,
		}},
		Codes: codes(s.Metadata["discount_code"]),
		// Metadata first: client_reference_id may be the shop's own ID
		// for something else.
		ClickID: firstNonEmpty(clickID(s.Metadata[ClickParam]), clickID(s.ClientReferenceID)),
	}
	if s.CustomerDetails != nil {
		order.Email = email(s.CustomerDetails.Email, s.CustomerEmail)
	} else {
		order.Email = email(s.CustomerEmail)
	}
	return order, nil
}

func stripeRefunded(c *stripeCharge, e *stripeEvent, at time.Time) (*orders.Refund, error) {
	pi := ""
	if c.PaymentIntent != nil {
		pi = string(*c.PaymentIntent)
	}
	if pi == "" {
		return nil, ignored("charge %s has no payment_intent, so no Checkout order", truncate(c.ID, 80))
	}
	if at.IsZero() {
		return nil, errorf(http.StatusBadRequest, "the event has no created time")
	}
	orderID, err := checkID("the charge's payment_intent", jsonID(pi))
	if err != nil {
		return nil, err
	}
	cur, err := currency(c.Currency)
	if err != nil {
		return nil, err
	}

	// This refund's amount: the change in the cumulative amount_refunded,
	// else the newest refund object. The refund's ID is kept when the two
	// agree (or only the object is known).
	var (
		delta    int64
		known    bool
		refundID string
	)
	if prev := e.Data.PreviousAttributes.AmountRefunded; prev != nil {
		delta, known = c.AmountRefunded-*prev, true
	}
	if c.Refunds != nil && len(c.Refunds.Data) > 0 {
		newest := c.Refunds.Data[0]
		if !known {
			delta, known = newest.Amount, true
		}
		if newest.Amount == delta {
			refundID = newest.ID
		}
	}
	if !known {
		return nil, errorf(http.StatusUnprocessableEntity, "charge.refunded without previous_attributes.amount_refunded or a refunds list: this refund's amount cannot be told from the cumulative total")
	}
	if delta <= 0 {
		return nil, errorf(http.StatusUnprocessableEntity, "charge.refunded does not increase the amount refunded")
	}
	amt, err := stripeAmount("the refund", delta, cur)
	if err != nil {
		return nil, err
	}
	if refundID == "" {
		refundID = e.ID
	}
	id, err := checkID("the refund ID", jsonID(refundID))
	if err != nil {
		return nil, err
	}
	return &orders.Refund{ExternalID: id, OrderExternalID: orderID, At: at, Currency: cur, Amount: amt}, nil
}

// Stripe's minor units follow ISO 4217 except where its documentation
// says: the zero-decimal currencies below (MGA has two ISO decimals), the
// three-decimal ones, and two decimals for everything else (ISK has none
// in ISO; Stripe keeps two, in multiples of 100).
var (
	stripeZeroDecimal  = strings.Fields("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF")
	stripeThreeDecimal = strings.Fields("BHD JOD KWD OMR TND")
)

func stripeExponent(cur string) int {
	for _, c := range stripeZeroDecimal {
		if c == cur {
			return 0
		}
	}
	for _, c := range stripeThreeDecimal {
		if c == cur {
			return 3
		}
	}
	return 2
}

// stripeAmount converts a Stripe amount into ISO 4217 minor units of cur.
func stripeAmount(what string, n int64, cur string) (int64, error) {
	if n < 0 {
		return 0, errorf(http.StatusBadRequest, "%s is negative", what)
	}
	iso, ok := money.Exponent(cur)
	if !ok {
		return 0, unknownCurrency(cur)
	}
	for e := stripeExponent(cur); e < iso; e++ {
		var ok bool
		if n, ok = mul(n, 10); !ok {
			return 0, errorf(http.StatusBadRequest, "%s is too large", what)
		}
	}
	for e := stripeExponent(cur); e > iso; e-- {
		if n%10 != 0 {
			return 0, errorf(http.StatusBadRequest, "%s (%s) has a fraction %s does not have", what, strconv.FormatInt(n, 10), cur)
		}
		n /= 10
	}
	return n, nil
}

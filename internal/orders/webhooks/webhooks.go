// Package webhooks checks and reads the order webhooks of Shopify, Stripe
// and WooCommerce, turning each delivery into an orders.Event.
//
// Every function here works on the raw request body, exactly as it came
// off the wire: signatures are computed over those bytes, so the HTTP
// handler must not decode, re-encode or trim the body first. The handler's
// part is small:
//
//  1. cap the body size and read it whole;
//  2. verify the signature (VerifyShopify, VerifyWoo; ParseStripe verifies
//     by itself), answering 401 when it does not match;
//  3. parse it (ParseShopify, ParseStripe, ParseWoo);
//  4. answer Status(err): 200 for an event to store and for an ignored one
//     (errors.Is(err, ErrIgnored): valid, but nothing Roost uses, so
//     nothing is stored), the *Error's 4xx otherwise, with its Reason.
//
// Parsers never panic on any input, and every Event they return has passed
// the same checks: an external ID, a known ISO 4217 currency, positive
// quantities, and no negative amount.
package webhooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/roost-hq/roost/internal/money"
	"github.com/roost-hq/roost/internal/orders"
)

// Headers the senders put their signatures, topics and delivery IDs in.
const (
	ShopifyHMACHeader      = "X-Shopify-Hmac-Sha256"
	ShopifyTopicHeader     = "X-Shopify-Topic"
	ShopifyWebhookIDHeader = "X-Shopify-Webhook-Id" // one delivery (kept across retries)
	ShopifyEventIDHeader   = "X-Shopify-Event-Id"   // one event (shared by every subscription to it)

	StripeSignatureHeader = "Stripe-Signature"

	WooSignatureHeader  = "X-WC-Webhook-Signature"
	WooTopicHeader      = "X-WC-Webhook-Topic"
	WooDeliveryIDHeader = "X-WC-Webhook-Delivery-ID"
)

// ClickParam is the name under which the Roost click ID travels through a
// checkout: the tracked link's query parameter, the Shopify cart attribute
// our storefront snippet sets, WooCommerce order meta, Stripe metadata.
// (A workspace may rename the link parameter; the snippets keep this name.)
const ClickParam = "roost_cid"

// Error is a delivery Roost refuses: Status is the HTTP status to answer
// (400, 401, 415 or 422) and Reason says why in words that are safe to
// send back to the sender and to log (never a secret, never the body).
//
//   - 401: the signature is missing or does not match.
//   - 400: the delivery is broken: a stale Stripe timestamp, a body that
//     is not JSON or is cut short, a missing order ID, an unknown currency,
//     a quantity that is not positive, a negative amount.
//   - 415: the body is not JSON (see CheckContentType).
//   - 422: the event is well formed and understood, but Roost cannot use it
//     (a Stripe refund whose amount cannot be told, an old WooCommerce API
//     payload).
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string { return e.Reason }

func errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Reason: fmt.Sprintf(format, args...)}
}

// ErrIgnored marks a valid delivery that Roost does not use: a topic or
// event type it does not handle, an order not paid yet, the ping a store
// sends when a webhook is created. The handler answers 200 and stores
// nothing. Parsers wrap it with the reason: test with errors.Is.
var ErrIgnored = errors.New("ignored")

func ignored(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrIgnored, fmt.Sprintf(format, args...))
}

// Status is the HTTP status a handler answers for a parser's error: 200
// for nil and for an ignored delivery, the *Error's status, and 500 for
// anything else (which the parsers here never return).
func Status(err error) int {
	var e *Error
	switch {
	case err == nil, errors.Is(err, ErrIgnored):
		return http.StatusOK
	case errors.As(err, &e):
		return e.Status
	default:
		return http.StatusInternalServerError
	}
}

// CheckContentType refuses, with 415, a request whose Content-Type is not
// JSON. All three stores send application/json (Stripe adds a charset).
// WooCommerce's creation ping is form-encoded: let IsWooPing answer it
// before this check.
func CheckContentType(h http.Header) error {
	ct := h.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		if ct == "" {
			ct = "none"
		}
		return errorf(http.StatusUnsupportedMediaType, "content type %q: the body must be application/json", ct)
	}
	return nil
}

// decode reads a JSON body into v, turning the decoder's errors into 400s
// that say where the body is wrong.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errorf(http.StatusBadRequest, "empty body")
	}
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var bad *Error
	switch {
	case errors.As(err, &bad):
		return bad
	case errors.As(err, &syn):
		if syn.Offset >= int64(len(body)) {
			return errorf(http.StatusBadRequest, "malformed JSON: the body ends too soon (truncated?)")
		}
		return errorf(http.StatusBadRequest, "malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the body"
		}
		return errorf(http.StatusBadRequest, "%s: JSON %s where %s was expected", field, typ.Value, kindName(typ.Type))
	default:
		return errorf(http.StatusBadRequest, "malformed JSON: %v", err)
	}
}

func kindName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.String:
		return "a string"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Bool:
		return "true or false"
	}
	return "another type"
}

// jsonID is an identifier that a store sends as a JSON integer or string.
// It keeps the text, so 64-bit IDs (Shopify's exceed 2^53) never pass
// through a float64.
type jsonID string

func (id *jsonID) UnmarshalJSON(b []byte) error {
	s := string(b)
	switch {
	case s == "null":
		*id = ""
	case strings.HasPrefix(s, `"`):
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = jsonID(strings.TrimSpace(s))
	default:
		for _, c := range s {
			if c < '0' || c > '9' {
				return errorf(http.StatusBadRequest, "ID %.40s is not a whole number", s)
			}
		}
		*id = jsonID(s)
	}
	return nil
}

// maxIDLen bounds every external ID we store.
const maxIDLen = 255

// checkID refuses a missing, zero, over-long or unprintable ID.
func checkID(what string, id jsonID) (string, error) {
	s := string(id)
	if s == "" || s == "0" {
		return "", errorf(http.StatusBadRequest, "%s is missing", what)
	}
	if len(s) > maxIDLen || !printable(s) {
		return "", errorf(http.StatusBadRequest, "%s is not a usable ID", what)
	}
	return s, nil
}

// optionalID checks an ID that may be absent (a line's ID: refunds then
// match by SKU).
func optionalID(what string, id jsonID) (string, error) {
	if id == "" || id == "0" {
		return "", nil
	}
	return checkID(what, id)
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// jsonDecimal is an amount a store sends as a decimal string ("19.99") or,
// in a few places (Shopify's refund line subtotal), as a bare JSON number.
// It keeps the text; amount turns it into minor units.
type jsonDecimal string

func (d *jsonDecimal) UnmarshalJSON(b []byte) error {
	s := string(b)
	switch {
	case s == "null":
		*d = ""
	case strings.HasPrefix(s, `"`):
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*d = jsonDecimal(strings.TrimSpace(s))
	case strings.HasPrefix(s, "{"), strings.HasPrefix(s, "["), s == "true", s == "false":
		return errorf(http.StatusBadRequest, "an amount is %.20s, not a number", s)
	default:
		*d = jsonDecimal(s) // a JSON number: the decoder has checked its syntax
	}
	return nil
}

// amount reads a decimal in currency into minor units, refusing negative
// amounts and more significant decimals than the currency has. Trailing
// zeros past the currency's exponent are accepted ("1000.00" JPY is 1000):
// stores format amounts with their own decimal setting.
func amount(what string, d jsonDecimal, currency string) (int64, error) {
	s := string(d)
	if s == "" {
		return 0, errorf(http.StatusBadRequest, "%s is missing", what)
	}
	exp, ok := money.Exponent(currency)
	if !ok {
		return 0, unknownCurrency(currency)
	}
	if whole, frac, found := strings.Cut(s, "."); found && len(frac) > exp {
		trimmed := strings.TrimRight(frac[exp:], "0")
		if trimmed == "" {
			s = whole
			if exp > 0 {
				s += "." + frac[:exp]
			}
		}
	}
	n, err := money.Parse(s, currency)
	if err != nil {
		return 0, errorf(http.StatusBadRequest, "%s: %q is not an amount in %s (at most %d decimals)", what, truncate(string(d), 40), currency, exp)
	}
	if n < 0 {
		return 0, errorf(http.StatusBadRequest, "%s is negative (%s)", what, truncate(string(d), 40))
	}
	return n, nil
}

func unknownCurrency(c string) *Error {
	if c == "" {
		return errorf(http.StatusBadRequest, "the currency is missing")
	}
	return errorf(http.StatusBadRequest, "unknown currency %q (not an active ISO 4217 code)", truncate(c, 10))
}

// currency checks an ISO 4217 code, upper-casing it first (Stripe sends
// lower case).
func currency(c string) (string, error) {
	c = strings.ToUpper(strings.TrimSpace(c))
	if _, ok := money.Exponent(c); !ok {
		return "", unknownCurrency(c)
	}
	return c, nil
}

// checkLine refuses a line whose numbers would make no sense downstream,
// where a line earns Quantity×UnitPrice−Discount.
func checkLine(i int, l orders.Line) error {
	n := i + 1
	switch {
	case l.Quantity <= 0:
		return errorf(http.StatusBadRequest, "line %d: quantity %d is not positive", n, l.Quantity)
	case l.UnitPrice < 0:
		return errorf(http.StatusBadRequest, "line %d: negative price", n)
	case l.Discount < 0:
		return errorf(http.StatusBadRequest, "line %d: negative discount", n)
	}
	gross, ok := mul(l.Quantity, l.UnitPrice)
	if !ok {
		return errorf(http.StatusBadRequest, "line %d: amount too large", n)
	}
	if l.Discount > gross {
		return errorf(http.StatusBadRequest, "line %d: the discount is larger than the line's price", n)
	}
	return nil
}

// mul multiplies two non-negative int64s, reporting overflow.
func mul(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	if a > (1<<63-1)/b {
		return 0, false
	}
	return a * b, true
}

// add adds two non-negative int64s, reporting overflow.
func add(a, b int64) (int64, bool) {
	if a > 1<<63-1-b {
		return 0, false
	}
	return a + b, true
}

// unitPrice splits a line's subtotal (before discounts) and total (after)
// into a unit price and a discount when the store gives only the totals:
// the unit price is the subtotal divided by the quantity, rounded up to a
// whole minor unit, and the rounding goes into the discount, so that
// Quantity×UnitPrice−Discount is exactly the line's total.
func unitPrice(i int, qty, subtotal, total int64) (unit, discount int64, err error) {
	if qty <= 0 {
		return 0, 0, errorf(http.StatusBadRequest, "line %d: quantity %d is not positive", i+1, qty)
	}
	if total > subtotal {
		return 0, 0, errorf(http.StatusBadRequest, "line %d: the total is larger than the subtotal", i+1)
	}
	unit = subtotal / qty
	if subtotal%qty != 0 {
		unit++
	}
	gross, ok := mul(unit, qty)
	if !ok {
		return 0, 0, errorf(http.StatusBadRequest, "line %d: amount too large", i+1)
	}
	return unit, gross - total, nil
}

// clickID accepts a click ID only when it looks like one Roost made: it
// comes from fields a shopper can edit, so anything else is dropped rather
// than failing a real order.
func clickID(s string) string {
	s = strings.TrimSpace(s)
	if len(s) == 0 || len(s) > 64 {
		return ""
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return ""
		}
	}
	return s
}

// clickIDFromURL finds the click parameter in a URL, an absolute one or
// a path with a query ("/products/x?roost_cid=…"), as robustly as it can.
func clickIDFromURL(raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return ""
	}
	var q string
	if u, err := url.Parse(raw); err == nil {
		q = u.RawQuery
	} else if _, after, ok := strings.Cut(raw, "?"); ok {
		q, _, _ = strings.Cut(after, "#")
	}
	if q == "" {
		return ""
	}
	// ParseQuery keeps what it can read when one pair is malformed.
	v, _ := url.ParseQuery(q)
	return clickID(v.Get(ClickParam))
}

// email keeps an address that looks like one, trimmed; Roost stores only
// a salted hash of it, so a bad one is dropped, not refused.
func email(candidates ...string) string {
	for _, s := range candidates {
		s = strings.TrimSpace(s)
		if len(s) >= 3 && len(s) <= 254 && strings.Contains(s, "@") && printable(s) && !strings.ContainsAny(s, " \t") {
			return s
		}
	}
	return ""
}

// codes collects discount codes: trimmed, non-empty, bounded, each once.
func codes(raw ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range raw {
		c = strings.TrimSpace(c)
		if c == "" || len(c) > 255 || !printable(c) || seen[strings.ToLower(c)] {
			continue
		}
		seen[strings.ToLower(c)] = true
		out = append(out, c)
	}
	return out
}

// text bounds a free-text field (a product name, a SKU).
func text(s string, max int) string {
	s = strings.TrimSpace(s)
	return truncate(s, max)
}

// truncate cuts s to at most max bytes without splitting a character.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// parseTime reads an RFC 3339 time; a zone-less one ("2024-05-01T10:00:00",
// as WooCommerce's *_gmt fields are) is taken as UTC. Empty gives zero.
func parseTime(what, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errorf(http.StatusBadRequest, "%s: %q is not a time", what, truncate(s, 40))
}

// firstTime returns the first non-zero time.
func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// check is the last word on every Event a parser returns: whatever the
// source, what leaves this package is consistent.
func check(ev orders.Event) (orders.Event, error) {
	switch ev.Kind {
	case orders.Placed:
		o := ev.Order
		if o == nil || ev.Refund != nil || ev.Cancel != nil {
			break
		}
		if o.ExternalID == "" {
			return ev, errorf(http.StatusBadRequest, "the order ID is missing")
		}
		if _, ok := money.Exponent(o.Currency); !ok {
			return ev, unknownCurrency(o.Currency)
		}
		if o.PlacedAt.IsZero() {
			return ev, errorf(http.StatusBadRequest, "the order has no date")
		}
		for i, l := range o.Lines {
			if err := checkLine(i, l); err != nil {
				return ev, err
			}
		}
		return ev, nil
	case orders.Refunded:
		r := ev.Refund
		if r == nil || ev.Order != nil || ev.Cancel != nil {
			break
		}
		if r.ExternalID == "" || r.OrderExternalID == "" {
			return ev, errorf(http.StatusBadRequest, "the refund or its order has no ID")
		}
		if _, ok := money.Exponent(r.Currency); !ok {
			return ev, unknownCurrency(r.Currency)
		}
		if r.Amount < 0 {
			return ev, errorf(http.StatusBadRequest, "negative refund")
		}
		for i, l := range r.Lines {
			if l.Quantity <= 0 {
				return ev, errorf(http.StatusBadRequest, "refund line %d: quantity %d is not positive", i+1, l.Quantity)
			}
			if l.Amount < 0 {
				return ev, errorf(http.StatusBadRequest, "refund line %d: negative amount", i+1)
			}
		}
		return ev, nil
	case orders.Cancelled:
		c := ev.Cancel
		if c == nil || ev.Order != nil || ev.Refund != nil {
			break
		}
		if c.OrderExternalID == "" {
			return ev, errorf(http.StatusBadRequest, "the order ID is missing")
		}
		return ev, nil
	}
	// Only a bug here gets this far.
	return ev, errorf(http.StatusUnprocessableEntity, "inconsistent event")
}

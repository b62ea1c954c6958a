package webhooks

import (
	"bytes"
	"net/http"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/orders"
)

// VerifyWoo reports whether sigHeader (X-WC-Webhook-Signature) is the
// base64 HMAC-SHA256 of the raw body under the webhook's secret, compared
// in constant time. An empty secret verifies nothing.
func VerifyWoo(secret, body []byte, sigHeader string) bool {
	return verifyBase64HMAC(secret, body, sigHeader)
}

// IsWooPing reports whether body is the ping WooCommerce sends when a
// webhook is saved: "webhook_id=<n>", form-encoded, with no signature and
// no topic. WooCommerce keeps the webhook only if the ping gets a 200, so
// the handler answers it with 200 before checking the content type or the
// signature (it stores nothing, so there is nothing to forge).
func IsWooPing(body []byte) bool {
	rest, ok := bytes.CutPrefix(bytes.TrimSpace(body), []byte("webhook_id="))
	if !ok || len(rest) == 0 || len(rest) > 20 {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// WooCommerce's order as the REST API (v3, the webhooks' default) renders
// it: amounts are decimal strings in the order's currency, dates in *_gmt
// fields carry no zone and are UTC.
type wooOrder struct {
	ID              jsonID      `json:"id"`
	Status          string      `json:"status"`
	Currency        string      `json:"currency"`
	DateCreatedGMT  string      `json:"date_created_gmt"`
	DateModifiedGMT string      `json:"date_modified_gmt"`
	Total           jsonDecimal `json:"total"`
	Billing         *struct {
		Email string `json:"email"`
	} `json:"billing"`
	MetaData    []nameValue `json:"meta_data"`
	CouponLines []struct {
		Code string `json:"code"`
	} `json:"coupon_lines"`
	LineItems []struct {
		ID       jsonID      `json:"id"`
		Name     string      `json:"name"`
		SKU      string      `json:"sku"`
		Quantity int64       `json:"quantity"`
		Subtotal jsonDecimal `json:"subtotal"`
		Total    jsonDecimal `json:"total"`
		// price is a float (11.050000000000000710…): never read.
	} `json:"line_items"`
	// Legacy is set when the webhook uses the legacy API, which wraps the
	// order in {"order": {…}} with other field names.
	Legacy *struct{} `json:"order"`
}

// ParseWoo reads a WooCommerce webhook for topic (X-WC-Webhook-Topic).
// order.created and order.updated are read by the order's status:
//
//   - processing, completed: Placed. ExternalID is the order ID, PlacedAt
//     date_created_gmt, UpdatedAt date_modified_gmt (so a repeat of the
//     same version is recognised downstream: WooCommerce makes a new
//     delivery ID for every attempt). Each line's UnitPrice is subtotal ÷
//     quantity (see unitPrice for the rounding) and its Discount subtotal −
//     total; codes are coupon_lines[].code, the click ID the meta_data
//     entry roost_cid (or _roost_cid, else the roost_cid parameter of the
//     attribution's landing URL), the email billing.email.
//   - cancelled: Cancelled, at date_modified_gmt.
//   - refunded: a full refund, ExternalID "full", at date_modified_gmt: every
//     line for its whole quantity and total, or the order's total when it
//     has no lines. Partial refunds do not change the status; they are not
//     told apart from an update here.
//   - any other status (pending, on-hold, failed, …): ignored.
//
// Other topics, and the creation ping (IsWooPing), are ignored. deliveryID
// (X-WC-Webhook-Delivery-ID) becomes Event.ID. The body must already be
// verified (VerifyWoo).
func ParseWoo(topic, deliveryID string, body []byte) (orders.Event, error) {
	ev := orders.Event{Source: orders.WooCommerce, ID: truncate(strings.TrimSpace(deliveryID), maxIDLen)}
	if IsWooPing(body) {
		return ev, ignored("WooCommerce webhook ping")
	}
	switch strings.TrimSpace(topic) {
	case "order.created", "order.updated":
	default:
		return ev, ignored("WooCommerce topic %q is not used", truncate(topic, 60))
	}
	var o wooOrder
	if err := decode(body, &o); err != nil {
		return ev, err
	}
	if o.Legacy != nil && o.ID == "" {
		return ev, errorf(http.StatusUnprocessableEntity, "a legacy API payload: set the webhook's API version to WP REST API Integration v3")
	}
	id, err := checkID("the order ID", o.ID)
	if err != nil {
		return ev, err
	}
	modified, err := parseTime("date_modified_gmt", o.DateModifiedGMT)
	if err != nil {
		return ev, err
	}
	switch o.Status {
	case "processing", "completed":
		order, err := wooPlaced(&o, id, modified)
		if err != nil {
			return ev, err
		}
		ev.Kind, ev.Order = orders.Placed, order
	case "cancelled":
		if modified.IsZero() {
			return ev, errorf(http.StatusBadRequest, "date_modified_gmt is missing")
		}
		ev.Kind, ev.Cancel = orders.Cancelled, &orders.Cancel{OrderExternalID: id, At: modified}
	case "refunded":
		refund, err := wooRefunded(&o, id, modified)
		if err != nil {
			return ev, err
		}
		ev.Kind, ev.Refund = orders.Refunded, refund
	default:
		return ev, ignored("WooCommerce order %s is %q, not paid", id, truncate(o.Status, 40))
	}
	return check(ev)
}

func wooPlaced(o *wooOrder, id string, modified time.Time) (*orders.Order, error) {
	cur, err := currency(o.Currency)
	if err != nil {
		return nil, err
	}
	created, err := parseTime("date_created_gmt", o.DateCreatedGMT)
	if err != nil {
		return nil, err
	}
	order := &orders.Order{
		ExternalID: id,
		PlacedAt:   firstTime(created, modified),
		UpdatedAt:  modified,
		Currency:   cur,
	}
	order.ClickID = wooClickID(o.MetaData)
	if o.Billing != nil {
		order.Email = email(o.Billing.Email)
	}
	var raw []string
	for _, c := range o.CouponLines {
		raw = append(raw, c.Code)
	}
	order.Codes = codes(raw...)
	for i, li := range o.LineItems {
		if li.Quantity <= 0 {
			return nil, errorf(http.StatusBadRequest, "line %d: quantity %d is not positive", i+1, li.Quantity)
		}
		sub, err := amount(lineField(i, "subtotal"), li.Subtotal, cur)
		if err != nil {
			return nil, err
		}
		total, err := amount(lineField(i, "total"), li.Total, cur)
		if err != nil {
			return nil, err
		}
		unit, discount, err := unitPrice(i, li.Quantity, sub, total)
		if err != nil {
			return nil, err
		}
		lineID, err := optionalID(lineField(i, "id"), li.ID)
		if err != nil {
			return nil, err
		}
		order.Lines = append(order.Lines, orders.Line{
			ExternalID: lineID,
			SKU:        text(li.SKU, 255),
			Name:       text(li.Name, 500),
			Quantity:   li.Quantity,
			UnitPrice:  unit,
			Discount:   discount,
		})
	}
	return order, nil
}

// wooClickID reads the click ID from the order's meta: the roost_cid (or
// _roost_cid) entry our snippet or plugin writes, else the landing URL that
// WooCommerce's own order attribution (8.5+) keeps.
func wooClickID(meta []nameValue) string {
	for _, m := range meta {
		if k := strings.TrimSpace(m.Key); k == ClickParam || k == "_"+ClickParam {
			if cid := clickID(string(m.Value)); cid != "" {
				return cid
			}
		}
	}
	for _, m := range meta {
		if strings.TrimSpace(m.Key) == "_wc_order_attribution_session_entry" {
			if cid := clickIDFromURL(string(m.Value)); cid != "" {
				return cid
			}
		}
	}
	return ""
}

// wooFullRefund is the ExternalID of the one full refund an order can have.
const wooFullRefund = "full"

func wooRefunded(o *wooOrder, id string, modified time.Time) (*orders.Refund, error) {
	cur, err := currency(o.Currency)
	if err != nil {
		return nil, err
	}
	if modified.IsZero() {
		return nil, errorf(http.StatusBadRequest, "date_modified_gmt is missing")
	}
	refund := &orders.Refund{ExternalID: wooFullRefund, OrderExternalID: id, At: modified, Currency: cur}
	for i, li := range o.LineItems {
		if li.Quantity <= 0 {
			return nil, errorf(http.StatusBadRequest, "line %d: quantity %d is not positive", i+1, li.Quantity)
		}
		total, err := amount(lineField(i, "total"), li.Total, cur)
		if err != nil {
			return nil, err
		}
		lineID, err := optionalID(lineField(i, "id"), li.ID)
		if err != nil {
			return nil, err
		}
		refund.Lines = append(refund.Lines, orders.RefundLine{
			LineExternalID: lineID,
			SKU:            text(li.SKU, 255),
			Quantity:       li.Quantity,
			Amount:         total,
		})
	}
	if len(refund.Lines) == 0 {
		if refund.Amount, err = amount("total", o.Total, cur); err != nil {
			return nil, err
		}
		if refund.Amount == 0 {
			return nil, ignored("WooCommerce order %s refunded nothing", id)
		}
	}
	return refund, nil
}

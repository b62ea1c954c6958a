package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/orders"
)

// VerifyShopify reports whether hmacHeader (X-Shopify-Hmac-Sha256) is the
// base64 HMAC-SHA256 of the raw body under the app's or store's webhook
// secret, compared in constant time. An empty secret verifies nothing.
func VerifyShopify(secret, body []byte, hmacHeader string) bool {
	return verifyBase64HMAC(secret, body, hmacHeader)
}

// verifyBase64HMAC is the scheme Shopify and WooCommerce share.
func verifyBase64HMAC(secret, body []byte, header string) bool {
	if len(secret) == 0 {
		return false
	}
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header))
	if err != nil || len(got) != sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(mac.Sum(nil), got)
}

// ShopifyDeliveryID is the ID to pass to ParseShopify: the webhook ID,
// which a retry of the same delivery keeps, or else the event ID. Shopify's
// newer deliveries name the headers without the X- prefix; both are read.
func ShopifyDeliveryID(h http.Header) string {
	for _, k := range []string{ShopifyWebhookIDHeader, "Shopify-Webhook-Id", ShopifyEventIDHeader, "Shopify-Event-Id"} {
		if v := strings.TrimSpace(h.Get(k)); v != "" {
			return truncate(v, maxIDLen)
		}
	}
	return ""
}

// Shopify's order, as its REST webhooks send it: only the fields Roost
// reads. Amounts are decimal strings in the shop's currency.
type shopifyOrder struct {
	ID           jsonID `json:"id"`
	Email        string `json:"email"`
	ContactEmail string `json:"contact_email"`
	Customer     *struct {
		Email string `json:"email"`
	} `json:"customer"`
	Currency       string      `json:"currency"`
	CreatedAt      string      `json:"created_at"`
	ProcessedAt    string      `json:"processed_at"`
	UpdatedAt      string      `json:"updated_at"`
	CancelledAt    string      `json:"cancelled_at"`
	LandingSite    string      `json:"landing_site"`
	NoteAttributes []nameValue `json:"note_attributes"`
	DiscountCodes  []struct {
		Code string `json:"code"`
	} `json:"discount_codes"`
	LineItems []shopifyLine `json:"line_items"`
}

type shopifyLine struct {
	ID                  jsonID      `json:"id"`
	SKU                 string      `json:"sku"`
	Name                string      `json:"name"`
	Title               string      `json:"title"`
	Quantity            int64       `json:"quantity"`
	Price               jsonDecimal `json:"price"`
	PriceSet            *moneySet   `json:"price_set"`
	TotalDiscount       jsonDecimal `json:"total_discount"`
	DiscountAllocations []struct {
		Amount    jsonDecimal `json:"amount"`
		AmountSet *moneySet   `json:"amount_set"`
	} `json:"discount_allocations"`
}

// moneySet is Shopify's amount in the shop's and the buyer's currencies.
type moneySet struct {
	ShopMoney struct {
		Amount       jsonDecimal `json:"amount"`
		CurrencyCode string      `json:"currency_code"`
	} `json:"shop_money"`
}

// shop prefers the amount in shop money, then the plain field (which
// Shopify documents in the shop's currency too).
func (m *moneySet) shop(plain jsonDecimal) jsonDecimal {
	if m != nil && m.ShopMoney.Amount != "" {
		return m.ShopMoney.Amount
	}
	return plain
}

// nameValue is a Shopify note (cart) attribute or a WooCommerce meta entry:
// its value may be any JSON, and only strings are used.
type nameValue struct {
	Name  string          `json:"name"`
	Key   string          `json:"key"`
	Value jsonLooseString `json:"value"`
}

// jsonLooseString takes a JSON string and leaves anything else empty
// (meta values may be numbers, arrays or objects).
type jsonLooseString string

func (s *jsonLooseString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = jsonLooseString(v)
	}
	return nil
}

type shopifyRefund struct {
	ID              jsonID `json:"id"`
	OrderID         jsonID `json:"order_id"`
	CreatedAt       string `json:"created_at"`
	ProcessedAt     string `json:"processed_at"`
	RefundLineItems []struct {
		LineItemID  jsonID      `json:"line_item_id"`
		Quantity    int64       `json:"quantity"`
		Subtotal    jsonDecimal `json:"subtotal"`
		SubtotalSet *moneySet   `json:"subtotal_set"`
		LineItem    *struct {
			ID  jsonID `json:"id"`
			SKU string `json:"sku"`
		} `json:"line_item"`
	} `json:"refund_line_items"`
	Transactions []struct {
		Kind     string      `json:"kind"`
		Status   string      `json:"status"`
		Amount   jsonDecimal `json:"amount"`
		Currency string      `json:"currency"`
	} `json:"transactions"`
}

// ParseShopify reads a Shopify webhook (REST JSON format) for topic (the
// X-Shopify-Topic header):
//
//   - orders/paid: Placed. ExternalID is the order's numeric ID; PlacedAt
//     is processed_at (else created_at), UpdatedAt updated_at. Each line
//     has the unit price before discounts (price, in shop money) and its
//     discount, the sum of its discount_allocations (Shopify no longer
//     fills total_discount, which is the fallback). The click ID is the
//     roost_cid note (cart) attribute, else the roost_cid parameter of
//     landing_site; the email is email, else customer.email.
//   - orders/cancelled: Cancelled, at cancelled_at (else updated_at).
//   - refunds/create: Refunded. One RefundLine per refund_line_item, with
//     the line's subtotal (after discounts, before tax); a refund with no
//     lines (shipping, goodwill) is the sum of its successful refund
//     transactions; a refund that moves no money is ignored.
//
// Other topics are ignored. deliveryID becomes Event.ID (see
// ShopifyDeliveryID). The body must already be verified (VerifyShopify).
func ParseShopify(topic, deliveryID string, body []byte) (orders.Event, error) {
	ev := orders.Event{Source: orders.Shopify, ID: truncate(strings.TrimSpace(deliveryID), maxIDLen)}
	switch strings.TrimSpace(topic) {
	case "orders/paid":
		var o shopifyOrder
		if err := decode(body, &o); err != nil {
			return ev, err
		}
		order, err := shopifyPlaced(&o)
		if err != nil {
			return ev, err
		}
		ev.Kind, ev.Order = orders.Placed, order
	case "orders/cancelled":
		var o shopifyOrder
		if err := decode(body, &o); err != nil {
			return ev, err
		}
		id, err := checkID("the order ID", o.ID)
		if err != nil {
			return ev, err
		}
		at, err := shopifyTime("cancelled_at", o.CancelledAt, o.UpdatedAt)
		if err != nil {
			return ev, err
		}
		ev.Kind, ev.Cancel = orders.Cancelled, &orders.Cancel{OrderExternalID: id, At: at}
	case "refunds/create":
		var r shopifyRefund
		if err := decode(body, &r); err != nil {
			return ev, err
		}
		refund, err := shopifyRefunded(&r)
		if err != nil {
			return ev, err
		}
		ev.Kind, ev.Refund = orders.Refunded, refund
	default:
		return ev, ignored("Shopify topic %q is not used", truncate(topic, 60))
	}
	return check(ev)
}

func shopifyPlaced(o *shopifyOrder) (*orders.Order, error) {
	id, err := checkID("the order ID", o.ID)
	if err != nil {
		return nil, err
	}
	cur, err := currency(o.Currency)
	if err != nil {
		return nil, err
	}
	placed, err := shopifyTime("processed_at", o.ProcessedAt, o.CreatedAt)
	if err != nil {
		return nil, err
	}
	updated, err := parseTime("updated_at", o.UpdatedAt)
	if err != nil {
		return nil, err
	}
	order := &orders.Order{
		ExternalID: id,
		PlacedAt:   placed,
		UpdatedAt:  updated,
		Currency:   cur,
		ClickID:    shopifyClickID(o),
	}
	if o.Customer != nil {
		order.Email = email(o.Email, o.Customer.Email, o.ContactEmail)
	} else {
		order.Email = email(o.Email, o.ContactEmail)
	}
	var raw []string
	for _, d := range o.DiscountCodes {
		raw = append(raw, d.Code)
	}
	order.Codes = codes(raw...)
	for i, li := range o.LineItems {
		lineID, err := optionalID(lineField(i, "id"), li.ID)
		if err != nil {
			return nil, err
		}
		line := orders.Line{
			ExternalID: lineID,
			SKU:        text(li.SKU, 255),
			Name:       text(firstNonEmpty(li.Name, li.Title), 500),
			Quantity:   li.Quantity,
		}
		if li.Quantity <= 0 {
			return nil, errorf(http.StatusBadRequest, "line %d: quantity %d is not positive", i+1, li.Quantity)
		}
		if line.UnitPrice, err = amount(lineField(i, "price"), li.PriceSet.shop(li.Price), cur); err != nil {
			return nil, err
		}
		if len(li.DiscountAllocations) > 0 {
			for _, da := range li.DiscountAllocations {
				n, err := amount(lineField(i, "discount allocation"), da.AmountSet.shop(da.Amount), cur)
				if err != nil {
					return nil, err
				}
				var ok bool
				if line.Discount, ok = add(line.Discount, n); !ok {
					return nil, errorf(http.StatusBadRequest, "line %d: discount too large", i+1)
				}
			}
		} else if li.TotalDiscount != "" {
			if line.Discount, err = amount(lineField(i, "total_discount"), li.TotalDiscount, cur); err != nil {
				return nil, err
			}
		}
		order.Lines = append(order.Lines, line)
	}
	return order, nil
}

// shopifyClickID looks in the note (cart) attributes first, where our
// storefront snippet puts the click ID, then in the landing page's URL.
func shopifyClickID(o *shopifyOrder) string {
	for _, a := range o.NoteAttributes {
		if n := strings.TrimSpace(a.Name); n == ClickParam || n == "_"+ClickParam {
			if cid := clickID(string(a.Value)); cid != "" {
				return cid
			}
		}
	}
	return clickIDFromURL(o.LandingSite)
}

func shopifyRefunded(r *shopifyRefund) (*orders.Refund, error) {
	id, err := checkID("the refund ID", r.ID)
	if err != nil {
		return nil, err
	}
	orderID, err := checkID("the refund's order_id", r.OrderID)
	if err != nil {
		return nil, err
	}
	at, err := shopifyTime("created_at", r.CreatedAt, r.ProcessedAt)
	if err != nil {
		return nil, err
	}
	refund := &orders.Refund{ExternalID: id, OrderExternalID: orderID, At: at}

	// The currency: the lines' shop money, else the transactions' (which
	// are in the currency the buyer paid). A refund in two currencies at
	// once cannot be booked.
	setCurrency := func(c string) error {
		if strings.TrimSpace(c) == "" {
			return nil
		}
		c, err := currency(c)
		if err != nil {
			return err
		}
		if refund.Currency != "" && refund.Currency != c {
			return errorf(http.StatusUnprocessableEntity, "the refund mixes currencies %s and %s", refund.Currency, c)
		}
		refund.Currency = c
		return nil
	}
	for _, rl := range r.RefundLineItems {
		if rl.SubtotalSet != nil {
			if err := setCurrency(rl.SubtotalSet.ShopMoney.CurrencyCode); err != nil {
				return nil, err
			}
		}
	}
	if refund.Currency == "" || len(r.RefundLineItems) == 0 {
		for _, t := range r.Transactions {
			if shopifyRefundTransaction(t.Kind, t.Status) {
				if err := setCurrency(t.Currency); err != nil {
					return nil, err
				}
			}
		}
	}
	if refund.Currency == "" {
		if len(r.RefundLineItems) == 0 {
			return nil, ignored("the refund moves no money")
		}
		return nil, errorf(http.StatusBadRequest, "the refund's currency is missing")
	}

	for i, rl := range r.RefundLineItems {
		if rl.Quantity <= 0 {
			return nil, errorf(http.StatusBadRequest, "refund line %d: quantity %d is not positive", i+1, rl.Quantity)
		}
		lineID := rl.LineItemID
		line := orders.RefundLine{Quantity: rl.Quantity}
		if rl.LineItem != nil {
			line.SKU = text(rl.LineItem.SKU, 255)
			if lineID == "" {
				lineID = rl.LineItem.ID
			}
		}
		if line.LineExternalID, err = optionalID(refundLineField(i, "line_item_id"), lineID); err != nil {
			return nil, err
		}
		if line.Amount, err = amount(refundLineField(i, "subtotal"), rl.SubtotalSet.shop(rl.Subtotal), refund.Currency); err != nil {
			return nil, err
		}
		refund.Lines = append(refund.Lines, line)
	}
	if len(refund.Lines) == 0 {
		for i, t := range r.Transactions {
			if !shopifyRefundTransaction(t.Kind, t.Status) {
				continue
			}
			n, err := amount(transactionField(i), t.Amount, refund.Currency)
			if err != nil {
				return nil, err
			}
			var ok bool
			if refund.Amount, ok = add(refund.Amount, n); !ok {
				return nil, errorf(http.StatusBadRequest, "refund amount too large")
			}
		}
		if refund.Amount == 0 {
			return nil, ignored("the refund moves no money")
		}
	}
	return refund, nil
}

// shopifyRefundTransaction is a transaction that gave money back: a
// refund that did not fail (status is "success"; older payloads omit it).
func shopifyRefundTransaction(kind, status string) bool {
	return kind == "refund" && (status == "" || status == "success")
}

// shopifyTime is the first of a field and its fallback that is set.
func shopifyTime(what, s, fallback string) (time.Time, error) {
	t, err := parseTime(what, s)
	if err != nil || !t.IsZero() {
		return t, err
	}
	return parseTime(what, fallback)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

func lineField(i int, f string) string       { return "line " + strconv.Itoa(i+1) + ": " + f }
func refundLineField(i int, f string) string { return "refund line " + strconv.Itoa(i+1) + ": " + f }
func transactionField(i int) string          { return "transaction " + strconv.Itoa(i+1) + ": amount" }

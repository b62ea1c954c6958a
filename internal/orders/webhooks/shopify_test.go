package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/roost-hq/roost/internal/orders"
)

func shopifySign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestVerifyShopify(t *testing.T) {
	t.Parallel()
	secret := []byte("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")
	body := fixture(t, "shopify/orders_paid.json")
	sig := shopifySign(secret, body)
	if !VerifyShopify(secret, body, sig) {
		t.Fatal("a good signature fails")
	}
	if !VerifyShopify(secret, body, " "+sig+"\n") {
		t.Error("surrounding spaces in the header fail")
	}
	tampered := []byte(strings.Replace(string(body), `"885.95"`, `"0.01"`, 1))
	for name, ok := range map[string]bool{
		"tampered body":  VerifyShopify(secret, tampered, sig),
		"other secret":   VerifyShopify([]byte("other"), body, sig),
		"empty secret":   VerifyShopify(nil, body, shopifySign(nil, body)),
		"no header":      VerifyShopify(secret, body, ""),
		"not base64":     VerifyShopify(secret, body, "%%%"),
		"short":          VerifyShopify(secret, body, base64.StdEncoding.EncodeToString([]byte("short"))),
		"hex, not b64":   VerifyShopify(secret, body, strings.Repeat("ab", 32)),
		"reformatted":    VerifyShopify(secret, []byte(strings.ReplaceAll(string(body), ",", ", ")), sig),
		"sig of nothing": VerifyShopify(secret, body, shopifySign(secret, nil)),
	} {
		if ok {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestShopifyDeliveryID(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	if ShopifyDeliveryID(h) != "" {
		t.Error("no headers, an ID")
	}
	h.Set(ShopifyEventIDHeader, "evt-1")
	if got := ShopifyDeliveryID(h); got != "evt-1" {
		t.Errorf("event ID fallback: %q", got)
	}
	h.Set("Shopify-Webhook-Id", "wh-new")
	if got := ShopifyDeliveryID(h); got != "wh-new" {
		t.Errorf("unprefixed webhook ID: %q", got)
	}
	h.Set(ShopifyWebhookIDHeader, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
	if got := ShopifyDeliveryID(h); got != "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043" {
		t.Errorf("webhook ID: %q", got)
	}
}

func TestParseShopify(t *testing.T) {
	t.Parallel()
	const wh = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
	for _, tc := range []struct {
		name, topic, file string
		want              orders.Event
	}{{
		name: "orders/paid USD, click ID from the cart attribute", topic: "orders/paid", file: "shopify/orders_paid.json",
		want: orders.Event{Source: orders.Shopify, ID: wh, Kind: orders.Placed, Order: &orders.Order{
			ExternalID: "820982911946154508", // past 2^53: kept exact
			PlacedAt:   utc("2024-06-26T16:33:22Z"),
			UpdatedAt:  utc("2024-06-26T16:35:00Z"),
			Currency:   "USD",
			Lines: []orders.Line{
				{ExternalID: "866550311766439020", SKU: "SNOW-VID", Name: "The Videographer Snowboard", Quantity: 1, UnitPrice: 88595, Discount: 2000},
				{ExternalID: "141249953214522974", Name: "The Complete Snowboard", Quantity: 2, UnitPrice: 69995},
			},
			Codes:   []string{"DELL-OUTLET-20"},
			ClickID: "01j9z3k4m5n6p7q8r9s0t1v2w3", // the note attribute wins over landing_site
			Email:   "jon@example.com",
		}},
	}, {
		name: "orders/paid JPY, click ID from landing_site, customer email", topic: "orders/paid", file: "shopify/orders_paid_jpy.json",
		want: orders.Event{Source: orders.Shopify, ID: wh, Kind: orders.Placed, Order: &orders.Order{
			ExternalID: "5012345678901",
			PlacedAt:   utc("2024-11-02T09:04:05Z"), // processed_at is null: created_at
			UpdatedAt:  utc("2024-11-02T09:04:07Z"),
			Currency:   "JPY",
			Lines: []orders.Line{
				{ExternalID: "14400000000001", SKU: "TEA-KYUSU-BLK", Name: "Kyusu Teapot - Black", Quantity: 1, UnitPrice: 12000, Discount: 1200},
				{ExternalID: "14400000000002", SKU: "TEA-SENCHA-100", Name: "Sencha 100g", Quantity: 1, UnitPrice: 3500},
			},
			ClickID: "01j9zq8y7x6w5v4t3s2r1q0p9n",
			Email:   "hanako@example.jp",
		}},
	}, {
		name: "orders/cancelled", topic: "orders/cancelled", file: "shopify/orders_cancelled.json",
		want: orders.Event{Source: orders.Shopify, ID: wh, Kind: orders.Cancelled, Cancel: &orders.Cancel{
			OrderExternalID: "820982911946154508", At: utc("2024-06-27T13:00:00Z"),
		}},
	}, {
		name: "refunds/create with a line", topic: "refunds/create", file: "shopify/refunds_create.json",
		want: orders.Event{Source: orders.Shopify, ID: wh, Kind: orders.Refunded, Refund: &orders.Refund{
			ExternalID: "509562969", OrderExternalID: "450789469", At: utc("2024-07-01T18:30:56Z"), Currency: "USD",
			Lines: []orders.RefundLine{{LineExternalID: "703073504", SKU: "IPOD2008BLACK", Quantity: 1, Amount: 19566}},
		}},
	}, {
		name: "refunds/create for shipping only, KWD, failed transaction skipped", topic: "refunds/create", file: "shopify/refunds_create_shipping_kwd.json",
		want: orders.Event{Source: orders.Shopify, ID: wh, Kind: orders.Refunded, Refund: &orders.Refund{
			ExternalID: "929361465", OrderExternalID: "6203451932812", At: utc("2024-08-12T08:15:00Z"), Currency: "KWD",
			Amount: 3750,
		}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseShopify(tc.topic, wh, fixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			same(t, got, tc.want)
			invariants(t, got, err)
		})
	}
}

// shopifyOrder returns the USD fixture with old replaced by new.
func shopifyEdit(t *testing.T, file, old, new string) []byte {
	t.Helper()
	body := string(fixture(t, file))
	if !strings.Contains(body, old) {
		t.Fatalf("%s has no %s", file, old)
	}
	return []byte(strings.Replace(body, old, new, 1))
}

func TestParseShopifyRefuses(t *testing.T) {
	t.Parallel()
	const paid = "shopify/orders_paid.json"
	full := fixture(t, paid)
	for _, tc := range []struct {
		name, topic string
		body        []byte
		status      int
		reason      string
	}{
		{"truncated", "orders/paid", full[:len(full)/2], 400, "truncated"},
		{"empty", "orders/paid", nil, 400, "empty body"},
		{"not JSON", "orders/paid", []byte("webhook_id=1"), 400, "malformed"},
		{"an array", "orders/paid", []byte("[]"), 400, "the body"},
		{"unknown currency", "orders/paid", shopifyEdit(t, paid, `"currency":"USD"`, `"currency":"ZZZ"`), 400, `unknown currency "ZZZ"`},
		{"no currency", "orders/paid", shopifyEdit(t, paid, `"currency":"USD"`, `"currency":""`), 400, "currency is missing"},
		{"negative quantity", "orders/paid", shopifyEdit(t, paid, `"quantity":2,`, `"quantity":-2,`), 400, "quantity -2"},
		{"zero quantity", "orders/paid", shopifyEdit(t, paid, `"quantity":1,`, `"quantity":0,`), 400, "quantity 0"},
		{"quantity as text", "orders/paid", shopifyEdit(t, paid, `"quantity":1,`, `"quantity":"1",`), 400, "quantity"},
		{"negative price", "orders/paid", shopifyEdit(t, paid, `"amount":"885.95"`, `"amount":"-885.95"`), 400, "negative"},
		{"too many decimals", "orders/paid", shopifyEdit(t, paid, `"amount":"885.95"`, `"amount":"885.951"`), 400, "at most 2 decimals"},
		{"discount above price", "orders/paid", shopifyEdit(t, paid, `"amount":"20.00","currency_code":"USD"},"presentment_money":{"amount":"20.00","currency_code":"USD"}},"discount_application_index"`, `"amount":"2000.00","currency_code":"USD"},"presentment_money":{"amount":"20.00","currency_code":"USD"}},"discount_application_index"`), 400, "discount is larger"},
		{"no order ID", "orders/paid", shopifyEdit(t, paid, `"id":820982911946154508,`, ``), 400, "order ID is missing"},
		{"null order ID", "orders/paid", shopifyEdit(t, paid, `"id":820982911946154508,`, `"id":null,`), 400, "order ID is missing"},
		{"negative order ID", "orders/paid", shopifyEdit(t, paid, `"id":820982911946154508,`, `"id":-5,`), 400, "whole number"},
		{"fractional order ID", "orders/paid", shopifyEdit(t, paid, `"id":820982911946154508,`, `"id":8.5,`), 400, "whole number"},
		{"line ID too long", "orders/paid", shopifyEdit(t, paid, `"id":866550311766439020,`, `"id":"`+strings.Repeat("9", 300)+`",`), 400, "line 1: id"},
		{"bad date", "orders/paid", shopifyEdit(t, paid, `"processed_at":"2024-06-26T12:33:22-04:00"`, `"processed_at":"yesterday"`), 400, "processed_at"},
		{"no date", "orders/paid", shopifyEdit(t, "shopify/orders_paid_jpy.json", `"created_at":"2024-11-02T18:04:05+09:00"`, `"created_at":null`), 400, "no date"},
		{"cancel without ID", "orders/cancelled", []byte(`{"cancelled_at":"2024-06-27T09:00:00-04:00"}`), 400, "order ID is missing"},
		{"refund without order", "refunds/create", shopifyEdit(t, "shopify/refunds_create.json", `"order_id":450789469,`, ``), 400, "order_id is missing"},
		{"refund line quantity 0", "refunds/create", shopifyEdit(t, "shopify/refunds_create.json", `"quantity":1,"line_item_id"`, `"quantity":0,"line_item_id"`), 400, "quantity 0"},
		{"refund line negative", "refunds/create", shopifyEdit(t, "shopify/refunds_create.json", `"amount":"195.66"`, `"amount":"-195.66"`), 400, "negative"},
		{"refund in two currencies", "refunds/create", shopifyEdit(t, "shopify/refunds_create_shipping_kwd.json", `"amount":"1.250","currency":"KWD"`, `"amount":"1.25","currency":"USD"`), 422, "mixes currencies"},
		{"refund in an unknown currency", "refunds/create", shopifyEdit(t, "shopify/refunds_create_shipping_kwd.json", `"amount":"2.500","currency":"KWD","kind":"refund","status":"success"`, `"amount":"2.500","currency":"KWZ","kind":"refund","status":"success"`), 400, "KWZ"},

		{"a topic Roost does not use", "orders/create", full, 200, "orders/create"},
		{"customers", "customers/create", []byte(`{"id":1}`), 200, "not used"},
		{"no topic", "", full, 200, "not used"},
		{"refund moving no money", "refunds/create", []byte(`{"id":1,"order_id":2,"created_at":"2024-07-01T14:30:56-04:00","refund_line_items":[],"transactions":[]}`), 200, "no money"},
		{"refund whose only transaction failed", "refunds/create", []byte(`{"id":1,"order_id":2,"refund_line_items":[],"transactions":[{"kind":"refund","status":"failure","amount":"5.00","currency":"USD"}]}`), 200, "no money"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev, err := ParseShopify(tc.topic, "wh-1", tc.body)
			wantStatus(t, err, tc.status, tc.reason)
			if tc.status == http.StatusOK && err == nil {
				t.Fatalf("ignored delivery gave an event: %+v", ev)
			}
		})
	}
}

func TestShopifyClickID(t *testing.T) {
	t.Parallel()
	const cid = "01j9z3k4m5n6p7q8r9s0t1v2w3"
	base := `{"id":1,"currency":"USD","created_at":"2024-06-26T12:33:21-04:00","line_items":[]`
	for _, tc := range []struct{ name, extra, want string }{
		{"note attribute", `,"note_attributes":[{"name":"roost_cid","value":"` + cid + `"}]`, cid},
		{"hidden cart attribute", `,"note_attributes":[{"name":"_roost_cid","value":"` + cid + `"}]`, cid},
		{"landing_site path", `,"landing_site":"/products/x?roost_cid=` + cid + `"`, cid},
		{"landing_site URL", `,"landing_site":"https://shop.example.com/?utm_source=x&roost_cid=` + cid + `"`, cid},
		{"bad attribute falls back to landing_site", `,"note_attributes":[{"name":"roost_cid","value":"<b>"}],"landing_site":"/?roost_cid=` + cid + `"`, cid},
		{"attribute that is not a string", `,"note_attributes":[{"name":"roost_cid","value":12}]`, ""},
		{"no click ID", `,"landing_site":"http://www.example.com?source=abc"`, ""},
		{"landing_site null", `,"landing_site":null`, ""},
	} {
		ev, err := ParseShopify("orders/paid", "", []byte(base+tc.extra+"}"))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if ev.Order.ClickID != tc.want {
			t.Errorf("%s: click ID %q, want %q", tc.name, ev.Order.ClickID, tc.want)
		}
	}
}

// An older refund payload: the line's subtotal only as a bare number, the
// currency only on the transaction.
func TestShopifyRefundOlderShape(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":11,"order_id":22,"created_at":"2024-07-01T14:30:56Z","refund_line_items":[{"line_item_id":33,"quantity":2,"subtotal":16.5,"line_item":{"sku":"GEL-300"}}],"transactions":[{"kind":"refund","amount":"16.50","currency":"GBP"}]}`)
	ev, err := ParseShopify("refunds/create", "wh", body)
	if err != nil {
		t.Fatal(err)
	}
	same(t, ev, orders.Event{Source: orders.Shopify, ID: "wh", Kind: orders.Refunded, Refund: &orders.Refund{
		ExternalID: "11", OrderExternalID: "22", At: utc("2024-07-01T14:30:56Z"), Currency: "GBP",
		Lines: []orders.RefundLine{{LineExternalID: "33", SKU: "GEL-300", Quantity: 2, Amount: 1650}},
	}})
}

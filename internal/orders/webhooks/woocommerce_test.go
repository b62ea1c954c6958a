package webhooks

import (
	"net/http"
	"strings"
	"testing"

	"github.com/roost-hq/roost/internal/orders"
)

func TestVerifyWoo(t *testing.T) {
	t.Parallel()
	secret := []byte("k7#Pq2!xZ9w$L4mR")
	body := fixture(t, "woocommerce/order_processing_kwd.json")
	sig := shopifySign(secret, body) // the same scheme: base64 HMAC-SHA256 of the body
	if !VerifyWoo(secret, body, sig) {
		t.Fatal("a good signature fails")
	}
	for name, ok := range map[string]bool{
		"tampered body": VerifyWoo(secret, append(body[:len(body):len(body)], ' '), sig),
		"other secret":  VerifyWoo([]byte("k7#Pq2!xZ9w$L4mr"), body, sig),
		"empty secret":  VerifyWoo(nil, body, shopifySign(nil, body)),
		"no header":     VerifyWoo(secret, body, ""),
		"not base64":    VerifyWoo(secret, body, "not base64!"),
	} {
		if ok {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestIsWooPing(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]bool{
		"webhook_id=12":     true,
		"webhook_id=12\n":   true,
		"webhook_id=":       false,
		"webhook_id=12&x=1": false,
		"webhook_id=abc":    false,
		`{"id":12}`:         false,
		"":                  false,
	} {
		if got := IsWooPing([]byte(body)); got != want {
			t.Errorf("IsWooPing(%q) = %v", body, got)
		}
	}
}

func TestParseWoo(t *testing.T) {
	t.Parallel()
	const delivery = "36e520ebabc2fa725092ff4a47acedf2"
	for _, tc := range []struct {
		name, topic, file string
		want              orders.Event
	}{{
		name: "processing, KWD, uneven unit price, click ID from meta", topic: "order.created", file: "woocommerce/order_processing_kwd.json",
		want: orders.Event{Source: orders.WooCommerce, ID: delivery, Kind: orders.Placed, Order: &orders.Order{
			ExternalID: "4750",
			PlacedAt:   utc("2024-05-01T10:00:00Z"),
			UpdatedAt:  utc("2024-05-01T10:05:00Z"),
			Currency:   "KWD",
			Lines: []orders.Line{
				{ExternalID: "315", SKU: "woo-hoodie", Name: "Hoodie", Quantity: 2, UnitPrice: 22500, Discount: 4500},
				// 10.000 KD for 3: 3.334 each, the 0.002 rounding in the discount; 3×3334−1002 = 9000.
				{ExternalID: "316", SKU: "wp-pennant", Name: "WordPress Pennant", Quantity: 3, UnitPrice: 3334, Discount: 1002},
			},
			Codes:   []string{"outlet10"},
			ClickID: "01j9z3k4m5n6p7q8r9s0t1v2w3", // _roost_cid wins over the attribution URL
			Email:   "yousef@example.com.kw",
		}},
	}, {
		name: "completed, JPY, codes once each", topic: "order.updated", file: "woocommerce/order_completed_jpy.json",
		want: orders.Event{Source: orders.WooCommerce, ID: delivery, Kind: orders.Placed, Order: &orders.Order{
			ExternalID: "1194",
			PlacedAt:   utc("2024-06-10T00:30:00Z"),
			UpdatedAt:  utc("2024-06-12T06:00:00Z"),
			Currency:   "JPY",
			Lines:      []orders.Line{{ExternalID: "77", Name: "Matcha Whisk", Quantity: 2, UnitPrice: 1500, Discount: 300}},
			Codes:      []string{"SOCIAL10"},
			ClickID:    "01j9zq8y7x6w5v4t3s2r1q0p9n",
			Email:      "taro@example.jp",
		}},
	}, {
		name: "cancelled", topic: "order.updated", file: "woocommerce/order_cancelled.json",
		want: orders.Event{Source: orders.WooCommerce, ID: delivery, Kind: orders.Cancelled, Cancel: &orders.Cancel{
			OrderExternalID: "4751", At: utc("2024-05-03T08:00:00Z"),
		}},
	}, {
		name: "refunded in full", topic: "order.updated", file: "woocommerce/order_refunded.json",
		want: orders.Event{Source: orders.WooCommerce, ID: delivery, Kind: orders.Refunded, Refund: &orders.Refund{
			ExternalID: "full", OrderExternalID: "4752", At: utc("2024-05-09T12:30:00Z"), Currency: "USD",
			Lines: []orders.RefundLine{
				{LineExternalID: "321", SKU: "MUG-1", Quantity: 2, Amount: 3598},
				{LineExternalID: "322", SKU: "TOWEL-1", Quantity: 1, Amount: 1200},
			},
		}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseWoo(tc.topic, delivery, fixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			same(t, got, tc.want)
			invariants(t, got, err)
		})
	}
}

func wooEdit(t *testing.T, file string, pairs ...string) []byte {
	t.Helper()
	return stripeEdit(t, file, pairs...)
}

func TestParseWooRefuses(t *testing.T) {
	t.Parallel()
	const kwd = "woocommerce/order_processing_kwd.json"
	full := fixture(t, kwd)
	for _, tc := range []struct {
		name, topic string
		body        []byte
		status      int
		reason      string
	}{
		{"truncated", "order.created", full[:len(full)-100], 400, "truncated"},
		{"unknown currency", "order.created", wooEdit(t, kwd, `"currency":"KWD"`, `"currency":"XBT"`), 400, `unknown currency "XBT"`},
		{"negative quantity", "order.created", wooEdit(t, kwd, `"quantity":2`, `"quantity":-2`), 400, "quantity -2"},
		{"zero quantity", "order.created", wooEdit(t, kwd, `"quantity":2`, `"quantity":0`), 400, "quantity 0"},
		{"fractional quantity", "order.created", wooEdit(t, kwd, `"quantity":2`, `"quantity":1.5`), 400, "an integer"},
		{"negative subtotal", "order.created", wooEdit(t, kwd, `"subtotal":"45.000"`, `"subtotal":"-45.000"`), 400, "negative"},
		{"total above subtotal", "order.created", wooEdit(t, kwd, `"total":"40.500"`, `"total":"50.000"`), 400, "larger than the subtotal"},
		{"too many decimals", "order.created", wooEdit(t, kwd, `"subtotal":"45.000"`, `"subtotal":"45.0001"`), 400, "at most 3 decimals"},
		{"missing order ID", "order.created", wooEdit(t, kwd, `"id":4750,`, ``), 400, "order ID is missing"},
		{"order ID 0", "order.created", wooEdit(t, kwd, `"id":4750,`, `"id":0,`), 400, "order ID is missing"},
		{"bad date", "order.created", wooEdit(t, kwd, `"date_modified_gmt":"2024-05-01T10:05:00"`, `"date_modified_gmt":"01/05/2024"`), 400, "date_modified_gmt"},
		{"cancel without date", "order.updated", wooEdit(t, "woocommerce/order_cancelled.json", `"date_modified_gmt":"2024-05-03T08:00:00",`, ``), 400, "date_modified_gmt is missing"},
		{"legacy API payload", "order.created", []byte(`{"order":{"id":47,"status":"processing","currency":"USD","line_items":[]}}`), 422, "legacy"},

		{"the creation ping", "", []byte("webhook_id=3"), 200, "ping"},
		{"the creation ping with a topic", "order.created", []byte("webhook_id=3"), 200, "ping"},
		{"pending", "order.created", fixture(t, "woocommerce/order_pending.json"), 200, `"pending"`},
		{"on hold", "order.updated", wooEdit(t, kwd, `"status":"processing"`, `"status":"on-hold"`), 200, `"on-hold"`},
		{"a topic Roost does not use", "product.updated", full, 200, "product.updated"},
		{"order.deleted", "order.deleted", []byte(`{"id":4750}`), 200, "not used"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev, err := ParseWoo(tc.topic, "d-1", tc.body)
			wantStatus(t, err, tc.status, tc.reason)
			if tc.status == http.StatusOK && err == nil {
				t.Fatalf("ignored delivery gave an event: %+v", ev)
			}
		})
	}
}

func TestWooClickIDFromAttribution(t *testing.T) {
	t.Parallel()
	body := wooEdit(t, "woocommerce/order_processing_kwd.json", `{"id":29664,"key":"_roost_cid","value":"01j9z3k4m5n6p7q8r9s0t1v2w3"}`, `{"id":29664,"key":"note","value":"x"}`)
	ev, err := ParseWoo("order.created", "", body)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Order.ClickID != "01jaaaaaaaaaaaaaaaaaaaaaaa" {
		t.Errorf("click ID %q, want the one in the attribution's landing URL", ev.Order.ClickID)
	}
	if strings.Contains(string(body), `"_roost_cid"`) {
		t.Fatal("edit failed")
	}
}

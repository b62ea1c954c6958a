package api_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/server/servertest"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
)

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../orders/webhooks/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func hmac64(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// TestStoreHooks sends signed webhooks as the stores do, and the bad ones
// they must refuse.
func TestStoreHooks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d *store.DB) {
		e := servertest.New(t, d.Dialect)
		ctx := context.Background()
		w, _ := e.Owner("Acme", "o@example.com")
		shop, err := e.Orders.SetHook(ctx, w.ID, orders.Shopify, "shpss_secret_123")
		if err != nil {
			t.Fatal(err)
		}
		again, _ := e.Orders.SetHook(ctx, w.ID, orders.Shopify, "shpss_secret_456")
		if again.Token != shop.Token {
			t.Fatal("changing the secret changed the webhook's address")
		}
		const secret = "shpss_secret_456"
		paid := fixture(t, "shopify/orders_paid.json")
		send := func(path, body string, headers ...string) servertest.Response {
			return e.Do(nil, "POST", path, body, headers...)
		}
		hdr := func(body string) []string {
			return []string{"Content-Type: application/json", "X-Shopify-Topic: orders/paid", "X-Shopify-Webhook-Id: wh-1", "X-Shopify-Hmac-Sha256: " + hmac64(secret, body)}
		}
		wantProblem(t, send("/hooks/shopify/not-a-token", paid, hdr(paid)...), 404, "unknown_hook")
		wantProblem(t, send(shop.Path(), paid, "Content-Type: application/json", "X-Shopify-Topic: orders/paid", "X-Shopify-Hmac-Sha256: "+hmac64("wrong", paid)), 401, "bad_signature")
		wantProblem(t, send(shop.Path(), paid, append(hdr(paid)[1:], "Content-Type: text/plain")...), 415, "unsupported_media_type")
		wantProblem(t, send(shop.Path(), paid[:len(paid)/2], hdr(paid[:len(paid)/2])...), 400, "bad_event")
		wantProblem(t, send(shop.Path(), strings.Repeat(" ", 2<<20), hdr("")...), 413, "body_too_large")
		r := send(shop.Path(), paid, hdr(paid)...)
		if r.Status != 200 || !strings.Contains(r.Body, `"received":true`) || !strings.Contains(r.Body, `"duplicate":false`) {
			t.Fatalf("paid: %d %s", r.Status, r.Body)
		}
		if r := send(shop.Path(), paid, hdr(paid)...); r.Status != 200 || !strings.Contains(r.Body, `"duplicate":true`) {
			t.Fatalf("the same delivery again: %d %s", r.Status, r.Body)
		}
		o, err := e.Orders.ByExternalID(ctx, w.ID, orders.Shopify, "820982911946154508")
		if err != nil || o.Gross != 226585 {
			t.Fatalf("order from the webhook: %+v %v", o, err)
		}
		// An ignored topic is answered 200 and stores nothing.
		ign := []string{"Content-Type: application/json", "X-Shopify-Topic: products/update", "X-Shopify-Hmac-Sha256: " + hmac64(secret, `{"id":1}`)}
		if r := send(shop.Path(), `{"id":1}`, ign...); r.Status != 200 || !strings.Contains(r.Body, `"received":false`) {
			t.Fatalf("ignored topic: %d %s", r.Status, r.Body)
		}

		// Stripe: the signature with its timestamp.
		st, _ := e.Orders.SetHook(ctx, w.ID, orders.Stripe, "whsec_test_secret")
		body := fixture(t, "stripe/checkout_session_completed.json")
		sig := func(ts time.Time) string {
			m := hmac.New(sha256.New, []byte("whsec_test_secret"))
			fmt.Fprintf(m, "%d.%s", ts.Unix(), body)
			return fmt.Sprintf("t=%d,v1=%s", ts.Unix(), hex.EncodeToString(m.Sum(nil)))
		}
		wantProblem(t, send(st.Path(), body, "Content-Type: application/json", "Stripe-Signature: "+sig(time.Now().Add(-time.Hour))), 400, "bad_event")
		if r := send(st.Path(), body, "Content-Type: application/json", "Stripe-Signature: "+sig(time.Now())); r.Status != 200 {
			t.Fatalf("stripe: %d %s", r.Status, r.Body)
		}
		if _, err := e.Orders.ByExternalID(ctx, w.ID, orders.Stripe, "pi_3PW7qJLkdIwHu7ix0rJ6QBnP"); err != nil {
			t.Fatalf("stripe order: %v", err)
		}

		// WooCommerce answers its creation ping with 200.
		woo, _ := e.Orders.SetHook(ctx, w.ID, orders.WooCommerce, "woo-secret-1")
		if r := send(woo.Path(), "webhook_id=12", "Content-Type: application/x-www-form-urlencoded"); r.Status != 200 {
			t.Fatalf("woo ping: %d %s", r.Status, r.Body)
		}
	})
}

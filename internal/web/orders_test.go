package web_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/server/servertest"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
)

func TestOrdersPage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d *store.DB) {
		e := servertest.New(t, d.Dialect)
		ctx := context.Background()
		w, _ := e.Owner("Dell Outlet", "lena@example.com")
		b := e.Browser()
		b.Login("lena@example.com")
		want(t, b.Get("/app/orders"), 200, "No orders yet", "POST /api/v1/orders")

		o, err := e.Offers.Create(ctx, w.ID, "", offers.Input{Slug: "xps", Title: "XPS deal", LandingURL: "https://shop.example.com/", Currency: "USD",
			Products: []offers.Product{{SKU: "XPS13", Name: "XPS 13", RegularPrice: 129900, DealPrice: 99900}}, Cap: 5, Audience: offers.Public, CodeMode: offers.Unique, Published: true})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := e.Offers.Claim(ctx, o, offers.ClaimRequest{Identity: offers.Identity{Network: "sandbox", AccountID: "ann", Handle: "@ann"}})
		for _, ev := range []orders.Event{
			{Source: orders.Shopify, ID: "w1", Kind: orders.Placed, Order: &orders.Order{ExternalID: "#1001", PlacedAt: time.Now(), Currency: "USD", Codes: []string{c.Code},
				Lines: []orders.Line{{SKU: "XPS13", Name: "XPS 13", Quantity: 1, UnitPrice: 99900}, {SKU: "BAG", Name: "Sleeve", Quantity: 1, UnitPrice: 2500}}}},
			{Source: orders.Shopify, ID: "w2", Kind: orders.Placed, Order: &orders.Order{ExternalID: "#1002", PlacedAt: time.Now(), Currency: "USD",
				Lines: []orders.Line{{SKU: "DOCK", Quantity: 1, UnitPrice: 19999}}}},
		} {
			rc, err := e.Orders.Receive(ctx, w.ID, ev)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Orders.Process(ctx, rc.EventID); err != nil {
				t.Fatal(err)
			}
		}
		page := b.Get("/app/orders?by=offer&model=linear")
		want(t, page, 200, `id="deal-net">999.00 USD`, `id="halo-net">25.00 USD`, `id="total-net">1,024.00 USD`, "199.99 USD",
			"<td>XPS deal</td>", "Code "+c.Code+", claimed by @ann. Deal 999.00 USD, halo 25.00 USD.", `<option value="linear" selected>`)
		want(t, page, 200, "human clicks", `id="funnel-orders">1<`, "Download CSV", "<svg")
		csv := b.Get("/app/orders/revenue.csv?by=offer&model=linear")
		if csv.Status != 200 || !strings.Contains(csv.Body, "XPS deal,"+o.ID+",999.00,0.00,999.00,25.00,0.00,25.00,1024.00,1,0,1,0,1024.00,USD,linear") ||
			!strings.Contains(csv.Body, "Total,,999.00") {
			t.Fatalf("CSV: %d\n%s", csv.Status, csv.Body)
		}
		want(t, b.Get("/app/orders?kind=none"), 200, "#1002")
		v, _ := e.Orders.ByExternalID(ctx, w.ID, orders.Shopify, "#1001")
		want(t, b.Get("/app/orders/"+v.ID), 200, "Order #1001", "Sleeve", "kind-deal", "kind-halo", "code "+c.Code)
		// Nonsense in the query falls back to the defaults.
		want(t, b.Get("/app/orders?days=-4&by=planet&model=magic&kind=x"), 200, "Last 30 days", `<option value="last" selected>`)
	})
}

func TestStoreSettings(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d *store.DB) {
		e := servertest.New(t, d.Dialect)
		e.Owner("Dell Outlet", "lena@example.com")
		b := e.Browser()
		b.Login("lena@example.com")
		const page = "/app/settings/store"
		want(t, b.Get(page), 200, `name="currency" required maxlength="3" value="USD"`, "Shopify admin", "whsec_", "WooCommerce")
		want(t, b.Post(page, page, url.Values{"currency": {"XYZ"}, "window_days": {"0"}}), 422, "ISO 4217", "between 1 and 365")
		wantRedirect(t, b.Post(page, page, url.Values{"currency": {"eur"}, "window_days": {"14"}}), page)
		want(t, b.Get(page), 200, `value="EUR"`, `value="14"`)
		want(t, b.Post(page, page+"/hooks", url.Values{"source": {"shopify"}, "secret": {"short"}}), 422, "signing secret")
		wantRedirect(t, b.Post(page, page+"/hooks", url.Values{"source": {"shopify"}, "secret": {"shpss_0123456789"}}), page+"#shopify")
		got := b.Get(page)
		want(t, got, 200, e.URL+"/hooks/shopify/")
		if strings.Contains(got.Body, "shpss_0123456789") {
			t.Fatal("the secret is shown back")
		}
		want(t, b.Post(page, page+"/hooks", url.Values{"source": {"magento"}, "secret": {"0123456789"}}), 422, "shopify, stripe or woocommerce")
	})
}

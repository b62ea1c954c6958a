package web_test

import (
	"context"
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
		want(t, page, 200, `id="deal-net">999.00 USD`, `id="halo-net">25.00 USD`, `id="total-net">1024.00 USD`, "199.99 USD",
			"<td>XPS deal</td>", "Code "+c.Code+", claimed by @ann. Deal 999.00 USD, halo 25.00 USD.", `<option value="linear" selected>`)
		want(t, b.Get("/app/orders?kind=none"), 200, "#1002")
		v, _ := e.Orders.ByExternalID(ctx, w.ID, orders.Shopify, "#1001")
		want(t, b.Get("/app/orders/"+v.ID), 200, "Order #1001", "Sleeve", "kind-deal", "kind-halo", "code "+c.Code)
		// Nonsense in the query falls back to the defaults.
		want(t, b.Get("/app/orders?days=-4&by=planet&model=magic&kind=x"), 200, "Last 30 days", `<option value="last" selected>`)
	})
}

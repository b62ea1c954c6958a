package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/server/servertest"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
)

func TestOrdersEndpoints(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d *store.DB) {
		e := servertest.New(t, d.Dialect)
		ctx := context.Background()
		w, _ := e.Owner("Acme", "o@example.com")
		key := e.Key(w.ID)
		o, err := e.Offers.Create(ctx, w.ID, "", offers.Input{Slug: "xps", Title: "XPS deal", LandingURL: "https://shop.example.com/", Currency: "USD",
			Products: []offers.Product{{SKU: "XPS13", Name: "XPS 13", RegularPrice: 129900, DealPrice: 99900}}, Cap: 5, Audience: offers.Public, CodeMode: offers.Unique, Published: true})
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.Offers.Claim(ctx, o, offers.ClaimRequest{Identity: offers.Identity{Network: "sandbox", AccountID: "ann", Handle: "@ann"}})
		if err != nil {
			t.Fatal(err)
		}

		wantProblem(t, e.API(key, "POST", "/api/v1/orders", `{"id":"1","currency":"USD","lines":[{"sku":"A","quantity":-1,"unit_price":5}]}`), 422, "validation_failed")
		wantProblem(t, e.API(key, "POST", "/api/v1/orders", `{"id":"1","currency":"USD","codes":["NOPE1234"],"lines":[{"sku":"A","quantity":1,"unit_price":5}]}`), 422, "unknown_code")
		wantProblem(t, e.API(key, "POST", "/api/v1/orders", `{"id":"1","currency":"USD","placed_at":"yesterday","lines":[{"sku":"A","quantity":1,"unit_price":5}]}`), 422, "validation_failed")
		wantProblem(t, e.API(key, "POST", "/api/v1/orders", `{"id":"1","currency":"EUR","lines":[{"sku":"A","quantity":1,"unit_price":5}]}`), 422, "validation_failed")

		body := `{"id":"1001","currency":"USD","codes":["` + c.Code + `"],"email":"Ann@Example.com",
			"lines":[{"id":"l1","sku":"XPS13","quantity":1,"unit_price":129900,"discount":30000},{"id":"l2","sku":"BAG","quantity":1,"unit_price":4900}]}`
		r := e.API(key, "POST", "/api/v1/orders", body, "Idempotency-Key: ord-1")
		var got struct {
			Duplicate bool
			Order     struct {
				ID, Explanation string
				Deal, Halo, Net int64
				Lines           []struct{ Kind, How string }
			}
		}
		r.JSON(t, &got)
		if r.Status != 201 || got.Order.Deal != 99900 || got.Order.Halo != 4900 || got.Order.Lines[0].How != "code" ||
			got.Order.Explanation != "Code "+c.Code+", claimed by @ann. Deal 999.00 USD, halo 49.00 USD." {
			t.Fatalf("create order: %d %s", r.Status, r.Body)
		}
		// The same order without the key: stored once.
		r = e.API(key, "POST", "/api/v1/orders", body)
		r.JSON(t, &got)
		if r.Status != 200 || !got.Duplicate {
			t.Fatalf("the same order again: %d %s", r.Status, r.Body)
		}
		if cs, _ := e.Offers.ClaimsFor(ctx, o.ID, c.Identity); cs[0].Status != offers.Redeemed {
			t.Fatalf("the code was not redeemed: %+v", cs[0])
		}

		wantProblem(t, e.API(key, "POST", "/api/v1/refunds", `{"id":"r1","order_id":"1001","amount":999999}`), 422, "validation_failed")
		wantProblem(t, e.API(key, "POST", "/api/v1/refunds", `{"id":"r1","order_id":"nope","amount":1}`), 422, "validation_failed")
		wantProblem(t, e.API(key, "POST", "/api/v1/refunds", `{"id":"r1","order_id":"1001","lines":[{"line_id":"l9","amount":1}]}`), 422, "validation_failed")
		if r := e.API(key, "POST", "/api/v1/refunds", `{"id":"r1","order_id":"1001","lines":[{"line_id":"l2","quantity":1,"amount":4900}]}`); r.Status != 201 {
			t.Fatalf("refund: %d %s", r.Status, r.Body)
		}

		var rep struct {
			Currency string
			Rows     []struct {
				Label string
				Deal  struct{ Net int64 }
				Halo  struct{ Gross, Refunded, Net int64 }
			}
		}
		r = e.API(key, "GET", "/api/v1/reports/revenue?by=offer&model=linear", "")
		r.JSON(t, &rep)
		if r.Status != 200 || len(rep.Rows) != 1 || rep.Rows[0].Label != "XPS deal" || rep.Rows[0].Deal.Net != 99900 || rep.Rows[0].Halo.Refunded != 4900 {
			t.Fatalf("report: %d %s", r.Status, r.Body)
		}
		if r := e.API(key, "GET", "/api/v1/reports/revenue?by=offer&format=csv", ""); r.Status != 200 || !strings.HasPrefix(r.Body, "offer,key,deal_gross") || !strings.Contains(r.Body, "XPS deal,") {
			t.Fatalf("CSV report: %d %s", r.Status, r.Body)
		}
		var fun struct {
			Funnel struct{ Claims, Orders int64 }
		}
		e.API(key, "GET", "/api/v1/reports/funnel", "").JSON(t, &fun)
		if fun.Funnel.Claims != 1 || fun.Funnel.Orders != 1 {
			t.Fatalf("funnel: %+v", fun)
		}
		// The orders an offer reached, and none for another.
		var list struct {
			Data []struct {
				ExternalID string `json:"external_id"`
			}
		}
		if r := e.API(key, "GET", "/api/v1/orders?offer="+o.ID, ""); r.Status != 200 {
			t.Fatalf("orders of the offer: %d %s", r.Status, r.Body)
		} else if r.JSON(t, &list); len(list.Data) != 1 || list.Data[0].ExternalID != "1001" {
			t.Fatalf("orders of the offer: %s", r.Body)
		}
		if e.API(key, "GET", "/api/v1/orders?post=pst_none", "").JSON(t, &list); len(list.Data) != 0 {
			t.Fatalf("orders of no post: %+v", list)
		}
		wantProblem(t, e.API(key, "GET", "/api/v1/orders?offer="+o.ID+"&post=pst_none", ""), 400, "invalid_parameter")
		wantProblem(t, e.API(key, "GET", "/api/v1/reports/revenue?by=planet", ""), 400, "invalid_parameter")
		wantProblem(t, e.API(key, "GET", "/api/v1/reports/revenue?model=magic", ""), 400, "invalid_parameter")

		if r := e.API(key, "POST", "/api/v1/orders/"+got.Order.ID+"/cancel", ""); r.Status != 201 {
			t.Fatalf("cancel: %d %s", r.Status, r.Body)
		}
		if cs, _ := e.Offers.ClaimsFor(ctx, o.ID, c.Identity); cs[0].Status != offers.Active {
			t.Fatalf("the code was not released: %+v", cs[0])
		}
		if r := e.API(key, "PUT", "/api/v1/order-settings", `{"currency":"EUR","window_days":14}`); r.Status != 200 {
			t.Fatalf("settings: %d %s", r.Status, r.Body)
		}
		wantProblem(t, e.API(key, "PUT", "/api/v1/order-settings", `{"window_days":0}`), 422, "validation_failed")
		other, _ := e.Owner("Other", "x@example.com")
		wantProblem(t, e.API(e.Key(other.ID), "GET", "/api/v1/orders/"+got.Order.ID, ""), 404, "not_found")
	})
}

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

func TestOffersEndpoints(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d *store.DB) {
		e := servertest.New(t, d.Dialect)
		w, _ := e.Owner("Acme", "o@example.com")
		key := e.Key(w.ID)
		p := wantProblem(t, e.API(key, "POST", "/api/v1/offers", `{"slug":"Bad Slug","title":"","landing_url":"ftp://x","currency":"XXX","cap":0,"audience":"all","code_mode":"unique"}`), 422, "validation_failed")
		if len(p.Errors) < 5 {
			t.Fatalf("errors %+v", p.Errors)
		}
		body := `{"slug":"xps-13","title":"XPS 13 outlet deal","landing_url":"https://shop.example.com/xps","currency":"USD",
			"products":[{"sku":"XPS13","name":"XPS 13","regular_price":129900,"deal_price":99900}],
			"cap":3,"audience":"public","code_mode":"unique","code_prefix":"out-","published":true}`
		r := e.API(key, "POST", "/api/v1/offers", body, "Idempotency-Key: o1")
		var o struct {
			ID, Slug, State, PageURL string
			Left, Claimed, Cap       int64
			CodePrefix               string `json:"code_prefix"`
			Products                 []struct {
				DealPriceText string `json:"deal_price_text"`
			}
			Title string
		}
		r.JSON(t, &o)
		if r.Status != 201 || o.State != "live" || o.Left != 3 || o.CodePrefix != "OUT-" || o.Products[0].DealPriceText != "999.00 USD" {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		if again := e.API(key, "POST", "/api/v1/offers", body, "Idempotency-Key: o1"); again.Body != r.Body {
			t.Fatal("idempotent retry answered differently")
		}
		wantProblem(t, e.API(key, "POST", "/api/v1/offers", body), 409, "conflict")

		// Two claims (the claim page arrives with the next issue; the store is what it calls).
		ctx := context.Background()
		off, _ := e.Offers.Get(ctx, w.ID, o.ID)
		c1, err := e.Offers.Claim(ctx, off, offers.ClaimRequest{Identity: offers.Identity{Network: "sandbox", AccountID: "a1", Handle: "=cmd|calc"}})
		if err != nil {
			t.Fatal(err)
		}
		e.Offers.Claim(ctx, off, offers.ClaimRequest{Identity: offers.Identity{Network: "sandbox", AccountID: "a2"}})

		r = e.API(key, "PATCH", "/api/v1/offers/"+o.ID, `{"title":"XPS 13, now cheaper"}`)
		r.JSON(t, &o)
		if r.Status != 200 || o.Title != "XPS 13, now cheaper" || o.Cap != 3 || o.Claimed != 2 || o.Left != 1 {
			t.Fatalf("patch: %d %s", r.Status, r.Body)
		}
		wantProblem(t, e.API(key, "PATCH", "/api/v1/offers/"+o.ID, `{"cap":1}`), 422, "validation_failed")
		wantProblem(t, e.API(key, "PATCH", "/api/v1/offers/"+o.ID, `{"code_mode":"shared","shared_code":"X"}`), 422, "validation_failed")

		var claims struct{ Data []offers.Claim }
		e.API(key, "GET", "/api/v1/claims?offer_id="+o.ID+"&status=active", "").JSON(t, &claims)
		if len(claims.Data) != 2 {
			t.Fatalf("claims: %+v", claims)
		}
		csvOut := e.API(key, "GET", "/api/v1/offers/"+o.ID+"/codes.csv", "")
		if csvOut.Status != 200 || !strings.HasPrefix(csvOut.Body, "code,status,") || !strings.Contains(csvOut.Body, c1.Code) || !strings.Contains(csvOut.Body, "'=cmd|calc") {
			t.Fatalf("codes.csv: %d %s", csvOut.Status, csvOut.Body)
		}

		// Redeem and release.
		r = e.API(key, "POST", "/api/v1/claims/redeem", `{"code":"`+strings.ToLower(c1.Code)+`","order_ref":"#1001"}`)
		if r.Status != 200 || !strings.Contains(r.Body, `"status":"redeemed"`) {
			t.Fatalf("redeem: %d %s", r.Status, r.Body)
		}
		wantProblem(t, e.API(key, "POST", "/api/v1/claims/redeem", `{"code":"`+c1.Code+`","order_ref":"#1002"}`), 409, "not_redeemable")
		wantProblem(t, e.API(key, "POST", "/api/v1/claims/redeem", `{"code":"NOPE","order_ref":"#1"}`), 404, "not_found")
		wantProblem(t, e.API(key, "POST", "/api/v1/claims/redeem", `{"code":""}`), 422, "validation_failed")
		if r := e.API(key, "POST", "/api/v1/claims/release", `{"code":"`+c1.Code+`","order_ref":"#1001"}`); r.Status != 200 || !strings.Contains(r.Body, `"status":"active"`) {
			t.Fatalf("release: %d %s", r.Status, r.Body)
		}

		// A pool offer and its import.
		r = e.API(key, "POST", "/api/v1/offers", `{"slug":"pool","title":"Pool deal","landing_url":"https://shop.example.com/","currency":"EUR","cap":10,"audience":"public","code_mode":"pool","published":true}`)
		var pool struct{ ID string }
		r.JSON(t, &pool)
		r = e.Do(nil, "POST", "/api/v1/offers/"+pool.ID+"/pool", "code\nP-1\nP-2\nP-1\n\"unclosed\n", "Authorization: Bearer "+key, "Content-Type: text/csv")
		var rep offers.ImportReport
		r.JSON(t, &rep)
		if r.Status != 200 || rep.Added != 2 || len(rep.Rejected) != 2 {
			t.Fatalf("pool import: %d %s", r.Status, r.Body)
		}
		wantProblem(t, e.Do(nil, "POST", "/api/v1/offers/"+o.ID+"/pool", "A\n", "Authorization: Bearer "+key), 409, "not_a_pool")
	})
}

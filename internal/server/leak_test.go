package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/httpx"
	"github.com/roost-hq/roost/internal/inbox"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/posts"
	"github.com/roost-hq/roost/internal/server/servertest"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
	"github.com/roost-hq/roost/internal/team"
)

// TestNoRouteLeaksAcrossWorkspaces walks every registered route as an
// anonymous visitor and as a member (or API key) of another workspace, and
// checks that none shows, changes or admits the existence of workspace A's
// objects. A new route with a parameter this test does not know fails it,
// so every later route is walked too.
func TestNoRouteLeaksAcrossWorkspaces(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d *store.DB) {
		e := servertest.New(t, d.Dialect)
		ctx := context.Background()
		wsA, ownerA := e.Owner("Alphasecret Outlet", "owner.alpha@example.com")
		agentA, invite, err := e.Team.AddMember(ctx, team.Owner, wsA.ID, team.NewMember{Email: "agent.alpha@example.com", Name: "Agent Alphasecret", Role: team.Agent, Signature: "^ALPHA"})
		if err != nil {
			t.Fatal(err)
		}
		keyA, _, err := e.Auth.CreateAPIKey(ctx, wsA.ID, "alphasecret-key-name", ownerA.ID)
		if err != nil {
			t.Fatal(err)
		}
		linkA, err := e.Links.Create(ctx, wsA.ID, links.NewLink{Destination: "https://shop.example.com/deal", Title: "alphasecret link", Tags: []string{"alphasecret-tag"}})
		if err != nil {
			t.Fatal(err)
		}
		offerA, err := e.Offers.Create(ctx, wsA.ID, "", offers.Input{Slug: "alphasecret-deal", Title: "Alphasecret deal", LandingURL: "https://shop.example.com/",
			Currency: "USD", Cap: 5, Audience: offers.Public, CodeMode: offers.Unique, Published: true})
		if err != nil {
			t.Fatal(err)
		}
		claimA, err := e.Offers.Claim(ctx, offerA, offers.ClaimRequest{Identity: offers.Identity{Network: "sandbox", AccountID: "alphasecret-person", Handle: "@alphasecret"}})
		if err != nil {
			t.Fatal(err)
		}
		acctA, err := e.Social.CreateSandboxAccount(ctx, wsA.ID, "", "alphasecret", "Alphasecret Outlet")
		if err != nil {
			t.Fatal(err)
		}
		postA, err := e.Posts.Compose(ctx, wsA.ID, posts.Author{Signature: "^ALPHA"}, posts.Compose{Body: "alphasecret post", AccountIDs: []string{acctA.ID}, OfferID: offerA.ID})
		if err != nil {
			t.Fatal(err)
		}
		rcA, err := e.Orders.Receive(ctx, wsA.ID, orders.Event{Source: orders.API, Kind: orders.Placed, Order: &orders.Order{ExternalID: "alphasecret-order",
			PlacedAt: time.Now(), Currency: "USD", Lines: []orders.Line{{SKU: "alphasecret-sku", Quantity: 1, UnitPrice: 100}}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Orders.Process(ctx, rcA.EventID); err != nil {
			t.Fatal(err)
		}
		orderV, err := e.Orders.ByExternalID(ctx, wsA.ID, orders.API, "alphasecret-order")
		if err != nil {
			t.Fatal(err)
		}
		orderA := orderV.ID
		if _, err := e.Sandbox.Mention(ctx, acctA, "alphasecretfan", "alphasecret mention", ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		if _, err := e.Poller.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		convsA, err := e.Inbox.List(ctx, wsA.ID, "", inbox.Filter{})
		if err != nil || len(convsA) != 1 {
			t.Fatalf("workspace A's conversation: %v %v", convsA, err)
		}
		convA, customerA := convsA[0].ID, convsA[0].Person.CustomerID
		wsB, _ := e.Owner("Beta Shop", "owner.beta@example.com")
		keyB := e.Key(wsB.ID)
		markers := []string{"Alphasecret", "alphasecret", "agent.alpha@example.com", "owner.alpha@example.com", "^ALPHA", wsA.ID, agentA.ID, keyA.ID, ownerA.ID, linkA.ID,
			offerA.ID, claimA.ID, claimA.Code, acctA.ID, postA.ID, postA.Copies[0].ID, orderA, convA, customerA}

		params := map[string]string{
			"/api/v1/members/{id}":                   agentA.ID,
			"/api/v1/api-keys/{id}":                  keyA.ID,
			"/app/settings/members/{id}":             agentA.ID,
			"/app/settings/members/{id}/remove":      agentA.ID,
			"/app/settings/members/{id}/reinvite":    agentA.ID,
			"/app/settings/api-keys/{id}/revoke":     keyA.ID,
			"/static/{file...}":                      "roost.css",
			"/api/v1/links/{id}":                     linkA.ID,
			"/api/v1/offers/{id}":                    offerA.ID,
			"/api/v1/offers/{id}/codes.csv":          offerA.ID,
			"/api/v1/offers/{id}/pool":               offerA.ID,
			"/app/links/{id}":                        linkA.ID,
			"/app/offers/{id}":                       offerA.ID,
			"/app/offers/{id}/codes.csv":             offerA.ID,
			"/app/offers/{id}/counts":                offerA.ID,
			"/app/offers/{id}/pool":                  offerA.ID,
			"/app/links/{id}/delete":                 linkA.ID,
			"/app/links/{id}/qr.svg":                 linkA.ID,
			"/app/links/{id}/qr.png":                 linkA.ID,
			"/api/v1/links/{id}/stats":               linkA.ID,
			"/app/settings/accounts/{id}":            acctA.ID,
			"/api/v1/accounts/{id}":                  acctA.ID,
			"/api/v1/accounts/{id}/check":            acctA.ID,
			"/api/v1/accounts/{id}/followers":        acctA.ID,
			"/api/v1/posts/{id}":                     postA.ID,
			"/api/v1/posts/{id}/cancel":              postA.ID,
			"/api/v1/posts/{id}/copies/{copy}/retry": postA.ID + " " + postA.Copies[0].ID,
			"/app/settings/accounts/{id}/followers":  acctA.ID,
			"/app/settings/accounts/{id}/mention":    acctA.ID,
			"/app/settings/accounts/{id}/refresh":    acctA.ID,
			"/app/settings/accounts/{id}/disconnect": acctA.ID,
			"/app/posts/{id}/cancel":                 postA.ID,
			"/app/posts/{id}/copies/{copy}/retry":    postA.ID + " " + postA.Copies[0].ID,
			"/api/v1/orders/{id}":                    orderA,
			"/app/orders/{id}":                       orderA,
			"/app/inbox/{id}":                        convA,
			"/api/v1/conversations/{id}":             convA,
			"/api/v1/conversations/{id}/replies":     convA,
			"/api/v1/customers/{id}":                 customerA,
			"/app/customers/{id}":                    customerA,
			"/app/customers/{id}/link":               customerA,
			"/api/v1/orders/{id}/cancel":             orderA,
			"/api/v1/links/{id}/qr.png":              linkA.ID,
			"/api/v1/links/{id}/qr.svg":              linkA.ID,
			// Public by design: whoever has a short link may follow it, and
			// an offer's page is for anyone with its link.
			"/{code}":                    linkA.Code,
			"/o/{slug}":                  offerA.Slug,
			"/o/{slug}/token":            offerA.Slug,
			"/app/setup/{token}":         "unknown-token",
			"/app/invite/{token}":        "unknown-token",
			"/hooks/{source}/{token}":    "shopify unknown-token",
			"/signin/{network}/callback": "mastodon",
		}
		fill := func(path string) string {
			if !strings.Contains(path, "{") || strings.HasSuffix(path, "{$}") {
				return strings.TrimSuffix(path, "{$}")
			}
			v, ok := params[path]
			if !ok {
				t.Fatalf("route %s has a parameter this test does not know: add an object of workspace A for it to params", path)
			}
			for _, part := range strings.Fields(v) { // several parameters: their values space-separated
				path = path[:strings.Index(path, "{")] + part + path[strings.Index(path, "}")+1:]
			}
			return path
		}
		leaks := func(who, route string, r servertest.Response) {
			t.Helper()
			if strings.HasSuffix(route, " /o/{slug}") {
				return // the public offer page shows the offer, and only the visitor's own claims
			}
			if strings.HasPrefix(r.Header.Get("Location"), "/app/login?next=") {
				return // sign-in echoes back the path the visitor asked for, nothing more
			}
			for _, m := range markers {
				if strings.Contains(r.Body, m) || strings.Contains(r.Header.Get("Location"), m) {
					t.Errorf("%s: %s shows %q of workspace A (status %d)", who, route, m, r.Status)
				}
			}
		}

		anon := e.Browser()
		b := e.Browser()
		b.Login("owner.beta@example.com")
		csrfB := servertest.CSRF(t, b.Get("/app/settings/members").Body)
		form := url.Values{"csrf": {csrfB}, "role": {"admin"}, "signature": {"^HACK"}, "name": {"Hacked"}, "workspace": {wsA.ID},
			"email": {"x@example.com"}, "password": {"whatever password"}, "current": {"x"}}

		routes := e.Mux.Routes()
		if len(routes) < 20 {
			t.Fatalf("only %d routes registered", len(routes))
		}
		for _, rt := range routes {
			path := fill(rt.Path)
			route := rt.Method + " " + rt.Path
			if rt.Method == "ANY" {
				rt.Method = "DELETE"
			}
			body := ""
			switch rt.Method {
			case "POST":
				body = `{"name":"Hacked","email":"x@example.com","role":"admin"}`
			case "PATCH":
				body = `{}` // valid for every PATCH route: the lookup decides
			}
			switch rt.Access {
			case httpx.APIKey:
				r := e.API("", rt.Method, path, body)
				if r.Status != http.StatusUnauthorized {
					t.Errorf("anonymous %s: status %d, want 401", route, r.Status)
				}
				leaks("anonymous", route, r)
				r = e.API(keyB, rt.Method, path, body)
				leaks("workspace B's key", route, r)
				if strings.Contains(rt.Path, "{id}") && r.Status != http.StatusNotFound {
					t.Errorf("B's key on %s: status %d, want 404", route, r.Status)
				}
			case httpx.Session:
				var r servertest.Response
				if rt.Method == "GET" {
					r = anon.Get(path)
					if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/app/login") {
						t.Errorf("anonymous %s: status %d to %q, want a redirect to sign in", route, r.Status, r.Header.Get("Location"))
					}
				} else {
					r = anon.Post("", path, url.Values{"csrf": {"forged"}})
					if r.Status != http.StatusForbidden && r.Status != http.StatusUnauthorized {
						t.Errorf("anonymous %s: status %d, want 401 or 403", route, r.Status)
					}
				}
				leaks("anonymous", route, r)
				if rt.Method == "GET" {
					r = b.Get(path)
				} else {
					r = b.Post("", path, form)
				}
				leaks("a member of workspace B", route, r)
				if strings.Contains(rt.Path, "{id}") && r.Status != http.StatusNotFound {
					t.Errorf("B's member on %s: status %d, want 404", route, r.Status)
				}
				if route == "POST /app/switch" {
					if r := b.Get("/app/"); strings.Contains(r.Body, "Alphasecret") {
						t.Error("B's session was switched to workspace A")
					}
				}
			case httpx.Public:
				var r servertest.Response
				if rt.Method == "GET" {
					r = anon.Get(path)
				} else {
					r = anon.Post("", path, url.Values{"csrf": {"forged"}})
				}
				leaks("anonymous", route, r)
				if rt.Method == "GET" {
					r = b.Get(path)
				} else {
					r = b.Post("", path, form)
				}
				leaks("a member of workspace B", route, r)
				if route == "POST /app/logout" {
					b.Login("owner.beta@example.com")
					form.Set("csrf", servertest.CSRF(t, b.Get("/app/settings/members").Body))
				}
			default:
				t.Errorf("route %s has no access level", route)
			}
		}

		// Nothing of A's changed.
		m, err := e.Team.Member(ctx, wsA.ID, agentA.ID)
		if err != nil || m.Role != team.Agent || m.Signature != "^ALPHA" {
			t.Fatalf("A's member changed by B: %+v %v", m, err)
		}
		if l, err := e.Links.Get(ctx, wsA.ID, linkA.ID); err != nil || l.Destination != linkA.Destination {
			t.Fatalf("A's link changed by B: %+v %v", l, err)
		}
		if r := e.API(keyB, "POST", "/api/v1/claims/redeem", `{"code":"`+claimA.Code+`","order_ref":"o-1"}`); r.Status != http.StatusNotFound {
			t.Errorf("B redeeming A's code: %d %s", r.Status, r.Body)
		}
		if cs, _ := e.Offers.ClaimsFor(ctx, offerA.ID, claimA.Identity); len(cs) != 1 || cs[0].Status != offers.Active {
			t.Fatalf("A's claim changed by B: %+v", cs)
		}
		k, err := e.Auth.APIKey(ctx, wsA.ID, keyA.ID)
		if err != nil || k.RevokedAt != nil {
			t.Fatalf("A's key changed by B: %+v %v", k, err)
		}
		if inv, err := e.Team.Invitation(ctx, invite); err != nil || inv.Workspace.ID != wsA.ID {
			t.Fatalf("A's invitation changed by B: %v", err)
		}

		// The markers are visible to A itself, so the checks above can fail.
		a := e.Browser()
		a.Login("owner.alpha@example.com")
		keyAsecret := e.Key(wsA.ID)
		for _, p := range []string{"/app/settings/members", "/app/settings/api-keys", "/app/", "/app/links", "/app/links/" + linkA.ID, "/app/offers", "/app/offers/" + offerA.ID} {
			if r := a.Get(p); !strings.Contains(r.Body, "Alphasecret") {
				t.Errorf("A's own page %s does not show A's data: the leak check would miss leaks there", p)
			}
		}
		for _, p := range []string{"/api/v1/workspace", "/api/v1/members", "/api/v1/api-keys", "/api/v1/members/" + agentA.ID, "/api/v1/api-keys/" + keyA.ID, "/api/v1/links", "/api/v1/links/" + linkA.ID,
			"/api/v1/offers", "/api/v1/offers/" + offerA.ID, "/api/v1/claims", "/api/v1/offers/" + offerA.ID + "/codes.csv"} {
			if r := e.API(keyAsecret, "GET", p, ""); r.Status != 200 || !strings.Contains(strings.ToLower(r.Body), "alphasecret") && !strings.Contains(r.Body, agentA.ID) {
				t.Errorf("A's own %s does not show A's data (%d)", p, r.Status)
			}
		}
	})
}

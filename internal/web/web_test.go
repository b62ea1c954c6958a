package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/server/servertest"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
	"github.com/roost-hq/roost/internal/team"
)

func want(t *testing.T, r servertest.Response, status int, contains ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d\n%s", r.Status, status, r.Body)
	}
	for _, c := range contains {
		if !strings.Contains(r.Body, c) {
			t.Fatalf("page does not contain %q:\n%s", c, r.Body)
		}
	}
}

func wantRedirect(t *testing.T, r servertest.Response, to string) {
	t.Helper()
	if r.Status != http.StatusSeeOther && r.Status != http.StatusFound || r.Header.Get("Location") != to {
		t.Fatalf("got %d to %q, want a redirect to %q\n%s", r.Status, r.Header.Get("Location"), to, r.Body)
	}
}

var inviteRE = regexp.MustCompile(`value="(http://[^"]+/app/invite/[^"]+)"`)

// TestDashboard goes through the dashboard as its users do, from the first
// run to a team with API keys, and ends by checking that every page
// template was rendered on the way.
func TestDashboard(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d *store.DB) {
		e := servertest.New(t, d.Dialect)
		ctx := context.Background()

		// First run: the one-time setup link.
		tok, err := e.Team.NewSetupToken(ctx)
		if err != nil {
			t.Fatal(err)
		}
		owner := e.Browser()
		want(t, owner.Get("/app/setup/"+tok), 200, "Welcome to Roost", "Workspace name")
		r := owner.Post("/app/setup/"+tok, "/app/setup/"+tok, url.Values{"workspace": {"Dell Outlet"}, "name": {"Lena Berg"}, "email": {"not-an-email"}, "password": {"short"}})
		want(t, r, 422, "must be an email address", "must be at least 10 characters", `value="Lena Berg"`)
		if n, _ := e.Team.CountUsers(ctx); n != 0 {
			t.Fatal("refused setup stored a user")
		}
		r = owner.Post("/app/setup/"+tok, "/app/setup/"+tok, url.Values{"workspace": {"Dell Outlet"}, "name": {"Lena Berg"}, "email": {"lena@example.com"}, "password": {servertest.Password}, "signature": {"^LB"}})
		wantRedirect(t, r, "/app/")
		want(t, owner.Get("/app/"), 200, "Overview", "Dell Outlet", "Your workspace Dell Outlet is ready", "Lena Berg")
		want(t, owner.Get("/app/setup/"+tok), 404, "Link expired")
		want(t, owner.Get("/app/nothing-here"), 404, "Page not found")

		// Members: invite an agent, who joins through the link.
		r = owner.Post("/app/settings/members", "/app/settings/members", url.Values{"name": {"Al Agent"}, "email": {"al@example.com"}, "role": {"agent"}, "signature": {"^AA"}})
		want(t, r, 200, "Invitation ready", "Al Agent (al@example.com)")
		m := inviteRE.FindStringSubmatch(r.Body)
		if m == nil {
			t.Fatal("no invitation link on the page")
		}
		invitePath := strings.TrimPrefix(m[1], e.URL)
		r = owner.Post("/app/settings/members", "/app/settings/members", url.Values{"name": {"Al"}, "email": {"al@example.com"}, "role": {"agent"}})
		want(t, r, 422, "already a member")
		agent := e.Browser()
		want(t, agent.Get(invitePath), 200, "Join Dell Outlet", "al@example.com")
		want(t, agent.Post(invitePath, invitePath, url.Values{"password": {"short"}}), 422, "at least 10")
		wantRedirect(t, agent.Post(invitePath, invitePath, url.Values{"password": {servertest.Password}}), "/app/")
		want(t, agent.Get("/app/"), 200, "Welcome to Dell Outlet", "Al Agent")
		want(t, agent.Get(invitePath), 404, "Link expired")

		// An agent sees the team but cannot change it or see API keys.
		want(t, agent.Get("/app/settings/members"), 200, "Lena Berg")
		want(t, agent.Get("/app/settings/api-keys"), 403, "Owners and admins only")
		if r := agent.Get("/app/settings/members"); strings.Contains(r.Body, "Add a member") || strings.Contains(r.Body, "/remove") {
			t.Fatal("an agent is offered member management")
		}
		agentMember, _ := e.Team.Members(ctx, mustWorkspace(t, e, "dell-outlet").ID, "", 10)
		agentID := agentMember[1].ID
		want(t, agent.Post("/app/settings/members", "/app/settings/members/"+agentID, url.Values{"role": {"owner"}}), 403, "Owners and admins only")

		// The owner promotes the agent to admin; the last owner cannot leave.
		wantRedirect(t, owner.Post("/app/settings/members", "/app/settings/members/"+agentID, url.Values{"role": {"admin"}, "signature": {"^AL"}}), "/app/settings/members")
		want(t, owner.Get("/app/settings/members"), 200, "Saved Al Agent", `value="^AL"`)
		ownerID := agentMember[0].ID
		wantRedirect(t, owner.Post("/app/settings/members", "/app/settings/members/"+ownerID, url.Values{"role": {"agent"}, "signature": {"^LB"}}), "/app/settings/members")
		want(t, owner.Get("/app/settings/members"), 200, "at least one owner")

		// API keys: the secret is shown once.
		r = owner.Post("/app/settings/api-keys", "/app/settings/api-keys", url.Values{"name": {"Shopify store"}})
		want(t, r, 200, "Your new API key", "Shopify store")
		secret := regexp.MustCompile(`id="new-key" type="text" readonly value="(roost_[^"]+)"`).FindStringSubmatch(r.Body)
		if secret == nil {
			t.Fatal("secret not shown")
		}
		if e.API(secret[1], "GET", "/api/v1/workspace", "").Status != 200 {
			t.Fatal("the new key does not work")
		}
		list := owner.Get("/app/settings/api-keys")
		if strings.Contains(list.Body, secret[1]) {
			t.Fatal("the secret is shown again")
		}
		want(t, list, 200, secret[1][:12]+"…")
		want(t, owner.Post("/app/settings/api-keys", "/app/settings/api-keys", url.Values{"name": {""}}), 422, "is required")
		keys, _ := e.Auth.APIKeys(ctx, mustWorkspace(t, e, "dell-outlet").ID, "", 10)
		wantRedirect(t, owner.Post("/app/settings/api-keys", "/app/settings/api-keys/"+keys[0].ID+"/revoke", nil), "/app/settings/api-keys")
		want(t, owner.Get("/app/settings/api-keys"), 200, "revoked")
		if e.API(secret[1], "GET", "/api/v1/workspace", "").Status != 401 {
			t.Fatal("a revoked key works")
		}

		// Links: create (a refused one first), look, edit, settings, delete.
		r = owner.Post("/app/links", "/app/links", url.Values{"destination": {"javascript:alert(1)"}, "title": {"Bad"}})
		want(t, r, 422, "javascript: links are not allowed", `value="Bad"`)
		r = owner.Post("/app/links", "/app/links", url.Values{"destination": {"https://shop.example.com/xps?ref=1"}, "title": {"XPS 13 deal"}, "code": {"xps"}, "tags": {"outlet, laptops"}})
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/app/links/lnk_") {
			t.Fatalf("create link: %d %s", r.Status, r.Header.Get("Location"))
		}
		linkPath := r.Header.Get("Location")
		want(t, owner.Get(linkPath), 200, "Link created", e.URL+"/xps", "XPS 13 deal", "<svg class=\"chart\"", "Human clicks")
		want(t, owner.Get(linkPath+"?range=48h"), 200, "XPS 13 deal")
		want(t, owner.Get("/app/links"), 200, e.URL+"/xps", "outlet")
		want(t, owner.Get("/app/links?tag=laptops"), 200, "XPS 13 deal")
		if r := owner.Get("/app/links?q=nothing-like-this"); !strings.Contains(r.Body, "No link matches") {
			t.Fatal("search found something")
		}
		if r := owner.Get(linkPath + "/qr.svg"); r.Status != 200 || !strings.HasPrefix(r.Body, "<svg") {
			t.Fatalf("QR: %d", r.Status)
		}
		want(t, owner.Post(linkPath, linkPath, url.Values{"destination": {"ftp://x"}, "title": {"XPS"}}), 422, "ftp: links are not allowed")
		wantRedirect(t, owner.Post(linkPath, linkPath, url.Values{"destination": {"https://shop.example.com/xps-new"}, "title": {"XPS 13 deal"}, "tags": {"outlet"}}), linkPath)
		want(t, owner.Get(linkPath), 200, "Link saved", "https://shop.example.com/xps-new")
		want(t, owner.Get("/app/settings/links"), 200, "roost_cid")
		want(t, owner.Post("/app/settings/links", "/app/settings/links", url.Values{"click_param": {"utm_x"}}), 422, "must not start with utm_")
		wantRedirect(t, owner.Post("/app/settings/links", "/app/settings/links", url.Values{"click_param": {"cid"}, "allowed_domains": {"shop.example.com"}}), "/app/settings/links")
		want(t, owner.Get("/app/settings/links"), 200, `value="cid"`, "shop.example.com")
		want(t, owner.Post("/app/links", "/app/links", url.Values{"destination": {"https://elsewhere.example/"}}), 422, "allowed domains")
		wantRedirect(t, owner.Post(linkPath, linkPath+"/delete", nil), "/app/links")
		want(t, owner.Get(linkPath), 404, "Page not found")

		// Offers: the editor refuses bad input field by field, creates, edits;
		// the public page opens; the codes export.
		want(t, owner.Get("/app/offers"), 200, "No offers yet")
		want(t, owner.Get("/app/offers/new"), 200, "New offer", "Who may claim")
		form := url.Values{"title": {"XPS deal"}, "slug": {"xps-deal"}, "landing_url": {"https://shop.example.com/xps"}, "currency": {"USD"}, "cap": {"5"},
			"per_person": {"1"}, "audience": {"public"}, "code_mode": {"unique"}, "code_length": {"8"}, "claim_ttl_hours": {"0"}, "published": {"on"},
			"products": {"XPS13, XPS 13, 1299.00, 899.00"}}
		bad := url.Values{}
		for k, v := range form {
			bad[k] = v
		}
		bad.Set("products", "XPS13, XPS 13, twelve, 899")
		bad.Set("cap", "lots")
		want(t, owner.Post("/app/offers/new", "/app/offers", bad), 422, "prices must be amounts in USD", "must be a whole number", `value="XPS deal"`)
		r = owner.Post("/app/offers/new", "/app/offers", form)
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/app/offers/off_") {
			t.Fatalf("create offer: %d %s", r.Status, r.Header.Get("Location"))
		}
		offerPath := r.Header.Get("Location")
		want(t, owner.Get(offerPath), 200, "Offer saved", "XPS deal", e.URL+"/o/xps-deal", "No claims yet", "XPS13, XPS 13, 1299.00, 899.00")
		want(t, e.Browser().Get("/o/xps-deal"), 200, "XPS deal", "Claim my code", "899.00 USD")
		form.Set("title", "XPS deal, now")
		wantRedirect(t, owner.Post(offerPath, offerPath, form), offerPath)
		want(t, owner.Get("/app/offers"), 200, "XPS deal, now", "0 / 5")
		form.Set("cap", "0")
		want(t, owner.Post(offerPath, offerPath, form), 422, "must be from 1")
		if r := owner.Get(offerPath + "/codes.csv"); r.Status != 200 || !strings.HasPrefix(r.Body, "code,status") {
			t.Fatalf("codes.csv: %d", r.Status)
		}
		want(t, owner.Get(offerPath+"/counts"), 200, `"claimed":0`, `"left":5`)
		wantRedirect(t, owner.PostFile(offerPath, offerPath+"/pool", "codes", "codes.csv", "A1\n", nil), offerPath)
		want(t, owner.Get(offerPath), 200, "does not take its codes from a pool")

		// A pool offer: codes imported from a file, with a report of the lines refused.
		form.Set("code_mode", "pool")
		form.Set("cap", "5")
		wantRedirect(t, owner.Post(offerPath, offerPath, form), offerPath)
		want(t, owner.Get(offerPath), 200, "Code pool", "Import codes")
		r = owner.PostFile(offerPath, offerPath+"/pool", "codes", "codes.csv", "code\nOUT-AAA1\nOUT-AAA2\nbad code!\nout-aaa1\n", nil)
		want(t, r, 200, "2 codes added, 2 lines rejected", "may hold only letters", "already earlier in this file")
		want(t, owner.Get(offerPath+"/counts"), 200, `"pool_free":2`)
		want(t, owner.PostFile(offerPath, offerPath+"/pool", "codes", "big.csv", strings.Repeat("X", 9<<20), nil), 400, "larger than 8 MB")

		// Accounts: a sandbox account, its followers and a mention.
		want(t, owner.Get("/app/settings/accounts"), 200, "No accounts yet", "Add a sandbox account")
		want(t, owner.Get("/app/posts"), 200, "No accounts to post to yet")
		want(t, owner.Post("/app/settings/accounts", "/app/settings/accounts/sandbox", url.Values{"handle": {"not ok!"}}), 422, "must be 1 to 30 letters")
		r = owner.Post("/app/settings/accounts", "/app/settings/accounts/sandbox", url.Values{"handle": {"@DellOutlet"}, "display_name": {"Dell Outlet"}})
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/app/settings/accounts/acc_") {
			t.Fatalf("add sandbox account: %d %s", r.Status, r.Header.Get("Location"))
		}
		acctPath := r.Header.Get("Location")
		want(t, owner.Get(acctPath), 200, "@delloutlet", "Growth shows once there are two samples", "Save followers")
		want(t, owner.Post(acctPath, acctPath+"/followers", url.Values{"followers": {"@ann\nbad handle!"}}), 422, "must be 1 to 30 letters")
		wantRedirect(t, owner.Post(acctPath, acctPath+"/followers", url.Values{"followers": {"@ann\n@bob, carl"}}), acctPath)
		want(t, owner.Get(acctPath), 200, "3 followers saved", "@ann\n@bob\n@carl", "healthy")
		want(t, owner.Post(acctPath, acctPath+"/mention", url.Values{"from": {"@delloutlet"}, "text": {"hi"}}), 422, "is the brand account itself")
		wantRedirect(t, owner.Post(acctPath, acctPath+"/mention", url.Values{"from": {"@ann"}, "text": {"@delloutlet is the XPS deal on?"}}), acctPath)
		wantRedirect(t, owner.Post(acctPath, acctPath+"/refresh", nil), acctPath)
		want(t, owner.Get(acctPath), 200, "is the XPS deal on?", "the credentials work")
		want(t, owner.Get("/app/settings/accounts"), 200, "@delloutlet", "Dell Outlet", "healthy")

		// Posts: compose with bad input, publish now, schedule and cancel.
		acctID := strings.TrimPrefix(acctPath, "/app/settings/accounts/")
		want(t, owner.Get("/app/posts"), 200, "New post", "@delloutlet", "No posts yet")
		want(t, owner.Post("/app/posts", "/app/posts", url.Values{"body": {strings.Repeat("deal ", 120)}, "accounts": {acctID}}), 422, "over the 500 that @delloutlet on Sandbox allows")
		want(t, owner.Post("/app/posts", "/app/posts", url.Values{"body": {"x"}, "accounts": {acctID}, "when": {"later"}}), 422, "choose when to publish")
		wantRedirect(t, owner.Post("/app/posts", "/app/posts", url.Values{"body": {"Outlet deal: {link}"}, "accounts": {acctID}, "destination": {"https://shop.example.com/xps"}, "when": {"now"}}), "/app/posts")
		want(t, owner.Get("/app/posts"), 200, "Post queued", "Outlet deal: {link}", "scheduled")
		if n, err := e.Publisher.RunOnce(context.Background()); err != nil || n != 1 {
			t.Fatalf("publisher: %d %v", n, err)
		}
		want(t, owner.Get("/app/posts?status=published"), 200, "Outlet deal", "published")
		want(t, owner.Get(acctPath), 200, "Outlet deal: "+e.URL+"/")
		later := time.Now().UTC().Add(48 * time.Hour).Format("2006-01-02T15:04")
		wantRedirect(t, owner.Post("/app/posts", "/app/posts", url.Values{"body": {"Tomorrow"}, "accounts": {acctID}, "when": {"later"}, "scheduled_at": {later}}), "/app/posts")
		page := owner.Get("/app/posts?status=scheduled")
		want(t, page, 200, "Post scheduled for", "Tomorrow")
		// The calendar: this month holds today's post; the month of the
		// scheduled one holds it; a month with nothing is empty; nonsense
		// falls back to this month.
		nowUTC := time.Now().UTC()
		laterT := nowUTC.Add(48 * time.Hour)
		cal := owner.Get("/app/posts?view=calendar&month=" + laterT.Format("2006-01"))
		want(t, cal, 200, `id="cal-month">`+laterT.Format("January 2006"), "Tomorrow</a>", "cal-post status-scheduled")
		want(t, owner.Get("/app/posts?view=calendar&month=1999-01"), 200, `id="cal-month">January 1999`)
		if page := owner.Get("/app/posts?view=calendar&month=1999-01").Body; strings.Contains(page, "cal-post") || !strings.Contains(page, "No posts in January 1999.") {
			t.Error("a month without posts shows posts, or does not say it has none")
		}
		want(t, owner.Get("/app/posts?view=calendar&month=nonsense"), 200, `id="cal-month">`+nowUTC.Format("January 2006"), "Outlet deal")
		postID := regexp.MustCompile(`/app/posts/(pst_[a-z0-9]+)/cancel`).FindStringSubmatch(page.Body)
		if postID == nil {
			t.Fatal("no cancel button on a scheduled post")
		}
		wantRedirect(t, owner.Post("/app/posts", "/app/posts/"+postID[1]+"/cancel", nil), "/app/posts")
		want(t, owner.Get("/app/posts?status=cancelled"), 200, "Tomorrow")
		wantRedirect(t, owner.Post(acctPath, acctPath+"/disconnect", nil), "/app/settings/accounts")
		want(t, owner.Get("/app/settings/accounts"), 200, "disconnected. Its posts")
		want(t, owner.Get(acctPath), 404)

		// Profile and password.
		wantRedirect(t, owner.Post("/app/settings/profile", "/app/settings/profile", url.Values{"name": {"Lena B."}, "signature": {"^LBB"}}), "/app/settings/profile")
		want(t, owner.Get("/app/settings/profile"), 200, "Profile saved", `value="Lena B."`, `value="^LBB"`)
		other := e.Browser()
		other.Login("lena@example.com")
		want(t, owner.Post("/app/settings/profile", "/app/settings/password", url.Values{"current": {"wrong password"}, "password": {"a brand new password"}}), 422, "is not your current password")
		wantRedirect(t, owner.Post("/app/settings/profile", "/app/settings/password", url.Values{"current": {servertest.Password}, "password": {"a brand new password"}}), "/app/settings/profile")
		wantRedirect(t, other.Get("/app/"), "/app/login?next=%2Fapp%2F")
		want(t, owner.Get("/app/"), 200, "Overview")

		// Workspaces: settings, a new one, and the switcher.
		want(t, owner.Get("/app/settings/workspace"), 200, "dell-outlet")
		wantRedirect(t, owner.Post("/app/settings/workspace", "/app/settings/workspace", url.Values{"name": {"Dell Outlet EU"}}), "/app/settings/workspace")
		want(t, owner.Post("/app/settings/workspace", "/app/settings/workspace", url.Values{"name": {""}}), 422, "is required")
		want(t, owner.Get("/app/workspaces/new"), 200, "New workspace")
		want(t, owner.Post("/app/workspaces/new", "/app/workspaces/new", url.Values{"name": {"X"}, "slug": {"dell-outlet"}}), 422, "already exists")
		wantRedirect(t, owner.Post("/app/workspaces/new", "/app/workspaces/new", url.Values{"name": {"Alienware Outlet"}}), "/app/")
		want(t, owner.Get("/app/"), 200, "Alienware Outlet", "Dell Outlet EU")
		dell := mustWorkspace(t, e, "dell-outlet")
		wantRedirect(t, owner.Post("/app/", "/app/switch", url.Values{"workspace": {dell.ID}}), "/app/")
		if r := owner.Get("/app/settings/workspace"); !strings.Contains(r.Body, `value="Dell Outlet EU"`) {
			t.Fatal("switch did not change the workspace")
		}

		// Orders and the store's settings.
		rc, err := e.Orders.Receive(context.Background(), dell.ID, orders.Event{Source: orders.API, Kind: orders.Placed, Order: &orders.Order{ExternalID: "o-1",
			PlacedAt: time.Now(), Currency: "USD", Lines: []orders.Line{{SKU: "A", Quantity: 1, UnitPrice: 100}}}})
		if err != nil {
			t.Fatal(err)
		}
		e.Orders.Process(context.Background(), rc.EventID)
		order, _ := e.Orders.ByExternalID(context.Background(), dell.ID, orders.API, "o-1")
		want(t, owner.Get("/app/orders"), 200, "o-1", "Nothing from Roost led to this order.")
		want(t, owner.Get("/app/orders/"+order.ID), 200, "Order o-1")
		want(t, owner.Get("/app/settings/store"), 200, "Reporting currency")

		// The inbox, a conversation, its settings, and the customers.
		dellAcct, err := e.Social.CreateSandboxAccount(context.Background(), dell.ID, "", "dellinbox", "")
		if err != nil {
			t.Fatal(err)
		}
		e.Sandbox.Mention(context.Background(), dellAcct, "shopper", "@dellinbox where is my order?", "")
		time.Sleep(5 * time.Millisecond)
		e.Poller.RunOnce(context.Background())
		inboxPage := owner.Get("/app/inbox")
		want(t, inboxPage, 200, "@shopper", "where is my order?", "Response times")
		conv := regexp.MustCompile(`/app/inbox/(cnv_[a-z0-9]+)`).FindStringSubmatch(inboxPage.Body)
		if conv == nil {
			t.Fatal("no conversation in the inbox")
		}
		convPath := "/app/inbox/" + conv[1]
		want(t, owner.Get(convPath), 200, "Reply as", "Sandbox allows 500 characters")
		want(t, owner.Post(convPath, convPath, url.Values{"action": {"reply"}, "text": {""}}), 422, "is required")
		want(t, owner.Post(convPath, convPath, url.Values{"action": {"tags"}, "tags": {"not ok!"}}), 422, "is not a tag")
		wantRedirect(t, owner.Post(convPath, convPath, url.Values{"action": {"note"}, "note": {"Looked it up: shipped"}}), convPath)
		wantRedirect(t, owner.Post(convPath, convPath, url.Values{"action": {"reply"}, "text": {"Shipped today, {name}!"}}), convPath)
		want(t, owner.Get(convPath), 200, "Reply sent.", "Shipped today, @shopper!", "Looked it up: shipped", "pending")
		want(t, owner.Get("/app/inbox/settings"), 200, "Saved replies", "Routing rules", "VIP followers")
		want(t, owner.Post("/app/inbox/settings", "/app/inbox/settings", url.Values{"action": {"settings"}, "vip_followers": {"lots"}}), 422, "must be a whole number of followers")
		wantRedirect(t, owner.Post("/app/inbox/settings", "/app/inbox/settings", url.Values{"action": {"settings"}, "vip_followers": {"10,000"}}), "/app/inbox/settings")
		want(t, owner.Get("/app/inbox/settings"), 200, `name="vip_followers" value="10000"`)
		want(t, owner.Post("/app/inbox/settings", "/app/inbox/settings", url.Values{"action": {"rule"}, "words": {""}}), 422, "give between 1 and 50")
		wantRedirect(t, owner.Post("/app/inbox/settings", "/app/inbox/settings", url.Values{"action": {"template"}, "name": {"Shipping"}, "body": {"Hi {name}, it ships today."}}), "/app/inbox/settings")
		customers := owner.Get("/app/customers")
		want(t, customers, 200, "@shopper")
		cust := regexp.MustCompile(`/app/customers/(cus_[a-z0-9]+)`).FindStringSubmatch(customers.Body)
		want(t, owner.Get("/app/customers/"+cust[1]), 200, "@shopper on sandbox", "Deal revenue")

		// Sign out.
		wantRedirect(t, owner.Post("/app/", "/app/logout", nil), "/app/login")
		want(t, owner.Get("/app/login"), 200, "You have signed out")
		wantRedirect(t, owner.Get("/app/"), "/app/login?next=%2Fapp%2F")

		for _, p := range e.Web.Pages() {
			if !e.Web.Rendered(p) {
				t.Errorf("template %s.html was never rendered by this test", p)
			}
		}
	})
}

func mustWorkspace(t *testing.T, e *servertest.Env, slug string) team.Workspace {
	t.Helper()
	w, err := e.Team.WorkspaceBySlug(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestLoginProtections(t *testing.T) {
	t.Parallel()
	e := servertest.New(t, store.SQLite)
	e.Owner("Acme", "o@example.com")
	b := e.Browser()

	// The session cookie is HttpOnly and SameSite.
	r := b.Post("/app/login", "/app/login", url.Values{"email": {"o@example.com"}, "password": {servertest.Password}, "next": {"/app/settings/members"}})
	wantRedirect(t, r, "/app/settings/members")
	var cookie string
	for _, c := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "roost_session=") {
			cookie = c
		}
	}
	if !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Lax") {
		t.Fatalf("session cookie %q", cookie)
	}

	// No open redirect after sign-in.
	for _, next := range []string{"//evil.example", "https://evil.example/app/", "/\\evil.example", "/app/\r\nX: y"} {
		r := e.Browser().Post("/app/login", "/app/login", url.Values{"email": {"o@example.com"}, "password": {servertest.Password}, "next": {next}})
		wantRedirect(t, r, "/app/")
	}

	// CSRF: a form without the token, with another browser's token, or
	// sent from another site is refused.
	c := e.Browser()
	want(t, c.Post("", "/app/login", url.Values{"email": {"o@example.com"}, "password": {servertest.Password}}), 403, "Form expired")
	want(t, c.Post("", "/app/login", url.Values{"csrf": {servertest.CSRF(t, e.Browser().Get("/app/login").Body)}, "email": {"o@example.com"}, "password": {servertest.Password}}), 403)
	form := url.Values{"csrf": {servertest.CSRF(t, c.Get("/app/login").Body)}, "email": {"o@example.com"}, "password": {servertest.Password}}
	cross := e.Do(c.C, "POST", "/app/login", form.Encode(), "Content-Type: application/x-www-form-urlencoded", "Sec-Fetch-Site: cross-site")
	want(t, cross, 403, "another site")

	// Wrong passwords, then the limit.
	d := e.Browser()
	for i := range 5 {
		r := d.Post("/app/login", "/app/login", url.Values{"email": {"o@example.com"}, "password": {"wrong password"}})
		want(t, r, 401, "do not match")
		_ = i
	}
	r = d.Post("/app/login", "/app/login", url.Values{"email": {"o@example.com"}, "password": {servertest.Password}})
	want(t, r, 429, "Too many sign-in attempts")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	// An unknown address fails the same way as a wrong password.
	want(t, e.Browser().Post("/app/login", "/app/login", url.Values{"email": {"nobody@example.com"}, "password": {"x"}}), 401, "do not match")

	// Static files are cache-busted and served with a long lifetime.
	page := e.Browser().Get("/app/login").Body
	css := regexp.MustCompile(`href="(/static/roost.css\?v=[0-9a-f]+)"`).FindStringSubmatch(page)
	if css == nil {
		t.Fatal("no versioned stylesheet link")
	}
	sr := e.Do(nil, "GET", css[1], "")
	if sr.Status != 200 || !strings.Contains(sr.Header.Get("Cache-Control"), "immutable") || !strings.Contains(sr.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("stylesheet: %d %v", sr.Status, sr.Header)
	}
	wantRedirect(t, e.Do(nil, "GET", "/", ""), "/app/")
}

// TestWorkspaceSafety covers what crosses workspaces: forms from a tab
// still showing another workspace, and invitations for people who already
// use Roost.
func TestWorkspaceSafety(t *testing.T) {
	t.Parallel()
	e := servertest.New(t, store.SQLite)
	ctx := context.Background()
	alpha, _ := e.Owner("Alpha", "o@example.com")
	beta, _ := e.Owner("Beta", "o@example.com")
	b := e.Browser()
	b.Login("o@example.com")
	wantRedirect(t, b.Post("/app/", "/app/switch", url.Values{"workspace": {alpha.ID}}), "/app/")
	staleForm := b.Get("/app/settings/workspace").Body
	wantRedirect(t, b.Post("/app/", "/app/switch", url.Values{"workspace": {beta.ID}}), "/app/")
	// The tab still showing Alpha submits its form after the switch to Beta.
	r := b.Post("", "/app/settings/workspace", url.Values{"csrf": {servertest.CSRF(t, staleForm)}, "name": {"Alpha renamed"}})
	want(t, r, 403, "Form expired")
	if w, _ := e.Team.Workspace(ctx, beta.ID); w.Name != "Beta" {
		t.Fatalf("a stale tab renamed %q", w.Name)
	}

	// Bea uses Roost in Beta; Alpha invites her. The invitation cannot set a
	// password for her account; she accepts it signed in.
	_, bea := e.Owner("Beta", "bea@example.com")
	_, invite, err := e.Team.AddMember(ctx, team.Owner, alpha.ID, team.NewMember{Email: "bea@example.com", Name: "Bea in Alpha", Role: team.Marketer})
	if err != nil {
		t.Fatal(err)
	}
	path := "/app/invite/" + invite
	guest := e.Browser()
	want(t, guest.Get(path), 200, "already has a Roost account", "Sign in to accept")
	r = guest.Post("/app/login", path, url.Values{"password": {"an attacker's password"}})
	wantRedirect(t, r, "/app/login?next="+url.QueryEscape(path))
	if _, err := e.Team.Authenticate(ctx, "bea@example.com", servertest.Password); err != nil {
		t.Fatal("an invitation changed an existing password")
	}
	// Someone else signed in is told the invitation is not theirs.
	want(t, b.Get(path), 200, "you are signed in as o@example.com")
	if _, err := e.Team.AcceptInvitation(ctx, invite, "usr_nobody", ""); err == nil {
		t.Fatal("someone else accepted the invitation")
	}
	r = guest.Post("/app/login", "/app/login", url.Values{"email": {"bea@example.com"}, "password": {servertest.Password}, "next": {path}})
	wantRedirect(t, r, path)
	want(t, guest.Get(path), 200, "Join Alpha")
	wantRedirect(t, guest.Post(path, path, nil), "/app/")
	want(t, guest.Get("/app/"), 200, "Welcome to Alpha", "Bea in Alpha")

	// A profile with one bad field saves nothing.
	r = guest.Post("/app/settings/profile", "/app/settings/profile", url.Values{"name": {"New Name"}, "signature": {strings.Repeat("^", 30)}})
	want(t, r, 422, "at most 24")
	if m, _ := e.Team.MemberForUser(ctx, alpha.ID, bea.UserID); m.Name != "Bea in Alpha" {
		t.Fatalf("half-saved profile: name %q", m.Name)
	}
}

func TestRetryAfterIsSeconds(t *testing.T) {
	t.Parallel()
	e := servertest.New(t, store.SQLite)
	e.Owner("Acme", "o@example.com")
	b := e.Browser()
	var r servertest.Response
	for range 6 {
		r = b.Post("/app/login", "/app/login", url.Values{"email": {"o@example.com"}, "password": {"wrong password"}})
	}
	want(t, r, 429, "Too many sign-in attempts")
	if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 || n > 180 {
		t.Fatalf("Retry-After = %q, want whole seconds", r.Header.Get("Retry-After"))
	}
}

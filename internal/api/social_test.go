package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/server/servertest"
	"github.com/roost-hq/roost/internal/social/bluesky/blueskytest"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
)

func TestAccountsAndPostsEndpoints(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d *store.DB) {
		e := servertest.New(t, d.Dialect)
		w, _ := e.Owner("Acme", "o@example.com")
		key := e.Key(w.ID)
		ctx := context.Background()

		wantProblem(t, e.API(key, "POST", "/api/v1/accounts", `{"network":"mastodon","handle":"x"}`), 422, "validation_failed")
		wantProblem(t, e.API(key, "POST", "/api/v1/accounts", `{"network":"myspace","handle":"x"}`), 422, "validation_failed")
		r := e.API(key, "POST", "/api/v1/accounts", `{"network":"sandbox","handle":"@Outlet","display_name":"Acme Outlet"}`, "Idempotency-Key: a1")
		var a struct {
			ID, Mention, Health string
			Limit               int `json:"post_limit"`
		}
		r.JSON(t, &a)
		if r.Status != 201 || a.Mention != "@outlet" || a.Health != "ok" || a.Limit != 500 || strings.Contains(r.Body, "credentials\"") {
			t.Fatalf("connect: %d %s", r.Status, r.Body)
		}
		wantProblem(t, e.API(key, "POST", "/api/v1/accounts", `{"network":"sandbox","handle":"outlet"}`), 409, "conflict")
		acct, _ := e.Social.Account(ctx, w.ID, a.ID)
		e.Sandbox.SetFollowers(ctx, acct, []string{"ann", "bob"})
		r = e.API(key, "POST", "/api/v1/accounts/"+a.ID+"/check", "")
		if r.Status != 200 || !strings.Contains(r.Body, `"followers":2`) {
			t.Fatalf("check: %d %s", r.Status, r.Body)
		}
		r = e.API(key, "GET", "/api/v1/accounts/"+a.ID+"/followers", "")
		if r.Status != 200 || !strings.Contains(r.Body, `"followers":2`) {
			t.Fatalf("followers: %d %s", r.Status, r.Body)
		}
		wantProblem(t, e.API(key, "GET", "/api/v1/accounts/"+a.ID+"/followers?since=yesterday", ""), 422, "validation_failed")

		// Posts: refused, published, scheduled and cancelled.
		wantProblem(t, e.API(key, "POST", "/api/v1/posts", `{"body":"","account_ids":[]}`), 422, "validation_failed")
		wantProblem(t, e.API(key, "POST", "/api/v1/posts", `{"body":"x","account_ids":["`+a.ID+`"],"member_id":"mem_nope"}`), 422, "validation_failed")
		r = e.API(key, "POST", "/api/v1/posts", `{"body":"Outlet deal {link}","account_ids":["`+a.ID+`"],"destination":"https://shop.example.com/xps"}`, "Idempotency-Key: p1")
		var p struct {
			ID, Status string
			Copies     []struct {
				ID, Text, Status string
				RemoteID         string `json:"remote_id"`
			}
		}
		r.JSON(t, &p)
		if r.Status != 201 || p.Status != "scheduled" || len(p.Copies) != 1 || !strings.Contains(p.Copies[0].Text, "Outlet deal "+e.URL+"/") {
			t.Fatalf("create post: %d %s", r.Status, r.Body)
		}
		if again := e.API(key, "POST", "/api/v1/posts", `{"body":"Outlet deal {link}","account_ids":["`+a.ID+`"],"destination":"https://shop.example.com/xps"}`, "Idempotency-Key: p1"); again.Body != r.Body {
			t.Fatal("idempotent retry answered differently")
		}
		e.Publisher.RunOnce(ctx)
		r = e.API(key, "GET", "/api/v1/posts/"+p.ID, "")
		r.JSON(t, &p)
		if p.Status != "published" || p.Copies[0].RemoteID == "" {
			t.Fatalf("after publishing: %s", r.Body)
		}
		later := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
		r = e.API(key, "POST", "/api/v1/posts", `{"body":"Tomorrow","account_ids":["`+a.ID+`"],"scheduled_at":"`+later+`"}`)
		r.JSON(t, &p)
		r = e.API(key, "POST", "/api/v1/posts/"+p.ID+"/cancel", "")
		r.JSON(t, &p)
		if r.Status != 200 || p.Status != "cancelled" {
			t.Fatalf("cancel: %d %s", r.Status, r.Body)
		}
		wantProblem(t, e.API(key, "POST", "/api/v1/posts/"+p.ID+"/copies/"+p.Copies[0].ID+"/retry", ""), 409, "conflict")
		r = e.API(key, "GET", "/api/v1/posts?status=published", "")
		if r.Status != 200 || !strings.Contains(r.Body, "Outlet deal") || strings.Contains(r.Body, "Tomorrow") {
			t.Fatalf("list published: %s", r.Body)
		}
		wantProblem(t, e.API(key, "GET", "/api/v1/posts?status=lost", ""), 422, "validation_failed")
		if r := e.API(key, "DELETE", "/api/v1/accounts/"+a.ID, ""); r.Status != 204 {
			t.Fatalf("disconnect: %d", r.Status)
		}
		wantProblem(t, e.API(key, "GET", "/api/v1/accounts/"+a.ID, ""), 404, "not_found")
	})
}

func TestConnectBlueskyThroughAPI(t *testing.T) {
	t.Parallel()
	f := blueskytest.New(t)
	e := servertest.New(t, store.SQLite)
	w, _ := e.Owner("Acme", "o@example.com")
	key := e.Key(w.ID)
	wantProblem(t, e.API(key, "POST", "/api/v1/accounts", `{"network":"bluesky","handle":"","app_password":""}`), 422, "validation_failed")
	wantProblem(t, e.API(key, "POST", "/api/v1/accounts", `{"network":"bluesky","handle":"`+blueskytest.Handle+`","app_password":"nope","service":"`+f.URL+`"}`), 422, "validation_failed")
	wantProblem(t, e.API(key, "POST", "/api/v1/accounts", `{"network":"x","handle":"outlet"}`), 422, "validation_failed")
	r := e.API(key, "POST", "/api/v1/accounts", `{"network":"bluesky","handle":"@`+blueskytest.Handle+`","app_password":"`+blueskytest.AppPassword+`","service":"`+f.URL+`"}`)
	var a struct {
		ID, Network, Handle, Health string
		Followers                   *int64
	}
	r.JSON(t, &a)
	if r.Status != 201 || a.Network != "bluesky" || a.Handle != blueskytest.Handle || a.Health != "ok" || a.Followers == nil {
		t.Fatalf("connect: %d %s", r.Status, r.Body)
	}
	if strings.Contains(r.Body, blueskytest.AppPassword) || strings.Contains(r.Body, "jwt") {
		t.Fatalf("credentials in the answer: %s", r.Body)
	}
}

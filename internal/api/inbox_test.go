package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/server/servertest"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
)

func TestConversationsEndpoints(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d *store.DB) {
		e := servertest.New(t, d.Dialect)
		ctx := context.Background()
		w, owner := e.Owner("Acme", "o@example.com")
		key := e.Key(w.ID)
		acct, err := e.Social.CreateSandboxAccount(ctx, w.ID, "", "outlet", "")
		if err != nil {
			t.Fatal(err)
		}
		e.Sandbox.Mention(ctx, acct, "ann", "@outlet hello", "")
		time.Sleep(5 * time.Millisecond)
		if _, err := e.Poller.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		var list struct {
			Data []struct{ ID, Status string }
		}
		e.API(key, "GET", "/api/v1/conversations", "").JSON(t, &list)
		if len(list.Data) != 1 || list.Data[0].Status != "open" {
			t.Fatalf("list: %+v", list)
		}
		id := list.Data[0].ID
		wantProblem(t, e.API(key, "GET", "/api/v1/conversations?status=lost", ""), 400, "invalid_parameter")
		wantProblem(t, e.API(key, "POST", "/api/v1/conversations/"+id+"/replies", `{"text":""}`), 422, "validation_failed")
		wantProblem(t, e.API(key, "POST", "/api/v1/conversations/"+id+"/replies", `{"text":"Hi","member_id":"mem_nobody"}`), 422, "validation_failed")
		r := e.API(key, "POST", "/api/v1/conversations/"+id+"/replies", `{"text":"Hi {name}!","member_id":"`+owner.ID+`"}`)
		if r.Status != 201 || !strings.Contains(r.Body, `"status":"sent"`) {
			t.Fatalf("reply: %d %s", r.Status, r.Body)
		}
		if tl, _ := e.Sandbox.Timeline(ctx, acct, 1); tl[0].Text != "Hi @ann! "+owner.Signature {
			t.Fatalf("the network got %q", tl[0].Text)
		}
		r = e.API(key, "PATCH", "/api/v1/conversations/"+id, `{"status":"closed","tags":["done"],"note":"sorted"}`)
		if r.Status != 200 || !strings.Contains(r.Body, `"status":"closed"`) || !strings.Contains(r.Body, `"done"`) || !strings.Contains(r.Body, "sorted") {
			t.Fatalf("patch: %d %s", r.Status, r.Body)
		}
		wantProblem(t, e.API(key, "PATCH", "/api/v1/conversations/"+id, `{"status":"lost"}`), 422, "validation_failed")
		other, _ := e.Owner("Other", "x@example.com")
		wantProblem(t, e.API(e.Key(other.ID), "GET", "/api/v1/conversations/"+id, ""), 404, "not_found")
		wantProblem(t, e.API(e.Key(other.ID), "POST", "/api/v1/conversations/"+id+"/replies", `{"text":"x"}`), 404, "not_found")
		var cs struct{ Data []struct{ ID string } }
		e.API(key, "GET", "/api/v1/customers", "").JSON(t, &cs)
		if len(cs.Data) != 1 {
			t.Fatalf("customers: %+v", cs)
		}
		if r := e.API(key, "GET", "/api/v1/customers/"+cs.Data[0].ID, ""); r.Status != 200 || !strings.Contains(r.Body, `"handle":"@ann"`) {
			t.Fatalf("customer: %d %s", r.Status, r.Body)
		}

		// Inbox settings: approval and the VIP thresholds; what is left
		// out keeps its value.
		if r := e.API(key, "GET", "/api/v1/inbox-settings", ""); r.Status != 200 || !strings.Contains(r.Body, `"vip_followers":0`) {
			t.Fatalf("settings: %d %s", r.Status, r.Body)
		}
		if r := e.API(key, "PUT", "/api/v1/inbox-settings", `{"vip_followers":10000,"vip_revenue":50000}`); r.Status != 200 ||
			!strings.Contains(r.Body, `"vip_followers":10000`) || !strings.Contains(r.Body, `"vip_revenue":50000`) {
			t.Fatalf("put settings: %d %s", r.Status, r.Body)
		}
		if r := e.API(key, "PUT", "/api/v1/inbox-settings", `{"require_approval":true}`); r.Status != 200 || !strings.Contains(r.Body, `"vip_followers":10000`) ||
			!strings.Contains(r.Body, `"require_approval":true`) {
			t.Fatalf("partial put: %d %s", r.Status, r.Body)
		}
		wantProblem(t, e.API(key, "PUT", "/api/v1/inbox-settings", `{"vip_followers":-1}`), 422, "validation_failed")
		wantProblem(t, e.API(key, "PUT", "/api/v1/inbox-settings", `{"vip_followers":"many"}`), 400, "invalid_json")
		if r := e.API(key, "GET", "/api/v1/conversations?status=closed", ""); !strings.Contains(r.Body, `"direct":false`) || !strings.Contains(r.Body, `"vip":false`) {
			t.Fatalf("conversations say nothing of direct messages: %s", r.Body)
		}
	})
}

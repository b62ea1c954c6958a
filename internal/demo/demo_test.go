package demo_test

import (
	"context"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/demo"
	"github.com/roost-hq/roost/internal/inbox"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/server"
	"github.com/roost-hq/roost/internal/server/servertest"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
)

// seed makes a small demo on a fresh server of dialect d.
func seed(t *testing.T, d store.Dialect) (*servertest.Env, demo.Result) {
	t.Helper()
	clk := &demo.Clock{}
	e := servertest.NewWith(t, d, func(o *server.Options) { o.DB.Clock = clk.Now })
	res, err := demo.Seed(context.Background(), e.Server, clk, demo.Options{Scale: 0.05, Password: servertest.Password})
	if err != nil {
		t.Fatal(err)
	}
	return e, res
}

// TestSeed replays a small demo and checks that what it made is what every
// report reads back: the demo goes through Roost's own code, so the counts
// must agree to the unit and the cent.
func TestSeed(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e, res := seed(t, d)
			ctx := context.Background()
			ws := res.Workspace.ID
			if res.Posts < 50 || res.Clicks < 500 || res.Claims < 5 || res.Orders < 40 || res.Refunds < 1 || res.Conversations < 5 {
				t.Fatalf("a thin demo: %+v", res)
			}
			now := time.Now()
			from := now.AddDate(0, 0, -demo.Days-2)

			f, err := e.Orders.Funnel(ctx, ws, from, now)
			if err != nil {
				t.Fatal(err)
			}
			if f.Posts != int64(res.Posts) || f.Claims != int64(res.Claims) || f.Orders == 0 || f.Orders > int64(res.Orders) {
				t.Errorf("funnel %+v, demo made %+v", f, res)
			}
			rng, err := links.CheckRange(links.Range{From: from, To: now}, now)
			if err != nil {
				t.Fatal(err)
			}
			st, err := e.Links.Store.Stats(ctx, ws, "", rng)
			if err != nil {
				t.Fatal(err)
			}
			if st.Total.Clicks != int64(res.Clicks) || st.Total.Human == 0 || st.Total.Human >= st.Total.Clicks || len(st.Bots) == 0 {
				t.Errorf("clicks: stats %+v (bots %v), demo answered %d", st.Total, st.Bots, res.Clicks)
			}
			first, last := st.Series[0], st.Series[len(st.Series)-1]
			for _, p := range st.Series {
				if p.Clicks > 0 && first.Clicks == 0 {
					first = p
				}
				if p.Clicks > 0 {
					last = p
				}
			}
			if last.Time.Sub(first.Time) < 80*24*time.Hour {
				t.Errorf("clicks span %s to %s, not ninety days", first.Time, last.Time)
			}

			var stored int
			if err := e.DB.R.QueryRow(`SELECT COUNT(*) FROM orders WHERE workspace_id = $1`, ws).Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if stored != res.Orders {
				t.Errorf("%d orders stored, demo placed %d", stored, res.Orders)
			}
			rep, err := e.Orders.Revenue(ctx, ws, orders.Query{From: from, To: now, By: "post"})
			if err != nil {
				t.Fatal(err)
			}
			tot := rep.Total
			if tot.Deal.Net <= 0 || tot.Halo.Net <= 0 || tot.Total.Refunded <= 0 || rep.Unattributed.Net <= 0 || tot.Total.Net != tot.Deal.Net+tot.Halo.Net {
				t.Errorf("revenue: %+v, unattributed %+v", tot, rep.Unattributed)
			}
			var sum int64
			for _, r := range rep.Rows {
				sum += r.Total.Net
			}
			if sum != tot.Total.Net {
				t.Errorf("posts' rows add up to %d, the total is %d", sum, tot.Total.Net)
			}

			os, err := e.Offers.List(ctx, ws, "", 100)
			if err != nil {
				t.Fatal(err)
			}
			states := map[offers.State]int{}
			for _, o := range os {
				states[o.State(now)]++
				if o.Claimed > o.Cap {
					t.Errorf("offer %s oversold: %d of %d", o.Slug, o.Claimed, o.Cap)
				}
			}
			if len(os) != 12 || states[offers.Live] == 0 || states[offers.Ended] == 0 || states[offers.Scheduled] == 0 || states[offers.Draft] != 1 {
				t.Errorf("%d offers, states %v", len(os), states)
			}

			accounts, err := e.Social.Accounts(ctx, ws)
			if err != nil || len(accounts) != 3 {
				t.Fatalf("accounts %v, %v", accounts, err)
			}
			for _, a := range accounts {
				pts, err := e.Social.FollowerSeries(ctx, a.ID, time.Time{})
				if err != nil {
					t.Fatal(err)
				}
				if len(pts) < 13 || pts[len(pts)-1].Followers <= pts[0].Followers || now.Sub(pts[0].At) < 85*24*time.Hour {
					t.Errorf("%s: follower samples %v", a.Mention(), pts)
				}
			}

			m, err := e.Inbox.Metrics(ctx, ws, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.ByMember) == 0 {
				t.Fatalf("no response metrics: %+v", m)
			}
			for _, row := range m.ByMember {
				if row.Answered == 0 {
					continue
				}
				if row.FirstResponse <= 0 || row.FirstResponse > 48*time.Hour {
					t.Errorf("first response of %s: %s", row.Name, row.FirstResponse)
				}
			}
			closed, err := e.Inbox.List(ctx, ws, "", inbox.Filter{Status: inbox.Closed, Limit: 500})
			if err != nil || len(closed) == 0 {
				t.Errorf("closed conversations: %d, %v", len(closed), err)
			}

			// The demo is made once per database.
			if _, err := demo.Seed(ctx, e.Server, &demo.Clock{}, demo.Options{Scale: 0.1, Password: servertest.Password}); err == nil {
				t.Error("a second demo in the same database was made")
			}
		})
	}
}

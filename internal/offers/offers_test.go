package offers_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
	"github.com/roost-hq/roost/internal/team"
	"github.com/roost-hq/roost/internal/valid"
)

func workspace(t testing.TB, db *store.DB, name string) team.Workspace {
	t.Helper()
	w, _, err := team.New(db).CreateOwner(context.Background(), team.NewOwner{Workspace: name, Email: strings.ToLower(name) + "@example.com", Name: name, Password: "long enough password"})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func input(slug string, mode offers.CodeMode, cap int64) offers.Input {
	return offers.Input{Slug: slug, Title: "XPS 13 outlet deal", LandingURL: "https://shop.example.com/xps", Currency: "USD",
		Products: []offers.Product{{SKU: "XPS13-9340", Name: "XPS 13", RegularPrice: 129900, DealPrice: 99900}},
		Cap:      cap, Audience: offers.Public, CodeMode: mode, SharedCode: "OUTLET20", CodePrefix: "OUT-", Published: true}
}

func person(n int) offers.Identity {
	return offers.Identity{Network: "sandbox", AccountID: fmt.Sprintf("acct-%d", n), Handle: fmt.Sprintf("@p%d", n)}
}

func refused(t *testing.T, err error, code string) {
	t.Helper()
	var r *offers.Refusal
	if !errors.As(err, &r) || r.Code != code {
		t.Fatalf("err = %v, want refusal %s", err, code)
	}
}

func TestCreateValidateAndState(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := offers.NewStore(db)
		w := workspace(t, db, "Acme")
		bad := input("XPS Deal!", "nope", 0)
		bad.Currency, bad.LandingURL, bad.Audience = "US$", "javascript:x", "everyone"
		bad.Products = append(bad.Products, offers.Product{SKU: "XPS13-9340", Name: "dup", RegularPrice: 10, DealPrice: 20})
		_, err := s.Create(ctx, w.ID, "", bad)
		ve, ok := valid.As(err)
		if !ok {
			t.Fatal(err)
		}
		for _, f := range []string{"slug", "currency", "landing_url", "cap", "audience", "code_mode", "products[1].sku", "products[1].deal_price"} {
			if ve.For(f) == "" {
				t.Errorf("no error for %s: %v", f, err)
			}
		}
		in := input("xps-13", offers.Unique, 10)
		end := time.Now().Add(48 * time.Hour)
		in.EndsAt = &end
		o, err := s.Create(ctx, w.ID, "", in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, w.ID, o.ID)
		if err != nil || got.Products[0].DealPrice != 99900 || got.CodeLength != 8 || got.State(time.Now()) != offers.Live || got.Left() != 10 {
			t.Fatalf("Get = %+v, %v", got, err)
		}
		if _, err := s.Create(ctx, workspace(t, db, "Other").ID, "", input("xps-13", offers.Unique, 10)); err == nil {
			t.Fatal("a slug taken by another workspace was accepted")
		}
		for now, want := range map[time.Time]offers.State{
			o.StartsAt.Add(-time.Hour): offers.Scheduled,
			end.Add(time.Second):       offers.Ended,
		} {
			if st := got.State(now); st != want {
				t.Errorf("state at %v = %s, want %s", now, st, want)
			}
		}
		draft := got
		draft.Published = false
		if draft.State(time.Now()) != offers.Draft {
			t.Error("unpublished offer is not a draft")
		}
	})
}

func TestClaimModes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := offers.NewStore(db)
		w := workspace(t, db, "Acme")
		shared, _ := s.Create(ctx, w.ID, "", input("shared", offers.Shared, 5))
		c, err := s.Claim(ctx, shared, offers.ClaimRequest{Identity: person(1)})
		if err != nil || c.Code != "OUTLET20" {
			t.Fatalf("shared claim: %+v %v", c, err)
		}
		again, err := s.Claim(ctx, shared, offers.ClaimRequest{Identity: person(1), RequestKey: "another page load"})
		if err != nil || again.ID != c.ID {
			t.Fatalf("the same person asking again got %+v, %v; want the same claim", again, err)
		}

		uniq, _ := s.Create(ctx, w.ID, "", input("unique", offers.Unique, 5))
		c1, err := s.Claim(ctx, uniq, offers.ClaimRequest{Identity: person(1)})
		if err != nil || !strings.HasPrefix(c1.Code, "OUT-") || len(c1.Code) != 12 || strings.ContainsAny(c1.Code[4:], "0O1IL") {
			t.Fatalf("unique code %q, %v", c1.Code, err)
		}
		c2, _ := s.Claim(ctx, uniq, offers.ClaimRequest{Identity: person(2)})
		if c2.Code == c1.Code {
			t.Fatal("two people got one unique code")
		}

		pool, _ := s.Create(ctx, w.ID, "", input("pool", offers.Pool, 5))
		rep, err := s.ImportPool(ctx, w.ID, pool.ID, strings.NewReader("code\nPOOL-AAA1\npool-aaa2\n\nPOOL-AAA1\nbad code!\n"+strings.Repeat("X", 70)+"\n"))
		if err != nil || rep.Added != 2 || len(rep.Rejected) != 3 {
			t.Fatalf("import: %+v %v", rep, err)
		}
		for _, want := range []string{"already", "letters", "at most 64"} {
			found := false
			for _, r := range rep.Rejected {
				found = found || strings.Contains(r.Reason, want)
			}
			if !found {
				t.Errorf("no rejection saying %q: %+v", want, rep.Rejected)
			}
		}
		p1, err := s.Claim(ctx, pool, offers.ClaimRequest{Identity: person(1)})
		if err != nil || p1.Code != "POOL-AAA1" {
			t.Fatalf("pool claim: %+v %v", p1, err)
		}
		s.Claim(ctx, pool, offers.ClaimRequest{Identity: person(2)})
		_, err = s.Claim(ctx, pool, offers.ClaimRequest{Identity: person(3)})
		refused(t, err, "pool_empty")
		if o, _ := s.Get(ctx, w.ID, pool.ID); o.Claimed != 2 {
			t.Fatalf("a refused claim kept its unit: claimed = %d", o.Claimed)
		}
		// Codes are case-insensitive and unique per workspace.
		if _, err := s.ImportPool(ctx, w.ID, pool.ID, strings.NewReader("pool-aaa1\n")); err != nil {
			t.Fatal(err)
		}
		all, _ := s.Claims(ctx, w.ID, offers.ClaimFilter{Limit: 100})
		if len(all) != 5 {
			t.Fatalf("%d claims, want 5", len(all))
		}
	})
}

func TestClaimRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := offers.NewStore(db)
		w := workspace(t, db, "Acme")
		mk := func(slug string, edit func(*offers.Input)) offers.Offer {
			in := input(slug, offers.Unique, 2)
			edit(&in)
			o, err := s.Create(ctx, w.ID, "", in)
			if err != nil {
				t.Fatal(err)
			}
			return o
		}
		future := time.Now().Add(time.Hour)
		past := time.Now().Add(-time.Hour)
		longAgo := past.Add(-time.Hour)
		_, err := s.Claim(ctx, mk("draft", func(in *offers.Input) { in.Published = false }), offers.ClaimRequest{Identity: person(1)})
		refused(t, err, "not_published")
		_, err = s.Claim(ctx, mk("later", func(in *offers.Input) { in.StartsAt = future }), offers.ClaimRequest{Identity: person(1)})
		refused(t, err, "not_started")
		_, err = s.Claim(ctx, mk("over", func(in *offers.Input) { in.StartsAt, in.EndsAt = longAgo, &past }), offers.ClaimRequest{Identity: person(1)})
		refused(t, err, "ended")
		small := mk("small", func(in *offers.Input) { in.PerPerson = 2 })
		for i := range 2 {
			if _, err := s.Claim(ctx, small, offers.ClaimRequest{Identity: person(1), RequestKey: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		_, err = s.Claim(ctx, small, offers.ClaimRequest{Identity: person(2)})
		refused(t, err, "sold_out")
		limited := mk("limited", func(in *offers.Input) { in.PerPerson = 2; in.Cap = 10 })
		for i := range 2 {
			s.Claim(ctx, limited, offers.ClaimRequest{Identity: person(1), RequestKey: fmt.Sprint(i)})
		}
		_, err = s.Claim(ctx, limited, offers.ClaimRequest{Identity: person(1), RequestKey: "third"})
		refused(t, err, "limit_reached")
		if c, err := s.Claim(ctx, limited, offers.ClaimRequest{Identity: person(1), RequestKey: "1"}); err != nil || c.Code == "" {
			t.Fatalf("a retry of a request that succeeded: %v", err)
		}
		for _, who := range []offers.Identity{{Network: "sandbox"}, {Network: "sandbox", AccountID: "a\x00b"}, {Network: "sandbox", AccountID: "\xff"}} {
			_, err = s.Claim(ctx, limited, offers.ClaimRequest{Identity: who})
			refused(t, err, "no_identity")
		}

		// Audiences.
		viaLink := mk("via-link", func(in *offers.Input) { in.Audience = offers.Link })
		_, err = s.Claim(ctx, viaLink, offers.ClaimRequest{Identity: person(5)})
		refused(t, err, "needs_link")
		for _, bad := range []string{"01jnotaclick", "01j\x00", "'; DROP TABLE clicks"} {
			_, err = s.Claim(ctx, viaLink, offers.ClaimRequest{Identity: person(5), ClickID: bad})
			refused(t, err, "needs_link")
		}
		clickID := id.New("")
		if err := links.StoreClick(ctx, db.W, links.Click{ID: clickID, WorkspaceID: w.ID, LinkID: "lnk_1", At: time.UnixMicro(1), Visitor: "v"}, links.Classified{}, false); err != nil {
			t.Fatal(err)
		}
		if c, err := s.Claim(ctx, viaLink, offers.ClaimRequest{Identity: person(5), ClickID: clickID}); err != nil || c.ClickID != clickID {
			t.Fatalf("claim through a link: %+v %v", c, err)
		}
		fans := mk("fans", func(in *offers.Input) { in.Audience, in.Accounts = offers.Followers, []string{"acc_brand"} })
		_, err = s.Claim(ctx, fans, offers.ClaimRequest{Identity: person(6)})
		refused(t, err, "not_a_follower")
		_, err = s.Claim(ctx, fans, offers.ClaimRequest{Identity: person(6), FollowerOf: "acc_other"})
		refused(t, err, "not_a_follower")
		if _, err := s.Claim(ctx, fans, offers.ClaimRequest{Identity: person(6), FollowerOf: "acc_brand"}); err != nil {
			t.Fatal(err)
		}
		var orphans int
		db.R.QueryRow(`SELECT COUNT(*) FROM offer_codes WHERE claim_id NOT IN (SELECT id FROM claims)`).Scan(&orphans)
		if orphans != 0 {
			t.Fatalf("%d codes left behind by refused claims", orphans)
		}
	})
}

// TestCapUnderConcurrency: many people, some twice, race for a few units;
// the database hands out exactly the cap, one per person, no code twice.
func TestCapUnderConcurrency(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := offers.NewStore(db)
		w := workspace(t, db, "Acme")
		o, _ := s.Create(ctx, w.ID, "", input("race", offers.Unique, 25))
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[string]string{}
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 20 {
					who := person((g*20 + i) % 60) // 160 attempts by 60 people
					c, err := s.Claim(ctx, o, offers.ClaimRequest{Identity: who})
					var r *offers.Refusal
					if err != nil && !(errors.As(err, &r) && r.Code == "sold_out") {
						t.Errorf("claim: %v", err)
						return
					}
					if err == nil {
						mu.Lock()
						if prev, ok := codes[c.Code]; ok && prev != who.AccountID {
							t.Errorf("code %s given to %s and %s", c.Code, prev, who.AccountID)
						}
						codes[c.Code] = who.AccountID
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		var n, people, claimed int
		db.R.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT account_id) FROM claims WHERE offer_id = $1`, o.ID).Scan(&n, &people)
		db.R.QueryRow(`SELECT claimed FROM offers WHERE id = $1`, o.ID).Scan(&claimed)
		if n != 25 || people != 25 || claimed != 25 || len(codes) != 25 {
			t.Fatalf("%d claims by %d people, counter %d, %d codes; want 25 of each", n, people, claimed, len(codes))
		}
	})
}

func TestRedeemReleaseExpire(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := offers.NewStore(db)
		w := workspace(t, db, "Acme")
		in := input("ttl", offers.Unique, 1)
		in.ClaimTTLHours = 2
		o, _ := s.Create(ctx, w.ID, "", in)
		c, err := s.Claim(ctx, o, offers.ClaimRequest{Identity: person(1)})
		if err != nil || c.ExpiresAt == nil {
			t.Fatalf("claim: %+v %v", c, err)
		}
		r, err := s.Redeem(ctx, w.ID, strings.ToLower(c.Code), "order-1")
		if err != nil || r.Status != offers.Redeemed || r.OrderRef != "order-1" {
			t.Fatalf("redeem: %+v %v", r, err)
		}
		if _, err := s.Redeem(ctx, w.ID, c.Code, "order-1"); err != nil {
			t.Fatalf("redeeming again for the same order: %v", err)
		}
		_, err = s.Redeem(ctx, w.ID, c.Code, "order-2")
		refused(t, err, "not_redeemable")
		if _, err := s.Redeem(ctx, workspace(t, db, "Other").ID, c.Code, "order-1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("redeemed from another workspace: %v", err)
		}
		if r, err := s.Release(ctx, w.ID, c.Code, "order-1"); err != nil || r.Status != offers.Active || r.RedeemedAt != nil {
			t.Fatalf("release: %+v %v", r, err)
		}
		// Not used within its two hours: the unit goes back, once.
		if n, err := s.ExpireClaims(ctx, time.Now().Add(time.Hour)); err != nil || n != 0 {
			t.Fatalf("expired early: %d %v", n, err)
		}
		if n, err := s.ExpireClaims(ctx, time.Now().Add(3*time.Hour)); err != nil || n != 1 {
			t.Fatalf("expire: %d %v", n, err)
		}
		if n, _ := s.ExpireClaims(ctx, time.Now().Add(3*time.Hour)); n != 0 {
			t.Fatal("a claim expired twice")
		}
		cur, _ := s.Get(ctx, w.ID, o.ID)
		if cur.Claimed != 0 {
			t.Fatalf("expired unit not returned: claimed %d", cur.Claimed)
		}
		// The person may claim again, and gets a new code.
		c2, err := s.Claim(ctx, cur, offers.ClaimRequest{Identity: person(1), RequestKey: "after expiry"})
		if err != nil || c2.Code == c.Code {
			t.Fatalf("claim after expiry: %+v %v", c2, err)
		}
	})
}

package demo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/social"
)

// afterClick decides what a person does after opening a post's link: on
// an offer, claim it (and often order with the code) or order without it;
// on other posts, sometimes buy something carrying the click ID.
func (s *sim) afterClick(p *person, lc *liveCopy, cid string, t time.Time) {
	o := lc.offer
	if o == nil {
		if s.chance(0.03) {
			s.at(t.Add(s.delay(10*time.Minute, 30*time.Hour)), func() error { return s.order(p, cid, "", s.extras(1+s.pick(2))) })
		}
		return
	}
	if key := o.ID + " " + p.handle; !s.claimed[key] && s.chance(0.12) {
		s.claimed[key] = true
		s.at(t.Add(s.delay(time.Minute, 15*time.Minute)), func() error { return s.claim(p, o, cid) })
		return
	}
	if s.chance(0.025) {
		// Bought without the code: the offer's product at full price (deal,
		// by its SKU), or something else (halo).
		lines := s.extras(1)
		if s.chance(0.5) {
			lines = s.lines(o.spec.skus, false)
		}
		s.at(t.Add(s.delay(10*time.Minute, 40*time.Hour)), func() error { return s.order(p, cid, "", lines) })
	}
}

// delay is a random wait between lo and hi.
func (s *sim) delay(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(s.r.Int64N(int64(hi-lo)))
}

// claim asks for a unit of the offer as the claim page does, with the
// click that brought the person and, for followers' offers, the brand
// account the network says they follow.
func (s *sim) claim(p *person, o *offer, cid string) error {
	who := social.Identity{Network: social.Sandbox, AccountID: p.handle, Handle: "@" + p.handle}
	req := offers.ClaimRequest{Identity: who, ClickID: cid}
	if o.Audience == offers.Followers {
		for _, aid := range o.Accounts {
			a := s.accountByID(aid)
			var follows bool
			err := s.srv.Hub.Call(s.ctx, a.Account, func(ctx context.Context, c social.Connector, conn *social.Conn) error {
				var err error
				follows, err = c.Follows(ctx, conn, who)
				return err
			})
			if err != nil {
				return fmt.Errorf("demo: follow check: %w", err)
			}
			if follows {
				req.FollowerOf = aid
				break
			}
		}
	}
	c, err := s.srv.Offers.Claim(s.ctx, o.Offer, req)
	var refusal *offers.Refusal
	if errors.As(err, &refusal) {
		return nil // not a follower, sold out, ended: the page said so
	}
	if err != nil {
		return fmt.Errorf("demo: claim %s: %w", o.Slug, err)
	}
	s.res.Claims++
	if s.chance(0.55) {
		lines := s.lines(o.spec.skus, true)
		if s.chance(0.45) {
			lines = append(lines, s.extras(1+s.pick(2))...)
		}
		s.at(s.clk.Now().Add(s.delay(5*time.Minute, 60*time.Hour)), func() error { return s.order(p, cid, c.Code, lines) })
	}
	return nil
}

func (s *sim) accountByID(id string) *account {
	for _, a := range s.accounts {
		if a.ID == id {
			return a
		}
	}
	panic("demo: no account " + id)
}

// lines are order lines for the SKUs, discounted to the deal price when
// bought with the offer's code.
func (s *sim) lines(skus []string, deal bool) []orders.Line {
	var out []orders.Line
	for _, sku := range skus {
		p := catalogue[sku]
		l := orders.Line{SKU: p.sku, Name: p.name, Quantity: 1, UnitPrice: p.price}
		if deal {
			l.Discount = p.price - p.deal
		}
		out = append(out, l)
	}
	return out
}

// extras are n accessories at full price.
func (s *sim) extras(n int) []orders.Line {
	var skus []string
	for range n {
		sku := extras[s.pick(len(extras))]
		if !contains(skus, sku) {
			skus = append(skus, sku)
		}
	}
	return s.lines(skus, false)
}

// order places an order as the store's checkout reports it through the
// API: received, committed, then processed and attributed. Some are
// refunded or cancelled later; some customers come back.
func (s *sim) order(p *person, clickID, code string, lines []orders.Line) error {
	s.orderSeq++
	ext := "LO-" + strconv.Itoa(10400+s.orderSeq)
	for i := range lines {
		lines[i].ExternalID = strconv.Itoa(i + 1)
	}
	o := &orders.Order{ExternalID: ext, PlacedAt: s.clk.Now(), Currency: "USD", Lines: lines, ClickID: clickID, Email: p.email}
	if code != "" {
		o.Codes = []string{code}
	}
	if err := s.receive(orders.Event{Source: orders.API, ID: "demo-" + ext, Kind: orders.Placed, Order: o}); err != nil {
		return fmt.Errorf("demo: order %s: %w", ext, err)
	}
	s.res.Orders++
	p.bought = true
	switch {
	case s.chance(0.06):
		l := lines[s.pick(len(lines))]
		s.at(o.PlacedAt.Add(s.delay(48*time.Hour, 12*24*time.Hour)), func() error {
			s.res.Refunds++
			return s.receive(orders.Event{Source: orders.API, ID: "demo-refund-" + ext, Kind: orders.Refunded, Refund: &orders.Refund{
				ExternalID: "r1", OrderExternalID: ext, At: s.clk.Now(), Currency: "USD",
				Lines: []orders.RefundLine{{LineExternalID: l.ExternalID, Quantity: l.Quantity, Amount: l.UnitPrice*l.Quantity - l.Discount}}}})
		})
	case s.chance(0.012):
		s.at(o.PlacedAt.Add(s.delay(time.Hour, 20*time.Hour)), func() error {
			return s.receive(orders.Event{Source: orders.API, ID: "demo-cancel-" + ext, Kind: orders.Cancelled, Cancel: &orders.Cancel{OrderExternalID: ext, At: s.clk.Now()}})
		})
	}
	if (clickID != "" || code != "") && s.chance(0.35) {
		s.at(o.PlacedAt.Add(s.delay(4*24*time.Hour, 25*24*time.Hour)), func() error { return s.order(p, "", "", s.extras(1+s.pick(2))) })
	}
	return nil
}

// storeOrder is an order from the store's other customers, whom Roost
// never reached: the scale against which its revenue is read.
func (s *sim) storeOrder() error {
	s.guests++
	p := &person{email: fmt.Sprintf("guest%05d@mail.example", s.guests)}
	skus := []string{"LX-13-R", "LX-15-R", "LB-14", "LM-27-4K", "LM-24", "LD-USB4"}
	lines := append(s.lines([]string{skus[s.pick(len(skus))]}, false), s.extras(s.pick(2))...)
	return s.order(p, "", "", lines)
}

// receive stores an event and processes it, as POST /api/v1/orders does.
func (s *sim) receive(ev orders.Event) error {
	rc, err := s.srv.Orders.Receive(s.ctx, s.ws, ev)
	if err != nil {
		return err
	}
	_, err = s.srv.Orders.Process(s.ctx, rc.EventID)
	return err
}

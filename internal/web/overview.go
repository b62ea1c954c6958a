package web

import (
	"html/template"
	"net/http"
	"sort"
	"time"

	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/social"
)

// The Overview, the dashboard's home: what the accounts earned in a period
// under the chosen model, the funnel from posts to orders, revenue, clicks
// and followers over time, the best posts, offers and members, and the
// offers live now. Until the workspace has accounts and orders, it also
// shows the steps to get there.

type overviewData struct {
	Members, Pending, Keys int
	Accounts               []growth
	Posts                  int64 // copies published, ever: 0 shows the getting-started steps
	Days                   int
	From, To               time.Time
	Model                  orders.Model
	Models                 []modelOpt
	Describe               string
	WindowDays             int
	Revenue                orders.Report // by post
	Offers, People         orders.Report // by offer, by member
	Funnel                 orders.Funnel
	AOV                    int64 // gross per order credited
	RevenueChart           template.HTML
	ClicksChart            template.HTML
	FollowersChart         template.HTML
	Live                   []offers.Offer
}

// growth is an account's followers now and their change in the period.
type growth struct {
	Account social.Account
	Class   string // the chart line's colour
	Change  int64
}

const topRows = 5

func (s *Web) overview(w http.ResponseWriter, r *http.Request) {
	ctx, ws := r.Context(), viewerFrom(r).Workspace.ID
	q := r.URL.Query()
	d := overviewData{Days: 30, Models: modelOpts}
	switch q.Get("days") {
	case "7":
		d.Days = 7
	case "90":
		d.Days = 90
	}
	m, err := orders.ParseModel(q.Get("model"))
	if err != nil {
		m = orders.LastTouch
	}
	d.Model, d.Describe = m, m.Describe()
	now := time.Now().UTC()
	from, to := now.Truncate(24*time.Hour).AddDate(0, 0, 1-d.Days), now.Add(time.Minute).Truncate(time.Second)
	d.From, d.To = from, to
	fail := func(err error) bool {
		if err != nil {
			s.fail(w, r, err)
		}
		return err != nil
	}
	h, err := s.Team.CountMembers(ctx, ws)
	if fail(err) {
		return
	}
	d.Members, d.Pending = h.Members, h.Pending
	if d.Keys, err = s.Auth.CountActiveKeys(ctx, ws); fail(err) {
		return
	}
	st, err := s.Orders.Settings(ctx, ws)
	if fail(err) {
		return
	}
	d.WindowDays = st.WindowDays
	query := func(by string) orders.Query { return orders.Query{From: from, To: to, Model: m, By: by} }
	if d.Revenue, err = s.Orders.Revenue(ctx, ws, query("post")); fail(err) {
		return
	}
	if d.Offers, err = s.Orders.Revenue(ctx, ws, query("offer")); fail(err) {
		return
	}
	if d.People, err = s.Orders.Revenue(ctx, ws, query("member")); fail(err) {
		return
	}
	daily, err := s.Orders.Revenue(ctx, ws, query("day"))
	if fail(err) {
		return
	}
	d.RevenueChart = revenueChart(daily, now, d.Days)
	if d.Funnel, err = s.Orders.Funnel(ctx, ws, from, to); fail(err) {
		return
	}
	if d.Posts, err = s.Posts.Published(ctx, ws); fail(err) {
		return
	}
	rng, err := links.CheckRange(links.Range{From: from, To: now}, now)
	if fail(err) {
		return
	}
	clicks, err := s.Links.Store.Stats(ctx, ws, "", rng)
	if fail(err) {
		return
	}
	d.ClicksChart = clicksChart(clicks)
	if d.Accounts, d.FollowersChart, err = s.followerGrowth(r, ws, from, now, d.Days); fail(err) {
		return
	}
	if d.Live, err = s.liveOffers(r, ws, now); fail(err) {
		return
	}
	if n := d.Revenue.Total.Orders; n > 0 {
		d.AOV = int64(float64(d.Revenue.Total.Total.Gross) / n)
	}
	for _, rep := range []*orders.Report{&d.Revenue, &d.Offers, &d.People} {
		rep.Rows = topOf(rep.Rows)
	}
	s.render(w, r, http.StatusOK, "overview", view{Title: "Overview", Data: d})
}

// topOf keeps the best rows that came from Roost ("" is revenue no post,
// offer or member was credited with).
func topOf(rows []orders.Row) []orders.Row {
	var out []orders.Row
	for _, r := range rows {
		if r.Key != "" && r.Total.Net > 0 && len(out) < topRows {
			out = append(out, r)
		}
	}
	return out
}

func clicksChart(st links.Stats) template.HTML {
	var times []time.Time
	var all, human []float64
	for _, p := range st.Series {
		times = append(times, p.Time)
		all = append(all, float64(p.Clicks))
		human = append(human, float64(p.Human))
	}
	return lineChart("Clicks per day", times, "2 Jan", series{Name: "all requests", Class: "total", Values: all}, series{Name: "people", Class: "human", Values: human})
}

// followerGrowth draws every account's followers over the period (each
// day shows the latest sample so far) and says how many each gained.
func (s *Web) followerGrowth(r *http.Request, ws string, from, now time.Time, days int) ([]growth, template.HTML, error) {
	accounts, err := s.Social.Accounts(r.Context(), ws)
	if err != nil {
		return nil, "", err
	}
	var out []growth
	var ss []series
	var times []time.Time
	for i := range days {
		times = append(times, from.AddDate(0, 0, i))
	}
	for _, a := range accounts {
		if a.Disconnected {
			continue
		}
		pts, err := s.Social.FollowerSeries(r.Context(), a.ID, time.Time{})
		if err != nil {
			return nil, "", err
		}
		g := growth{Account: a, Class: lineClasses[len(out)%len(lineClasses)]}
		vals := make([]float64, days)
		k, last := 0, int64(-1)
		var first int64 = -1
		for i, t := range times {
			for k < len(pts) && pts[k].At.Before(t.AddDate(0, 0, 1)) {
				last = pts[k].Followers
				k++
			}
			if last >= 0 {
				vals[i] = float64(last)
				if first < 0 {
					first = last
				}
			}
		}
		if first >= 0 && a.Followers != nil {
			g.Change = *a.Followers - first
		}
		out = append(out, g)
		ss = append(ss, series{Name: a.Mention(), Class: g.Class, Values: vals})
	}
	if len(ss) == 0 {
		return out, "", nil
	}
	return out, lineChart("Followers per account", times, "2 Jan", ss...), nil
}

// lineClasses colour an account's line (see roost.css).
var lineClasses = []string{"human", "s2", "s3", "s4", "total"}

// liveOffers are the offers open now, the fewest units left first.
func (s *Web) liveOffers(r *http.Request, ws string, now time.Time) ([]offers.Offer, error) {
	all, err := s.Offers.List(r.Context(), ws, "", 200)
	if err != nil {
		return nil, err
	}
	var live []offers.Offer
	for _, o := range all {
		if o.State(now) == offers.Live {
			live = append(live, o)
		}
	}
	sort.SliceStable(live, func(i, j int) bool { return live[i].Left() < live[j].Left() })
	return live, nil
}

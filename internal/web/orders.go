package web

import (
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/roost-hq/roost/internal/money"

	"github.com/roost-hq/roost/internal/orders"
)

// The Orders page: revenue from Roost in a period, deal and halo, by post,
// account, offer or member under the chosen model; then the orders with
// their attribution in words.

type ordersData struct {
	Report   orders.Report
	Orders   []orders.View
	Days     int
	By       string
	Model    orders.Model
	Kind     string
	Models   []modelOpt
	Dims     []string
	Describe string
	Next     string
	Funnel   orders.Funnel
	Chart    template.HTML
	// Reached narrows the list to the orders a post, account, offer or
	// member reached (from the Overview's top lists).
	Reached reached
}

type reached struct {
	Dimension, ID, Label string
}

// Query is the filter as a query string parameter ("" when none).
func (r reached) Query() string {
	if r.ID == "" {
		return ""
	}
	return r.Dimension + "=" + url.QueryEscape(r.ID)
}

// reachedBy reads the filter from the query and names what it is.
func (s *Web) reachedBy(r *http.Request) (reached, error) {
	ctx, ws := r.Context(), viewerFrom(r).Workspace.ID
	for _, dim := range []string{"post", "account", "offer", "member"} {
		id := r.URL.Query().Get(dim)
		if id == "" {
			continue
		}
		f := reached{Dimension: dim, ID: id}
		switch dim {
		case "post":
			p, err := s.Posts.Get(ctx, ws, id)
			if err != nil {
				return f, err
			}
			f.Label = "the post “" + orders.ClipWords(p.Body, 60) + "”"
		case "account":
			a, err := s.Social.Account(ctx, ws, id)
			if err != nil {
				return f, err
			}
			f.Label = a.Mention() + "'s posts"
		case "offer":
			o, err := s.Offers.Get(ctx, ws, id)
			if err != nil {
				return f, err
			}
			f.Label = "the offer “" + o.Title + "”"
		case "member":
			m, err := s.Team.Member(ctx, ws, id)
			if err != nil {
				return f, err
			}
			f.Label = m.Name + "'s posts"
		}
		return f, nil
	}
	return reached{}, nil
}

type modelOpt struct {
	Value orders.Model
	Name  string
}

var modelOpts = []modelOpt{{orders.LastTouch, "Last touch"}, {orders.FirstTouch, "First touch"}, {orders.Linear, "Linear"},
	{orders.Position, "Position-based"}, {orders.TimeDecay, "Time decay"}}

func (s *Web) ordersPage(w http.ResponseWriter, r *http.Request) {
	ws := viewerFrom(r).Workspace.ID
	q := r.URL.Query()
	d := ordersData{Days: 30, By: "post", Models: modelOpts, Dims: orders.Dimensions[:4], Kind: q.Get("kind")}
	switch q.Get("days") {
	case "7":
		d.Days = 7
	case "90":
		d.Days = 90
	case "365":
		d.Days = 365
	}
	for _, dim := range d.Dims {
		if q.Get("by") == dim {
			d.By = dim
		}
	}
	m, err := orders.ParseModel(q.Get("model"))
	if err != nil {
		m = orders.LastTouch
	}
	d.Model, d.Describe = m, m.Describe()
	now := time.Now()
	if d.Report, err = s.Orders.Revenue(r.Context(), ws, orders.Query{From: now.AddDate(0, 0, -d.Days), To: now.Add(time.Minute), Model: m, By: d.By}); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Funnel, err = s.Orders.Funnel(r.Context(), ws, now.AddDate(0, 0, -d.Days), now.Add(time.Minute)); err != nil {
		s.fail(w, r, err)
		return
	}
	daily, err := s.Orders.Revenue(r.Context(), ws, orders.Query{From: now.AddDate(0, 0, -d.Days), To: now.Add(time.Minute), Model: m, By: "day"})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Chart = revenueChart(daily, now, d.Days)
	if d.Kind != "deal" && d.Kind != "halo" && d.Kind != "none" {
		d.Kind = ""
	}
	if d.Reached, err = s.reachedBy(r); err != nil {
		s.fail(w, r, err)
		return
	}
	const perPage = 25
	f := orders.Filter{Before: q.Get("before"), Limit: perPage + 1, Kind: d.Kind}
	f.Reached.Dimension, f.Reached.ID = d.Reached.Dimension, d.Reached.ID
	if d.Orders, err = s.Orders.List(r.Context(), ws, f); err != nil {
		s.fail(w, r, err)
		return
	}
	if len(d.Orders) > perPage {
		d.Orders = d.Orders[:perPage]
		d.Next = d.Orders[perPage-1].ID
	}
	s.render(w, r, http.StatusOK, "orders", view{Title: "Orders", Data: d})
}

// revenueChart draws deal and halo net revenue per day of the period.
func revenueChart(daily orders.Report, now time.Time, days int) template.HTML {
	byDay := map[string]orders.Row{}
	for _, r := range daily.Rows {
		byDay[r.Key] = r
	}
	e, _ := money.Exponent(daily.Currency)
	scale := math.Pow10(e)
	var times []time.Time
	var deal, halo []float64
	for i := days - 1; i >= 0; i-- {
		t := now.UTC().AddDate(0, 0, -i)
		r := byDay[t.Format("2006-01-02")]
		times = append(times, t)
		deal = append(deal, float64(r.Deal.Net)/scale)
		halo = append(halo, float64(r.Halo.Net)/scale)
	}
	return lineChart("Net revenue per day, "+daily.Currency, times, "2 Jan", series{Name: "deal", Class: "total", Values: deal}, series{Name: "halo", Class: "human", Values: halo})
}

// revenueCSV downloads the Orders page's report as CSV.
func (s *Web) revenueCSV(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	days, _ := strconv.Atoi(q.Get("days"))
	if days < 1 || days > 366 {
		days = 30
	}
	m, err := orders.ParseModel(q.Get("model"))
	if err != nil {
		m = orders.LastTouch
	}
	by := "post"
	for _, dim := range orders.Dimensions {
		if q.Get("by") == dim {
			by = dim
		}
	}
	now := time.Now()
	rep, err := s.Orders.Revenue(r.Context(), viewerFrom(r).Workspace.ID, orders.Query{From: now.AddDate(0, 0, -days), To: now.Add(time.Minute), Model: m, By: by})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="revenue-by-`+by+`.csv"`)
	if err := rep.WriteCSV(w); err != nil {
		s.Log.Error("web: revenue csv", "err", err)
	}
}

func (s *Web) orderPage(w http.ResponseWriter, r *http.Request) {
	o, err := s.Orders.Get(r.Context(), viewerFrom(r).Workspace.ID, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "order", view{Title: "Order " + o.ExternalID, Data: o})
}

// Settings → Store: the reporting currency and attribution window, and
// the webhooks of Shopify, Stripe and WooCommerce.

type storeSettingsData struct {
	Settings orders.Settings
	Hooks    []hookRow
	Base     string
}

type hookRow struct {
	Source, Name, Help string
	URL                string // empty until a secret is saved
	UpdatedAt          time.Time
}

var hookHelp = map[string][2]string{
	orders.Shopify:     {"Shopify", "Shopify admin → Settings → Notifications → Webhooks: create webhooks for Order payment, Order cancellation and Refund create, JSON format, to the address below. The signing secret is shown above the list."},
	orders.Stripe:      {"Stripe", "Stripe Dashboard → Developers → Webhooks: add an endpoint at the address below for checkout.session.completed, checkout.session.async_payment_succeeded and charge.refunded; its signing secret starts with whsec_."},
	orders.WooCommerce: {"WooCommerce", "WooCommerce → Settings → Advanced → Webhooks: add webhooks for Order created and Order updated, API version WP REST API v3, delivery URL below, and the secret you choose here."},
}

func (s *Web) storeSettingsView(r *http.Request, st orders.Settings) (view, error) {
	hooks, err := s.Orders.Hooks(r.Context(), viewerFrom(r).Workspace.ID)
	if err != nil {
		return view{}, err
	}
	d := storeSettingsData{Settings: st, Base: s.BaseURL}
	for _, src := range orders.HookSources {
		row := hookRow{Source: src, Name: hookHelp[src][0], Help: hookHelp[src][1]}
		for _, h := range hooks {
			if h.Source == src {
				row.URL, row.UpdatedAt = s.BaseURL+h.Path(), h.UpdatedAt
			}
		}
		d.Hooks = append(d.Hooks, row)
	}
	return view{Title: "Store settings", Tab: "store", Data: d,
		Form: map[string]string{"currency": st.Currency, "window_days": strconv.Itoa(st.WindowDays)}}, nil
}

func (s *Web) storeSettingsPage(w http.ResponseWriter, r *http.Request) {
	st, err := s.Orders.Settings(r.Context(), viewerFrom(r).Workspace.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.storeSettingsView(r, st)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "settings_store", v)
}

func (s *Web) saveStoreSettings(w http.ResponseWriter, r *http.Request) {
	days, _ := strconv.Atoi(r.PostFormValue("window_days"))
	_, err := s.Orders.SaveSettings(r.Context(), viewerFrom(r).Workspace.ID, orders.Settings{Currency: r.PostFormValue("currency"), WindowDays: days})
	if err != nil {
		v, verr := s.storeSettingsView(r, orders.DefaultSettings)
		if verr != nil {
			s.fail(w, r, verr)
			return
		}
		v.Form = formValues(r, "currency", "window_days")
		s.badInput(w, r, err, "settings_store", v)
		return
	}
	s.redirect(w, r, "/app/settings/store", "ok", "Store settings saved. Orders from now on use them; reports use the window at once.")
}

func (s *Web) saveStoreHook(w http.ResponseWriter, r *http.Request) {
	source := r.PostFormValue("source")
	_, err := s.Orders.SetHook(r.Context(), viewerFrom(r).Workspace.ID, source, r.PostFormValue("secret"))
	if err != nil {
		st, _ := s.Orders.Settings(r.Context(), viewerFrom(r).Workspace.ID)
		v, verr := s.storeSettingsView(r, st)
		if verr != nil {
			s.fail(w, r, verr)
			return
		}
		v.Form["source"] = source
		s.badInput(w, r, err, "settings_store", v)
		return
	}
	s.redirect(w, r, "/app/settings/store#"+source, "ok", hookHelp[source][0]+" webhook secret saved (sealed; it is never shown again). Point the store at the address shown.")
}

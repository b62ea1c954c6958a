package web

import (
	"net/http"
	"time"

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
	if d.Kind != "deal" && d.Kind != "halo" && d.Kind != "none" {
		d.Kind = ""
	}
	const perPage = 25
	if d.Orders, err = s.Orders.List(r.Context(), ws, orders.Filter{Before: q.Get("before"), Limit: perPage + 1, Kind: d.Kind}); err != nil {
		s.fail(w, r, err)
		return
	}
	if len(d.Orders) > perPage {
		d.Orders = d.Orders[:perPage]
		d.Next = d.Orders[perPage-1].ID
	}
	s.render(w, r, http.StatusOK, "orders", view{Title: "Orders", Data: d})
}

func (s *Web) orderPage(w http.ResponseWriter, r *http.Request) {
	o, err := s.Orders.Get(r.Context(), viewerFrom(r).Workspace.ID, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "order", view{Title: "Order " + o.ExternalID, Data: o})
}

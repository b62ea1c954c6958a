package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/store"
)

// orderIn is an order as API clients send it.
type orderIn struct {
	ID       string `json:"id"`
	PlacedAt string `json:"placed_at"`
	Currency string `json:"currency"`
	Rate     string `json:"rate"`
	Lines    []struct {
		ID        string `json:"id"`
		SKU       string `json:"sku"`
		Name      string `json:"name"`
		Quantity  int64  `json:"quantity"`
		UnitPrice int64  `json:"unit_price"`
		Discount  int64  `json:"discount"`
	} `json:"lines"`
	Codes   []string `json:"codes"`
	ClickID string   `json:"click_id"`
	Email   string   `json:"email"`
}

func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, problem(http.StatusUnprocessableEntity, "validation_failed", fmt.Sprintf("%s: %q is not an RFC 3339 time such as 2026-11-23T14:05:00Z", field, s))
	}
	return t, nil
}

// receive stores an event, processes it at once, and answers with the
// outcome. The event is committed before it is acknowledged: should it
// fail to apply, nothing is lost (the processor takes it up again).
func (a *API) receive(w http.ResponseWriter, r *http.Request, ev orders.Event, externalID string) error {
	in, err := a.Orders.Ingest(r.Context(), caller(r.Context()).WorkspaceID, ev, externalID)
	if err != nil {
		return err
	}
	switch {
	case orders.Expected(in.NotApplied):
		a.Log.Info("api: order event not applied now", "event", in.EventID, "reason", in.NotApplied)
	case in.NotApplied != nil:
		a.Log.Warn("api: order event kept for later processing", "event", in.EventID, "err", in.NotApplied)
	}
	out := map[string]any{"event_id": in.EventID, "duplicate": in.Duplicate}
	if in.Order != nil {
		out["order"] = in.Order
		w.Header().Set("Location", "/api/v1/orders/"+in.Order.ID)
	}
	status := http.StatusCreated
	if in.Duplicate {
		status = http.StatusOK
	}
	writeJSON(w, status, out)
	return nil
}

func (a *API) createOrder(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in orderIn
	if err := decode(body, &in); err != nil {
		return err
	}
	at, err := parseTime("placed_at", in.PlacedAt)
	if err != nil {
		return err
	}
	o := &orders.Order{ExternalID: strings.TrimSpace(in.ID), PlacedAt: at, Currency: strings.ToUpper(strings.TrimSpace(in.Currency)), Rate: in.Rate,
		Codes: in.Codes, ClickID: strings.TrimSpace(in.ClickID), Email: in.Email}
	for _, l := range in.Lines {
		o.Lines = append(o.Lines, orders.Line{ExternalID: l.ID, SKU: l.SKU, Name: l.Name, Quantity: l.Quantity, UnitPrice: l.UnitPrice, Discount: l.Discount})
	}
	// Codes sent through the API must be Roost's: an unknown one is most
	// likely a typo that would lose the attribution.
	ws := caller(r.Context()).WorkspaceID
	for i, code := range o.Codes {
		_, err := offers.ClaimByCode(r.Context(), a.DB.Reader(), ws, code)
		if errors.Is(err, store.ErrNotFound) {
			var offerID string
			if offerID, err = offers.SharedCodeOffer(r.Context(), a.DB.Reader(), ws, code); err == nil && offerID == "" {
				return problem(http.StatusUnprocessableEntity, "unknown_code", fmt.Sprintf("codes[%d]: %q is not a code of this workspace's offers", i, code))
			}
		}
		if err != nil {
			return err
		}
	}
	return a.receive(w, r, orders.Event{Source: orders.API, ID: r.Header.Get("Idempotency-Key"), Kind: orders.Placed, Order: o}, o.ExternalID)
}

func (a *API) createRefund(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in struct {
		ID       string `json:"id"`
		OrderID  string `json:"order_id"`
		At       string `json:"at"`
		Currency string `json:"currency"`
		Amount   int64  `json:"amount"`
		Lines    []struct {
			LineID   string `json:"line_id"`
			SKU      string `json:"sku"`
			Quantity int64  `json:"quantity"`
			Amount   int64  `json:"amount"`
		} `json:"lines"`
	}
	if err := decode(body, &in); err != nil {
		return err
	}
	at, err := parseTime("at", in.At)
	if err != nil {
		return err
	}
	rf := &orders.Refund{ExternalID: strings.TrimSpace(in.ID), OrderExternalID: strings.TrimSpace(in.OrderID), At: at,
		Currency: strings.ToUpper(strings.TrimSpace(in.Currency)), Amount: in.Amount}
	for _, l := range in.Lines {
		rf.Lines = append(rf.Lines, orders.RefundLine{LineExternalID: l.LineID, SKU: l.SKU, Quantity: l.Quantity, Amount: l.Amount})
	}
	ev := orders.Event{Source: orders.API, ID: r.Header.Get("Idempotency-Key"), Kind: orders.Refunded, Refund: rf}
	ws := caller(r.Context()).WorkspaceID
	if err := a.Orders.Check(r.Context(), ws, ev); err != nil {
		return err
	}
	if err := a.Orders.CheckRefund(r.Context(), ws, orders.API, *rf); err != nil {
		return err
	}
	return a.receive(w, r, ev, rf.OrderExternalID)
}

func (a *API) cancelOrder(w http.ResponseWriter, r *http.Request) error {
	ws := caller(r.Context()).WorkspaceID
	o, err := a.Orders.Get(r.Context(), ws, r.PathValue("id"))
	if err != nil {
		return err
	}
	if o.Source != orders.API {
		return problem(http.StatusConflict, "not_api_order", "This order came from "+o.Source+": cancel it in the store, whose webhook tells Roost.")
	}
	return a.receive(w, r, orders.Event{Source: orders.API, Kind: orders.Cancelled, Cancel: &orders.Cancel{OrderExternalID: o.ExternalID, At: time.Now()}}, o.ExternalID)
}

func (a *API) listOrders(w http.ResponseWriter, r *http.Request) error {
	limit, cursor, err := pageParams(r)
	if err != nil {
		return err
	}
	kind := r.URL.Query().Get("kind")
	if kind != "" && kind != "deal" && kind != "halo" && kind != "none" {
		return problem(http.StatusBadRequest, "invalid_parameter", "kind must be deal, halo or none.")
	}
	f := orders.Filter{Before: cursor, Limit: limit + 1, Kind: kind}
	for _, dim := range []string{"post", "account", "offer", "member"} {
		if id := r.URL.Query().Get(dim); id != "" {
			if f.Reached.ID != "" {
				return problem(http.StatusBadRequest, "invalid_parameter", "give at most one of post, account, offer and member.")
			}
			f.Reached.Dimension, f.Reached.ID = dim, id
		}
	}
	os, err := a.Orders.List(r.Context(), caller(r.Context()).WorkspaceID, f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page(os, limit, func(o orders.View) string { return o.ID }))
	return nil
}

func (a *API) getOrder(w http.ResponseWriter, r *http.Request) error {
	o, err := a.Orders.Get(r.Context(), caller(r.Context()).WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

// revenueQuery reads a report's parameters: by, model, and the period
// (from / to as RFC 3339 times, or days back from now; 30 by default).
func revenueQuery(r *http.Request) (orders.Query, error) {
	q := r.URL.Query()
	m, err := orders.ParseModel(q.Get("model"))
	if err != nil {
		return orders.Query{}, problem(http.StatusBadRequest, "invalid_parameter", err.Error())
	}
	by := q.Get("by")
	if by == "" {
		by = "post"
	}
	ok := false
	for _, d := range orders.Dimensions {
		ok = ok || d == by
	}
	if !ok {
		return orders.Query{}, problem(http.StatusBadRequest, "invalid_parameter", "by must be one of "+strings.Join(orders.Dimensions, ", ")+".")
	}
	to := time.Now()
	if s := q.Get("to"); s != "" {
		if to, err = time.Parse(time.RFC3339, s); err != nil {
			return orders.Query{}, problem(http.StatusBadRequest, "invalid_parameter", "to must be an RFC 3339 time.")
		}
	}
	from := to.AddDate(0, 0, -30)
	if s := q.Get("from"); s != "" {
		if from, err = time.Parse(time.RFC3339, s); err != nil {
			return orders.Query{}, problem(http.StatusBadRequest, "invalid_parameter", "from must be an RFC 3339 time.")
		}
	}
	if !from.Before(to) || to.Sub(from) > 3*366*24*time.Hour {
		return orders.Query{}, problem(http.StatusBadRequest, "invalid_parameter", "from must be before to, and the period at most 3 years.")
	}
	return orders.Query{From: from, To: to, Model: m, By: by}, nil
}

func (a *API) revenueReport(w http.ResponseWriter, r *http.Request) error {
	q, err := revenueQuery(r)
	if err != nil {
		return err
	}
	rep, err := a.Orders.Revenue(r.Context(), caller(r.Context()).WorkspaceID, q)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("format") == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="revenue-by-`+q.By+`.csv"`)
		return rep.WriteCSV(w)
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (a *API) funnelReport(w http.ResponseWriter, r *http.Request) error {
	q, err := revenueQuery(r)
	if err != nil {
		return err
	}
	f, err := a.Orders.Funnel(r.Context(), caller(r.Context()).WorkspaceID, q.From, q.To)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"from": q.From, "to": q.To, "funnel": f})
	return nil
}

func (a *API) getOrderSettings(w http.ResponseWriter, r *http.Request) error {
	st, err := a.Orders.Settings(r.Context(), caller(r.Context()).WorkspaceID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (a *API) putOrderSettings(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	st, err := a.Orders.Settings(r.Context(), caller(r.Context()).WorkspaceID)
	if err != nil {
		return err
	}
	if err := decode(body, &st); err != nil {
		return err
	}
	if st, err = a.Orders.SaveSettings(r.Context(), caller(r.Context()).WorkspaceID, st); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

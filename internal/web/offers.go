package web

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/money"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/valid"
)

type offerRow struct {
	offers.Offer
	State   offers.State
	PageURL string
}

type offersData struct{ Offers []offerRow }

func (s *Web) offersPage(w http.ResponseWriter, r *http.Request) {
	os, err := s.Offers.List(r.Context(), viewerFrom(r).Workspace.ID, r.URL.Query().Get("before"), 200)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var d offersData
	now := time.Now()
	for _, o := range os {
		d.Offers = append(d.Offers, offerRow{Offer: o, State: o.State(now), PageURL: s.BaseURL + "/o/" + o.Slug})
	}
	s.render(w, r, http.StatusOK, "offers", view{Title: "Offers", Data: d})
}

// editorData is what the offer editor shows: the choices, and the offer
// being edited (nil for a new one).
type editorData struct {
	Offer    *offerRow
	Accounts []social.Account
	Claims   []offers.Claim
	Counts   offers.Counts
	Selected map[string]bool
	// Report is what the last pool import did, shown once.
	Report *offers.ImportReport
}

// offerForm is an offer as the editor's fields hold it.
func offerForm(o offers.Offer) map[string]string {
	var lines []string
	for _, p := range o.Products {
		lines = append(lines, fmt.Sprintf("%s, %s, %s, %s", p.SKU, p.Name, strings.Fields(money.Format(p.RegularPrice, o.Currency))[0], strings.Fields(money.Format(p.DealPrice, o.Currency))[0]))
	}
	f := map[string]string{"title": o.Title, "slug": o.Slug, "description": o.Description, "image_url": o.ImageURL, "landing_url": o.LandingURL,
		"currency": o.Currency, "products": strings.Join(lines, "\n"), "starts_at": o.StartsAt.UTC().Format("2006-01-02T15:04"),
		"cap": strconv.FormatInt(o.Cap, 10), "per_person": strconv.Itoa(o.PerPerson), "audience": string(o.Audience), "code_mode": string(o.CodeMode),
		"shared_code": o.SharedCode, "code_prefix": o.CodePrefix, "code_length": strconv.Itoa(o.CodeLength), "claim_ttl_hours": strconv.Itoa(o.ClaimTTLHours)}
	if o.EndsAt != nil {
		f["ends_at"] = o.EndsAt.UTC().Format("2006-01-02T15:04")
	}
	if o.Published {
		f["published"] = "on"
	}
	return f
}

// parseOfferForm reads the editor into an offer input, with the problems
// of fields that are not even well-formed.
func parseOfferForm(r *http.Request) (offers.Input, *valid.Errors) {
	var e valid.Errors
	f := r.PostFormValue
	in := offers.Input{Slug: f("slug"), Title: f("title"), Description: f("description"), ImageURL: f("image_url"), LandingURL: f("landing_url"),
		Currency: strings.ToUpper(strings.TrimSpace(f("currency"))), Audience: offers.Audience(f("audience")), CodeMode: offers.CodeMode(f("code_mode")),
		SharedCode: f("shared_code"), CodePrefix: f("code_prefix"), Published: f("published") == "on", Accounts: r.PostForm["accounts"]}
	num := func(field string, dst *int) {
		if v := strings.TrimSpace(f(field)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				e.Add(field, "must be a whole number")
			}
			*dst = n
		}
	}
	var capUnits int
	num("cap", &capUnits)
	in.Cap = int64(capUnits)
	num("per_person", &in.PerPerson)
	num("code_length", &in.CodeLength)
	num("claim_ttl_hours", &in.ClaimTTLHours)
	if t := formTime(&e, "starts_at", f("starts_at")); t != nil {
		in.StartsAt = *t
	}
	in.EndsAt = formTime(&e, "ends_at", f("ends_at"))
	cr := csv.NewReader(strings.NewReader(f("products")))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	recs, err := cr.ReadAll()
	if err != nil {
		e.Add("products", "could not be read: write one product per line, as SKU, name, regular price, deal price")
	}
	for i, rec := range recs {
		if len(rec) != 4 {
			e.Add("products", "line %d needs four values: SKU, name, regular price, deal price", i+1)
			continue
		}
		p := offers.Product{SKU: strings.TrimSpace(rec[0]), Name: strings.TrimSpace(rec[1])}
		var err1, err2 error
		p.RegularPrice, err1 = money.Parse(rec[2], in.Currency)
		p.DealPrice, err2 = money.Parse(rec[3], in.Currency)
		if err1 != nil || err2 != nil {
			e.Add("products", "line %d: prices must be amounts in %s, such as 1299.00", i+1, in.Currency)
			continue
		}
		in.Products = append(in.Products, p)
	}
	return in, &e
}

func (s *Web) editorView(r *http.Request, title string, o *offers.Offer) (view, error) {
	ws := viewerFrom(r).Workspace.ID
	accounts, err := s.Social.Accounts(r.Context(), ws)
	if err != nil {
		return view{}, err
	}
	d := editorData{Accounts: accounts, Selected: map[string]bool{}}
	v := view{Title: title, Data: &d}
	if o != nil {
		row := offerRow{Offer: *o, State: o.State(time.Now()), PageURL: s.BaseURL + "/o/" + o.Slug}
		d.Offer = &row
		v.Form = offerForm(*o)
		for _, a := range o.Accounts {
			d.Selected[a] = true
		}
		if d.Claims, err = s.Offers.Claims(r.Context(), ws, offers.ClaimFilter{OfferID: o.ID, Limit: 100}); err != nil {
			return view{}, err
		}
		if d.Counts, err = s.Offers.Counts(r.Context(), ws, o.ID); err != nil {
			return view{}, err
		}
	} else {
		v.Form = map[string]string{"currency": "USD", "cap": "100", "per_person": "1", "audience": "followers", "code_mode": "unique", "code_length": "8", "claim_ttl_hours": "0"}
	}
	return v, nil
}

func (s *Web) newOfferPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.editorView(r, "New offer", nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "offer", v)
}

func (s *Web) saveOffer(w http.ResponseWriter, r *http.Request) {
	vw := viewerFrom(r)
	in, e := parseOfferForm(r)
	var cur *offers.Offer
	var err error
	if oid := r.PathValue("id"); oid != "" {
		o, gerr := s.Offers.Get(r.Context(), vw.Workspace.ID, oid)
		if gerr != nil {
			s.fail(w, r, gerr)
			return
		}
		cur = &o
	}
	var o offers.Offer
	switch {
	case e.Err() != nil:
		err = e
	case cur == nil:
		o, err = s.Offers.Create(r.Context(), vw.Workspace.ID, vw.Member.ID, in)
	default:
		o, err = s.Offers.Update(r.Context(), vw.Workspace.ID, cur.ID, in)
	}
	if err != nil {
		title := "New offer"
		if cur != nil {
			title = cur.Title
		}
		v, verr := s.editorView(r, title, cur)
		if verr != nil {
			s.fail(w, r, verr)
			return
		}
		v.Form = formValues(r, "title", "slug", "description", "image_url", "landing_url", "currency", "products", "starts_at", "ends_at", "cap",
			"per_person", "audience", "code_mode", "shared_code", "code_prefix", "code_length", "claim_ttl_hours", "published")
		d := v.Data.(*editorData)
		d.Selected = map[string]bool{}
		for _, a := range r.PostForm["accounts"] {
			d.Selected[a] = true
		}
		s.badInput(w, r, err, "offer", v)
		return
	}
	s.redirect(w, r, "/app/offers/"+o.ID, "ok", "Offer saved.")
}

func (s *Web) offerPage(w http.ResponseWriter, r *http.Request) {
	o, err := s.Offers.Get(r.Context(), viewerFrom(r).Workspace.ID, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.editorView(r, o.Title, &o)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "offer", v)
}

func (s *Web) offerCodes(w http.ResponseWriter, r *http.Request) {
	o, err := s.Offers.Get(r.Context(), viewerFrom(r).Workspace.ID, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+o.Slug+`-codes.csv"`)
	if err := s.Offers.ExportCodes(r.Context(), o, w); err != nil {
		s.Log.Error("web: export codes", "err", err)
	}
}

// offerCounts answers the offer page's live refresh.
func (s *Web) offerCounts(w http.ResponseWriter, r *http.Request) {
	c, err := s.Offers.Counts(r.Context(), viewerFrom(r).Workspace.ID, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, c)
}

// writeJSON answers a page's script with a value that must not be cached.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

// importPool adds the codes of an uploaded CSV file to a pool offer and
// shows the report on the offer's page.
func (s *Web) importPool(w http.ResponseWriter, r *http.Request) {
	ws := viewerFrom(r).Workspace.ID
	o, err := s.Offers.Get(r.Context(), ws, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f, _, err := r.FormFile("codes")
	if err != nil {
		s.redirect(w, r, "/app/offers/"+o.ID, "error", "Choose a CSV file of codes to import.")
		return
	}
	defer f.Close()
	rep, err := s.Offers.ImportPool(r.Context(), ws, o.ID, f)
	var ref *offers.Refusal
	if errors.As(err, &ref) {
		s.redirect(w, r, "/app/offers/"+o.ID, "error", ref.Message)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.editorView(r, o.Title, &o)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.Data.(*editorData).Report = &rep
	s.render(w, r, http.StatusOK, "offer", v)
}

package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/money"
	"github.com/roost-hq/roost/internal/offers"
)

// offerIn is the JSON of an offer as clients send it. Decoding a PATCH
// into one filled from the stored offer changes only the fields sent.
type offerIn struct {
	Slug          string           `json:"slug"`
	Title         string           `json:"title"`
	Description   string           `json:"description"`
	ImageURL      string           `json:"image_url"`
	LandingURL    string           `json:"landing_url"`
	Currency      string           `json:"currency"`
	Products      []offers.Product `json:"products"`
	StartsAt      time.Time        `json:"starts_at"`
	EndsAt        *time.Time       `json:"ends_at"`
	Cap           int64            `json:"cap"`
	PerPerson     int              `json:"per_person"`
	Audience      offers.Audience  `json:"audience"`
	Accounts      []string         `json:"accounts"`
	CodeMode      offers.CodeMode  `json:"code_mode"`
	SharedCode    string           `json:"shared_code"`
	CodePrefix    string           `json:"code_prefix"`
	CodeLength    int              `json:"code_length"`
	ClaimTTLHours int              `json:"claim_ttl_hours"`
	Published     bool             `json:"published"`
}

func (in offerIn) input() offers.Input { return offers.Input(in) }

type offerOut struct {
	offers.Offer
	State    offers.State `json:"state"`
	Left     int64        `json:"left"`
	PageURL  string       `json:"page_url"`
	Products []productOut `json:"products"`
}

type productOut struct {
	offers.Product
	RegularPriceText string `json:"regular_price_text"`
	DealPriceText    string `json:"deal_price_text"`
}

func (a *API) offerOut(o offers.Offer) offerOut {
	out := offerOut{Offer: o, State: o.State(time.Now()), Left: o.Left(), PageURL: a.BaseURL + "/o/" + o.Slug, Products: []productOut{}}
	for _, p := range o.Products {
		out.Products = append(out.Products, productOut{Product: p, RegularPriceText: money.Format(p.RegularPrice, o.Currency), DealPriceText: money.Format(p.DealPrice, o.Currency)})
	}
	return out
}

func (a *API) createOffer(w http.ResponseWriter, r *http.Request, body []byte) error {
	in := offerIn{PerPerson: 1, CodeLength: offers.DefaultCodeLength}
	if err := decode(body, &in); err != nil {
		return err
	}
	o, err := a.Offers.Create(r.Context(), caller(r.Context()).WorkspaceID, "", in.input())
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/offers/"+o.ID)
	writeJSON(w, http.StatusCreated, a.offerOut(o))
	return nil
}

func (a *API) listOffers(w http.ResponseWriter, r *http.Request) error {
	limit, cursor, err := pageParams(r)
	if err != nil {
		return err
	}
	os, err := a.Offers.List(r.Context(), caller(r.Context()).WorkspaceID, cursor, limit+1)
	if err != nil {
		return err
	}
	out := make([]offerOut, len(os))
	for i, o := range os {
		out[i] = a.offerOut(o)
	}
	writeJSON(w, http.StatusOK, page(out, limit, func(o offerOut) string { return o.ID }))
	return nil
}

func (a *API) getOffer(w http.ResponseWriter, r *http.Request) error {
	o, err := a.Offers.Get(r.Context(), caller(r.Context()).WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.offerOut(o))
	return nil
}

func (a *API) updateOffer(w http.ResponseWriter, r *http.Request) error {
	ws := caller(r.Context()).WorkspaceID
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	cur, err := a.Offers.Get(r.Context(), ws, r.PathValue("id"))
	if err != nil {
		return err
	}
	in := offerIn(cur.Input())
	if err := decode(body, &in); err != nil {
		return err
	}
	o, err := a.Offers.Update(r.Context(), ws, cur.ID, in.input())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.offerOut(o))
	return nil
}

func (a *API) listClaims(w http.ResponseWriter, r *http.Request) error {
	limit, cursor, err := pageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	cs, err := a.Offers.Claims(r.Context(), caller(r.Context()).WorkspaceID, offers.ClaimFilter{OfferID: q.Get("offer_id"), Network: q.Get("network"),
		Status: offers.ClaimStatus(q.Get("status")), Before: cursor, Limit: limit + 1})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page(cs, limit, func(c offers.Claim) string { return c.ID }))
	return nil
}

// offerCodes exports the codes an offer has issued, as CSV for the store.
func (a *API) offerCodes(w http.ResponseWriter, r *http.Request) error {
	ws := caller(r.Context()).WorkspaceID
	o, err := a.Offers.Get(r.Context(), ws, r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+o.Slug+`-codes.csv"`)
	return a.Offers.ExportCodes(r.Context(), o, w)
}

func (a *API) importPool(w http.ResponseWriter, r *http.Request) error {
	rep, err := a.Offers.ImportPool(r.Context(), caller(r.Context()).WorkspaceID, r.PathValue("id"), http.MaxBytesReader(w, r.Body, 16<<20))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return problem(http.StatusBadRequest, "body_too_large", "Send at most 16 MiB of codes at a time.")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (a *API) redeem(release bool) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := readBody(w, r)
		if err != nil {
			return err
		}
		var in struct {
			Code     string `json:"code"`
			OrderRef string `json:"order_ref"`
		}
		if err := decode(body, &in); err != nil {
			return err
		}
		if strings.TrimSpace(in.Code) == "" || strings.TrimSpace(in.OrderRef) == "" || len(in.OrderRef) > 200 {
			return problem(http.StatusUnprocessableEntity, "validation_failed", "Send the code and the store's order reference (order_ref, up to 200 characters).")
		}
		ws := caller(r.Context()).WorkspaceID
		var c offers.Claim
		if release {
			c, err = a.Offers.Release(r.Context(), ws, in.Code, in.OrderRef)
		} else {
			c, err = a.Offers.Redeem(r.Context(), ws, in.Code, in.OrderRef)
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, c)
		return nil
	}
}

package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path"
	"strconv"
	"time"

	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/valid"
)

type linkOut struct {
	links.Link
	ShortURL string `json:"short_url"`
	QRPNG    string `json:"qr_png_url"`
	QRSVG    string `json:"qr_svg_url"`
}

func (a *API) linkOut(l links.Link) linkOut {
	return linkOut{Link: l, ShortURL: a.BaseURL + "/" + l.Code, QRPNG: "/api/v1/links/" + l.ID + "/qr.png", QRSVG: "/api/v1/links/" + l.ID + "/qr.svg"}
}

func (a *API) createLink(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in struct {
		Destination string     `json:"destination"`
		Code        string     `json:"code"`
		Title       string     `json:"title"`
		Tags        []string   `json:"tags"`
		ExpiresAt   *time.Time `json:"expires_at"`
		FallbackURL string     `json:"fallback_url"`
	}
	if err := decode(body, &in); err != nil {
		return err
	}
	l, err := a.Links.Create(r.Context(), caller(r.Context()).WorkspaceID, links.NewLink{Destination: in.Destination, Code: in.Code, Title: in.Title,
		Tags: in.Tags, ExpiresAt: in.ExpiresAt, FallbackURL: in.FallbackURL})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/links/"+l.ID)
	writeJSON(w, http.StatusCreated, a.linkOut(l))
	return nil
}

func (a *API) listLinks(w http.ResponseWriter, r *http.Request) error {
	limit, cursor, err := pageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	ls, err := a.Links.List(r.Context(), caller(r.Context()).WorkspaceID, links.Filter{Tag: q.Get("tag"), OfferID: q.Get("offer_id"),
		PostID: q.Get("post_id"), Search: q.Get("q"), Before: cursor, Limit: limit + 1})
	if err != nil {
		return err
	}
	out := make([]linkOut, len(ls))
	for i, l := range ls {
		out[i] = a.linkOut(l)
	}
	writeJSON(w, http.StatusOK, page(out, limit, func(l linkOut) string { return l.ID }))
	return nil
}

func (a *API) getLink(w http.ResponseWriter, r *http.Request) error {
	l, err := a.Links.Get(r.Context(), caller(r.Context()).WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.linkOut(l))
	return nil
}

func (a *API) updateLink(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	var in struct {
		Destination *string         `json:"destination"`
		Title       *string         `json:"title"`
		Tags        *[]string       `json:"tags"`
		ExpiresAt   json.RawMessage `json:"expires_at"`
		FallbackURL *string         `json:"fallback_url"`
	}
	if err := decode(body, &in); err != nil {
		return err
	}
	u := links.Update{Destination: in.Destination, Title: in.Title, Tags: in.Tags, FallbackURL: in.FallbackURL}
	switch {
	case in.ExpiresAt == nil:
	case bytes.Equal(in.ExpiresAt, []byte("null")):
		u.ClearExpiry = true
	default:
		var t time.Time
		if err := json.Unmarshal(in.ExpiresAt, &t); err != nil {
			return problem(http.StatusBadRequest, "invalid_json", `Field "expires_at" must be an RFC 3339 time such as "2026-12-31T23:00:00Z", or null.`)
		}
		u.ExpiresAt = &t
	}
	l, err := a.Links.Update(r.Context(), caller(r.Context()).WorkspaceID, r.PathValue("id"), u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.linkOut(l))
	return nil
}

func (a *API) deleteLink(w http.ResponseWriter, r *http.Request) error {
	if err := a.Links.Delete(r.Context(), caller(r.Context()).WorkspaceID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// statsRange reads ?from=, ?to= (RFC 3339 times or YYYY-MM-DD dates) and
// ?interval= (hour or day).
func statsRange(r *http.Request) (links.Range, error) {
	q := r.URL.Query()
	var rg links.Range
	var e valid.Errors
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &rg.From}, {"to", &rg.To}} {
		s := q.Get(p.name)
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t, err = time.Parse(time.DateOnly, s)
		}
		if err != nil {
			e.Add(p.name, "must be a time such as 2026-11-01T00:00:00Z or a date such as 2026-11-01")
		}
		*p.dst = t
	}
	rg.Interval = links.Interval(q.Get("interval"))
	if err := e.Err(); err != nil {
		return rg, err
	}
	return links.CheckRange(rg, time.Now())
}

func (a *API) linkStats(w http.ResponseWriter, r *http.Request) error {
	ws := caller(r.Context()).WorkspaceID
	l, err := a.Links.Get(r.Context(), ws, r.PathValue("id"))
	if err != nil {
		return err
	}
	rg, err := statsRange(r)
	if err != nil {
		return err
	}
	st, err := a.Links.Stats(r.Context(), ws, l.ID, rg)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (a *API) clickStats(w http.ResponseWriter, r *http.Request) error {
	rg, err := statsRange(r)
	if err != nil {
		return err
	}
	st, err := a.Links.Stats(r.Context(), caller(r.Context()).WorkspaceID, "", rg)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (a *API) linkQR(w http.ResponseWriter, r *http.Request) error {
	l, err := a.Links.Get(r.Context(), caller(r.Context()).WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return WriteQR(w, r, a.BaseURL+"/"+l.Code, path.Base(r.URL.Path))
}

// WriteQR answers with a QR code of url as PNG (?size= pixels, 64 to 2048)
// or SVG. The dashboard uses it too.
func WriteQR(w http.ResponseWriter, r *http.Request, url, format string) error {
	switch format {
	case "qr.svg":
		svg, err := links.QRSVG(url)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Cache-Control", "private, max-age=3600")
		w.Write([]byte(svg))
	case "qr.png":
		size := 512
		if s := r.URL.Query().Get("size"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 64 || n > 2048 {
				return problem(http.StatusBadRequest, "invalid_parameter", "size must be a number of pixels from 64 to 2048.")
			}
			size = n
		}
		png, err := links.QRPNG(url, size)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "private, max-age=3600")
		w.Write(png)
	default:
		return problem(http.StatusNotFound, "not_found", "QR codes are at qr.png and qr.svg.")
	}
	return nil
}

func (a *API) getLinkSettings(w http.ResponseWriter, r *http.Request) error {
	st, err := a.Links.Settings(r.Context(), caller(r.Context()).WorkspaceID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (a *API) putLinkSettings(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	var in links.Settings
	if err := decode(body, &in); err != nil {
		return err
	}
	st, err := a.Links.SaveSettings(r.Context(), caller(r.Context()).WorkspaceID, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

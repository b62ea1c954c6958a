package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/api"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/valid"
)

const linksPageSize = 50

type linksData struct {
	Links      []links.Link
	Base       string
	Tag, Query string
	Next       string
}

func (s *Web) listLinks(r *http.Request, d *linksData) error {
	q := r.URL.Query()
	d.Base, d.Tag, d.Query = s.BaseURL, q.Get("tag"), q.Get("q")
	ls, err := s.Links.List(r.Context(), viewerFrom(r).Workspace.ID, links.Filter{Tag: d.Tag, Search: d.Query, Before: q.Get("before"), Limit: linksPageSize + 1})
	if len(ls) > linksPageSize {
		ls, d.Next = ls[:linksPageSize], ls[linksPageSize-1].ID
	}
	d.Links = ls
	return err
}

func (s *Web) linksPage(w http.ResponseWriter, r *http.Request) {
	var d linksData
	if err := s.listLinks(r, &d); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "links", view{Title: "Links", Data: d})
}

// formTime reads a datetime-local field, in UTC.
func formTime(e *valid.Errors, field, v string) *time.Time {
	if v == "" {
		return nil
	}
	t, err := time.Parse("2006-01-02T15:04", v)
	if err != nil {
		e.Add(field, "must be a date and time")
		return nil
	}
	return &t
}

func splitTags(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' })
}

func (s *Web) createLink(w http.ResponseWriter, r *http.Request) {
	v := viewerFrom(r)
	var e valid.Errors
	exp := formTime(&e, "expires_at", r.PostFormValue("expires_at"))
	l, err := s.Links.Create(r.Context(), v.Workspace.ID, links.NewLink{
		Destination: r.PostFormValue("destination"), Code: r.PostFormValue("code"), Title: r.PostFormValue("title"),
		Tags: splitTags(r.PostFormValue("tags")), ExpiresAt: exp, FallbackURL: r.PostFormValue("fallback_url"), CreatedBy: v.Member.ID,
	})
	if err == nil {
		err = e.Err()
	}
	if err != nil {
		var d linksData
		if lerr := s.listLinks(r, &d); lerr != nil {
			s.fail(w, r, lerr)
			return
		}
		s.badInput(w, r, err, "links", view{Title: "Links", Data: d, Form: formValues(r, "destination", "code", "title", "tags", "expires_at", "fallback_url")})
		return
	}
	s.redirect(w, r, "/app/links/"+l.ID, "ok", "Link created: "+s.BaseURL+"/"+l.Code)
}

type linkData struct {
	Link      links.Link
	ShortURL  string
	Stats     links.Stats
	Range     string
	Chart     any
	Expires   string
	TagsInput string
}

var linkRanges = map[string]struct {
	span     time.Duration
	interval links.Interval
	layout   string
}{
	"48h": {48 * time.Hour, links.Hour, "15:04"},
	"7d":  {7 * 24 * time.Hour, links.Day, "2 Jan"},
	"30d": {30 * 24 * time.Hour, links.Day, "2 Jan"},
	"90d": {90 * 24 * time.Hour, links.Day, "2 Jan"},
}

func (s *Web) linkView(r *http.Request, l links.Link) (view, error) {
	key := r.URL.Query().Get("range")
	rg, ok := linkRanges[key]
	if !ok {
		key, rg = "30d", linkRanges["30d"]
	}
	now := time.Now()
	step := 24 * time.Hour
	if rg.interval == links.Hour {
		step = time.Hour
	}
	rng, err := links.CheckRange(links.Range{From: now.Add(-rg.span + step), To: now, Interval: rg.interval}, now)
	if err != nil {
		return view{}, err
	}
	st, err := s.Links.Stats(r.Context(), l.WorkspaceID, l.ID, rng)
	if err != nil {
		return view{}, err
	}
	times := make([]time.Time, len(st.Series))
	total, human, unique := make([]float64, len(st.Series)), make([]float64, len(st.Series)), make([]float64, len(st.Series))
	for i, p := range st.Series {
		times[i], total[i], human[i], unique[i] = p.Time, float64(p.Clicks), float64(p.Human), float64(p.Unique)
	}
	d := linkData{Link: l, ShortURL: s.BaseURL + "/" + l.Code, Stats: st, Range: key, TagsInput: strings.Join(l.Tags, ", "),
		Chart: lineChart("Clicks on "+l.Code, times, rg.layout,
			series{Name: "clicks", Class: "total", Values: total}, series{Name: "human", Class: "human", Values: human}, series{Name: "unique", Class: "unique", Values: unique})}
	if l.ExpiresAt != nil {
		d.Expires = l.ExpiresAt.UTC().Format("2006-01-02T15:04")
	}
	title := l.Title
	if title == "" {
		title = l.Code
	}
	return view{Title: title, Data: d}, nil
}

func (s *Web) linkPage(w http.ResponseWriter, r *http.Request) {
	l, err := s.Links.Get(r.Context(), viewerFrom(r).Workspace.ID, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.linkView(r, l)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "link", v)
}

func (s *Web) updateLink(w http.ResponseWriter, r *http.Request) {
	ws := viewerFrom(r).Workspace.ID
	var e valid.Errors
	u := links.Update{}
	for _, f := range []struct {
		name string
		dst  **string
	}{{"destination", &u.Destination}, {"title", &u.Title}, {"fallback_url", &u.FallbackURL}} {
		val := r.PostFormValue(f.name)
		*f.dst = &val
	}
	tags := splitTags(r.PostFormValue("tags"))
	u.Tags = &tags
	u.ExpiresAt = formTime(&e, "expires_at", r.PostFormValue("expires_at"))
	u.ClearExpiry = u.ExpiresAt == nil
	l, err := s.Links.Get(r.Context(), ws, r.PathValue("id"))
	if err == nil {
		err = e.Err()
	}
	if err == nil {
		_, err = s.Links.Update(r.Context(), ws, l.ID, u)
	}
	if _, bad := valid.As(err); bad {
		v, verr := s.linkView(r, l)
		if verr != nil {
			s.fail(w, r, verr)
			return
		}
		v.Form = formValues(r, "destination", "title", "tags", "expires_at", "fallback_url")
		s.badInput(w, r, err, "link", v)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.redirect(w, r, "/app/links/"+l.ID, "ok", "Link saved. Every Roost node uses the new version within two seconds.")
}

func (s *Web) deleteLink(w http.ResponseWriter, r *http.Request) {
	ws := viewerFrom(r).Workspace.ID
	l, err := s.Links.Get(r.Context(), ws, r.PathValue("id"))
	if err == nil {
		err = s.Links.Delete(r.Context(), ws, l.ID)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.redirect(w, r, "/app/links", "ok", "Link "+l.Code+" deleted: it now answers 404, and its clicks stay in the reports.")
}

func (s *Web) linkQR(w http.ResponseWriter, r *http.Request) {
	l, err := s.Links.Get(r.Context(), viewerFrom(r).Workspace.ID, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	format := "qr.svg"
	if strings.HasSuffix(r.URL.Path, ".png") {
		format = "qr.png"
		w.Header().Set("Content-Disposition", `attachment; filename="`+l.Code+`-qr.png"`)
	}
	if err := api.WriteQR(w, r, s.BaseURL+"/"+l.Code, format); err != nil {
		s.fail(w, r, err)
	}
}

func (s *Web) linkSettingsPage(w http.ResponseWriter, r *http.Request) {
	st, err := s.Links.Settings(r.Context(), viewerFrom(r).Workspace.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "settings_links", view{Title: "Link settings", Tab: "links", Data: st,
		Form: map[string]string{"click_param": st.ClickParam, "allowed_domains": strings.Join(st.AllowedDomains, "\n")}})
}

func (s *Web) saveLinkSettings(w http.ResponseWriter, r *http.Request) {
	in := links.Settings{ClickParam: r.PostFormValue("click_param"), AllowedDomains: strings.Fields(strings.ReplaceAll(r.PostFormValue("allowed_domains"), ",", " "))}
	_, err := s.Links.SaveSettings(r.Context(), viewerFrom(r).Workspace.ID, in)
	if err != nil {
		s.badInput(w, r, err, "settings_links", view{Title: "Link settings", Tab: "links", Data: in, Form: formValues(r, "click_param", "allowed_domains")})
		return
	}
	s.redirect(w, r, "/app/settings/links", "ok", "Link settings saved. Redirects use them within two seconds.")
}

package web

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/posts"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/x"
	"github.com/roost-hq/roost/internal/valid"
)

// The Posts page: the composer, and the queue grouped by day.

type composerAccount struct {
	social.Account
	Rule    social.Rule
	Warning string // why a post to it may fail
	Cost    string // what the network charges for a post with a link, if anything
}

type postDay struct {
	Day   string
	Posts []postRow
}

type postRow struct {
	posts.Post
	Author   string
	Offer    string
	Warnings []string
}

type postsData struct {
	Accounts   []composerAccount
	Offers     []offers.Offer
	Days       []postDay
	Status     string
	Statuses   []string
	SampleLink string
	Signature  string
	Selected   map[string]bool
	Before     string
	// The calendar view: a month of weeks, Monday first.
	Calendar             bool
	Month                string // "November 2026"
	Weeks                [][]calDay
	HasPosts             bool   // the month shows at least one post
	PrevMonth, NextMonth string // "2026-10"
}

// calDay is a day of the calendar and the posts scheduled on it.
type calDay struct {
	Date    time.Time
	InMonth bool
	Today   bool
	Posts   []postRow
}

// calendar fills the month grid around month ("2006-01"; empty: this
// month) with its posts.
func (s *Web) calendar(r *http.Request, d *postsData, month string, row func(posts.Post) postRow) error {
	now := time.Now().UTC()
	first, err := time.Parse("2006-01", month)
	if err != nil {
		first = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	d.Calendar, d.Month = true, first.Format("January 2006")
	d.PrevMonth, d.NextMonth = first.AddDate(0, -1, 0).Format("2006-01"), first.AddDate(0, 1, 0).Format("2006-01")
	start := first.AddDate(0, 0, -((int(first.Weekday()) + 6) % 7)) // back to Monday
	end := first.AddDate(0, 1, 0)
	end = end.AddDate(0, 0, (7-(int(end.Weekday())+6)%7)%7) // on to the next Monday
	ps, err := s.Posts.List(r.Context(), viewerFrom(r).Workspace.ID, posts.Filter{Status: posts.Status(d.Status), From: start, To: end, Limit: 200})
	if err != nil {
		return err
	}
	byDay := map[string][]postRow{}
	for i := len(ps) - 1; i >= 0; i-- {
		k := ps[i].ScheduledAt.UTC().Format("2006-01-02")
		byDay[k] = append(byDay[k], row(ps[i]))
		d.HasPosts = true
	}
	for day := start; day.Before(end); day = day.AddDate(0, 0, 7) {
		var week []calDay
		for i := range 7 {
			t := day.AddDate(0, 0, i)
			k := t.Format("2006-01-02")
			dayPosts := byDay[k]
			slices.SortFunc(dayPosts, func(a, b postRow) int { return a.ScheduledAt.Compare(b.ScheduledAt) })
			week = append(week, calDay{Date: t, InMonth: t.Month() == first.Month(), Today: k == now.Format("2006-01-02"), Posts: dayPosts})
		}
		d.Weeks = append(d.Weeks, week)
	}
	return nil
}

func (s *Web) postsPage(w http.ResponseWriter, r *http.Request) {
	s.renderPosts(w, r, nil, nil)
}

func (s *Web) renderPosts(w http.ResponseWriter, r *http.Request, form map[string]string, inErr error) {
	v := viewerFrom(r)
	ctx := r.Context()
	st := r.URL.Query().Get("status")
	if !slices.Contains([]string{"scheduled", "published", "failed", "cancelled"}, st) {
		st = ""
	}
	d := postsData{Status: st, Statuses: []string{"scheduled", "published", "failed", "cancelled"}, SampleLink: s.Posts.SampleLink(),
		Signature: v.Member.Signature, Selected: map[string]bool{}}
	as, err := s.Social.Accounts(ctx, v.Workspace.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	names := map[string]string{}
	warn := map[string]string{}
	for _, a := range as {
		ca := composerAccount{Account: a, Rule: social.Rules(a.Network)}
		if a.Network == social.X {
			ca.Cost = "a paid X API call: " + x.PostCost("https://example.com").String() + " with a link"
		}
		switch a.Health {
		case social.Revoked:
			ca.Warning = "its credentials were refused: reconnect it before its posts go out"
		case social.Failing:
			ca.Warning = "the network has been failing: " + a.HealthReason
		case social.Expiring:
			ca.Warning = "its credentials end soon: reconnect it"
		}
		warn[a.ID] = ca.Warning
		names[a.ID] = a.Mention()
		d.Accounts = append(d.Accounts, ca)
	}
	os, err := s.Offers.List(ctx, v.Workspace.ID, "", 200)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := time.Now()
	offerNames := map[string]string{}
	for _, o := range os {
		offerNames[o.ID] = o.Title
		if st := o.State(now); st != offers.Ended && st != offers.SoldOut {
			d.Offers = append(d.Offers, o)
		}
	}
	members, err := s.memberNames(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	row := func(p posts.Post) postRow {
		row := postRow{Post: p, Author: members[p.MemberID], Offer: offerNames[p.OfferID]}
		for _, c := range p.Copies {
			if c.Status == posts.Scheduled && warn[c.AccountID] != "" {
				row.Warnings = append(row.Warnings, names[c.AccountID]+": "+warn[c.AccountID])
			}
		}
		return row
	}
	if r.URL.Query().Get("view") == "calendar" {
		if err := s.calendar(r, &d, r.URL.Query().Get("month"), row); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	var ps []posts.Post
	if !d.Calendar {
		ps, err = s.Posts.List(ctx, v.Workspace.ID, posts.Filter{Status: posts.Status(st), Before: r.URL.Query().Get("before"), Limit: 50})
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if len(ps) == 50 {
		d.Before = ps[len(ps)-1].ID
	}
	for _, p := range ps {
		row := row(p)
		day := p.ScheduledAt.UTC().Format("Monday 2 January 2006")
		if n := len(d.Days); n == 0 || d.Days[n-1].Day != day {
			d.Days = append(d.Days, postDay{Day: day})
		}
		d.Days[len(d.Days)-1].Posts = append(d.Days[len(d.Days)-1].Posts, row)
	}
	if form == nil {
		form = map[string]string{"when": "now"}
		if o := r.URL.Query().Get("offer"); o != "" {
			form["offer_id"] = o
		}
	}
	for _, a := range strings.Split(form["accounts"], ",") {
		d.Selected[a] = true
	}
	vw := view{Title: "Posts", Data: d, Form: form}
	if inErr != nil {
		s.badInput(w, r, inErr, "posts", vw)
		return
	}
	s.render(w, r, http.StatusOK, "posts", vw)
}

// memberNames maps the workspace's member IDs to names with signatures.
func (s *Web) memberNames(r *http.Request) (map[string]string, error) {
	ms, err := s.Team.Members(r.Context(), viewerFrom(r).Workspace.ID, "", teamPageSize)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, m := range ms {
		out[m.ID] = strings.TrimSpace(m.Name + " " + m.Signature)
	}
	return out, nil
}

func (s *Web) composePost(w http.ResponseWriter, r *http.Request) {
	v := viewerFrom(r)
	in := posts.Compose{Body: r.PostFormValue("body"), AccountIDs: r.PostForm["accounts"], OfferID: r.PostFormValue("offer_id"), Destination: r.PostFormValue("destination")}
	var err error
	if r.PostFormValue("when") == "later" {
		var e valid.Errors
		in.At = formTime(&e, "scheduled_at", r.PostFormValue("scheduled_at"))
		if in.At == nil && e.Err() == nil {
			e.Add("scheduled_at", "choose when to publish")
		}
		err = e.Err()
	}
	var p posts.Post
	if err == nil {
		p, err = s.Posts.Compose(r.Context(), v.Workspace.ID, posts.Author{MemberID: v.Member.ID, Signature: v.Member.Signature}, in)
	}
	if err != nil {
		form := formValues(r, "body", "offer_id", "destination", "when", "scheduled_at")
		form["accounts"] = strings.Join(r.PostForm["accounts"], ",")
		s.renderPosts(w, r, form, err)
		return
	}
	msg := "Post queued: it goes out within seconds."
	if in.At != nil {
		msg = "Post scheduled for " + p.ScheduledAt.UTC().Format("Mon 2 Jan 15:04") + " UTC."
	}
	s.redirect(w, r, "/app/posts", "ok", msg)
}

func (s *Web) cancelPost(w http.ResponseWriter, r *http.Request) {
	if _, err := s.Posts.Cancel(r.Context(), viewerFrom(r).Workspace.ID, r.PathValue("id")); err != nil {
		s.fail(w, r, err)
		return
	}
	s.redirect(w, r, "/app/posts", "ok", "Post cancelled: the copies that had not gone out will not.")
}

func (s *Web) retryCopy(w http.ResponseWriter, r *http.Request) {
	if _, err := s.Posts.Retry(r.Context(), viewerFrom(r).Workspace.ID, r.PathValue("id"), r.PathValue("copy")); err != nil {
		if ve, ok := valid.As(err); ok {
			s.redirect(w, r, "/app/posts", "error", ve.Error())
			return
		}
		s.fail(w, r, err)
		return
	}
	s.redirect(w, r, "/app/posts", "ok", "Trying again now.")
}

package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/mastodon"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// Brand accounts, in Settings: connect, see health and follower growth,
// disconnect. Sandbox accounts also have their follower list here.

type accountsData struct{ Accounts []social.Account }

func (s *Web) accountsPage(w http.ResponseWriter, r *http.Request) {
	s.renderAccounts(w, r, http.StatusOK, nil, nil)
}

func (s *Web) renderAccounts(w http.ResponseWriter, r *http.Request, status int, form map[string]string, err error) {
	as, lerr := s.Social.Accounts(r.Context(), viewerFrom(r).Workspace.ID)
	if lerr != nil {
		s.fail(w, r, lerr)
		return
	}
	v := view{Title: "Accounts", Tab: "accounts", Data: accountsData{Accounts: as}, Form: form}
	if err != nil {
		s.badInput(w, r, err, "settings_accounts", v)
		return
	}
	s.render(w, r, status, "settings_accounts", v)
}

func (s *Web) addSandboxAccount(w http.ResponseWriter, r *http.Request) {
	v := viewerFrom(r)
	a, err := s.Social.CreateSandboxAccount(r.Context(), v.Workspace.ID, v.Member.ID, r.PostFormValue("handle"), r.PostFormValue("display_name"))
	if err != nil {
		s.renderAccounts(w, r, 0, formValues(r, "handle", "display_name"), err)
		return
	}
	s.redirect(w, r, "/app/settings/accounts/"+a.ID, "ok", "Sandbox account @"+a.Handle+" added. Add its followers below.")
}

type accountData struct {
	Account       social.Account
	Rule          social.Rule
	Chart         any
	Followers     string // sandbox: the list, one per line
	FollowerCount int
	Timeline      []social.Message
	Sandbox       bool
}

func (s *Web) accountPage(w http.ResponseWriter, r *http.Request) {
	s.renderAccount(w, r, http.StatusOK, nil, nil)
}

func (s *Web) renderAccount(w http.ResponseWriter, r *http.Request, status int, form map[string]string, inErr error) {
	a, err := s.Social.Account(r.Context(), viewerFrom(r).Workspace.ID, r.PathValue("id"))
	if err == nil && a.Disconnected {
		err = store.ErrNotFound
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := accountData{Account: a, Rule: social.Rules(a.Network), Sandbox: a.Network == social.Sandbox}
	pts, err := s.Social.FollowerSeries(r.Context(), a.ID, time.Now().AddDate(0, 0, -90))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(pts) > 1 {
		times, vals := make([]time.Time, len(pts)), make([]float64, len(pts))
		for i, p := range pts {
			times[i], vals[i] = p.At, float64(p.Followers)
		}
		d.Chart = lineChart("Followers of "+a.Mention(), times, "2 Jan", series{Name: "followers", Class: "total", Values: vals})
	}
	if d.Sandbox {
		sb := s.sandbox()
		fs, err := sb.Followers(r.Context(), a)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for i := range fs {
			fs[i] = "@" + fs[i]
		}
		d.Followers, d.FollowerCount = strings.Join(fs, "\n"), len(fs)
		if d.Timeline, err = sb.Timeline(r.Context(), a, 20); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if form == nil {
		form = map[string]string{"followers": d.Followers}
	}
	v := view{Title: a.Mention(), Tab: "accounts", Data: d, Form: form}
	if inErr != nil {
		s.badInput(w, r, inErr, "settings_account", v)
		return
	}
	s.render(w, r, status, "settings_account", v)
}

func (s *Web) sandbox() *social.SandboxNetwork {
	return s.Hub.Connector(social.Sandbox).(*social.SandboxNetwork)
}

// accountFor loads the account a form acts on; ok is false when the page
// has been answered.
func (s *Web) accountFor(w http.ResponseWriter, r *http.Request) (social.Account, bool) {
	a, err := s.Social.Account(r.Context(), viewerFrom(r).Workspace.ID, r.PathValue("id"))
	if err == nil && a.Disconnected {
		err = store.ErrNotFound
	}
	if err != nil {
		s.fail(w, r, err)
		return a, false
	}
	return a, true
}

func (s *Web) saveFollowers(w http.ResponseWriter, r *http.Request) {
	a, ok := s.accountFor(w, r)
	if !ok {
		return
	}
	list := strings.FieldsFunc(r.PostFormValue("followers"), func(c rune) bool { return c == '\n' || c == ',' || c == ' ' || c == '\r' })
	got, err := s.sandbox().SetFollowers(r.Context(), a, list)
	if err != nil {
		s.renderAccount(w, r, 0, formValues(r, "followers"), err)
		return
	}
	s.Hub.Refresh(r.Context(), a)
	s.redirect(w, r, "/app/settings/accounts/"+a.ID, "ok", plural(len(got), "follower")+" saved.")
}

func (s *Web) sandboxMention(w http.ResponseWriter, r *http.Request) {
	a, ok := s.accountFor(w, r)
	if !ok {
		return
	}
	if _, err := s.sandbox().Mention(r.Context(), a, r.PostFormValue("from"), r.PostFormValue("text"), ""); err != nil {
		s.renderAccount(w, r, 0, formValues(r, "from", "text"), err)
		return
	}
	s.redirect(w, r, "/app/settings/accounts/"+a.ID, "ok", "Mention sent on the sandbox network.")
}

func (s *Web) refreshAccount(w http.ResponseWriter, r *http.Request) {
	a, ok := s.accountFor(w, r)
	if !ok {
		return
	}
	if _, err := s.Hub.Refresh(r.Context(), a); err != nil {
		var ne *social.Error
		if errors.As(err, &ne) {
			s.redirect(w, r, "/app/settings/accounts/"+a.ID, "error", "The check failed: "+ne.Error())
			return
		}
		s.fail(w, r, err)
		return
	}
	s.redirect(w, r, "/app/settings/accounts/"+a.ID, "ok", "Checked just now: the credentials work.")
}

func (s *Web) disconnectAccount(w http.ResponseWriter, r *http.Request) {
	a, ok := s.accountFor(w, r)
	if !ok {
		return
	}
	if err := s.Social.Disconnect(r.Context(), a.WorkspaceID, a.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	s.redirect(w, r, "/app/settings/accounts", "ok", a.Mention()+" disconnected. Its posts, links and claims keep their history.")
}

// Connecting a Mastodon account: Roost registers itself with the instance
// (once), sends the admin to approve it there, and takes the code back.

func (s *Web) mastodonCallbackURL() string {
	return s.BaseURL + "/app/settings/accounts/callback/mastodon"
}

func (s *Web) mastodon() *mastodon.Connector {
	c, _ := s.Hub.Connector(social.Mastodon).(*mastodon.Connector)
	return c
}

func (s *Web) connectMastodon(w http.ResponseWriter, r *http.Request) {
	v := viewerFrom(r)
	var e valid.Errors
	instance := social.InstanceURL(&e, "instance", r.PostFormValue("instance"))
	if e.Err() != nil {
		s.renderAccounts(w, r, 0, formValues(r, "instance"), &e)
		return
	}
	m := s.mastodon()
	app, ok, err := s.Social.App(r.Context(), social.Mastodon, instance, s.mastodonCallbackURL())
	if err == nil && !ok {
		app, err = m.RegisterApp(r.Context(), instance, s.mastodonCallbackURL(), s.BaseURL)
		if err == nil {
			app, err = s.Social.SaveApp(r.Context(), social.Mastodon, instance, s.mastodonCallbackURL(), app)
		}
	}
	if err != nil {
		s.networkTrouble(w, r, err, "instance", instance)
		return
	}
	state, verifier, err := s.Social.BeginFlow(r.Context(), social.Flow{Purpose: "account", WorkspaceID: v.Workspace.ID, MemberID: v.Member.ID, Network: social.Mastodon, Instance: instance})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, mastodon.AuthorizeURL(instance, app, s.mastodonCallbackURL(), state, verifier), http.StatusSeeOther)
}

// networkTrouble shows a network's refusal on the accounts page.
func (s *Web) networkTrouble(w http.ResponseWriter, r *http.Request, err error, field, value string) {
	var ne *social.Error
	if !errors.As(err, &ne) {
		s.fail(w, r, err)
		return
	}
	var e valid.Errors
	if ne.Status != 0 {
		e.Add(field, "%s answered: %s", value, ne.Reason)
	} else {
		e.Add(field, "Roost could not reach %s: %s", value, ne.Reason)
	}
	s.renderAccounts(w, r, 0, map[string]string{field: value}, &e)
}

func (s *Web) mastodonCallback(w http.ResponseWriter, r *http.Request) {
	v := viewerFrom(r)
	q := r.URL.Query()
	f, err := s.Social.TakeFlow(r.Context(), q.Get("state"))
	if err != nil || f.Purpose != "account" || f.WorkspaceID != v.Workspace.ID || f.MemberID != v.Member.ID {
		s.redirect(w, r, "/app/settings/accounts", "error", social.ErrFlow.Error())
		return
	}
	if q.Get("error") != "" || q.Get("code") == "" {
		s.redirect(w, r, "/app/settings/accounts", "error", "Mastodon did not connect the account: "+firstNonEmpty(q.Get("error_description"), q.Get("error"), "no code came back")+".")
		return
	}
	m := s.mastodon()
	app, _, err := s.Social.App(r.Context(), social.Mastodon, f.Instance, s.mastodonCallbackURL())
	var creds []byte
	if err == nil {
		creds, err = m.Exchange(r.Context(), f.Instance, app, s.mastodonCallbackURL(), q.Get("code"), f.Verifier)
	}
	var p social.Profile
	if err == nil {
		conn := &social.Conn{Account: social.Account{Network: social.Mastodon, Instance: f.Instance}, Creds: creds}
		p, err = m.Verify(r.Context(), conn)
	}
	var a social.Account
	if err == nil {
		a, err = s.Social.Connect(r.Context(), v.Workspace.ID, social.Connection{Network: social.Mastodon, Instance: f.Instance, Profile: p, Creds: creds, MemberID: v.Member.ID})
	}
	var ne *social.Error
	if errors.As(err, &ne) {
		s.redirect(w, r, "/app/settings/accounts", "error", "Mastodon did not connect the account: "+ne.Reason+".")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Social.RecordProfile(r.Context(), a.ID, p, time.Now().UTC().Truncate(time.Second)); err != nil {
		s.fail(w, r, err)
		return
	}
	s.redirect(w, r, "/app/settings/accounts/"+a.ID, "ok", a.Mention()+" connected.")
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

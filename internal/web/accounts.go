package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
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

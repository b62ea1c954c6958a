package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/inbox"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/bluesky"
	"github.com/roost-hq/roost/internal/social/mastodon"
	"github.com/roost-hq/roost/internal/social/x"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// Brand accounts, in Settings: connect, see health and follower growth,
// disconnect. Sandbox accounts also have their follower list here.

type accountsData struct {
	Accounts []social.Account
	// X accounts need the brand's X app: whether it is configured, the
	// callback to register in it, and what a post with a link costs.
	XReady               bool
	XCallback, XPostCost string
}

func (s *Web) accountsPage(w http.ResponseWriter, r *http.Request) {
	s.renderAccounts(w, r, http.StatusOK, nil, nil)
}

func (s *Web) renderAccounts(w http.ResponseWriter, r *http.Request, status int, form map[string]string, err error) {
	as, lerr := s.Social.Accounts(r.Context(), viewerFrom(r).Workspace.ID)
	if lerr != nil {
		s.fail(w, r, lerr)
		return
	}
	d := accountsData{Accounts: as, XReady: s.x() != nil, XCallback: s.xCallbackURL(), XPostCost: x.PostCost("https://example.com").String()}
	v := view{Title: "Accounts", Tab: "accounts", Data: d, Form: form}
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
	// How the inbox reads the account; DirectApart: its network keeps
	// direct messages apart from posts (Bluesky, X).
	Reading     *inbox.Reading
	DirectApart bool
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
	_, d.DirectApart = s.Hub.Connector(a.Network).(social.Messenger)
	rs, err := s.Inbox.Readings(r.Context(), a.WorkspaceID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if rd, ok := rs[a.ID]; ok {
		d.Reading = &rd
	}
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
		app, err = m.RegisterApp(r.Context(), instance, s.mastodonCallbackURL(), s.BaseURL, mastodon.Scopes)
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
	http.Redirect(w, r, mastodon.AuthorizeURL(instance, app, s.mastodonCallbackURL(), mastodon.Scopes, state, verifier), http.StatusSeeOther)
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
		creds, err = m.Exchange(r.Context(), f.Instance, app, s.mastodonCallbackURL(), mastodon.Scopes, q.Get("code"), f.Verifier)
	}
	s.connected(w, r, m, f.Instance, creds, err)
}

// connected finishes connecting an account once its network handed over
// credentials (or failed to, err): it reads the profile, keeps the
// account and its first follower count, and shows it.
func (s *Web) connected(w http.ResponseWriter, r *http.Request, c social.Connector, instance string, creds []byte, err error) {
	v := viewerFrom(r)
	var p social.Profile
	conn := &social.Conn{Account: social.Account{Network: c.Network(), Instance: instance}, Creds: creds}
	if err == nil {
		p, err = c.Verify(r.Context(), conn)
	}
	if conn.Changed {
		creds = conn.Creds
	}
	var a social.Account
	if err == nil {
		a, err = s.Social.Connect(r.Context(), v.Workspace.ID, social.Connection{Network: c.Network(), Instance: instance, Profile: p, Creds: creds, MemberID: v.Member.ID})
	}
	var ne *social.Error
	if errors.As(err, &ne) {
		s.redirect(w, r, "/app/settings/accounts", "error", social.Rules(c.Network()).Name+" did not connect the account: "+ne.Reason+".")
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

// Connecting a Bluesky account: the handle and an app password (made in
// Bluesky's settings), and the server when it is not bsky.social.
func (s *Web) connectBluesky(w http.ResponseWriter, r *http.Request) {
	var e valid.Errors
	handle := strings.TrimPrefix(strings.TrimSpace(r.PostFormValue("bluesky_handle")), "@")
	password := strings.TrimSpace(r.PostFormValue("app_password"))
	service := bluesky.DefaultService
	if v := strings.TrimSpace(r.PostFormValue("service")); v != "" {
		service = social.InstanceURL(&e, "service", v)
	}
	if handle == "" || len(handle) > 253 {
		e.Add("bluesky_handle", "your Bluesky handle, such as outlet.bsky.social")
	}
	if password == "" || len(password) > 100 {
		e.Add("app_password", "an app password, made in Bluesky under Settings → Privacy and security → App passwords")
	}
	if e.Err() != nil {
		s.renderAccounts(w, r, http.StatusUnprocessableEntity, formValues(r, "bluesky_handle", "service"), &e)
		return
	}
	c, _ := s.Hub.Connector(social.Bluesky).(*bluesky.Connector)
	creds, _, err := c.Login(r.Context(), service, handle, password)
	var ne *social.Error
	if errors.As(err, &ne) && ne.Kind != social.Unavailable {
		e.Add("app_password", "Bluesky refused: %s", ne.Reason)
		s.renderAccounts(w, r, http.StatusUnprocessableEntity, formValues(r, "bluesky_handle", "service"), &e)
		return
	}
	if err != nil {
		s.networkTrouble(w, r, err, "service", service)
		return
	}
	s.connected(w, r, c, service, creds, nil)
}

// Connecting an X account: the brand's own X app (ROOST_X_CLIENT_ID)
// asks the admin's approval on X, authorization code with PKCE.

func (s *Web) xCallbackURL() string { return s.BaseURL + "/app/settings/accounts/callback/x" }

func (s *Web) x() *x.Connector {
	c, _ := s.Hub.Connector(social.X).(*x.Connector)
	if c == nil || c.ClientID == "" {
		return nil
	}
	return c
}

func (s *Web) connectX(w http.ResponseWriter, r *http.Request) {
	v := viewerFrom(r)
	c := s.x()
	if c == nil {
		s.redirect(w, r, "/app/settings/accounts", "error", "Set ROOST_X_CLIENT_ID (and ROOST_X_CLIENT_SECRET) to your X app's OAuth 2.0 keys first.")
		return
	}
	state, verifier, err := s.Social.BeginFlow(r.Context(), social.Flow{Purpose: "account", WorkspaceID: v.Workspace.ID, MemberID: v.Member.ID, Network: social.X})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, c.AuthorizeURL(s.xCallbackURL(), state, verifier, x.Scopes), http.StatusSeeOther)
}

func (s *Web) xCallback(w http.ResponseWriter, r *http.Request) {
	v := viewerFrom(r)
	q := r.URL.Query()
	f, err := s.Social.TakeFlow(r.Context(), q.Get("state"))
	if err != nil || f.Purpose != "account" || f.Network != social.X || f.WorkspaceID != v.Workspace.ID || f.MemberID != v.Member.ID {
		s.redirect(w, r, "/app/settings/accounts", "error", social.ErrFlow.Error())
		return
	}
	c := s.x()
	if c == nil || q.Get("error") != "" || q.Get("code") == "" {
		s.redirect(w, r, "/app/settings/accounts", "error", "X did not connect the account: "+firstNonEmpty(q.Get("error_description"), q.Get("error"), "no code came back")+".")
		return
	}
	creds, err := c.Exchange(r.Context(), s.xCallbackURL(), q.Get("code"), f.Verifier)
	s.connected(w, r, c, "", creds, err)
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

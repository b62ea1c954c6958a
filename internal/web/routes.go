package web

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/roost-hq/roost/internal/secret"

	"github.com/roost-hq/roost/internal/httpx"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/team"
	"github.com/roost-hq/roost/internal/valid"
)

// Register adds the dashboard's routes to mux.
func (s *Web) Register(mux *httpx.Mux) {
	static, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(static)
	mux.Handle("GET /static/{file...}", httpx.Public, http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("v") != "" {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		files.ServeHTTP(w, r)
	})))
	// The storefront snippet, loaded by every page of the stores that use it.
	mux.HandleFunc("GET /t.js", httpx.Public, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("ETag", `"`+s.static["t.js"]+`"`)
		http.ServeFileFS(w, r, static, "t.js")
	})
	mux.Quiet("GET /t.js")
	mux.HandleFunc("GET /{$}", httpx.Public, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/app/", http.StatusFound)
	})

	public := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, httpx.Public, s.page(false, h)) }
	public("GET /app/login", s.loginPage)
	public("POST /app/login", s.login)
	public("POST /app/logout", s.logout)
	public("GET /app/setup/{token}", s.setupPage)
	public("POST /app/setup/{token}", s.setup)
	public("GET /app/invite/{token}", s.invitePage)
	public("POST /app/invite/{token}", s.acceptInvite)
	public("GET /o/{slug}", s.claimPage)
	public("POST /o/{slug}", s.claimPost)
	public("GET /o/{slug}/token", s.tokenStatus)
	public("GET /signin/{network}/callback", s.personCallback)
	public("GET /signin/bluesky/client-metadata.json", s.blueskyClientMetadata)

	signedIn := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, httpx.Session, s.page(true, s.inWorkspace(h)))
	}
	signedIn("GET /app/{$}", s.overview)
	signedIn("GET /app/", s.notFound)
	signedIn("POST /app/switch", s.switchWorkspace)
	signedIn("GET /app/settings/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/app/settings/workspace", http.StatusFound)
	})
	signedIn("GET /app/settings/workspace", s.workspaceSettings)
	signedIn("POST /app/settings/workspace", s.manager(s.renameWorkspace))
	signedIn("GET /app/settings/members", s.membersPage)
	signedIn("POST /app/settings/members", s.manager(s.addMember))
	signedIn("POST /app/settings/members/{id}", s.manager(s.updateMember))
	signedIn("POST /app/settings/members/{id}/remove", s.manager(s.removeMember))
	signedIn("POST /app/settings/members/{id}/reinvite", s.manager(s.reinvite))
	signedIn("GET /app/settings/api-keys", s.manager(s.keysPage))
	signedIn("POST /app/settings/api-keys", s.manager(s.createKey))
	signedIn("POST /app/settings/api-keys/{id}/revoke", s.manager(s.revokeKey))
	signedIn("GET /app/offers", s.offersPage)
	signedIn("GET /app/offers/new", s.marketer(s.newOfferPage))
	signedIn("POST /app/offers", s.marketer(s.saveOffer))
	signedIn("GET /app/offers/{id}", s.offerPage)
	signedIn("POST /app/offers/{id}", s.marketer(s.saveOffer))
	signedIn("GET /app/offers/{id}/codes.csv", s.offerCodes)
	signedIn("GET /app/offers/{id}/counts", s.offerCounts)
	signedIn("POST /app/offers/{id}/pool", s.marketer(s.importPool))
	signedIn("GET /app/posts", s.postsPage)
	signedIn("POST /app/posts", s.marketer(s.composePost))
	signedIn("POST /app/posts/{id}/cancel", s.marketer(s.cancelPost))
	signedIn("POST /app/posts/{id}/copies/{copy}/retry", s.marketer(s.retryCopy))
	signedIn("GET /app/links", s.linksPage)
	signedIn("POST /app/links", s.marketer(s.createLink))
	signedIn("GET /app/links/{id}", s.linkPage)
	signedIn("POST /app/links/{id}", s.marketer(s.updateLink))
	signedIn("POST /app/links/{id}/delete", s.marketer(s.deleteLink))
	signedIn("GET /app/links/{id}/qr.svg", s.linkQR)
	signedIn("GET /app/links/{id}/qr.png", s.linkQR)
	signedIn("GET /app/settings/accounts", s.accountsPage)
	signedIn("POST /app/settings/accounts/sandbox", s.manager(s.addSandboxAccount))
	signedIn("POST /app/settings/accounts/mastodon", s.manager(s.connectMastodon))
	signedIn("GET /app/settings/accounts/callback/mastodon", s.manager(s.mastodonCallback))
	signedIn("GET /app/inbox", s.inboxPage)
	signedIn("GET /app/inbox/settings", s.marketer(s.inboxSettingsPage))
	signedIn("POST /app/inbox/settings", s.marketer(s.saveInboxSettings))
	signedIn("GET /app/inbox/{id}", s.conversationPage)
	signedIn("POST /app/inbox/{id}", s.conversationAction)
	signedIn("GET /app/customers", s.customersPage)
	signedIn("GET /app/customers/{id}", s.customerPage)
	signedIn("POST /app/customers/{id}/link", s.manager(s.linkIdentity))
	signedIn("GET /app/orders", s.ordersPage)
	signedIn("GET /app/orders/revenue.csv", s.revenueCSV)
	signedIn("GET /app/settings/store", s.manager(s.storeSettingsPage))
	signedIn("POST /app/settings/store", s.manager(s.saveStoreSettings))
	signedIn("POST /app/settings/store/hooks", s.manager(s.saveStoreHook))
	signedIn("GET /app/orders/{id}", s.orderPage)
	signedIn("POST /app/settings/accounts/x", s.manager(s.connectX))
	signedIn("POST /app/settings/accounts/bluesky", s.manager(s.connectBluesky))
	signedIn("GET /app/settings/accounts/callback/x", s.manager(s.xCallback))
	signedIn("GET /app/settings/accounts/{id}", s.accountPage)
	signedIn("POST /app/settings/accounts/{id}/followers", s.manager(s.saveFollowers))
	signedIn("POST /app/settings/accounts/{id}/mention", s.manager(s.sandboxMention))
	signedIn("POST /app/settings/accounts/{id}/refresh", s.manager(s.refreshAccount))
	signedIn("POST /app/settings/accounts/{id}/disconnect", s.manager(s.disconnectAccount))
	signedIn("GET /app/settings/links", s.manager(s.linkSettingsPage))
	signedIn("POST /app/settings/links", s.manager(s.saveLinkSettings))
	signedIn("GET /app/settings/profile", s.profilePage)
	signedIn("POST /app/settings/profile", s.saveProfile)
	signedIn("POST /app/settings/password", s.changePassword)
	// Someone in no workspace yet (every membership removed) may still make one.
	anyone := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, httpx.Session, s.page(true, h)) }
	anyone("GET /app/workspaces/new", s.newWorkspacePage)
	anyone("POST /app/workspaces/new", s.createWorkspace)
}

// maxForm caps form bodies; dashboard forms are small.
// Files (a pool of codes) come as multipart forms, up to maxUpload.
const (
	maxForm   = 64 << 10
	maxUpload = 8 << 20
)

// page wraps every dashboard handler. It loads the signed-in person when
// there is one (and, with signedIn, sends everyone else to sign in). For a
// form it checks that the browser sent it from Roost itself (Sec-Fetch-Site
// / Origin) and that its token matches this browser's CSRF cookie, session
// and the workspace the page showed: a form from another site, another
// browser, an ended session, or a tab still showing another workspace is
// refused.
func (s *Web) page(signedIn bool, h http.HandlerFunc) http.Handler {
	return s.csrf.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := s.loadViewer(r.Context(), r)
		switch {
		case err == nil:
			r = r.WithContext(context.WithValue(r.Context(), viewerCtx{}, v))
		case !errors.Is(err, store.ErrNotFound):
			s.fail(w, r, err)
			return
		case signedIn && r.Method == http.MethodGet:
			http.Redirect(w, r, "/app/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		case signedIn:
			s.message(w, r, http.StatusUnauthorized, "Signed out", "Your session has ended. Sign in again, then repeat what you were doing.")
			return
		}
		if r.Method == http.MethodPost {
			parse, limit, text := r.ParseForm, int64(maxForm), "The form could not be read. Go back and try again."
			if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
				limit, parse = maxUpload, func() error { return r.ParseMultipartForm(1 << 20) }
				text = "The file could not be read, or is larger than 8 MB. Go back and try again."
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			if err := parse(); err != nil {
				s.message(w, r, http.StatusBadRequest, "Form not accepted", text)
				return
			}
			if !s.checkCSRF(r) {
				if r.URL.Path == "/app/logout" && viewerFrom(r) == nil {
					// Signing out of a session that already ended: nothing to protect.
					s.redirect(w, r, "/app/login", "ok", "You have signed out.")
					return
				}
				s.message(w, r, http.StatusForbidden, "Form expired", "This form is out of date (you may have signed out or switched workspace in another tab) or was not sent from Roost. Go back, reload the page and try again.")
				return
			}
		}
		h(w, r)
	}))
}

// inWorkspace sends a signed-in person who belongs to no workspace to a
// page that says so.
func (s *Web) inWorkspace(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if viewerFrom(r).Workspace.ID == "" {
			d := messageData{Code: http.StatusForbidden, Heading: "No workspace yet", Text: "You are not a member of any workspace. Ask an owner to invite you again, or create your own.",
				Link: "/app/workspaces/new", LinkText: "Create a workspace"}
			s.render(w, r, http.StatusForbidden, "message", view{Title: "No workspace", Data: d})
			return
		}
		h(w, r)
	}
}

// loadViewer resolves the session cookie to a person and the workspace
// they are looking at. A session whose workspace the person has left falls
// back to another of theirs; a person in no workspace has an empty one.
func (s *Web) loadViewer(ctx context.Context, r *http.Request) (*viewer, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, store.ErrNotFound
	}
	se, err := s.Auth.Session(ctx, c.Value)
	if err != nil {
		return nil, err
	}
	u, err := s.Team.User(ctx, se.UserID)
	if err != nil {
		return nil, err
	}
	ms, err := s.Team.Memberships(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	v := &viewer{Token: c.Value, User: u, Memberships: ms}
	if len(ms) == 0 {
		return v, nil
	}
	cur := ms[0]
	for _, m := range ms {
		if m.ID == se.WorkspaceID {
			cur = m
		}
	}
	if v.Member, err = s.Team.Member(ctx, cur.ID, cur.MemberID); err != nil {
		return nil, err
	}
	v.Workspace = cur.Workspace
	return v, nil
}

// requireRole limits a handler to the roles for which allowed is true.
func (s *Web) requireRole(allowed func(team.Role) bool, heading, text string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !allowed(viewerFrom(r).Member.Role) {
			s.message(w, r, http.StatusForbidden, heading, text)
			return
		}
		h(w, r)
	}
}

// manager limits a page to owners and admins.
func (s *Web) manager(h http.HandlerFunc) http.HandlerFunc {
	return s.requireRole(team.Role.ManagesTeam, "Owners and admins only", "Ask an owner or admin of this workspace to do this for you.", h)
}

// marketer limits a form to the roles that change offers, posts and links.
func (s *Web) marketer(h http.HandlerFunc) http.HandlerFunc {
	return s.requireRole(team.Role.Markets, "Marketers only", "Agents can see links but not change them. Ask a marketer, admin or owner.", h)
}

// formValues keeps what was typed, to show it again beside errors.
func formValues(r *http.Request, names ...string) map[string]string {
	m := map[string]string{}
	for _, n := range names {
		m[n] = r.PostFormValue(n)
	}
	return m
}

// badInput renders the page again with the problems beside the fields, or
// falls back to fail for errors that are not about input.
func (s *Web) badInput(w http.ResponseWriter, r *http.Request, err error, page string, v view) {
	ve, ok := valid.As(err)
	if !ok {
		s.fail(w, r, err)
		return
	}
	v.Errors = ve
	v.Flash = &flash{Kind: "error", Text: "Please correct the highlighted fields."}
	if len(ve.Fields) == 1 && ve.Fields[0].Field == "role" {
		v.Flash.Text = ve.Fields[0].Message
	}
	s.render(w, r, http.StatusUnprocessableEntity, page, v)
}

// Sign-in.

type loginData struct{ Next string }

// safeNext keeps a post-login redirect inside the dashboard.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/app/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/app/"
	}
	return next
}

func (s *Web) loginPage(w http.ResponseWriter, r *http.Request) {
	if v, err := s.loadViewer(r.Context(), r); err == nil && v != nil {
		http.Redirect(w, r, "/app/", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", view{Title: "Sign in", Data: loginData{Next: safeNext(r.URL.Query().Get("next"))}})
}

func (s *Web) login(w http.ResponseWriter, r *http.Request) {
	email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
	data := loginData{Next: safeNext(r.PostFormValue("next"))}
	v := view{Title: "Sign in", Data: data, Form: map[string]string{"email": email}}
	// Limits per address, and per address and account: guessing is slow,
	// yet nobody elsewhere can lock a person out by guessing their email.
	ip := httpx.ClientIP(r)
	emailKey := secret.Hash("login:" + ip + "\n" + email)
	ok, wait := s.loginByIP.Reserve(secret.Hash("login:" + ip))
	if ok {
		ok, wait = s.loginByEmail.Reserve(emailKey)
	}
	if !ok {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		v.Flash = &flash{Kind: "error", Text: fmt.Sprintf("Too many sign-in attempts. Wait %s and try again.", plural(max(1, (secs+59)/60), "minute"))}
		s.render(w, r, http.StatusTooManyRequests, "login", v)
		return
	}
	u, err := s.Team.Authenticate(r.Context(), email, r.PostFormValue("password"))
	if errors.Is(err, team.ErrBadLogin) {
		v.Flash = &flash{Kind: "error", Text: "That email and password do not match an account."}
		s.render(w, r, http.StatusUnauthorized, "login", v)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.loginByEmail.Reset(emailKey)
	s.startSession(w, r, u.ID, "", data.Next)
}

func (s *Web) startSession(w http.ResponseWriter, r *http.Request, userID, wsID, next string) {
	tok, err := s.Auth.CreateSession(r.Context(), userID, wsID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.setCookie(w, sessionCookie, tok, 0)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Web) logout(w http.ResponseWriter, r *http.Request) {
	if v := viewerFrom(r); v != nil {
		if err := s.Auth.DeleteSession(r.Context(), v.Token); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.setCookie(w, sessionCookie, "", -1)
	s.redirect(w, r, "/app/login", "ok", "You have signed out.")
}

// First run and invitations.

type setupData struct {
	Token       string
	MinPassword int
}

func (s *Web) badLink(w http.ResponseWriter, r *http.Request) {
	s.message(w, r, http.StatusNotFound, "Link expired", "This link is invalid, was already used, or has expired. Ask whoever sent it for a new one.")
}

func (s *Web) setupPage(w http.ResponseWriter, r *http.Request) {
	if err := s.Team.CheckSetupToken(r.Context(), r.PathValue("token")); err != nil {
		s.badLink(w, r)
		return
	}
	s.render(w, r, http.StatusOK, "setup", view{Title: "Set up Roost", Data: setupData{Token: r.PathValue("token"), MinPassword: team.MinPasswordLen}})
}

func (s *Web) setup(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	u, ws, err := s.Team.Setup(r.Context(), tok, team.NewOwner{
		Workspace: r.PostFormValue("workspace"), Name: r.PostFormValue("name"), Email: r.PostFormValue("email"),
		Password: r.PostFormValue("password"), Signature: r.PostFormValue("signature"),
	})
	switch {
	case errors.Is(err, team.ErrTokenInvalid), errors.Is(err, team.ErrAlreadySetUp):
		s.badLink(w, r)
	case err != nil:
		s.badInput(w, r, err, "setup", view{Title: "Set up Roost", Data: setupData{Token: tok, MinPassword: team.MinPasswordLen},
			Form: formValues(r, "workspace", "name", "email", "signature")})
	default:
		s.setFlash(w, "ok", "Welcome to Roost. Your workspace "+ws.Name+" is ready.")
		s.startSession(w, r, u.ID, ws.ID, "/app/")
	}
}

type inviteData struct {
	team.Invitation
	Token       string
	MinPassword int
	SignedInAs  string // the email of someone else who is signed in
}

func (s *Web) invitePage(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	inv, err := s.Team.Invitation(r.Context(), tok)
	if err != nil {
		s.badLink(w, r)
		return
	}
	d := inviteData{Invitation: inv, Token: tok, MinPassword: team.MinPasswordLen}
	if v := viewerFrom(r); v != nil && v.User.ID != inv.UserID {
		d.SignedInAs = v.User.Email
	}
	s.render(w, r, http.StatusOK, "invite", view{Title: "Join " + inv.Workspace.Name, Data: d})
}

func (s *Web) acceptInvite(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	v := viewerFrom(r)
	userID, password := "", r.PostFormValue("password")
	if v != nil {
		userID, password = v.User.ID, ""
	}
	inv, err := s.Team.AcceptInvitation(r.Context(), tok, userID, password)
	switch {
	case errors.Is(err, team.ErrTokenInvalid):
		s.badLink(w, r)
	case errors.Is(err, team.ErrSignInToAccept):
		http.Redirect(w, r, "/app/login?next="+url.QueryEscape("/app/invite/"+tok), http.StatusSeeOther)
	case err != nil:
		inv, ierr := s.Team.Invitation(r.Context(), tok)
		if ierr != nil {
			s.badLink(w, r)
			return
		}
		s.badInput(w, r, err, "invite", view{Title: "Join " + inv.Workspace.Name, Data: inviteData{Invitation: inv, Token: tok, MinPassword: team.MinPasswordLen}})
	case v != nil:
		if err := s.Auth.SetSessionWorkspace(r.Context(), v.Token, inv.Workspace.ID); err != nil {
			s.fail(w, r, err)
			return
		}
		s.redirect(w, r, "/app/", "ok", "Welcome to "+inv.Workspace.Name+".")
	default:
		s.setFlash(w, "ok", "Welcome to "+inv.Workspace.Name+".")
		s.startSession(w, r, inv.UserID, inv.Workspace.ID, "/app/")
	}
}

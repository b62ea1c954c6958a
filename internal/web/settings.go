package web

import (
	"errors"
	"github.com/roost-hq/roost/internal/secret"
	"net/http"

	"github.com/roost-hq/roost/internal/auth"
	"github.com/roost-hq/roost/internal/team"
	"github.com/roost-hq/roost/internal/valid"
)

// teamPageSize bounds the lists on settings pages: a team and its keys are
// small, and the API pages through larger ones.
const teamPageSize = 500

func (s *Web) switchWorkspace(w http.ResponseWriter, r *http.Request) {
	v := viewerFrom(r)
	want := r.PostFormValue("workspace")
	for _, m := range v.Memberships {
		if m.ID == want {
			if err := s.Auth.SetSessionWorkspace(r.Context(), v.Token, m.ID); err != nil {
				s.fail(w, r, err)
				return
			}
			s.redirect(w, r, "/app/", "", "")
			return
		}
	}
	s.notFound(w, r)
}

func (s *Web) newWorkspacePage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "workspace_new", view{Title: "New workspace"})
}

func (s *Web) createWorkspace(w http.ResponseWriter, r *http.Request) {
	v := viewerFrom(r)
	name := v.Member.Name
	if name == "" {
		name = v.User.Name
	}
	ws, err := s.Team.CreateWorkspace(r.Context(), v.User.ID, name, team.NewWorkspace{Name: r.PostFormValue("name"), Slug: r.PostFormValue("slug")})
	if err != nil {
		s.badInput(w, r, err, "workspace_new", view{Title: "New workspace", Form: formValues(r, "name", "slug")})
		return
	}
	if err := s.Auth.SetSessionWorkspace(r.Context(), v.Token, ws.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	s.redirect(w, r, "/app/", "ok", "Workspace "+ws.Name+" created. You are its owner.")
}

func (s *Web) workspaceSettings(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "settings_workspace", view{Title: "Workspace settings", Tab: "workspace"})
}

func (s *Web) renameWorkspace(w http.ResponseWriter, r *http.Request) {
	v := viewerFrom(r)
	if err := s.Team.RenameWorkspace(r.Context(), v.Workspace.ID, r.PostFormValue("name")); err != nil {
		s.badInput(w, r, err, "settings_workspace", view{Title: "Workspace settings", Tab: "workspace", Form: formValues(r, "name")})
		return
	}
	s.redirect(w, r, "/app/settings/workspace", "ok", "Workspace saved.")
}

type membersData struct {
	Members              []team.Member
	Roles                []team.Role
	InviteURL, InviteFor string
}

func (s *Web) membersView(r *http.Request, d membersData) (view, error) {
	ms, err := s.Team.Members(r.Context(), viewerFrom(r).Workspace.ID, "", teamPageSize)
	d.Members, d.Roles = ms, team.Roles
	return view{Title: "Members", Tab: "members", Data: d}, err
}

func (s *Web) membersPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.membersView(r, membersData{})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "settings_members", v)
}

// showInvite renders the members page with a one-time invitation link. The
// link is shown in the response itself, never stored in a cookie or log.
func (s *Web) showInvite(w http.ResponseWriter, r *http.Request, m team.Member, tok string) {
	v, err := s.membersView(r, membersData{InviteURL: s.BaseURL + "/app/invite/" + tok, InviteFor: m.Name + " (" + m.Email + ")"})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "settings_members", v)
}

func (s *Web) addMember(w http.ResponseWriter, r *http.Request) {
	vw := viewerFrom(r)
	m, tok, err := s.Team.AddMember(r.Context(), vw.Member.Role, vw.Workspace.ID, team.NewMember{
		Email: r.PostFormValue("email"), Name: r.PostFormValue("name"), Role: team.Role(r.PostFormValue("role")), Signature: r.PostFormValue("signature"),
	})
	if err != nil {
		v, lerr := s.membersView(r, membersData{})
		if lerr != nil {
			s.fail(w, r, lerr)
			return
		}
		v.Form = formValues(r, "email", "name", "role", "signature")
		s.badInput(w, r, err, "settings_members", v)
		return
	}
	if tok != "" {
		s.showInvite(w, r, m, tok)
		return
	}
	s.redirect(w, r, "/app/settings/members", "ok", m.Name+" now has access to "+vw.Workspace.Name+".")
}

// membersError shows a refused member change as a message on the members page.
func (s *Web) membersError(w http.ResponseWriter, r *http.Request, err error) {
	if ve, ok := valid.As(err); ok {
		s.redirect(w, r, "/app/settings/members", "error", ve.Fields[0].Message)
		return
	}
	s.fail(w, r, err)
}

func (s *Web) updateMember(w http.ResponseWriter, r *http.Request) {
	vw := viewerFrom(r)
	role := team.Role(r.PostFormValue("role"))
	sig := r.PostFormValue("signature")
	m, err := s.Team.UpdateMember(r.Context(), vw.Member.Role, vw.Workspace.ID, r.PathValue("id"), team.MemberUpdate{Role: &role, Signature: &sig})
	if err != nil {
		s.membersError(w, r, err)
		return
	}
	s.redirect(w, r, "/app/settings/members", "ok", "Saved "+m.Name+".")
}

func (s *Web) removeMember(w http.ResponseWriter, r *http.Request) {
	vw := viewerFrom(r)
	m, err := s.Team.Member(r.Context(), vw.Workspace.ID, r.PathValue("id"))
	if err == nil {
		err = s.Team.RemoveMember(r.Context(), vw.Member.Role, vw.Workspace.ID, m.ID)
	}
	if err != nil {
		s.membersError(w, r, err)
		return
	}
	s.redirect(w, r, "/app/settings/members", "ok", m.Name+" was removed from "+vw.Workspace.Name+".")
}

func (s *Web) reinvite(w http.ResponseWriter, r *http.Request) {
	vw := viewerFrom(r)
	m, err := s.Team.Member(r.Context(), vw.Workspace.ID, r.PathValue("id"))
	var tok string
	if err == nil {
		tok, err = s.Team.Reinvite(r.Context(), vw.Workspace.ID, m.ID)
	}
	if err != nil {
		s.membersError(w, r, err)
		return
	}
	s.showInvite(w, r, m, tok)
}

type keysData struct {
	Keys   []auth.APIKey
	Secret string
}

func (s *Web) renderKeys(w http.ResponseWriter, r *http.Request, status int, v view, secret string) {
	keys, err := s.Auth.APIKeys(r.Context(), viewerFrom(r).Workspace.ID, "", teamPageSize)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.Title, v.Tab, v.Data = "API keys", "api-keys", keysData{Keys: keys, Secret: secret}
	s.render(w, r, status, "settings_apikeys", v)
}

func (s *Web) keysPage(w http.ResponseWriter, r *http.Request) {
	s.renderKeys(w, r, http.StatusOK, view{}, "")
}

func (s *Web) createKey(w http.ResponseWriter, r *http.Request) {
	vw := viewerFrom(r)
	_, secret, err := s.Auth.CreateAPIKey(r.Context(), vw.Workspace.ID, r.PostFormValue("name"), vw.Member.ID)
	if ve, ok := valid.As(err); ok {
		s.renderKeys(w, r, http.StatusUnprocessableEntity, view{Errors: ve, Form: formValues(r, "name")}, "")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderKeys(w, r, http.StatusOK, view{}, secret)
}

func (s *Web) revokeKey(w http.ResponseWriter, r *http.Request) {
	k, err := s.Auth.RevokeAPIKey(r.Context(), viewerFrom(r).Workspace.ID, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.redirect(w, r, "/app/settings/api-keys", "ok", "Key “"+k.Name+"” revoked. Programs using it can no longer call Roost.")
}

type profileData struct{ MinPassword int }

func profileView(v view) view {
	v.Title, v.Tab, v.Data = "Your profile", "profile", profileData{MinPassword: team.MinPasswordLen}
	return v
}

func (s *Web) profilePage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "settings_profile", profileView(view{}))
}

func (s *Web) saveProfile(w http.ResponseWriter, r *http.Request) {
	vw := viewerFrom(r)
	name, sig := r.PostFormValue("name"), r.PostFormValue("signature")
	_, err := s.Team.UpdateMember(r.Context(), vw.Member.Role, vw.Workspace.ID, vw.Member.ID, team.MemberUpdate{Name: &name, Signature: &sig})
	if err != nil {
		s.badInput(w, r, err, "settings_profile", profileView(view{Form: formValues(r, "name", "signature")}))
		return
	}
	s.redirect(w, r, "/app/settings/profile", "ok", "Profile saved.")
}

func (s *Web) changePassword(w http.ResponseWriter, r *http.Request) {
	vw := viewerFrom(r)
	if !s.loginByEmail.Allow(secret.Hash("password:" + vw.User.ID)) {
		s.badInput(w, r, valid.New("current", "too many attempts: wait a few minutes and try again"), "settings_profile", profileView(view{}))
		return
	}
	if _, err := s.Team.Authenticate(r.Context(), vw.User.Email, r.PostFormValue("current")); err != nil {
		if !errors.Is(err, team.ErrBadLogin) {
			s.fail(w, r, err)
			return
		}
		s.badInput(w, r, valid.New("current", "is not your current password"), "settings_profile", profileView(view{}))
		return
	}
	if err := s.Team.SetPassword(r.Context(), vw.User.ID, r.PostFormValue("password")); err != nil {
		s.badInput(w, r, err, "settings_profile", profileView(view{}))
		return
	}
	if err := s.Auth.DeleteUserSessions(r.Context(), vw.User.ID, vw.Token); err != nil {
		s.fail(w, r, err)
		return
	}
	s.redirect(w, r, "/app/settings/profile", "ok", "Password changed. Your other devices have been signed out.")
}

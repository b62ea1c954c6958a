package api

import (
	"net/http"

	"github.com/roost-hq/roost/internal/auth"
	"github.com/roost-hq/roost/internal/team"
)

type memberOut struct {
	team.Member
	InviteURL string `json:"invite_url,omitempty"`
}

func (a *API) listMembers(w http.ResponseWriter, r *http.Request) error {
	limit, cursor, err := pageParams(r)
	if err != nil {
		return err
	}
	ms, err := a.Team.Members(r.Context(), caller(r.Context()).WorkspaceID, cursor, limit+1)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page(ms, limit, func(m team.Member) string { return m.ID }))
	return nil
}

func (a *API) getMember(w http.ResponseWriter, r *http.Request) error {
	m, err := a.Team.Member(r.Context(), caller(r.Context()).WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (a *API) createMember(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in struct {
		Email     string    `json:"email"`
		Name      string    `json:"name"`
		Role      team.Role `json:"role"`
		Signature string    `json:"signature"`
	}
	if err := decode(body, &in); err != nil {
		return err
	}
	m, invite, err := a.Team.AddMember(r.Context(), actor, caller(r.Context()).WorkspaceID, team.NewMember(in))
	if err != nil {
		return err
	}
	out := memberOut{Member: m, InviteURL: a.BaseURL + "/app/invite/" + invite}
	w.Header().Set("Location", "/api/v1/members/"+m.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (a *API) updateMember(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	var in struct {
		Name      *string    `json:"name"`
		Role      *team.Role `json:"role"`
		Signature *string    `json:"signature"`
	}
	if err := decode(body, &in); err != nil {
		return err
	}
	m, err := a.Team.UpdateMember(r.Context(), actor, caller(r.Context()).WorkspaceID, r.PathValue("id"), team.MemberUpdate(in))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (a *API) deleteMember(w http.ResponseWriter, r *http.Request) error {
	if err := a.Team.RemoveMember(r.Context(), actor, caller(r.Context()).WorkspaceID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type keyOut struct {
	auth.APIKey
	Secret string `json:"secret,omitempty"`
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) error {
	limit, cursor, err := pageParams(r)
	if err != nil {
		return err
	}
	ks, err := a.Auth.APIKeys(r.Context(), caller(r.Context()).WorkspaceID, cursor, limit+1)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page(ks, limit, func(k auth.APIKey) string { return k.ID }))
	return nil
}

func (a *API) getKey(w http.ResponseWriter, r *http.Request) error {
	k, err := a.Auth.APIKey(r.Context(), caller(r.Context()).WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

func (a *API) createKey(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decode(body, &in); err != nil {
		return err
	}
	k, secret, err := a.Auth.CreateAPIKey(r.Context(), caller(r.Context()).WorkspaceID, in.Name, "")
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/api-keys/"+k.ID)
	writeJSON(w, http.StatusCreated, keyOut{APIKey: k, Secret: secret})
	return nil
}

func (a *API) revokeKey(w http.ResponseWriter, r *http.Request) error {
	k, err := a.Auth.RevokeAPIKey(r.Context(), caller(r.Context()).WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

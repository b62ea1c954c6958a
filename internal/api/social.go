package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/posts"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/bluesky"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// Accounts and posts. Credentials never leave Roost: no response carries
// them.

type accountOut struct {
	social.Account
	Mention string `json:"mention"`
	Limit   int    `json:"post_limit"`
}

func accountJSON(a social.Account) accountOut {
	return accountOut{Account: a, Mention: a.Mention(), Limit: a.Limit()}
}

func (a *API) listAccounts(w http.ResponseWriter, r *http.Request) error {
	as, err := a.Social.Accounts(r.Context(), caller(r.Context()).WorkspaceID)
	if err != nil {
		return err
	}
	out := make([]accountOut, len(as))
	for i, x := range as {
		out[i] = accountJSON(x)
	}
	writeJSON(w, http.StatusOK, Page[accountOut]{Data: out})
	return nil
}

type accountIn struct {
	Network     string `json:"network"`
	Handle      string `json:"handle"`
	DisplayName string `json:"display_name"`
	// Bluesky: the handle, an app password, and the server ("" is bsky.social).
	AppPassword string `json:"app_password"`
	Service     string `json:"service"`
}

// connectAccount adds an account. The sandbox takes a handle, Bluesky a
// handle and an app password; networks that sign in with OAuth are
// connected in the dashboard, where the admin approves Roost on the
// network's own page.
func (a *API) connectAccount(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in accountIn
	if err := decode(body, &in); err != nil {
		return err
	}
	k := caller(r.Context())
	var acct social.Account
	var err error
	switch in.Network {
	case social.Sandbox:
		acct, err = a.Social.CreateSandboxAccount(r.Context(), k.WorkspaceID, k.CreatedBy, in.Handle, in.DisplayName)
	case social.Bluesky:
		acct, err = a.connectBluesky(r, in)
	case social.Mastodon, social.X:
		return valid.New("network", "%s accounts are connected in the dashboard (Settings → Accounts), where you approve Roost on %s itself", social.Rules(in.Network).Name, social.Rules(in.Network).Name)
	default:
		return valid.New("network", "must be one of mastodon, bluesky, x or sandbox")
	}
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/accounts/"+acct.ID)
	writeJSON(w, http.StatusCreated, accountJSON(acct))
	return nil
}

func (a *API) account(r *http.Request) (social.Account, error) {
	acct, err := a.Social.Account(r.Context(), caller(r.Context()).WorkspaceID, r.PathValue("id"))
	if err == nil && acct.Disconnected {
		err = store.ErrNotFound
	}
	return acct, err
}

func (a *API) getAccount(w http.ResponseWriter, r *http.Request) error {
	acct, err := a.account(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, accountJSON(acct))
	return nil
}

// checkAccount re-checks the credentials now and answers with the health.
func (a *API) checkAccount(w http.ResponseWriter, r *http.Request) error {
	acct, err := a.account(r)
	if err != nil {
		return err
	}
	_, callErr := a.Hub.Refresh(r.Context(), acct)
	var ne *social.Error
	if callErr != nil && !errors.As(callErr, &ne) {
		return callErr
	}
	if acct, err = a.account(r); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, accountJSON(acct))
	return nil
}

func (a *API) accountFollowers(w http.ResponseWriter, r *http.Request) error {
	acct, err := a.account(r)
	if err != nil {
		return err
	}
	since := time.Now().AddDate(0, 0, -90)
	if s := r.URL.Query().Get("since"); s != "" {
		if since, err = time.Parse(time.RFC3339, s); err != nil {
			return valid.New("since", "must be an RFC 3339 time, such as 2026-01-31T00:00:00Z")
		}
	}
	pts, err := a.Social.FollowerSeries(r.Context(), acct.ID, since)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"account_id": acct.ID, "data": pts})
	return nil
}

func (a *API) disconnectAccount(w http.ResponseWriter, r *http.Request) error {
	if err := a.Social.Disconnect(r.Context(), caller(r.Context()).WorkspaceID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type postIn struct {
	posts.Compose
	// MemberID names the member posting (their signature goes on it);
	// default: the member who made the API key.
	MemberID string `json:"member_id"`
}

func (a *API) createPost(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in postIn
	if err := decode(body, &in); err != nil {
		return err
	}
	k := caller(r.Context())
	by := posts.Author{MemberID: in.MemberID}
	if by.MemberID == "" {
		by.MemberID = k.CreatedBy
	}
	if by.MemberID != "" {
		m, err := a.Team.Member(r.Context(), k.WorkspaceID, by.MemberID)
		if errors.Is(err, store.ErrNotFound) && in.MemberID != "" {
			return valid.New("member_id", "is not a member of this workspace")
		}
		if err == nil {
			by.Signature = m.Signature
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		} else {
			by.MemberID = "" // the key's maker has left
		}
	}
	p, err := a.Posts.Compose(r.Context(), k.WorkspaceID, by, in.Compose)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/posts/"+p.ID)
	writeJSON(w, http.StatusCreated, postJSON(p))
	return nil
}

type postOut struct {
	posts.Post
	Status posts.Status `json:"status"`
}

func postJSON(p posts.Post) postOut { return postOut{Post: p, Status: p.Status()} }

func (a *API) listPosts(w http.ResponseWriter, r *http.Request) error {
	limit, cursor, err := pageParams(r)
	if err != nil {
		return err
	}
	st := posts.Status(r.URL.Query().Get("status"))
	switch st {
	case "", posts.Scheduled, posts.Publishing, posts.Published, posts.Failed, posts.Cancelled:
	default:
		return valid.New("status", "must be one of scheduled, publishing, published, failed, cancelled")
	}
	ps, err := a.Posts.List(r.Context(), caller(r.Context()).WorkspaceID, posts.Filter{Status: st, Before: cursor, Limit: limit + 1})
	if err != nil {
		return err
	}
	out := make([]postOut, len(ps))
	for i, p := range ps {
		out[i] = postJSON(p)
	}
	writeJSON(w, http.StatusOK, page(out, limit, func(p postOut) string { return p.ID }))
	return nil
}

func (a *API) getPost(w http.ResponseWriter, r *http.Request) error {
	p, err := a.Posts.Get(r.Context(), caller(r.Context()).WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, postJSON(p))
	return nil
}

func (a *API) cancelPost(w http.ResponseWriter, r *http.Request) error {
	p, err := a.Posts.Cancel(r.Context(), caller(r.Context()).WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, postJSON(p))
	return nil
}

func (a *API) retryCopy(w http.ResponseWriter, r *http.Request) error {
	p, err := a.Posts.Retry(r.Context(), caller(r.Context()).WorkspaceID, r.PathValue("id"), r.PathValue("copy"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, postJSON(p))
	return nil
}

// connectBluesky signs a Bluesky account in with its app password and
// keeps it, as Settings → Accounts does.
func (a *API) connectBluesky(r *http.Request, in accountIn) (social.Account, error) {
	var e valid.Errors
	service := bluesky.DefaultService
	if strings.TrimSpace(in.Service) != "" {
		service = social.InstanceURL(&e, "service", in.Service)
	}
	if strings.TrimSpace(in.Handle) == "" {
		e.Add("handle", "is required, such as outlet.bsky.social")
	}
	if strings.TrimSpace(in.AppPassword) == "" {
		e.Add("app_password", "is required: an app password made in Bluesky's settings")
	}
	if err := e.Err(); err != nil {
		return social.Account{}, err
	}
	c, _ := a.Hub.Connector(social.Bluesky).(*bluesky.Connector)
	creds, p, err := c.Login(r.Context(), service, strings.TrimPrefix(strings.TrimSpace(in.Handle), "@"), strings.TrimSpace(in.AppPassword))
	var ne *social.Error
	if errors.As(err, &ne) && ne.Kind != social.Unavailable {
		return social.Account{}, valid.New("app_password", "Bluesky refused: %s", ne.Reason)
	}
	if err != nil {
		return social.Account{}, problem(http.StatusBadGateway, "network_unavailable", "Bluesky could not be reached: "+social.AsError(social.Bluesky, err).Reason)
	}
	k := caller(r.Context())
	acct, err := a.Social.Connect(r.Context(), k.WorkspaceID, social.Connection{Network: social.Bluesky, Instance: service, Profile: p, Creds: creds, MemberID: k.CreatedBy})
	if err != nil {
		return acct, err
	}
	return acct, a.Social.RecordProfile(r.Context(), acct.ID, p, time.Now().UTC().Truncate(time.Second))
}

package api

import (
	"errors"
	"net/http"

	"github.com/roost-hq/roost/internal/inbox"
	"github.com/roost-hq/roost/internal/team"
)

func (a *API) listConversations(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	status := q.Get("status")
	if status != "" && status != inbox.Open && status != inbox.Pending && status != inbox.Closed {
		return problem(http.StatusBadRequest, "invalid_parameter", "status must be open, pending or closed.")
	}
	cs, err := a.Inbox.List(r.Context(), caller(r.Context()).WorkspaceID, "", inbox.Filter{Status: status, Assignee: q.Get("assignee"), Tag: q.Get("tag"), Account: q.Get("account")})
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []inbox.Conversation{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": cs})
	return nil
}

func (a *API) getConversation(w http.ResponseWriter, r *http.Request) error {
	c, msgs, notes, err := a.Inbox.Get(r.Context(), caller(r.Context()).WorkspaceID, "", r.PathValue("id"))
	if err != nil {
		return err
	}
	if msgs == nil {
		msgs = []inbox.Message{}
	}
	if notes == nil {
		notes = []inbox.Note{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"conversation": c, "messages": msgs, "notes": notes})
	return nil
}

// replyConversation sends a reply signed by a member of the workspace
// (member_id; the key's creator when absent).
func (a *API) replyConversation(w http.ResponseWriter, r *http.Request, body []byte) error {
	k := caller(r.Context())
	if err := a.Inbox.Has(r.Context(), k.WorkspaceID, r.PathValue("id")); err != nil {
		return err
	}
	var in struct {
		Text     string `json:"text"`
		MemberID string `json:"member_id"`
	}
	if err := decode(body, &in); err != nil {
		return err
	}
	if in.MemberID == "" {
		in.MemberID = k.CreatedBy
	}
	if in.MemberID == "" {
		return problem(http.StatusUnprocessableEntity, "validation_failed", "member_id: give the member who signs the reply")
	}
	m, err := a.Team.Member(r.Context(), k.WorkspaceID, in.MemberID)
	if err != nil {
		return problem(http.StatusUnprocessableEntity, "validation_failed", "member_id: no such member in this workspace")
	}
	text, err := a.Inbox.Expand(r.Context(), k.WorkspaceID, r.PathValue("id"), m.ID, in.Text)
	if err != nil {
		return err
	}
	msg, err := a.Inbox.Reply(r.Context(), k.WorkspaceID, r.PathValue("id"), inbox.Author{MemberID: m.ID, Signature: m.Signature, Approver: m.Role != team.Agent}, text)
	var ns *inbox.ErrNotSent
	if errors.As(err, &ns) {
		return problem(http.StatusBadGateway, "not_sent", "The network did not take the reply (it is kept, failed, and can be retried): "+ns.Reason)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, msg)
	return nil
}

func (a *API) updateConversation(w http.ResponseWriter, r *http.Request) error {
	if err := a.Inbox.Has(r.Context(), caller(r.Context()).WorkspaceID, r.PathValue("id")); err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	var in struct {
		Status     *string   `json:"status"`
		AssigneeID *string   `json:"assignee_id"`
		Tags       *[]string `json:"tags"`
		Note       *string   `json:"note"`
	}
	if err := decode(body, &in); err != nil {
		return err
	}
	k := caller(r.Context())
	id := r.PathValue("id")
	if in.Status != nil {
		if err := a.Inbox.SetStatus(r.Context(), k.WorkspaceID, id, *in.Status); err != nil {
			return err
		}
	}
	if in.AssigneeID != nil {
		if err := a.Inbox.Assign(r.Context(), k.WorkspaceID, id, *in.AssigneeID); err != nil {
			return err
		}
	}
	if in.Tags != nil {
		if err := a.Inbox.SetTags(r.Context(), k.WorkspaceID, id, *in.Tags); err != nil {
			return err
		}
	}
	if in.Note != nil {
		if _, err := a.Inbox.AddNote(r.Context(), k.WorkspaceID, id, k.CreatedBy, *in.Note); err != nil {
			return err
		}
	}
	return a.getConversation(w, r)
}

func (a *API) listCustomers(w http.ResponseWriter, r *http.Request) error {
	cs, err := a.Inbox.Customers(r.Context(), caller(r.Context()).WorkspaceID, 200)
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []inbox.CustomerRow{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": cs})
	return nil
}

func (a *API) getCustomer(w http.ResponseWriter, r *http.Request) error {
	c, err := a.Inbox.Customer(r.Context(), caller(r.Context()).WorkspaceID, "", r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (a *API) getInboxSettings(w http.ResponseWriter, r *http.Request) error {
	st, err := a.Inbox.Settings(r.Context(), caller(r.Context()).WorkspaceID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// putInboxSettings changes the approval rule and the VIP thresholds;
// fields left out keep their values.
func (a *API) putInboxSettings(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	ws := caller(r.Context()).WorkspaceID
	st, err := a.Inbox.Settings(r.Context(), ws)
	if err != nil {
		return err
	}
	if err := decode(body, &st); err != nil {
		return err
	}
	if err := a.Inbox.SaveSettings(r.Context(), ws, st); err != nil {
		return err
	}
	return a.getInboxSettings(w, r)
}

package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/inbox"
	"github.com/roost-hq/roost/internal/money"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/team"
	"github.com/roost-hq/roost/internal/valid"
)

// The Inbox: every mention and reply to every brand account, one
// conversation per customer and thread; and the Customers behind them.

type inboxData struct {
	Conversations []inbox.Conversation
	Filter        inbox.Filter
	Members       []team.Member
	Accounts      []social.Account
	Metrics       inbox.Metrics
	Me            string
	// Unread are the accounts whose direct messages the inbox cannot
	// read, with the reason.
	Unread []readingNotice
}

type readingNotice struct {
	Account social.Account
	Reason  string
}

func (s *Web) inboxPage(w http.ResponseWriter, r *http.Request) {
	v := viewerFrom(r)
	q := r.URL.Query()
	f := inbox.Filter{Status: q.Get("status"), Assignee: q.Get("assignee"), Tag: q.Get("tag"), Account: q.Get("account")}
	if f.Assignee == "me" {
		f.Assignee = v.Member.ID
	}
	d := inboxData{Filter: f, Me: v.Member.ID}
	var err error
	if d.Conversations, err = s.Inbox.List(r.Context(), v.Workspace.ID, v.Member.ID, f); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Members, err = s.Team.Members(r.Context(), v.Workspace.ID, "", teamPageSize); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Accounts, err = s.Social.Accounts(r.Context(), v.Workspace.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Metrics, err = s.Inbox.Metrics(r.Context(), v.Workspace.ID, time.Now()); err != nil {
		s.fail(w, r, err)
		return
	}
	rs, err := s.Inbox.Readings(r.Context(), v.Workspace.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, a := range d.Accounts {
		if rd := rs[a.ID]; rd.DirectError != "" && !a.Disconnected {
			d.Unread = append(d.Unread, readingNotice{Account: a, Reason: rd.DirectError})
		}
	}
	s.render(w, r, http.StatusOK, "inbox", view{Title: "Inbox", Data: d})
}

type conversationData struct {
	Conversation inbox.Conversation
	Messages     []inbox.Message
	Notes        []inbox.Note
	Members      []team.Member
	Templates    []inbox.Template
	Limit        int
	Rule         social.Rule
	Signature    string
	CanApprove   bool
}

func (s *Web) conversationPage(w http.ResponseWriter, r *http.Request) {
	s.renderConversation(w, r, http.StatusOK, nil, nil)
}

func (s *Web) renderConversation(w http.ResponseWriter, r *http.Request, status int, form map[string]string, inErr error) {
	v := viewerFrom(r)
	c, msgs, notes, err := s.Inbox.Get(r.Context(), v.Workspace.ID, v.Member.ID, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Inbox.MarkRead(r.Context(), c.ID, v.Member.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	a, err := s.Social.Account(r.Context(), v.Workspace.ID, c.AccountID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := conversationData{Conversation: c, Messages: msgs, Notes: notes, Signature: v.Member.Signature, CanApprove: v.Member.Role.Markets()}
	d.Rule, d.Limit = inbox.ReplyRule(a, c)
	if d.Members, err = s.Team.Members(r.Context(), v.Workspace.ID, "", teamPageSize); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Templates, err = s.Inbox.Templates(r.Context(), v.Workspace.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	vw := view{Title: c.Person.Handle + " · Inbox", Data: d, Form: form}
	if inErr != nil {
		s.badInput(w, r, inErr, "conversation", vw)
		return
	}
	s.render(w, r, status, "conversation", vw)
}

// conversationAction handles the conversation page's forms.
func (s *Web) conversationAction(w http.ResponseWriter, r *http.Request) {
	v := viewerFrom(r)
	ws, convID := v.Workspace.ID, r.PathValue("id")
	if err := s.Inbox.Has(r.Context(), ws, convID); err != nil {
		s.fail(w, r, err)
		return
	}
	back := "/app/inbox/" + convID
	var err error
	msg := ""
	switch r.PostFormValue("action") {
	case "reply":
		text := r.PostFormValue("text")
		if tpl := r.PostFormValue("template"); tpl != "" && strings.TrimSpace(text) == "" {
			text = tpl
		}
		if text, err = s.Inbox.Expand(r.Context(), ws, convID, v.Member.ID, text); err == nil {
			var m inbox.Message
			m, err = s.Inbox.Reply(r.Context(), ws, convID, inbox.Author{MemberID: v.Member.ID, Signature: v.Member.Signature, Approver: v.Member.Role.Markets()}, text)
			msg = "Reply sent."
			if m.Status == "pending_approval" {
				msg = "Reply saved: it goes out once a marketer or admin approves it."
			}
		}
		var ns *inbox.ErrNotSent
		if errors.As(err, &ns) {
			s.redirect(w, r, back, "error", "The network did not take the reply: "+ns.Reason+". It is kept below; try again when it is fixed.")
			return
		}
		if _, ok := valid.As(err); ok {
			s.renderConversation(w, r, http.StatusUnprocessableEntity, formValues(r, "text"), err)
			return
		}
	case "approve":
		if !v.Member.Role.Markets() {
			s.redirect(w, r, back, "error", "Only marketers, admins and owners approve replies.")
			return
		}
		_, err = s.Inbox.Approve(r.Context(), ws, r.PostFormValue("message"), v.Member.ID)
		msg = "Reply approved and sent."
	case "retry":
		_, err = s.Inbox.Retry(r.Context(), ws, r.PostFormValue("message"))
		msg = "Reply sent."
	case "assign":
		who := r.PostFormValue("assignee")
		if who == "me" {
			who = v.Member.ID
		}
		err, msg = s.Inbox.Assign(r.Context(), ws, convID, who), "Assigned."
	case "status":
		err, msg = s.Inbox.SetStatus(r.Context(), ws, convID, r.PostFormValue("status")), "Conversation "+r.PostFormValue("status")+"."
	case "tags":
		err, msg = s.Inbox.SetTags(r.Context(), ws, convID, strings.FieldsFunc(r.PostFormValue("tags"), func(r rune) bool { return r == ',' || r == ' ' })), "Tags saved."
	case "note":
		_, err = s.Inbox.AddNote(r.Context(), ws, convID, v.Member.ID, r.PostFormValue("note"))
		msg = "Note added. Only your team sees it."
	default:
		s.redirect(w, r, back, "error", "Unknown action.")
		return
	}
	var ns *inbox.ErrNotSent
	switch {
	case errors.As(err, &ns):
		s.redirect(w, r, back, "error", "The network did not take the reply: "+ns.Reason+".")
	case err != nil:
		if _, ok := valid.As(err); ok {
			s.renderConversation(w, r, http.StatusUnprocessableEntity, formValues(r, "text", "note", "tags"), err)
			return
		}
		s.fail(w, r, err)
	default:
		s.redirect(w, r, back, "ok", msg)
	}
}

// Inbox settings: approval, the VIP threshold, saved replies and rules.

type inboxSettingsData struct {
	Settings     inbox.Settings
	Currency     string
	VIP          string
	VIPFollowers string
	Templates    []inbox.Template
	Rules        []inbox.Rule
	Members      []team.Member
}

func (s *Web) inboxSettingsPage(w http.ResponseWriter, r *http.Request) {
	s.renderInboxSettings(w, r, nil, nil)
}

func (s *Web) renderInboxSettings(w http.ResponseWriter, r *http.Request, form map[string]string, inErr error) {
	ws := viewerFrom(r).Workspace.ID
	var d inboxSettingsData
	var err error
	if d.Settings, err = s.Inbox.Settings(r.Context(), ws); err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := s.Orders.Settings(r.Context(), ws)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Currency = st.Currency
	if d.Settings.VIPRevenue > 0 {
		d.VIP = strings.TrimSuffix(money.Format(d.Settings.VIPRevenue, st.Currency), " "+st.Currency)
	}
	if d.Settings.VIPFollowers > 0 {
		d.VIPFollowers = strconv.FormatInt(d.Settings.VIPFollowers, 10)
	}
	if d.Templates, err = s.Inbox.Templates(r.Context(), ws); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Rules, err = s.Inbox.Rules(r.Context(), ws); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Members, err = s.Team.Members(r.Context(), ws, "", teamPageSize); err != nil {
		s.fail(w, r, err)
		return
	}
	vw := view{Title: "Inbox settings", Data: d, Form: form}
	if inErr != nil {
		s.badInput(w, r, inErr, "inbox_settings", vw)
		return
	}
	s.render(w, r, http.StatusOK, "inbox_settings", vw)
}

func (s *Web) saveInboxSettings(w http.ResponseWriter, r *http.Request) {
	ws := viewerFrom(r).Workspace.ID
	const back = "/app/inbox/settings"
	var err error
	switch r.PostFormValue("action") {
	case "settings":
		st, serr := s.Orders.Settings(r.Context(), ws)
		if serr != nil {
			s.fail(w, r, serr)
			return
		}
		var vip int64
		if v := strings.TrimSpace(r.PostFormValue("vip_revenue")); v != "" {
			if vip, err = money.Parse(v, st.Currency); err != nil || vip < 0 {
				err = valid.New("vip_revenue", "must be an amount in %s, such as 500", st.Currency)
				break
			}
		}
		var followers int64
		if v := strings.NewReplacer(",", "", " ", "", "_", "").Replace(r.PostFormValue("vip_followers")); v != "" {
			if followers, err = strconv.ParseInt(v, 10, 64); err != nil || followers < 0 {
				err = valid.New("vip_followers", "must be a whole number of followers, such as 10000")
				break
			}
		}
		err = s.Inbox.SaveSettings(r.Context(), ws, inbox.Settings{RequireApproval: r.PostFormValue("require_approval") == "on", VIPRevenue: vip, VIPFollowers: followers})
	case "template":
		_, err = s.Inbox.SaveTemplate(r.Context(), ws, r.PostFormValue("name"), r.PostFormValue("body"))
	case "delete-template":
		err = s.Inbox.DeleteTemplate(r.Context(), ws, r.PostFormValue("id"))
	case "rule":
		_, err = s.Inbox.SaveRule(r.Context(), ws, inbox.Rule{Words: strings.Split(r.PostFormValue("words"), ","), Tag: r.PostFormValue("tag"), AssigneeID: r.PostFormValue("assignee_id")})
	case "delete-rule":
		err = s.Inbox.DeleteRule(r.Context(), ws, r.PostFormValue("id"))
	}
	if _, ok := valid.As(err); ok {
		s.renderInboxSettings(w, r, formValues(r, "vip_revenue", "vip_followers", "name", "body", "words", "tag", "assignee_id"), err)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.redirect(w, r, back, "ok", "Saved.")
}

// Customers.

func (s *Web) customersPage(w http.ResponseWriter, r *http.Request) {
	ws := viewerFrom(r).Workspace.ID
	cs, err := s.Inbox.Customers(r.Context(), ws, 200)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := s.Orders.Settings(r.Context(), ws)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "customers", view{Title: "Customers", Data: map[string]any{"Customers": cs, "Currency": st.Currency}})
}

func (s *Web) customerPage(w http.ResponseWriter, r *http.Request) {
	v := viewerFrom(r)
	c, err := s.Inbox.Customer(r.Context(), v.Workspace.ID, v.Member.ID, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := s.Orders.Settings(r.Context(), v.Workspace.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "customer", view{Title: c.Name + " · Customers", Data: map[string]any{"Customer": c, "Currency": st.Currency}})
}

func (s *Web) linkIdentity(w http.ResponseWriter, r *http.Request) {
	v := viewerFrom(r)
	id := r.PathValue("id")
	network, person, _ := strings.Cut(r.PostFormValue("identity"), ":")
	err := s.Inbox.Link(r.Context(), v.Workspace.ID, id, strings.TrimSpace(network), strings.TrimPrefix(strings.TrimSpace(person), "@"))
	if ve, ok := valid.As(err); ok {
		s.redirect(w, r, "/app/customers/"+id, "error", ve.Error())
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.redirect(w, r, "/app/customers/"+id, "ok", "Identity linked: its conversations, claims and orders are this customer's now.")
}

// duration says a response time the way people do.
func duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min"
	case d < 48*time.Hour:
		return strconv.FormatFloat(d.Hours(), 'f', 1, 64) + " h"
	}
	return strconv.Itoa(int(d.Hours()/24)) + " days"
}

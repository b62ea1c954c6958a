package xtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Direct messages as X documents them (docs.x.com, "Direct Messages"):
// GET /2/dm_events and GET /2/dm_conversations/with/:participant_id/
// dm_events newest first, max_results 1 to 100 (default 100), next_token
// pages, event_types, dm_event.fields and the sender_id expansion; POST
// /2/dm_conversations/with/:participant_id/messages and
// /2/dm_conversations/:dm_conversation_id/messages answering 201 with the
// conversation and event IDs. The dm.read and dm.write scopes are needed
// (403 "Forbidden" without); reads share 300 requests per 15 minutes per
// user, sends 200 per 15 minutes; both answer 429 with x-rate-limit-*
// when spent. One-to-one conversation IDs are "smaller-larger" user IDs.

// DMEvent is a direct message the fake holds.
type DMEvent struct {
	ID, ConversationID, SenderID, Text string
	CreatedAt                          time.Time
}

type dmState struct {
	events    []DMEvent // oldest first
	closed    map[string]bool
	reads     []time.Time
	sends     []time.Time
	Reads     int
	ReadLimit int // requests per 15 minutes (default 300)
	SendLimit int // requests per 15 minutes (default 200)
}

// SetDMLimits sets the 15-minute limits of DM reads and sends (0: X's).
func (f *Server) SetDMLimits(reads, sends int) {
	f.Lock()
	defer f.Unlock()
	f.dm.ReadLimit, f.dm.SendLimit = reads, sends
}

// CloseDMs makes a user refuse direct messages from the brand.
func (f *Server) CloseDMs(userID string) {
	f.Lock()
	defer f.Unlock()
	if f.dm.closed == nil {
		f.dm.closed = map[string]bool{}
	}
	f.dm.closed[userID] = true
}

// DMReads counts the GET requests for direct messages served.
func (f *Server) DMReads() int {
	f.Lock()
	defer f.Unlock()
	return f.dm.Reads
}

// oneToOne is the ID X gives the conversation of two users.
func oneToOne(a, b string) string {
	x, _ := strconv.ParseUint(a, 10, 64)
	y, _ := strconv.ParseUint(b, 10, 64)
	if x > y {
		a, b = b, a
	}
	return a + "-" + b
}

// AddDM adds a direct message from a user (made up if X does not know
// them) to the brand, and returns the event's ID.
func (f *Server) AddDM(t testing.TB, from, text string) string {
	t.Helper()
	f.Lock()
	defer f.Unlock()
	u := f.user(from)
	e := DMEvent{ID: f.nextID(), ConversationID: oneToOne(u.ID, f.Brand.ID), SenderID: u.ID, Text: escaper.Replace(text), CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	f.dm.events = append(f.dm.events, e)
	return e.ID
}

// DMs lists the direct messages the fake holds, oldest first.
func (f *Server) DMs() []DMEvent {
	f.Lock()
	defer f.Unlock()
	return slices.Clone(f.dm.events)
}

// spent keeps the window of a 15-minute limit and reports whether it is
// used up, setting the limit headers. The caller holds f.
func spent(w http.ResponseWriter, times *[]time.Time, limit int) bool {
	now := time.Now()
	keep := (*times)[:0]
	for _, t := range *times {
		if now.Sub(t) < 15*time.Minute {
			keep = append(keep, t)
		}
	}
	*times = keep
	reset := now.Add(15 * time.Minute)
	if len(keep) > 0 {
		reset = keep[0].Add(15 * time.Minute)
	}
	h := w.Header()
	h.Set("x-rate-limit-limit", strconv.Itoa(limit))
	h.Set("x-rate-limit-reset", strconv.FormatInt(reset.Unix(), 10))
	if len(keep) >= limit {
		h.Set("x-rate-limit-remaining", "0")
		return true
	}
	*times = append(*times, now)
	h.Set("x-rate-limit-remaining", strconv.Itoa(limit-len(*times)))
	return false
}

// serveDM answers the direct-message endpoints. The caller holds f.
func (f *Server) serveDM(w http.ResponseWriter, r *http.Request, viewer string, parts []string) {
	scopes := strings.Fields(f.BrandScope)
	if viewer != f.Brand.ID {
		scopes = nil // people's sign-in tokens have no dm scopes
	}
	write := r.Method == http.MethodPost
	need := "dm.read"
	if write {
		need = "dm.write"
	}
	if !slices.Contains(scopes, need) {
		f.json(w, http.StatusForbidden, Fixture("forbidden"))
		return
	}
	if write {
		limit := f.dm.SendLimit
		if limit <= 0 {
			limit = 200
		}
		if spent(w, &f.dm.sends, limit) {
			f.json(w, http.StatusTooManyRequests, Fixture("rate_limited"))
			return
		}
	} else {
		limit := f.dm.ReadLimit
		if limit <= 0 {
			limit = 300
		}
		if spent(w, &f.dm.reads, limit) {
			f.json(w, http.StatusTooManyRequests, Fixture("rate_limited"))
			return
		}
		f.dm.Reads++
	}
	// parts: 2 dm_events | 2 dm_conversations with ID (dm_events|messages) | 2 dm_conversations ID (dm_events|messages)
	switch {
	case !write && len(parts) == 2 && parts[1] == "dm_events":
		f.dmEvents(w, r.URL.Query(), viewer, "")
	case len(parts) == 5 && parts[2] == "with" && parts[4] == "dm_events" && !write:
		f.dmEvents(w, r.URL.Query(), viewer, oneToOne(parts[3], viewer))
	case len(parts) == 4 && parts[3] == "dm_events" && !write:
		f.dmEvents(w, r.URL.Query(), viewer, parts[2])
	case len(parts) == 5 && parts[2] == "with" && parts[4] == "messages" && write:
		if _, ok := f.Users[parts[3]]; !ok {
			f.invalid(w, "participant_id", parts[3], fmt.Sprintf("The `participant_id` path parameter value [%s] is not a known user", parts[3]))
			return
		}
		f.dmSend(w, r, viewer, oneToOne(parts[3], viewer), parts[3])
	case len(parts) == 4 && parts[3] == "messages" && write:
		f.dmSend(w, r, viewer, parts[2], "")
	default:
		f.json(w, http.StatusNotFound, map[string]any{"errors": []any{map[string]any{"message": "Sorry, that page does not exist", "code": 34}}})
	}
}

// dmEvents pages the viewer's events (of one conversation when conv is
// set) newest first. The caller holds f.
func (f *Server) dmEvents(w http.ResponseWriter, q url.Values, viewer, conv string) {
	limit := 100
	if s := q.Get("max_results"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			f.invalid(w, "max_results", s, fmt.Sprintf("The `max_results` query parameter value [%s] is not between 1 and 100", s))
			return
		}
		limit = n
	}
	var until uint64
	if s := q.Get("pagination_token"); s != "" {
		n, err := strconv.ParseUint(strings.TrimPrefix(s, "7140dibdnow9c7btw"), 36, 64)
		if err != nil || !strings.HasPrefix(s, "7140dibdnow9c7btw") {
			f.invalid(w, "pagination_token", s, fmt.Sprintf("The `pagination_token` query parameter value [%s] is not valid", s))
			return
		}
		until = n
	}
	types := strings.Split(q.Get("event_types"), ",")
	var page []DMEvent
	next := ""
	for i := len(f.dm.events) - 1; i >= 0; i-- {
		e := f.dm.events[i]
		id, _ := strconv.ParseUint(e.ID, 10, 64)
		if until != 0 && id >= until || conv != "" && e.ConversationID != conv || q.Get("event_types") != "" && !slices.Contains(types, "MessageCreate") ||
			!strings.Contains("-"+e.ConversationID+"-", "-"+viewer+"-") || time.Since(e.CreatedAt) > 30*24*time.Hour {
			continue
		}
		if len(page) == limit {
			last, _ := strconv.ParseUint(page[len(page)-1].ID, 10, 64)
			next = "7140dibdnow9c7btw" + strconv.FormatUint(last, 36)
			break
		}
		page = append(page, e)
	}
	fields := strings.Split(q.Get("dm_event.fields"), ",")
	data := []map[string]any{}
	var users []map[string]any
	senders := map[string]bool{}
	for _, e := range page {
		m := map[string]any{"id": e.ID, "event_type": "MessageCreate", "text": e.Text}
		for _, fd := range fields {
			switch fd {
			case "sender_id":
				m["sender_id"] = e.SenderID
			case "dm_conversation_id":
				m["dm_conversation_id"] = e.ConversationID
			case "created_at":
				m["created_at"] = e.CreatedAt.Format("2006-01-02T15:04:05.000Z")
			}
		}
		data = append(data, m)
		if slices.Contains(strings.Split(q.Get("expansions"), ","), "sender_id") && !senders[e.SenderID] {
			senders[e.SenderID] = true
			users = append(users, f.userJSON(f.Users[e.SenderID], strings.Split(q.Get("user.fields"), ","), viewer))
		}
	}
	meta := map[string]any{"result_count": len(page)}
	body := map[string]any{"meta": meta}
	if len(page) > 0 {
		body["data"] = data
	}
	if next != "" {
		meta["next_token"] = next
	}
	if len(users) > 0 {
		body["includes"] = map[string]any{"users": users}
	}
	f.json(w, http.StatusOK, body)
}

// dmSend adds the viewer's message to a conversation. The caller holds f.
func (f *Server) dmSend(w http.ResponseWriter, r *http.Request, viewer, conv, to string) {
	var body struct {
		Text *string `json:"text"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Text == nil || *body.Text == "" {
		f.invalid(w, "text", "", "text: is missing but it is required")
		return
	}
	if n := utf8.RuneCountInString(*body.Text); n > 10000 {
		f.invalid(w, "text", "", fmt.Sprintf("text: expected maxLength: 10000, actual: %d", n))
		return
	}
	if to != "" && f.dm.closed[to] {
		f.json(w, http.StatusForbidden, Fixture("dm_not_allowed"))
		return
	}
	e := DMEvent{ID: f.nextID(), ConversationID: conv, SenderID: viewer, Text: escaper.Replace(*body.Text), CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	f.dm.events = append(f.dm.events, e)
	var out map[string]map[string]any
	json.Unmarshal(Fixture("dm_create"), &out)
	out["data"]["dm_conversation_id"], out["data"]["dm_event_id"] = conv, e.ID
	f.json(w, http.StatusCreated, out)
}

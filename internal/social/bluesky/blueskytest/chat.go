package blueskytest

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rivo/uniseg"
)

// The chat service (chat.bsky.convo.*), as the PDS reaches it for an
// account: only with the atproto-proxy header naming it, and only for a
// session allowed direct messages (the main password, or an app password
// made with that permission); the PDS answers any other app password 400
// InvalidToken "Bad token method".

// ChatProxy is the atproto-proxy value that routes a call to the chat.
const ChatProxy = "did:web:api.bsky.chat#bsky_chat"

//go:embed testdata/getLog.json
var getLogJSON []byte

//go:embed testdata/sendMessage.json
var sendMessageJSON []byte

type chatState struct {
	convos  map[string]*convo // by ID
	log     []chatEvent       // revs ascending
	lastRev uint64
	Calls   int
}

type convo struct {
	id       string
	members  [2]string // the brand's DID and the person's
	messages []chatMsg // oldest first
}

type chatMsg struct {
	id, rev, text, sender string
	sentAt                time.Time
}

type chatEvent struct {
	rev string
	raw json.RawMessage
}

// ChatMessage is a message of a conversation, for tests to read.
type ChatMessage struct {
	ID, Text, Sender string
	SentAt           time.Time
}

// nextRev makes a rev: TID-shaped, strictly increasing. The caller holds f.
func (f *Server) nextRev() string {
	v := uint64(time.Now().UnixMicro()) << 10
	if v <= f.chat.lastRev {
		v = f.chat.lastRev + 1
	}
	f.chat.lastRev = v
	const alphabet = "234567abcdefghijklmnopqrstuvwxyz"
	var b [13]byte
	for i := 12; i >= 0; i-- {
		b[i] = alphabet[v&31]
		v >>= 5
	}
	return string(b[:])
}

// convoWith finds or starts the direct conversation between the brand and
// a person. The caller holds f.
func (f *Server) convoWith(did string) *convo {
	if f.chat.convos == nil {
		f.chat.convos = map[string]*convo{}
	}
	for _, c := range f.chat.convos {
		if c.members[1] == did {
			return c
		}
	}
	c := &convo{id: f.nextRev(), members: [2]string{DID, did}}
	f.chat.convos[c.id] = c
	ev, _ := json.Marshal(map[string]any{"$type": "chat.bsky.convo.defs#logBeginConvo", "rev": f.nextRev(), "convoId": c.id})
	f.appendLog(ev)
	return c
}

func (f *Server) appendLog(raw json.RawMessage) {
	var h struct {
		Rev string `json:"rev"`
	}
	json.Unmarshal(raw, &h)
	f.chat.log = append(f.chat.log, chatEvent{rev: h.Rev, raw: raw})
}

// template is the documented getLog fixture's event of the given type.
func logTemplate(typ string) map[string]any {
	var p struct {
		Logs []map[string]any `json:"logs"`
	}
	if err := json.Unmarshal(getLogJSON, &p); err != nil {
		panic(err)
	}
	for _, l := range p.Logs {
		if l["$type"] == typ {
			return l
		}
	}
	panic("no " + typ + " in getLog.json")
}

// chatPost adds a message to a conversation and its logCreateMessage event.
// The caller holds f.
func (f *Server) chatPost(c *convo, sender, text string) chatMsg {
	m := chatMsg{id: f.nextRev(), text: text, sender: sender, sentAt: time.Now().UTC().Truncate(time.Millisecond)}
	m.rev = f.nextRev()
	c.messages = append(c.messages, m)
	ev := logTemplate("chat.bsky.convo.defs#logCreateMessage")
	ev["rev"], ev["convoId"], ev["message"] = m.rev, c.id, f.messageView(m)
	if p, ok := f.actor(sender); ok && sender != DID {
		ev["relatedProfiles"] = []any{map[string]any{"did": p.DID, "handle": p.Handle, "displayName": p.DisplayName, "labels": []any{}}}
	} else {
		delete(ev, "relatedProfiles")
	}
	raw, _ := json.Marshal(ev)
	f.appendLog(raw)
	return m
}

func (f *Server) messageView(m chatMsg) map[string]any {
	var v map[string]any
	json.Unmarshal(sendMessageJSON, &v)
	v["$type"] = "chat.bsky.convo.defs#messageView"
	v["id"], v["rev"], v["text"], v["sentAt"] = m.id, m.rev, m.text, m.sentAt.Format(stamp)
	v["sender"] = map[string]string{"did": m.sender}
	return v
}

// AddDM adds a direct message from fromHandle to the brand (starting
// their conversation the first time) and returns the conversation's ID.
func (f *Server) AddDM(t testing.TB, fromHandle, text string) string {
	t.Helper()
	f.Lock()
	defer f.Unlock()
	p := f.person(fromHandle, "")
	c := f.convoWith(p.DID)
	f.chatPost(c, p.DID, text)
	return c.id
}

// AddLogEvent adds another kind of event to the log (a read, a reaction).
func (f *Server) AddLogEvent(typ, convoID string) {
	f.Lock()
	defer f.Unlock()
	ev, _ := json.Marshal(map[string]any{"$type": typ, "rev": f.nextRev(), "convoId": convoID})
	f.appendLog(ev)
}

// ChatMessages lists a conversation's messages, oldest first.
func (f *Server) ChatMessages(convoID string) []ChatMessage {
	f.Lock()
	defer f.Unlock()
	c := f.chat.convos[convoID]
	if c == nil {
		return nil
	}
	var out []ChatMessage
	for _, m := range c.messages {
		out = append(out, ChatMessage{ID: m.id, Text: m.text, Sender: m.sender, SentAt: m.sentAt})
	}
	return out
}

// ChatCalls counts the calls that reached the chat service.
func (f *Server) ChatCalls() int {
	f.Lock()
	defer f.Unlock()
	return f.chat.Calls
}

// serveChat answers chat.bsky.convo.*, behind the PDS's checks. The caller
// holds f and has checked the access token.
func (f *Server) serveChat(w http.ResponseWriter, r *http.Request, nsid string) {
	if r.Header.Get("atproto-proxy") != ChatProxy {
		// Without the header the PDS sends the call to the AppView, which
		// has no chat.
		f.fail(w, http.StatusNotImplemented, "MethodNotImplemented", "Method Not Implemented")
		return
	}
	if t := f.tokens[bearer(r)]; t == nil || !t.privileged {
		f.fail(w, http.StatusBadRequest, "InvalidToken", "Bad token method")
		return
	}
	f.chat.Calls++
	switch nsid {
	case "chat.bsky.convo.getLog":
		f.getLog(w, r)
	case "chat.bsky.convo.sendMessage":
		f.sendMessage(w, r)
	case "chat.bsky.convo.getMessages":
		f.getMessages(w, r)
	default:
		f.fail(w, http.StatusNotImplemented, "MethodNotImplemented", "Method Not Implemented")
	}
}

// getLog answers the events after the cursor, oldest first, a page at a
// time; without a cursor, no events and the current cursor.
func (f *Server) getLog(w http.ResponseWriter, r *http.Request) {
	cur := r.URL.Query().Get("cursor")
	last := ""
	if n := len(f.chat.log); n > 0 {
		last = f.chat.log[n-1].rev
	}
	if cur == "" {
		f.json(w, map[string]any{"cursor": last, "logs": []any{}})
		return
	}
	page := f.LogPage
	if page <= 0 {
		page = 100
	}
	i := sort.Search(len(f.chat.log), func(i int) bool { return f.chat.log[i].rev > cur })
	logs := []json.RawMessage{}
	next := cur
	for ; i < len(f.chat.log) && len(logs) < page; i++ {
		logs = append(logs, f.chat.log[i].raw)
		next = f.chat.log[i].rev
	}
	f.json(w, map[string]any{"cursor": next, "logs": logs})
}

func (f *Server) sendMessage(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ConvoID string `json:"convoId"`
		Message *struct {
			Text *string `json:"text"`
		} `json:"message"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.ConvoID == "" || in.Message == nil || in.Message.Text == nil {
		f.fail(w, http.StatusBadRequest, "InvalidRequest", `Input must have the properties "convoId" and "message"`)
		return
	}
	c := f.chat.convos[in.ConvoID]
	if c == nil {
		f.fail(w, http.StatusBadRequest, "InvalidConvo", "Convo not found")
		return
	}
	text := *in.Message.Text
	switch {
	case len(text) > 10000:
		f.fail(w, http.StatusBadRequest, "InvalidRequest", "Invalid chat.bsky.convo.defs#messageInput: message/text must not be longer than 10000 characters")
		return
	case uniseg.GraphemeClusterCount(text) > 1000:
		f.fail(w, http.StatusBadRequest, "InvalidRequest", "Invalid chat.bsky.convo.defs#messageInput: message/text must not be longer than 1000 graphemes")
		return
	case strings.TrimSpace(text) == "":
		f.fail(w, http.StatusBadRequest, "InvalidRequest", "Message text cannot be empty")
		return
	}
	m := f.chatPost(c, DID, text)
	f.json(w, f.messageView(m))
}

// getMessages answers a conversation's messages, newest first.
func (f *Server) getMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c := f.chat.convos[q.Get("convoId")]
	if c == nil {
		f.fail(w, http.StatusBadRequest, "InvalidConvo", "Convo not found")
		return
	}
	limit := 50
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			f.fail(w, http.StatusBadRequest, "InvalidRequest", "Error: Params limit must be an integer from 1 to 100")
			return
		}
		limit = n
	}
	out := []any{}
	for i := len(c.messages) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, f.messageView(c.messages[i]))
	}
	f.json(w, map[string]any{"messages": out})
}

package bluesky

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rivo/uniseg"

	"github.com/roost-hq/roost/internal/social"
)

// Direct messages: Bluesky's chat (chat.bsky.convo.*) is its own service,
// reached through the account's PDS with the atproto-proxy header naming
// it. The PDS lets an app password call it only if the password was made
// with "Allow access to your direct messages" ticked; otherwise it answers
// 400 InvalidToken "Bad token method", which Roost reports as Forbidden
// with what to do, and which leaves the account's posting alone.
//
// New messages are read from the chat's event log (chat.bsky.convo.getLog),
// which gives every event after a cursor, oldest first, each with a rev
// that orders them; Roost's cursor is the last rev read, as Bluesky's own
// app keeps it. Without a cursor, getLog answers the current one: "now".

// logStart is a cursor before every rev (revs are TIDs: the lowest one).
const logStart = "2222222222222"

// chatProxy is the chat service, as the PDS is told to reach it.
const chatProxy = "did:web:api.bsky.chat#bsky_chat"

// Chat limits (chat.bsky.convo.defs#messageInput).
const (
	maxChatBytes     = 10000
	maxChatGraphemes = 1000
	maxChatPages     = 20 // one read; the next poll carries on from the cursor
)

// dmRefused is what people are told when the PDS will not let the app
// password near the chat.
const dmRefused = "the app password does not allow direct messages: in Bluesky (Settings → Privacy and security → App passwords) " +
	"create one with \"Allow access to your direct messages\" ticked, and connect the account again with it"

// chatCall is call for the chat service: through the PDS, proxied, with a
// refusal of the app password turned into Forbidden.
func (c *Connector) chatCall(ctx context.Context, s *session, r xrpcReq) (string, error) {
	r.proxy = chatProxy
	name, err := c.call(ctx, s, r)
	if notAllowed(err, name) {
		e := asError(err)
		return name, &social.Error{Network: social.Bluesky, Kind: social.Forbidden, Status: e.Status, Reason: dmRefused + " (" + e.Reason + ")"}
	}
	return name, err
}

// chatMessage is chat.bsky.convo.defs#messageView (or #deletedMessageView,
// which has no text), as far as Roost reads it.
type chatMessage struct {
	Type   string `json:"$type"`
	ID     string `json:"id"`
	Rev    string `json:"rev"`
	Text   string `json:"text"`
	Sender struct {
		DID string `json:"did"`
	} `json:"sender"`
	SentAt string `json:"sentAt"`
}

// chatLog is one event of chat.bsky.convo.getLog: Roost reads
// #logCreateMessage and skips the others (and message deletions: a
// message once received stays in the inbox).
type chatLog struct {
	Type            string      `json:"$type"`
	Rev             string      `json:"rev"`
	ConvoID         string      `json:"convoId"`
	Message         chatMessage `json:"message"`
	RelatedProfiles []profile   `json:"relatedProfiles"`
}

// logPage is chat.bsky.convo.getLog's answer.
type logPage struct {
	Cursor string    `json:"cursor"`
	Logs   []chatLog `json:"logs"`
}

// DirectMessages reads the messages people sent the account in Bluesky's
// chat since the cursor (a rev), oldest first, and returns the last rev
// read as the next cursor. An empty cursor starts from now. Reading stops
// after maxChatPages answers; the next call carries on. A failure returns
// nothing and the same cursor.
func (c *Connector) DirectMessages(ctx context.Context, conn *social.Conn, cur string) ([]social.Message, string, error) {
	s, err := open(conn)
	if err != nil {
		return nil, cur, err
	}
	if cur == "" {
		var p logPage
		if _, err := c.chatCall(ctx, s, xrpcReq{method: http.MethodGet, nsid: "chat.bsky.convo.getLog", out: &p}); err != nil {
			return nil, cur, err
		}
		next := p.Cursor
		for _, l := range p.Logs {
			next = max(next, l.Rev)
		}
		if next == "" {
			// An empty log (no conversation yet): read it from its start
			// next time, or a message sent meanwhile would be skipped.
			next = logStart
		}
		return nil, next, nil
	}
	var all []chatLog
	next := cur
	for range maxChatPages {
		var p logPage
		if _, err := c.chatCall(ctx, s, xrpcReq{method: http.MethodGet, nsid: "chat.bsky.convo.getLog", query: url.Values{"cursor": {next}}, out: &p}); err != nil {
			return nil, cur, err
		}
		last := next
		for _, l := range p.Logs {
			if l.Rev > next {
				all = append(all, l)
				last = max(last, l.Rev)
			}
		}
		if last == next {
			break // nothing newer: caught up
		}
		next = last
	}
	ms := chatMessages(all, s.creds.DID, cur)
	c.addFollowers(ctx, s, ms)
	return ms, next, nil
}

// chatMessages maps chat events after the cursor to messages, in the order
// of their revs, each once; the account's own messages, deleted messages
// and other events are left out.
func chatMessages(logs []chatLog, self, since string) []social.Message {
	var out []social.Message
	seen := map[string]bool{}
	for _, l := range logs {
		m := l.Message
		if l.Type != "chat.bsky.convo.defs#logCreateMessage" || l.Rev <= since || l.ConvoID == "" || m.ID == "" ||
			m.Type != "" && m.Type != "chat.bsky.convo.defs#messageView" || !validDID(m.Sender.DID) || m.Sender.DID == self {
			continue
		}
		key := l.ConvoID + "/" + m.ID
		if seen[key] {
			continue
		}
		seen[key] = true
		handle := ""
		for _, p := range l.RelatedProfiles {
			if p.DID == m.Sender.DID && validHandle(p.Handle) {
				handle = strings.ToLower(p.Handle)
			}
		}
		msg := social.Message{RemoteID: key, Thread: l.ConvoID, Direct: true, Text: m.Text, Author: identity(m.Sender.DID, handle),
			URL: "https://bsky.app/messages/" + url.PathEscape(l.ConvoID)}
		msg.At, _ = time.Parse(time.RFC3339Nano, m.SentAt)
		msg.At = msg.At.UTC()
		out = append(out, msg)
	}
	return out
}

// addFollowers fills in the authors' follower counts (and handles the
// messages did not carry) from their profiles (app.bsky.actor.getProfiles,
// 25 a call). The counts are nice to have: a failure leaves them unknown.
func (c *Connector) addFollowers(ctx context.Context, s *session, ms []social.Message) {
	var dids []string
	seen := map[string]bool{}
	for _, m := range ms {
		if did := m.Author.AccountID; validDID(did) && !seen[did] {
			seen[did] = true
			dids = append(dids, did)
		}
	}
	profiles := map[string]profile{}
	for len(dids) > 0 {
		batch := dids[:min(25, len(dids))]
		dids = dids[len(batch):]
		var out struct {
			Profiles []profile `json:"profiles"`
		}
		if _, err := c.call(ctx, s, xrpcReq{method: http.MethodGet, nsid: "app.bsky.actor.getProfiles", query: url.Values{"actors": batch}, out: &out}); err != nil {
			return
		}
		for _, p := range out.Profiles {
			if seen[p.DID] {
				profiles[p.DID] = p
			}
		}
	}
	for i := range ms {
		p, ok := profiles[ms[i].Author.AccountID]
		if !ok {
			continue
		}
		n := max(p.FollowersCount, 0)
		ms[i].Followers = &n
		if strings.HasPrefix(ms[i].Author.Handle, "did:") && validHandle(p.Handle) {
			ms[i].Author = identity(p.DID, strings.ToLower(p.Handle))
		}
	}
}

// SendDirect sends a message in the chat conversation d.Thread
// (chat.bsky.convo.sendMessage), its links and mentions marked up. The
// chat takes no idempotency key: a retry after an unknown outcome looks
// first with FindDirect.
func (c *Connector) SendDirect(ctx context.Context, conn *social.Conn, d social.Draft) (social.Published, error) {
	switch {
	case d.Thread == "":
		return social.Published{}, rejected("a direct message needs the chat conversation it answers")
	case !utf8.ValidString(d.Text):
		return social.Published{}, rejected("the text is not valid UTF-8")
	case strings.TrimSpace(d.Text) == "":
		return social.Published{}, rejected("the text is empty")
	case len(d.Text) > maxChatBytes:
		return social.Published{}, rejected(fmt.Sprintf("the message is %d bytes long; Bluesky's chat takes %d at most", len(d.Text), maxChatBytes))
	case uniseg.GraphemeClusterCount(d.Text) > maxChatGraphemes:
		return social.Published{}, rejected(fmt.Sprintf("the message is %d graphemes long; Bluesky's chat takes %d at most", uniseg.GraphemeClusterCount(d.Text), maxChatGraphemes))
	}
	s, err := open(conn)
	if err != nil {
		return social.Published{}, err
	}
	fs, err := c.facets(ctx, s, d)
	if err != nil {
		return social.Published{}, err
	}
	body := map[string]any{"convoId": d.Thread, "message": map[string]any{"text": d.Text, "facets": fs}}
	if len(fs) == 0 {
		body["message"] = map[string]any{"text": d.Text}
	}
	var m chatMessage
	if _, err := c.chatCall(ctx, s, xrpcReq{method: http.MethodPost, nsid: "chat.bsky.convo.sendMessage", body: body, out: &m}); err != nil {
		return social.Published{}, err
	}
	if m.ID == "" {
		return social.Published{}, &social.Error{Network: social.Bluesky, Kind: social.Unavailable, Reason: "the chat answered without the message's ID", Sent: true}
	}
	return social.Published{RemoteID: d.Thread + "/" + m.ID, URL: "https://bsky.app/messages/" + url.PathEscape(d.Thread)}, nil
}

// FindDirect looks through the conversation's latest messages
// (chat.bsky.convo.getMessages, newest first) for one the account sent
// with the draft's text since the draft was made.
func (c *Connector) FindDirect(ctx context.Context, conn *social.Conn, d social.Draft) (social.Published, bool, error) {
	if d.Thread == "" {
		return social.Published{}, false, nil
	}
	s, err := open(conn)
	if err != nil {
		return social.Published{}, false, err
	}
	var out struct {
		Messages []json.RawMessage `json:"messages"`
	}
	q := url.Values{"convoId": {d.Thread}, "limit": {"50"}}
	if _, err := c.chatCall(ctx, s, xrpcReq{method: http.MethodGet, nsid: "chat.bsky.convo.getMessages", query: q, out: &out}); err != nil {
		return social.Published{}, false, err
	}
	for _, raw := range out.Messages {
		var m chatMessage
		if json.Unmarshal(raw, &m) != nil || m.Type != "" && m.Type != "chat.bsky.convo.defs#messageView" || m.Sender.DID != s.creds.DID || m.Text != d.Text {
			continue
		}
		if at, err := time.Parse(time.RFC3339Nano, m.SentAt); err == nil && !d.Created.IsZero() && at.Before(d.Created.Add(-time.Minute)) {
			continue // the same words, sent before this draft existed
		}
		return social.Published{RemoteID: d.Thread + "/" + m.ID, URL: "https://bsky.app/messages/" + url.PathEscape(d.Thread)}, true, nil
	}
	return social.Published{}, false, nil
}

package x

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/roost-hq/roost/internal/social"
)

// Direct messages (X API v2, "Direct Messages lookup" and "manage"). They
// need the dm.read and dm.write scopes, which accounts connected before
// Roost asked for them lack: such an account is told to connect again
// (Forbidden) rather than paying for a call X refuses. Reads share a user
// limit of 300 requests per 15 minutes; sends have 200 per 15 minutes and
// 1000 per 24 hours per user.
//
// GET /2/dm_events lists the account's events newest first, 30 days back,
// with no since_id: Roost's cursor is the newest event ID read, and each
// read pages down until it reaches it. X bills each event returned (and
// each user expanded) once per UTC day, so the first page of a read is
// small: most reads find nothing new.

const (
	dmFirstPage = 10  // events on the first page of a read
	dmPageSize  = 100 // on the pages after it (X's most)
	dmMaxPages  = 20  // one read; older events beyond are skipped
	maxDMChars  = 10000
)

// dmEvent is X's DM event object, with the fields Roost asks for.
type dmEvent struct {
	ID               string `json:"id"`
	EventType        string `json:"event_type"`
	Text             string `json:"text"`
	SenderID         string `json:"sender_id"`
	DMConversationID string `json:"dm_conversation_id"`
	CreatedAt        string `json:"created_at"`
}

// dmPage is a page of DM events.
type dmPage struct {
	Data     []dmEvent `json:"data"`
	Includes struct {
		Users []user `json:"users"`
	} `json:"includes"`
	Meta struct {
		ResultCount int    `json:"result_count"`
		NextToken   string `json:"next_token"`
	} `json:"meta"`
}

var dmFields = url.Values{"event_types": {"MessageCreate"}, "dm_event.fields": {"id,event_type,text,sender_id,dm_conversation_id,created_at"},
	"expansions": {"sender_id"}, "user.fields": {"username,public_metrics"}}

// hasScope reports whether stored credentials grant scope; credentials
// that do not say (older ones) are given the benefit of the doubt.
func hasScope(cr Creds, scope string) bool {
	return cr.Scope == "" || slices.Contains(strings.Fields(cr.Scope), scope)
}

func dmForbidden(scope string) error {
	return &social.Error{Network: social.X, Kind: social.Forbidden, Reason: "the account was connected without permission for direct messages (X scope " + scope +
		"): connect it again to read and answer them (the X app needs the \"Read and write and Direct message\" permission)"}
}

// forbidden turns X's 403 on a direct-message call into Forbidden: the
// token lacks a dm scope, or the X app the permission.
func forbidden(err error, scope string) error {
	var e *social.Error
	if errors.As(err, &e) && e.Status == http.StatusForbidden {
		f := dmForbidden(scope).(*social.Error)
		f.Status, f.Reason = e.Status, f.Reason+" ("+e.Reason+")"
		return f
	}
	return err
}

// DirectMessages reads the direct messages people sent the account since
// the cursor (an event ID), oldest first, and returns the newest ID as the
// next cursor. Every page down to the cursor is read before any message
// is returned: a failure part way returns nothing and the same cursor.
// An empty cursor starts from now.
func (c *Connector) DirectMessages(ctx context.Context, conn *social.Conn, cursor string) ([]social.Message, string, error) {
	cr, err := ParseCreds(conn.Creds)
	if err != nil {
		return nil, cursor, err
	}
	if !hasScope(cr, "dm.read") {
		return nil, cursor, dmForbidden("dm.read")
	}
	if conn.RemoteID == "" {
		return nil, cursor, c.client().Errorf("the account has no X user ID: reconnect it")
	}
	if cursor == "" {
		q := url.Values{"max_results": {"1"}, "event_types": {"MessageCreate"}}
		var p dmPage
		if err := c.call(ctx, conn, http.MethodGet, "/2/dm_events?"+q.Encode(), nil, &p); err != nil {
			return nil, "", forbidden(err, "dm.read")
		}
		for _, e := range p.Data {
			cursor = latest(cursor, e.ID)
		}
		if cursor == "" {
			cursor = snowflake(time.Now().Add(-time.Minute))
		}
		return nil, cursor, nil
	}
	if !isID(cursor) {
		return nil, cursor, c.client().Errorf("the direct messages cursor %q is not an X event ID", cursor)
	}
	var all dmPage
	q := url.Values{}
	for k, v := range dmFields {
		q[k] = v
	}
	q.Set("max_results", strconv.Itoa(dmFirstPage))
	for range dmMaxPages {
		var p dmPage
		if err := c.call(ctx, conn, http.MethodGet, "/2/dm_events?"+q.Encode(), nil, &p); err != nil {
			return nil, cursor, forbidden(err, "dm.read")
		}
		all.Data = append(all.Data, p.Data...)
		all.Includes.Users = append(all.Includes.Users, p.Includes.Users...)
		reached := len(p.Data) == 0
		for _, e := range p.Data {
			reached = reached || !idLess(cursor, e.ID)
		}
		if reached || p.Meta.NextToken == "" {
			break
		}
		q.Set("pagination_token", p.Meta.NextToken)
		q.Set("max_results", strconv.Itoa(dmPageSize))
	}
	ms := dmMessages(all, conn.RemoteID, cursor)
	next := cursor
	for _, e := range all.Data {
		next = latest(next, e.ID)
	}
	return ms, next, nil
}

// dmMessages maps DM events newer than since to messages, oldest first,
// each once; the account's own messages and other events (people joining
// or leaving a group) are left out.
func dmMessages(p dmPage, self, since string) []social.Message {
	users := make(map[string]user, len(p.Includes.Users))
	for _, u := range p.Includes.Users {
		users[u.ID] = u
	}
	var out []social.Message
	seen := map[string]bool{}
	for _, e := range p.Data {
		if e.EventType != "MessageCreate" && e.EventType != "" || !isID(e.ID) || seen[e.ID] || !idLess(since, e.ID) ||
			!isID(e.SenderID) || e.SenderID == self || e.DMConversationID == "" {
			continue
		}
		seen[e.ID] = true
		u := users[e.SenderID]
		m := social.Message{RemoteID: e.ID, Thread: e.DMConversationID, Direct: true, Text: html.UnescapeString(e.Text),
			Author: social.Identity{Network: social.X, AccountID: e.SenderID}, Followers: u.followersKnown(),
			URL: "https://x.com/messages/" + url.PathEscape(e.DMConversationID)}
		if u.Username != "" {
			m.Author.Handle = "@" + u.Username
		}
		m.At, _ = time.Parse(time.RFC3339Nano, e.CreatedAt)
		m.At = m.At.UTC()
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b social.Message) int {
		if idLess(a.RemoteID, b.RemoteID) {
			return -1
		}
		return 1
	})
	return out
}

// SendDirect sends a direct message in the conversation it answers: to
// the person (POST /2/dm_conversations/with/:participant_id/messages) in a
// one-to-one conversation, into the group (POST
// /2/dm_conversations/:dm_conversation_id/messages) in a group. X takes no
// idempotency key: a retry after an unknown outcome looks first with
// FindDirect.
func (c *Connector) SendDirect(ctx context.Context, conn *social.Conn, d social.Draft) (social.Published, error) {
	cr, err := ParseCreds(conn.Creds)
	if err != nil {
		return social.Published{}, err
	}
	if !hasScope(cr, "dm.write") {
		return social.Published{}, dmForbidden("dm.write")
	}
	switch n := utf8.RuneCountInString(d.Text); {
	case !utf8.ValidString(d.Text) || strings.TrimSpace(d.Text) == "":
		return social.Published{}, c.client().Errorf("the message is empty or not valid UTF-8")
	case n > maxDMChars:
		return social.Published{}, c.client().Errorf("the message is %d characters long; X takes %d at most", n, maxDMChars)
	}
	path, err := dmPath(conn.RemoteID, d)
	if err != nil {
		return social.Published{}, err
	}
	var out struct {
		Data struct {
			DMConversationID string `json:"dm_conversation_id"`
			DMEventID        string `json:"dm_event_id"`
		} `json:"data"`
	}
	if err := c.call(ctx, conn, http.MethodPost, path+"/messages", map[string]string{"text": d.Text}, &out); err != nil {
		return social.Published{}, err
	}
	if out.Data.DMEventID == "" {
		return social.Published{}, &social.Error{Network: social.X, Kind: social.Unavailable, Status: http.StatusCreated, Reason: "X answered without the message's ID", Sent: true}
	}
	conv := out.Data.DMConversationID
	if conv == "" {
		conv = d.Thread
	}
	return social.Published{RemoteID: out.Data.DMEventID, URL: "https://x.com/messages/" + url.PathEscape(conv)}, nil
}

// dmPath is the conversation a draft goes to: a group's own (its ID is a
// number), or the one-to-one conversation ("smaller-larger" user IDs) with
// the person.
func dmPath(self string, d social.Draft) (string, error) {
	if isID(d.Thread) {
		return "/2/dm_conversations/" + d.Thread, nil
	}
	to := d.To
	if a, b, ok := strings.Cut(d.Thread, "-"); ok && to == "" {
		to = a
		if a == self {
			to = b
		}
	}
	if isID(to) && to != self {
		return "/2/dm_conversations/with/" + to, nil
	}
	return "", &social.Error{Network: social.X, Kind: social.Rejected, Reason: fmt.Sprintf("no X conversation or person to send the message to (%q, %q)", d.Thread, d.To)}
}

// FindDirect reads the conversation's latest events for one the account
// sent with the draft's text since the draft was made (links compared as
// X rewrites them).
func (c *Connector) FindDirect(ctx context.Context, conn *social.Conn, d social.Draft) (social.Published, bool, error) {
	path, err := dmPath(conn.RemoteID, d)
	if err != nil {
		return social.Published{}, false, nil
	}
	q := url.Values{"max_results": {"10"}, "event_types": {"MessageCreate"}, "dm_event.fields": {"id,text,sender_id,dm_conversation_id,created_at"}}
	var p dmPage
	if err := c.call(ctx, conn, http.MethodGet, path+"/dm_events?"+q.Encode(), nil, &p); err != nil {
		return social.Published{}, false, forbidden(err, "dm.read")
	}
	for _, e := range p.Data {
		if e.SenderID != conn.RemoteID || comparable(html.UnescapeString(e.Text)) != comparable(d.Text) {
			continue
		}
		if at, err := time.Parse(time.RFC3339Nano, e.CreatedAt); err == nil && !d.Created.IsZero() && at.Before(d.Created.Add(-time.Minute)) {
			continue
		}
		return social.Published{RemoteID: e.ID, URL: "https://x.com/messages/" + url.PathEscape(e.DMConversationID)}, true, nil
	}
	return social.Published{}, false, nil
}

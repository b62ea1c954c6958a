package bluesky

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/roost-hq/roost/internal/social"
)

// Reading mentions. app.bsky.notification.listNotifications answers
// newest first, and its own cursor pages to older notifications: it has
// no "since". So Roost's cursor is a point in time, and each read pages
// back from the newest notification until it passes that point.
//
// The AppView sorts a post's notification by the earlier of the post's
// own createdAt and the time it indexed it, so a post from a client whose
// clock runs a little behind can land just below a notification already
// read. Each read therefore looks again at the last stretch (overlap)
// before the newest message it delivered, and the cursor names the
// messages delivered in that stretch so they are not delivered twice;
// this also settles notifications with equal times.

// wantReasons are the notifications that are messages to the brand: a
// mention; a reply to one of its posts; and a quote of one, which is a
// post about the brand's post (often a question or a complaint) that
// deserves an answer as much as a reply does. Likes, reposts and follows
// are not messages.
var wantReasons = []string{"mention", "reply", "quote"}

func wanted(reason string) bool {
	for _, r := range wantReasons {
		if r == reason {
			return true
		}
	}
	return false
}

const (
	pageSize = 100              // listNotifications' largest page
	maxPages = 20               // one read (2000 notifications); older ones are skipped
	overlap  = 10 * time.Minute // how far below the cursor each read looks again
	maxSeen  = 100              // messages a cursor names
)

// cursor is where a read of mentions stopped. Notifications older than
// Floor are old news; from Floor on, those named in Seen were delivered
// and the others are new. At is the newest message delivered; Floor is
// normally overlap before it, but higher when more messages came in that
// stretch than a cursor names (maxSeen).
type cursor struct {
	At    time.Time `json:"t"`
	Floor time.Time `json:"f"`
	Seen  []string  `json:"u,omitempty"`
}

func (c cursor) String() string {
	b, _ := json.Marshal(c)
	return string(b)
}

// parseCursor reads a cursor made by String.
func parseCursor(s string) (cursor, bool) {
	var c cursor
	if len(s) == 0 || s[0] != '{' || json.Unmarshal([]byte(s), &c) != nil || len(c.Seen) > maxSeen {
		return cursor{}, false
	}
	return c, true
}

// notification is app.bsky.notification.listNotifications#notification,
// as far as Roost reads it.
type notification struct {
	URI           string  `json:"uri"`
	Author        profile `json:"author"`
	Reason        string  `json:"reason"`
	ReasonSubject string  `json:"reasonSubject"`
	Record        struct {
		Text  string    `json:"text"`
		Reply *replyRef `json:"reply"`
		Embed *struct {
			Record *struct {
				URI    string `json:"uri"`
				Record *struct {
					URI string `json:"uri"`
				} `json:"record"` // app.bsky.embed.recordWithMedia nests the quoted record once more
			} `json:"record"`
		} `json:"embed"`
	} `json:"record"`
	IndexedAt string `json:"indexedAt"`
}

// Mentions returns the mentions, replies and quotes that came after the
// cursor, oldest first, and the cursor for next time. An empty cursor
// starts from now: no messages, and a cursor at the newest notification.
// A cursor Roost cannot read (damaged, or from another version) also
// starts from now.
//
// One call reads at most maxPages pages (2000 notifications); if more came
// since the last read, the oldest of them are skipped.
func (c *Connector) Mentions(ctx context.Context, conn *social.Conn, cur string) ([]social.Message, string, error) {
	s, err := open(conn)
	if err != nil {
		return nil, cur, err
	}
	since, ok := parseCursor(cur)
	if !ok {
		// Start from now: the newest page decides where "now" is.
		_, next, err := c.readMentions(ctx, s, cursor{}, 1)
		if err != nil {
			return nil, cur, err
		}
		return nil, next.String(), nil
	}
	msgs, next, err := c.readMentions(ctx, s, since, maxPages)
	if err != nil {
		return nil, cur, err
	}
	// Notifications carry the author's profile without its follower
	// count: it is asked for the authors (25 a call).
	c.addFollowers(ctx, s, msgs)
	return msgs, next.String(), nil
}

type dated struct {
	n  notification
	at time.Time
}

// readMentions pages back from the newest notification until one is
// older than the cursor's floor, or pages run out, and returns the new
// messages oldest first with the cursor that follows them.
func (c *Connector) readMentions(ctx context.Context, s *session, since cursor, pages int) ([]social.Message, cursor, error) {
	seen := map[string]bool{}
	for _, u := range since.Seen {
		seen[u] = true
	}
	var read, fresh []dated
	got := map[string]bool{}
	page := ""
	for i := 0; i < pages; i++ {
		var out struct {
			Cursor        string         `json:"cursor"`
			Notifications []notification `json:"notifications"`
		}
		q := url.Values{"limit": {strconv.Itoa(pageSize)}, "reasons": wantReasons}
		if page != "" {
			q.Set("cursor", page)
		}
		if _, err := c.call(ctx, s, xrpcReq{method: http.MethodGet, nsid: "app.bsky.notification.listNotifications", query: q, out: &out}); err != nil {
			return nil, since, err
		}
		done := len(out.Notifications) == 0 || out.Cursor == "" || out.Cursor == page
		for _, n := range out.Notifications {
			at, err := time.Parse(time.RFC3339Nano, n.IndexedAt)
			if err != nil {
				continue // no time, no place in the order
			}
			if at.Before(since.Floor) {
				done = true
				break
			}
			// A server that ignores reasons sends likes and follows too.
			if !wanted(n.Reason) || n.URI == "" || got[n.URI] {
				continue
			}
			got[n.URI] = true
			read = append(read, dated{n, at})
			if !seen[n.URI] {
				fresh = append(fresh, dated{n, at})
			}
		}
		if done {
			break
		}
		page = out.Cursor
	}
	sort.SliceStable(fresh, func(i, j int) bool {
		if !fresh[i].at.Equal(fresh[j].at) {
			return fresh[i].at.Before(fresh[j].at)
		}
		return fresh[i].n.URI < fresh[j].n.URI
	})
	msgs := make([]social.Message, 0, len(fresh))
	for _, d := range fresh {
		msgs = append(msgs, message(d.n, d.at))
	}
	return msgs, nextCursor(since, read), nil
}

// nextCursor follows since, after reading the messages read (delivered
// now or before): at the newest, naming those in the overlap before it.
func nextCursor(since cursor, read []dated) cursor {
	next := cursor{At: since.At}
	for _, d := range read {
		if d.at.After(next.At) {
			next.At = d.at
		}
	}
	next.Floor = next.At.Add(-overlap)
	if next.Floor.Before(since.Floor) {
		next.Floor = since.Floor // what was old news stays so
	}
	sort.SliceStable(read, func(i, j int) bool { return read[i].at.After(read[j].at) })
	var keep []dated
	for i, d := range read {
		if d.at.Before(next.Floor) {
			break
		}
		if i == maxSeen {
			// Too many to name: this one's time and older become old news.
			next.Floor = d.at.Add(time.Nanosecond)
			for len(keep) > 0 && !keep[len(keep)-1].at.After(d.at) {
				keep = keep[:len(keep)-1]
			}
			break
		}
		keep = append(keep, d)
	}
	for _, d := range keep {
		next.Seen = append(next.Seen, d.n.URI)
	}
	sort.Strings(next.Seen) // the same messages make the same cursor
	return next
}

// message is a notification as Roost's inbox keeps it. A reply names the
// post it answers and its thread's root; a quote names the post it quotes
// and starts its own thread.
func message(n notification, at time.Time) social.Message {
	_, rkey, _ := parseAtURI(n.URI)
	m := social.Message{RemoteID: n.URI, Text: n.Record.Text, At: at, Author: identity(n.Author.DID, n.Author.Handle),
		URL: webURL(n.Author.Handle, n.Author.DID, rkey)}
	if r := n.Record.Reply; r != nil {
		m.ReplyTo, m.Thread = r.Parent.URI, r.Root.URI
	}
	if n.Reason == "quote" && m.ReplyTo == "" {
		m.ReplyTo, m.Thread = n.ReasonSubject, n.URI
		if e := n.Record.Embed; m.ReplyTo == "" && e != nil && e.Record != nil {
			m.ReplyTo = e.Record.URI
			if e.Record.Record != nil && e.Record.Record.URI != "" {
				m.ReplyTo = e.Record.Record.URI
			}
		}
	}
	return m
}

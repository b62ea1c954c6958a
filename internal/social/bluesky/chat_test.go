package bluesky_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/bluesky"
	"github.com/roost-hq/roost/internal/social/bluesky/blueskytest"
)

var _ social.Messenger = (*bluesky.Connector)(nil)

// TestDirectMessages: the chat's log is read from a cursor that starts at
// now, page after page, each message once, the account's own left out;
// a reply goes into the conversation; the authors' follower counts come
// from their profiles.
func TestDirectMessages(t *testing.T) {
	t.Parallel()
	f := blueskytest.New(t)
	f.AppPasswordDMs = true
	f.LogPage = 40
	c := &bluesky.Connector{}
	conn := login(t, f, c)
	// An empty log: the cursor is its start, so nothing sent next is lost.
	_, start, err := c.DirectMessages(ctx, conn, "")
	if err != nil || start == "" {
		t.Fatalf("empty log: %q %v", start, err)
	}
	f.AddDM(t, "early.bsky.social", "before Roost connected")
	if ms, _, err := c.DirectMessages(ctx, conn, start); err != nil || len(ms) != 1 {
		t.Fatalf("from the start of the log: %+v %v", ms, err)
	}
	ms, cur, err := c.DirectMessages(ctx, conn, "")
	if err != nil || len(ms) != 0 || cur == "" {
		t.Fatalf("first read = %v %q %v", ms, cur, err)
	}
	f.SetFollowers("zsc.bsky.social", 48213)
	convo := f.AddDM(t, "zsc.bsky.social", "is the XPS deal still on? ROOST-7KQ4MX 🙏")
	f.AddLogEvent("chat.bsky.convo.defs#logReadMessage", convo)
	for i := range 120 {
		f.AddDM(t, "fan"+strconv.Itoa(i%30)+".bsky.social", "message "+strconv.Itoa(i))
	}
	ms, next, err := c.DirectMessages(ctx, conn, cur)
	if err != nil || len(ms) != 121 || next <= cur {
		t.Fatalf("read %d messages (%v), cursor %q after %q", len(ms), err, next, cur)
	}
	m := ms[0]
	if !m.Direct || m.Thread != convo || m.Author.AccountID != blueskytest.DIDOf("zsc.bsky.social") || m.Author.Handle != "@zsc.bsky.social" ||
		m.Text != "is the XPS deal still on? ROOST-7KQ4MX 🙏" || !strings.HasPrefix(m.RemoteID, convo+"/") || time.Since(m.At) > time.Minute ||
		m.Followers == nil || *m.Followers != 48213 || m.URL != "https://bsky.app/messages/"+convo {
		t.Fatalf("first message: %+v", m)
	}
	seen := map[string]bool{}
	for i, m := range ms {
		if seen[m.RemoteID] || i > 0 && ms[i].At.Before(ms[i-1].At) {
			t.Fatalf("message %d (%s) twice or out of order", i, m.RemoteID)
		}
		seen[m.RemoteID] = true
	}
	if again, same, err := c.DirectMessages(ctx, conn, next); err != nil || len(again) != 0 || same != next {
		t.Fatalf("read again: %d, %q, %v", len(again), same, err)
	}

	// The reply lands in the conversation, and is not read back as a
	// message to the account.
	pub, err := c.SendDirect(ctx, conn, social.Draft{Key: "msg_1", Text: "Yes, until Friday: https://go.example/abc ^LB", Thread: convo, To: m.Author.AccountID, Direct: true,
		Created: time.Now()})
	if err != nil || !strings.HasPrefix(pub.RemoteID, convo+"/") {
		t.Fatalf("SendDirect = %+v, %v", pub, err)
	}
	cm := f.ChatMessages(convo)
	if last := cm[len(cm)-1]; last.Sender != blueskytest.DID || last.Text != "Yes, until Friday: https://go.example/abc ^LB" {
		t.Fatalf("the conversation has %+v", last)
	}
	if ms, _, _ := c.DirectMessages(ctx, conn, next); len(ms) != 0 {
		t.Fatalf("the account's own message read back: %+v", ms)
	}
	found, ok, err := c.FindDirect(ctx, conn, social.Draft{Text: "Yes, until Friday: https://go.example/abc ^LB", Thread: convo, Created: time.Now()})
	if err != nil || !ok || found.RemoteID != pub.RemoteID {
		t.Fatalf("FindDirect = %+v %v %v", found, ok, err)
	}
	if _, ok, _ := c.FindDirect(ctx, conn, social.Draft{Text: "never sent", Thread: convo}); ok {
		t.Fatal("found a message never sent")
	}

	// Refusals: no such conversation, too long.
	e := wantKind(t, func() error {
		_, err := c.SendDirect(ctx, conn, social.Draft{Text: "hi", Thread: "3nosuchconvo2c"})
		return err
	}(), social.Rejected)
	if e.Status != 400 || !strings.Contains(e.Reason, "InvalidConvo") {
		t.Fatalf("unknown conversation: %+v", e)
	}
	wantKind(t, func() error {
		_, err := c.SendDirect(ctx, conn, social.Draft{Text: strings.Repeat("é", 1001), Thread: convo})
		return err
	}(), social.Rejected)

	// An access token past its time (400 ExpiredToken): the session is
	// refreshed once and the read goes on.
	f.ExpireAccess()
	f.Lock()
	refreshes := f.RefreshCalls
	f.Unlock()
	if _, _, err := c.DirectMessages(ctx, conn, next); err != nil || !conn.Changed {
		t.Fatalf("after ExpiredToken: %v (credentials renewed: %v)", err, conn.Changed)
	}
	f.Lock()
	if f.RefreshCalls != refreshes+1 {
		t.Errorf("%d refreshes", f.RefreshCalls-refreshes)
	}
	f.Unlock()

	// A rate limit: nothing read, the same cursor, when it resets.
	f.AddDM(t, "zsc.bsky.social", "still there?")
	f.Lock()
	f.RateLimitedUntil = time.Now().Add(time.Minute).Truncate(time.Second)
	until := f.RateLimitedUntil
	f.Unlock()
	ms, same, err := c.DirectMessages(ctx, conn, next)
	if e := wantKind(t, err, social.RateLimited); len(ms) != 0 || same != next || !e.RetryAt.Equal(until) {
		t.Fatalf("rate limited: %v %q %+v", ms, same, e)
	}
	f.Lock()
	f.RateLimitedUntil = time.Time{}
	f.Unlock()
	if ms, _, err := c.DirectMessages(ctx, conn, next); err != nil || len(ms) != 1 || ms[0].Text != "still there?" {
		t.Fatalf("after the rate limit: %+v %v", ms, err)
	}
}

// TestDirectMessagesNotAllowed: an app password made without access to
// direct messages is refused by the PDS (400 InvalidToken "Bad token
// method"): Roost says what to do, does not take it for a lapsed session
// (no refresh, no new sign-in), and posting still works.
func TestDirectMessagesNotAllowed(t *testing.T) {
	t.Parallel()
	f := blueskytest.New(t) // app passwords without direct messages, Bluesky's default
	c := &bluesky.Connector{}
	conn := login(t, f, c)
	f.Lock()
	sessions, refreshes := f.SessionCalls, f.RefreshCalls
	f.Unlock()
	_, cur, err := c.DirectMessages(ctx, conn, "")
	e := wantKind(t, err, social.Forbidden)
	if cur != "" || !strings.Contains(e.Reason, "Allow access to your direct messages") || !strings.Contains(e.Reason, "Bad token method") {
		t.Fatalf("refusal: %q %+v", cur, e)
	}
	wantKind(t, func() error {
		_, err := c.SendDirect(ctx, conn, social.Draft{Text: "hi", Thread: "3lbn4lz4kwp2c"})
		return err
	}(), social.Forbidden)
	chats := f.ChatCalls()
	f.Lock()
	if f.SessionCalls != sessions || f.RefreshCalls != refreshes || chats != 0 {
		t.Errorf("a refusal of the app password renewed the session (%d sign-ins, %d refreshes, %d chat calls)", f.SessionCalls-sessions, f.RefreshCalls-refreshes, chats)
	}
	f.Unlock()
	if _, err := c.Publish(ctx, conn, draft("cpy_dm", "Posting still works")); err != nil {
		t.Fatal(err)
	}
}

// TestMentionFollowers: a mention's author's follower count comes from
// their profile, asked for 25 authors at a time.
func TestMentionFollowers(t *testing.T) {
	t.Parallel()
	f := blueskytest.New(t)
	c := &bluesky.Connector{}
	conn := login(t, f, c)
	_, cur, err := c.Mentions(ctx, conn, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		h := "fan" + strconv.Itoa(i) + ".bsky.social"
		f.SetFollowers(h, int64(i*100))
		f.AddMention(t, h, "@outlet.test hi")
	}
	ms, _, err := c.Mentions(ctx, conn, cur)
	if err != nil || len(ms) != 30 {
		t.Fatalf("%d mentions, %v", len(ms), err)
	}
	for _, m := range ms {
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(m.Author.Handle, "@fan"), ".bsky.social"))
		if m.Followers == nil || *m.Followers != int64(n*100) {
			t.Fatalf("%s followers %v", m.Author.Handle, m.Followers)
		}
	}
}

package x_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/x"
	"github.com/roost-hq/roost/internal/social/x/xtest"
)

var _ social.Messenger = (*x.Connector)(nil)

var ctx = context.Background()

// TestDirectMessages: direct messages are read from a cursor that starts
// at now, down every page to it, each once, the account's own left out,
// with the senders' follower counts; a reply goes into the conversation;
// a failure part way reads nothing.
func TestDirectMessages(t *testing.T) {
	t.Parallel()
	f := xtest.New(t)
	c := connector(f)
	cn := conn(f, later())

	ms, cur, err := c.DirectMessages(ctx, cn, "")
	if err != nil || len(ms) != 0 || cur == "" {
		t.Fatalf("first read = %v %q %v", ms, cur, err)
	}
	first := f.AddDM(t, "zsc", "Hi! Is the XPS deal still on? & ROOST-7KQ4MX")
	for i := range 149 {
		f.AddDM(t, "fan"+strconv.Itoa(i%20), "message "+strconv.Itoa(i))
	}
	reads := f.DMReads()
	ms, next, err := c.DirectMessages(ctx, cn, cur)
	if err != nil || len(ms) != 150 || next != ms[len(ms)-1].RemoteID {
		t.Fatalf("read %d (%v), next %q", len(ms), err, next)
	}
	if pages := f.DMReads() - reads; pages != 3 { // 10, then 100, then the rest
		t.Errorf("read in %d pages, want 3", pages)
	}
	m := ms[0]
	if m.RemoteID != first || !m.Direct || m.Author.Handle != "@zsc" || m.Text != "Hi! Is the XPS deal still on? & ROOST-7KQ4MX" ||
		!strings.HasSuffix(m.Thread, "-"+f.Brand.ID) && !strings.HasPrefix(m.Thread, f.Brand.ID+"-") || m.URL != "https://x.com/messages/"+m.Thread ||
		m.Followers == nil || time.Since(m.At) > time.Minute {
		t.Fatalf("first message: %+v", m)
	}
	for i := 1; i < len(ms); i++ {
		if ms[i].RemoteID == ms[i-1].RemoteID || len(ms[i].RemoteID) == len(ms[i-1].RemoteID) && ms[i].RemoteID < ms[i-1].RemoteID {
			t.Fatalf("message %d out of order", i)
		}
	}
	reads = f.DMReads()
	if again, same, err := c.DirectMessages(ctx, cn, next); err != nil || len(again) != 0 || same != next {
		t.Fatalf("read again = %d %q %v", len(again), same, err)
	}
	if pages := f.DMReads() - reads; pages != 1 {
		t.Errorf("nothing new took %d pages", pages)
	}

	// A reply in the conversation, to the person.
	pub, err := c.SendDirect(ctx, cn, social.Draft{Text: "It is, until Friday: https://go.example/abc ^LB", Thread: m.Thread, To: m.Author.AccountID, Direct: true, Created: time.Now()})
	if err != nil || pub.RemoteID == "" || pub.URL != "https://x.com/messages/"+m.Thread {
		t.Fatalf("SendDirect = %+v, %v", pub, err)
	}
	dms := f.DMs()
	if last := dms[len(dms)-1]; last.SenderID != f.Brand.ID || last.ConversationID != m.Thread || last.ID != pub.RemoteID {
		t.Fatalf("the conversation has %+v", last)
	}
	if ms, _, _ := c.DirectMessages(ctx, cn, next); len(ms) != 0 {
		t.Fatalf("the account's own message read back: %+v", ms)
	}
	found, ok, err := c.FindDirect(ctx, cn, social.Draft{Text: "It is, until Friday: https://go.example/abc ^LB", Thread: m.Thread, To: m.Author.AccountID, Created: time.Now()})
	if err != nil || !ok || found.RemoteID != pub.RemoteID {
		t.Fatalf("FindDirect = %+v %v %v", found, ok, err)
	}
	if _, ok, _ := c.FindDirect(ctx, cn, social.Draft{Text: "never sent", Thread: m.Thread}); ok {
		t.Fatal("found a message never sent")
	}
	// Without To, the one-to-one conversation names the person.
	if _, err := c.SendDirect(ctx, cn, social.Draft{Text: "One more thing", Thread: m.Thread}); err != nil {
		t.Fatal(err)
	}
	// In a group, the reply goes to the group.
	if pub, err := c.SendDirect(ctx, cn, social.Draft{Text: "Hello all", Thread: "1578398451921985538", To: m.Author.AccountID}); err != nil ||
		pub.URL != "https://x.com/messages/1578398451921985538" {
		t.Fatalf("group: %+v %v", pub, err)
	}
	if dms := f.DMs(); dms[len(dms)-1].ConversationID != "1578398451921985538" {
		t.Fatalf("the group message went to %+v", dms[len(dms)-1])
	}

	// The person does not take direct messages from the brand.
	f.CloseDMs(m.Author.AccountID)
	e := wantKind(t, func() error {
		_, err := c.SendDirect(ctx, cn, social.Draft{Text: "hello?", Thread: m.Thread, To: m.Author.AccountID})
		return err
	}(), social.Rejected)
	if e.Status != 403 || !strings.Contains(e.Reason, "cannot send messages") {
		t.Fatalf("closed DMs: %+v", e)
	}

	// An access token X refuses (401): renewed once, and the read goes on.
	f.Lock()
	f.Expired = true
	f.Unlock()
	cn2 := conn(f, later())
	if _, _, err := c.DirectMessages(ctx, cn2, next); err != nil || !cn2.Changed {
		t.Fatalf("after a 401: %v (credentials renewed: %v)", err, cn2.Changed)
	}
	cn = cn2

	// A rate limit part way: nothing, the same cursor, when it resets.
	for i := range 30 {
		f.AddDM(t, "fan1", "more "+strconv.Itoa(i))
	}
	f.SetDMLimits(1, 0)
	ms, same, err := c.DirectMessages(ctx, cn, next)
	if e := wantKind(t, err, social.RateLimited); len(ms) != 0 || same != next || time.Until(e.RetryAt) < 10*time.Minute {
		t.Fatalf("rate limited = %d %q %+v", len(ms), same, e)
	}
}

// TestDirectMessagesScopes: an account connected before Roost asked for
// the dm scopes is told to connect again, without a paid call; one whose
// token X refuses for them (403) is told the same.
func TestDirectMessagesScopes(t *testing.T) {
	t.Parallel()
	f := xtest.New(t)
	c := connector(f)
	f.Lock()
	f.BrandScope = "tweet.read tweet.write users.read follows.read offline.access"
	f.Unlock()
	cn := conn(f, later())
	_, _, err := c.DirectMessages(ctx, cn, "1869532999876157445")
	if e := wantKind(t, err, social.Forbidden); !strings.Contains(e.Reason, "dm.read") || f.DMReads() != 0 {
		t.Fatalf("without dm.read: %+v (%d reads)", e, f.DMReads())
	}
	wantKind(t, func() error { _, err := c.SendDirect(ctx, cn, social.Draft{Text: "hi", To: "17001"}); return err }(), social.Forbidden)
	// Credentials that do not say their scope: X answers 403.
	cn.Creds = []byte(`{"access_token":"` + f.AccessToken + `","refresh_token":"` + f.RefreshToken + `","expires_at":"` + later().UTC().Format(time.RFC3339) + `"}`)
	_, _, err = c.DirectMessages(ctx, cn, "1869532999876157445")
	if e := wantKind(t, err, social.Forbidden); e.Status != 403 || !strings.Contains(e.Reason, "connect it again") {
		t.Fatalf("403: %+v", e)
	}
	if !strings.Contains(x.Scopes, "dm.read") || !strings.Contains(x.Scopes, "dm.write") {
		t.Errorf("Roost does not ask for the dm scopes: %q", x.Scopes)
	}
}

// TestMentionFollowersAndDeletedReply: a mention's author comes with
// their follower count; a reply to a post deleted since is refused with
// X's reason.
func TestMentionFollowersAndDeletedReply(t *testing.T) {
	t.Parallel()
	f := xtest.New(t)
	c := connector(f)
	cn := conn(f, later())
	_, cur, _ := c.Mentions(ctx, cn, "")
	id := f.AddMention(t, "ann", "@outlet deal?")
	f.Lock()
	f.FollowerCounts["17001"] = 250000
	f.Unlock()
	ms, _, err := c.Mentions(ctx, cn, cur)
	if err != nil || len(ms) != 1 || ms[0].Followers == nil || *ms[0].Followers != 250000 {
		t.Fatalf("mention: %+v %v", ms, err)
	}
	f.Delete(id)
	e := wantKind(t, func() error {
		_, err := c.Publish(ctx, cn, social.Draft{Text: "Yes! ^LB", ReplyTo: id})
		return err
	}(), social.Rejected)
	if e.Status != 403 || !strings.Contains(e.Reason, "deleted or not visible") {
		t.Fatalf("reply to a deleted post: %+v", e)
	}
}

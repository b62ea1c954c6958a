package bluesky_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/bluesky"
	"github.com/roost-hq/roost/internal/social/bluesky/blueskytest"
)

var ctx = context.Background()

// login connects the fake's brand account as the dashboard would.
func login(t *testing.T, f *blueskytest.Server, c *bluesky.Connector) *social.Conn {
	t.Helper()
	creds, p, err := c.Login(ctx, f.URL, "@"+blueskytest.Handle, blueskytest.AppPassword)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	return &social.Conn{Account: social.Account{Network: social.Bluesky, Instance: f.URL, RemoteID: p.RemoteID, Handle: p.Handle}, Creds: creds}
}

func creds(t *testing.T, conn *social.Conn) bluesky.Creds {
	t.Helper()
	var cr bluesky.Creds
	if err := json.Unmarshal(conn.Creds, &cr); err != nil {
		t.Fatal(err)
	}
	return cr
}

func wantKind(t *testing.T, err error, k social.Kind) *social.Error {
	t.Helper()
	var e *social.Error
	if !errors.As(err, &e) || e.Kind != k {
		t.Fatalf("err = %v, want kind %s", err, k)
	}
	return e
}

func draft(key, text string) social.Draft {
	return social.Draft{Key: key, Text: text, Created: time.Now().Add(-time.Hour).Truncate(time.Microsecond)}
}

func TestLoginAndVerify(t *testing.T) {
	t.Parallel()
	f := blueskytest.New(t)
	c := &bluesky.Connector{}
	creds, p, err := c.Login(ctx, f.URL+"/", blueskytest.Handle, blueskytest.AppPassword)
	if err != nil || p.RemoteID != blueskytest.DID || p.Handle != blueskytest.Handle || p.DisplayName != "Outlet" || p.Followers != 1234 || p.CharLimit != 0 {
		t.Fatalf("Login = %+v, %v", p, err)
	}
	var cr bluesky.Creds
	json.Unmarshal(creds, &cr)
	if cr.DID != blueskytest.DID || cr.Handle != blueskytest.Handle || cr.PDS != f.URL || cr.AccessJWT == "" || cr.RefreshJWT == "" ||
		cr.Identifier != blueskytest.Handle || cr.AppPassword != blueskytest.AppPassword {
		t.Fatalf("creds = %+v", cr)
	}
	conn := &social.Conn{Account: social.Account{Network: social.Bluesky, Instance: f.URL, RemoteID: p.RemoteID, Handle: p.Handle}, Creds: creds}
	if p2, err := c.Verify(ctx, conn); err != nil || p2 != p || conn.Changed {
		t.Fatalf("Verify = %+v, %v (changed %v)", p2, err, conn.Changed)
	}
	if c.Network() != social.Bluesky {
		t.Fatal(c.Network())
	}

	e := wantKind(t, func() error { _, _, err := c.Login(ctx, f.URL, blueskytest.Handle, "wrong"); return err }(), social.Unauthorized)
	if e.Status != 401 || !strings.Contains(e.Reason, "Invalid identifier or password") {
		t.Fatalf("wrong password: %+v", e)
	}
	// The main password is refused.
	e = wantKind(t, func() error {
		_, _, err := c.Login(ctx, f.URL, blueskytest.Email, blueskytest.MainPassword)
		return err
	}(), social.Rejected)
	if !strings.Contains(e.Reason, "app password") {
		t.Fatalf("main password: %+v", e)
	}
	wantKind(t, func() error { _, _, err := c.Login(ctx, "ftp://bsky.social", blueskytest.Handle, "x"); return err }(), social.Rejected)
	wantKind(t, func() error { _, _, err := c.Login(ctx, f.URL, " ", "x"); return err }(), social.Rejected)
	wantKind(t, func() error { _, err := c.Verify(ctx, &social.Conn{Account: conn.Account}); return err }(), social.Unauthorized)

	for in, want := range map[string]string{"": bluesky.DefaultService, "bsky.social": "https://bsky.social", "https://pds.example.com/": "https://pds.example.com",
		"http://localhost:2583": "http://localhost:2583"} {
		if got, err := bluesky.ServiceURL(in); err != nil || got != want {
			t.Errorf("ServiceURL(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"https://bsky.social/xrpc", "https://u:p@bsky.social", "mailto:x@y"} {
		if _, err := bluesky.ServiceURL(bad); err == nil {
			t.Errorf("ServiceURL(%q) accepted", bad)
		}
	}
}

func TestPublishFacetsAndReplies(t *testing.T) {
	t.Parallel()
	f := blueskytest.New(t)
	c := &bluesky.Connector{}
	conn := login(t, f, c)
	alice := f.AddPerson("alice.bsky.social", "Alice")

	text := "🎉 Cafe\u0301 Zürich · 日本語セール (@alice.bsky.social, @nobody.example) https://go.example/abc #XPS15 ^LB"
	d := draft("cpy_1", text)
	d.LinkURL = "https://go.example/abc"
	pub, err := c.Publish(ctx, conn, d)
	rkey := bluesky.RecordKey(d)
	if err != nil || pub.RemoteID != "at://"+blueskytest.DID+"/app.bsky.feed.post/"+rkey || pub.URL != "https://bsky.app/profile/outlet.test/post/"+rkey {
		t.Fatalf("Publish = %+v, %v", pub, err)
	}
	f.Lock()
	p := f.Posts[rkey]
	f.Unlock()
	if p.Text != text {
		t.Fatalf("posted %q", p.Text)
	}
	var rec struct {
		CreatedAt string `json:"createdAt"`
	}
	json.Unmarshal(p.Record, &rec)
	if at, err := time.Parse(time.RFC3339, rec.CreatedAt); err != nil || time.Since(at) > time.Minute {
		t.Fatalf("createdAt %q is not the time of posting", rec.CreatedAt)
	}
	want := []blueskytest.Facet{
		{Type: "mention", DID: alice},
		{Type: "link", URI: "https://go.example/abc"},
		{Type: "tag", Tag: "XPS15"},
	}
	marks := []string{"@alice.bsky.social", "https://go.example/abc", "#XPS15"}
	if len(p.Facets) != len(want) {
		t.Fatalf("facets %+v", p.Facets)
	}
	for i, fc := range p.Facets {
		w := want[i]
		if fc.Type != w.Type || fc.URI != w.URI || fc.DID != w.DID || fc.Tag != w.Tag || text[fc.ByteStart:fc.ByteEnd] != marks[i] {
			t.Fatalf("facet %d = %+v marks %q", i, fc, text[fc.ByteStart:fc.ByteEnd])
		}
	}
	if p.Facets[1].ByteStart != strings.Index(text, "https://") || p.Facets[1].ByteStart == len([]rune(text[:p.Facets[1].ByteStart])) {
		t.Fatal("the link's offset is not in bytes")
	}

	// A reply to a reply: the root is the thread's first post.
	r1 := f.AddReply(t, "mika.bsky.social", "when does it end?", pub.RemoteID)
	rp, err := c.Publish(ctx, conn, social.Draft{Key: "cpy_2", Text: "Friday ^LB", ReplyTo: r1, Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	_, rk, _ := strings.Cut(strings.TrimPrefix(rp.RemoteID, "at://"+blueskytest.DID+"/"), "/")
	f.Lock()
	reply := f.Posts[rk]
	f.Unlock()
	if reply.ReplyRoot != pub.RemoteID || reply.ReplyParent != r1 {
		t.Fatalf("reply root %q parent %q", reply.ReplyRoot, reply.ReplyParent)
	}
	// A reply to a mention that starts a thread.
	m := f.AddMention(t, "zsc.bsky.social", "@outlet.test do you ship to Zürich?")
	rp, err = c.Publish(ctx, conn, social.Draft{Key: "cpy_3", Text: "We do ^LB", ReplyTo: m})
	if err != nil {
		t.Fatal(err)
	}
	_, rk, _ = strings.Cut(strings.TrimPrefix(rp.RemoteID, "at://"+blueskytest.DID+"/"), "/")
	f.Lock()
	reply = f.Posts[rk]
	f.Unlock()
	if reply.ReplyRoot != m || reply.ReplyParent != m {
		t.Fatalf("reply root %q parent %q", reply.ReplyRoot, reply.ReplyParent)
	}
	wantKind(t, func() error {
		_, err := c.Publish(ctx, conn, social.Draft{Key: "cpy_4", Text: "hi", ReplyTo: "at://did:plc:gone/app.bsky.feed.post/3l25zusnsfck2"})
		return err
	}(), social.Rejected)
	wantKind(t, func() error {
		_, err := c.Publish(ctx, conn, social.Draft{Key: "cpy_5", Text: "hi", ReplyTo: "12345"})
		return err
	}(), social.Rejected)

	// Too long, empty, not UTF-8: refused before the network.
	for _, bad := range []string{strings.Repeat("é", 301), strings.Repeat("👨‍👩‍👧", 200), " \n", "\xff"} {
		wantKind(t, func() error { _, err := c.Publish(ctx, conn, draft("cpy_bad", bad)); return err }(), social.Rejected)
	}
	f.Lock()
	defer f.Unlock()
	if len(f.Posts) != 3 || f.CreateCalls != 3 {
		t.Fatalf("%d posts from %d createRecord calls", len(f.Posts), f.CreateCalls)
	}
}

// TestPublishTwice publishes the same copy again, as a retry does: the
// record key is taken, the PDS says so in its way, and the post made the
// first time is the answer.
func TestPublishTwice(t *testing.T) {
	t.Parallel()
	for name, dupErr := range map[string]string{"reference PDS (500)": "", "explicit error (400)": "RecordAlreadyExists"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := blueskytest.New(t)
			f.DuplicateError = dupErr
			c := &bluesky.Connector{}
			conn := login(t, f, c)
			d := draft("cpy_1", "Deal https://go.example/abc")
			first, err := c.Publish(ctx, conn, d)
			if err != nil {
				t.Fatal(err)
			}
			again, err := c.Publish(ctx, conn, d)
			if err != nil || again != first {
				t.Fatalf("again = %+v, %v; first %+v", again, err, first)
			}
			found, ok, err := c.FindPublished(ctx, conn, d)
			if err != nil || !ok || found != first {
				t.Fatalf("FindPublished = %+v %v %v", found, ok, err)
			}
			if _, ok, err := c.FindPublished(ctx, conn, draft("cpy_2", "never posted")); ok || err != nil {
				t.Fatalf("found a post never made: %v %v", ok, err)
			}
			f.Lock()
			defer f.Unlock()
			if len(f.Posts) != 1 || f.CreateCalls != 2 {
				t.Fatalf("%d posts from %d createRecord calls", len(f.Posts), f.CreateCalls)
			}
		})
	}
}

// TestTimeoutAfterSuccess: the PDS writes the post and answers after the
// client has given up. The post exists; FindPublished finds it, and
// publishing the copy again does not make a second one.
func TestTimeoutAfterSuccess(t *testing.T) {
	t.Parallel()
	f := blueskytest.New(t)
	c := &bluesky.Connector{}
	conn := login(t, f, c)
	slow := &bluesky.Connector{HTTP: &http.Client{Timeout: 100 * time.Millisecond}}
	f.Lock()
	f.SlowAfterPost = 300 * time.Millisecond
	f.Unlock()
	d := draft("cpy_1", "Deal https://go.example/abc")
	e := wantKind(t, func() error { _, err := slow.Publish(ctx, conn, d); return err }(), social.Unavailable)
	if !e.Sent || !strings.Contains(e.Reason, "no answer in time") {
		t.Fatalf("timed-out post: %+v", e)
	}
	f.Lock()
	f.SlowAfterPost = 0
	f.Unlock()
	found, ok, err := c.FindPublished(ctx, conn, d)
	if err != nil || !ok || !strings.HasSuffix(found.RemoteID, "/"+bluesky.RecordKey(d)) {
		t.Fatalf("FindPublished = %+v %v %v", found, ok, err)
	}
	again, err := c.Publish(ctx, conn, d)
	if err != nil || again != found {
		t.Fatalf("Publish again = %+v, %v", again, err)
	}
	time.Sleep(250 * time.Millisecond) // the first answer finishes
	f.Lock()
	defer f.Unlock()
	if len(f.Posts) != 1 {
		t.Fatalf("%d posts, want 1", len(f.Posts))
	}
}

func TestSessionRefresh(t *testing.T) {
	t.Parallel()
	c := &bluesky.Connector{}

	t.Run("access token expired", func(t *testing.T) {
		t.Parallel()
		f := blueskytest.New(t)
		conn := login(t, f, c)
		old := creds(t, conn)
		f.ExpireAccess()
		if _, err := c.Verify(ctx, conn); err != nil {
			t.Fatal(err)
		}
		cr := creds(t, conn)
		if !conn.Changed || cr.AccessJWT == old.AccessJWT || cr.RefreshJWT == old.RefreshJWT || cr.AppPassword != old.AppPassword || cr.PDS != f.URL {
			t.Fatalf("changed %v, creds %+v", conn.Changed, cr)
		}
		if conn.ExpiresAt == nil || conn.ExpiresAt.Before(time.Now().Add(80*24*time.Hour)) {
			t.Fatalf("the session ends at %v", conn.ExpiresAt)
		}
		f.Lock()
		if f.RefreshCalls != 1 || f.SessionCalls != 1 || f.Refused != 1 {
			t.Fatalf("%d refreshes, %d sessions, %d refused calls", f.RefreshCalls, f.SessionCalls, f.Refused)
		}
		f.Unlock()
		// The caller keeps the new credentials; the next call needs no refresh.
		next := &social.Conn{Account: conn.Account, Creds: conn.Creds}
		if _, err := c.Verify(ctx, next); err != nil || next.Changed {
			t.Fatalf("with the new creds: %v (changed %v)", err, next.Changed)
		}
		// The old ones are spent (the fake, like a PDS after its grace
		// period, refuses a rotated refresh token), so the app password
		// starts a new session.
		stale := &social.Conn{Account: conn.Account, Creds: mustJSON(old)}
		if _, err := c.Verify(ctx, stale); err != nil || !stale.Changed {
			t.Fatalf("with the old creds: %v", err)
		}
		f.Lock()
		defer f.Unlock()
		if f.SessionCalls != 2 {
			t.Fatalf("%d sessions", f.SessionCalls)
		}
	})

	t.Run("access token about to expire", func(t *testing.T) {
		t.Parallel()
		f := blueskytest.New(t)
		f.Lock()
		f.AccessTTL = 20 * time.Second
		f.Unlock()
		conn := login(t, f, c)
		if _, err := c.Verify(ctx, conn); err != nil || !conn.Changed {
			t.Fatalf("Verify: %v", err)
		}
		f.Lock()
		defer f.Unlock()
		if f.RefreshCalls != 1 || f.Refused != 0 {
			t.Fatalf("%d refreshes, %d refused calls: the refresh should come first", f.RefreshCalls, f.Refused)
		}
	})

	t.Run("refresh token expired", func(t *testing.T) {
		t.Parallel()
		f := blueskytest.New(t)
		conn := login(t, f, c)
		f.ExpireRefresh()
		d := draft("cpy_1", "after months")
		if _, err := c.Publish(ctx, conn, d); err != nil {
			t.Fatal(err)
		}
		f.Lock()
		defer f.Unlock()
		if !conn.Changed || f.RefreshCalls != 1 || f.SessionCalls != 2 || len(f.Posts) != 1 {
			t.Fatalf("changed %v, %d refreshes, %d sessions, %d posts", conn.Changed, f.RefreshCalls, f.SessionCalls, len(f.Posts))
		}
	})

	t.Run("app password revoked", func(t *testing.T) {
		t.Parallel()
		f := blueskytest.New(t)
		conn := login(t, f, c)
		// Access tokens outlive the revocation until they expire.
		f.RevokeAppPassword()
		if _, err := c.Verify(ctx, conn); err != nil {
			t.Fatalf("before the access token expires: %v", err)
		}
		f.ExpireAccess()
		e := wantKind(t, func() error { _, err := c.Verify(ctx, conn); return err }(), social.Unauthorized)
		if !strings.Contains(e.Reason, "app password") {
			t.Fatalf("revoked: %+v", e)
		}
		f.Lock()
		defer f.Unlock()
		if f.RefreshCalls != 1 || f.SessionCalls != 2 {
			t.Fatalf("%d refreshes, %d sessions: one of each, no more", f.RefreshCalls, f.SessionCalls)
		}
	})

	t.Run("session creation rate limited", func(t *testing.T) {
		t.Parallel()
		f := blueskytest.New(t)
		conn := login(t, f, c)
		for i := 0; i < 29; i++ {
			login(t, f, c)
		}
		f.ExpireRefresh()
		e := wantKind(t, func() error { _, err := c.Verify(ctx, conn); return err }(), social.RateLimited)
		if e.RetryAt.Before(time.Now().Add(4*time.Minute)) || e.RetryAt.After(time.Now().Add(6*time.Minute)) {
			t.Fatalf("retry at %v", e.RetryAt)
		}
	})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestFailures(t *testing.T) {
	t.Parallel()
	f := blueskytest.New(t)
	c := &bluesky.Connector{}
	conn := login(t, f, c)

	until := time.Now().Add(5 * time.Minute).Truncate(time.Second)
	f.Lock()
	f.RateLimitedUntil = until
	f.Unlock()
	e := wantKind(t, func() error { _, err := c.Publish(ctx, conn, draft("cpy_1", "hi")); return err }(), social.RateLimited)
	if !e.RetryAt.Equal(until) || e.Status != 429 || !strings.Contains(e.Reason, "RateLimitExceeded") {
		t.Fatalf("rate limited: %+v", e)
	}

	f.Lock()
	f.RateLimitedUntil, f.Garbage = time.Time{}, true
	f.Unlock()
	wantKind(t, func() error { _, err := c.Verify(ctx, conn); return err }(), social.Unavailable)
	wantKind(t, func() error { _, _, err := c.Mentions(ctx, conn, ""); return err }(), social.Unavailable)

	f.Lock()
	f.Garbage, f.Slow = false, 300*time.Millisecond
	f.Unlock()
	slow := &bluesky.Connector{HTTP: &http.Client{Timeout: 100 * time.Millisecond}}
	e = wantKind(t, func() error { _, _, err := slow.Mentions(ctx, conn, ""); return err }(), social.Unavailable)
	if e.Sent {
		t.Fatal("a read is marked as possibly sent")
	}
	// The caller's deadline holds as well as the client's.
	dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	wantKind(t, func() error { _, err := c.Verify(dctx, conn); return err }(), social.Unavailable)

	f.Lock()
	f.Slow = 0
	f.Unlock()
	// A PDS that rejects the post itself.
	wantKind(t, func() error {
		_, err := c.Publish(ctx, conn, social.Draft{Key: "k", Text: "hi", ReplyTo: "at://" + blueskytest.DID + "/app.bsky.feed.post/zzzzzzzzzzzzz"})
		return err
	}(), social.Rejected)
}

func TestMentions(t *testing.T) {
	t.Parallel()
	f := blueskytest.New(t)
	c := &bluesky.Connector{}
	conn := login(t, f, c)
	mine, err := c.Publish(ctx, conn, draft("cpy_1", "XPS 15 deal today"))
	if err != nil {
		t.Fatal(err)
	}
	f.AddMention(t, "early.bsky.social", "@outlet.test before Roost connected")
	ms, cur, err := c.Mentions(ctx, conn, "")
	if err != nil || len(ms) != 0 || cur == "" {
		t.Fatalf("first read = %v %q %v", ms, cur, err)
	}

	var want []string
	for i := 0; i < 230; i++ {
		want = append(want, f.AddMention(t, "zsc.bsky.social", "@outlet.test mention "+string(rune('a'+i%26))))
		if i%50 == 0 {
			f.AddLike(t, "mika.bsky.social", mine.RemoteID)
		}
	}
	reply := f.AddReply(t, "mika.bsky.social", "arrived today 🙏", mine.RemoteID)
	quote := f.AddQuote(t, "deals.watch", "same model as last month?", mine.RemoteID)
	want = append(want, reply, quote)

	// 232 messages, five likes: three pages of 100 in one read.
	ms, cur2, err := c.Mentions(ctx, conn, cur)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != len(want) {
		t.Fatalf("read %d messages, want %d", len(ms), len(want))
	}
	seen := map[string]bool{}
	for i, m := range ms {
		if seen[m.RemoteID] {
			t.Fatalf("message %s twice", m.RemoteID)
		}
		seen[m.RemoteID] = true
		if i > 0 && m.At.Before(ms[i-1].At) {
			t.Fatalf("messages out of order at %d", i)
		}
	}
	for _, u := range want {
		if !seen[u] {
			t.Fatalf("message %s missing", u)
		}
	}
	byURI := map[string]social.Message{}
	for _, m := range ms {
		byURI[m.RemoteID] = m
	}
	zsc := blueskytest.DIDOf("zsc.bsky.social")
	m := byURI[want[0]]
	if m.Author != (social.Identity{Network: social.Bluesky, AccountID: zsc, Handle: "@zsc.bsky.social"}) || m.Text != "@outlet.test mention a" ||
		m.ReplyTo != "" || m.Thread != "" || m.Direct || m.At.IsZero() || !strings.HasPrefix(m.URL, "https://bsky.app/profile/zsc.bsky.social/post/") {
		t.Fatalf("mention: %+v", m)
	}
	if r := byURI[reply]; r.ReplyTo != mine.RemoteID || r.Thread != mine.RemoteID || r.Text != "arrived today 🙏" {
		t.Fatalf("reply: %+v", r)
	}
	if q := byURI[quote]; q.ReplyTo != mine.RemoteID || q.Thread != quote {
		t.Fatalf("quote: %+v", q)
	}

	// Nothing new: nothing again, and the same cursor.
	if ms, cur3, err := c.Mentions(ctx, conn, cur2); err != nil || len(ms) != 0 || cur3 != cur2 {
		t.Fatalf("read again: %d messages, cursor %q → %q, %v", len(ms), cur2, cur3, err)
	}
	// One more: only it.
	last := f.AddReply(t, "mika.bsky.social", "thanks!", reply)
	ms, _, err = c.Mentions(ctx, conn, cur2)
	if err != nil || len(ms) != 1 || ms[0].RemoteID != last || ms[0].ReplyTo != reply || ms[0].Thread != mine.RemoteID {
		t.Fatalf("one more: %+v %v", ms, err)
	}
	// A cursor Roost cannot read starts from now.
	if ms, cur, err := c.Mentions(ctx, conn, "35000000"); err != nil || len(ms) != 0 || cur == "35000000" {
		t.Fatalf("unreadable cursor: %d messages, %q, %v", len(ms), cur, err)
	}
}

// TestMentionsEdges covers what a time cursor must get right: equal
// times, a post that lands below one already read, bursts larger than a
// cursor can name, an account with no notifications yet, a server that
// ignores the reasons asked.
func TestMentionsEdges(t *testing.T) {
	t.Parallel()
	c := &bluesky.Connector{}
	read := func(t *testing.T, conn *social.Conn, cur string) ([]social.Message, string) {
		t.Helper()
		ms, next, err := c.Mentions(ctx, conn, cur)
		if err != nil {
			t.Fatal(err)
		}
		return ms, next
	}

	t.Run("equal times", func(t *testing.T) {
		t.Parallel()
		f := blueskytest.New(t)
		conn := login(t, f, c)
		at := time.Now().Add(-time.Minute)
		f.Lock()
		f.Now = func() time.Time { return at }
		f.Unlock()
		_, cur := read(t, conn, "")
		for i := 0; i < 3; i++ {
			f.AddMention(t, "a.bsky.social", "same time")
		}
		ms, cur := read(t, conn, cur)
		for i := 0; i < 2; i++ {
			f.AddMention(t, "b.bsky.social", "same time again")
		}
		more, _ := read(t, conn, cur)
		if len(ms) != 3 || len(more) != 2 || more[0].Author.Handle != "@b.bsky.social" || more[1].Author.Handle != "@b.bsky.social" {
			t.Fatalf("read %d then %d", len(ms), len(more))
		}
	})

	t.Run("a post lands below the cursor", func(t *testing.T) {
		t.Parallel()
		f := blueskytest.New(t)
		conn := login(t, f, c)
		_, cur := read(t, conn, "")
		f.AddMention(t, "a.bsky.social", "on time")
		ms, cur := read(t, conn, cur)
		f.Lock()
		f.Now = func() time.Time { return time.Now().Add(-2 * time.Minute) } // a client clock behind
		f.Unlock()
		late := f.AddMention(t, "b.bsky.social", "late")
		more, _ := read(t, conn, cur)
		if len(ms) != 1 || len(more) != 1 || more[0].RemoteID != late {
			t.Fatalf("read %d then %+v", len(ms), more)
		}
	})

	t.Run("a burst", func(t *testing.T) {
		t.Parallel()
		f := blueskytest.New(t)
		conn := login(t, f, c)
		_, cur := read(t, conn, "")
		at := time.Now()
		f.Lock()
		f.Now = func() time.Time { return at } // 150 in the same millisecond
		f.Unlock()
		for i := 0; i < 150; i++ {
			f.AddMention(t, "viral.bsky.social", "wow")
		}
		ms, cur := read(t, conn, cur)
		if len(cur) > 12000 {
			t.Fatalf("a cursor of %d bytes", len(cur))
		}
		again, _ := read(t, conn, cur)
		if len(ms) != 150 || len(again) != 0 {
			t.Fatalf("read %d then %d again", len(ms), len(again))
		}
	})

	t.Run("no notifications yet", func(t *testing.T) {
		t.Parallel()
		f := blueskytest.New(t)
		conn := login(t, f, c)
		ms, cur := read(t, conn, "")
		if len(ms) != 0 || cur == "" {
			t.Fatalf("start: %d, %q", len(ms), cur)
		}
		f.AddMention(t, "first.bsky.social", "@outlet.test hello")
		if ms, _ := read(t, conn, cur); len(ms) != 1 {
			t.Fatalf("read %d", len(ms))
		}
	})

	t.Run("reasons ignored", func(t *testing.T) {
		t.Parallel()
		f := blueskytest.New(t)
		conn := login(t, f, c)
		mine, _ := c.Publish(ctx, conn, draft("cpy_1", "post"))
		f.Lock()
		f.IgnoreReasons = true
		f.Unlock()
		_, cur := read(t, conn, "")
		f.AddLike(t, "a.bsky.social", mine.RemoteID)
		f.AddMention(t, "b.bsky.social", "@outlet.test hi")
		f.AddLike(t, "c.bsky.social", mine.RemoteID)
		if ms, _ := read(t, conn, cur); len(ms) != 1 || ms[0].Author.Handle != "@b.bsky.social" {
			t.Fatalf("read %+v", ms)
		}
	})
}

func TestLookupFollows(t *testing.T) {
	t.Parallel()
	f := blueskytest.New(t)
	c := &bluesky.Connector{}
	conn := login(t, f, c)
	alice := f.AddPerson("alice.bsky.social", "Alice")
	bob := f.AddPerson("bob.example.com", "Bob")
	for _, h := range []string{"@alice.bsky.social", "alice.bsky.social", " @Alice.Bsky.Social ", alice} {
		got, err := c.Lookup(ctx, conn, h)
		if err != nil || got != (social.Identity{Network: social.Bluesky, AccountID: alice, Handle: "@alice.bsky.social"}) {
			t.Fatalf("Lookup(%q) = %+v, %v", h, got, err)
		}
	}
	for _, h := range []string{"@nobody.bsky.social", "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", "not a handle", "", "@", "alice"} {
		if _, err := c.Lookup(ctx, conn, h); !errors.Is(err, social.ErrNoSuchPerson) {
			t.Fatalf("Lookup(%q) = %v", h, err)
		}
	}
	f.Lock()
	f.Followers[alice] = true
	f.Unlock()
	for _, tt := range []struct {
		who  social.Identity
		want bool
	}{
		{social.Identity{Network: social.Bluesky, AccountID: alice, Handle: "@alice.bsky.social"}, true},
		{social.Identity{Network: social.Bluesky, AccountID: bob, Handle: "@bob.example.com"}, false},
		{social.Identity{Network: social.Bluesky, AccountID: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"}, false},
		{social.Identity{Network: social.Mastodon, AccountID: alice}, false},
	} {
		if got, err := c.Follows(ctx, conn, tt.who); err != nil || got != tt.want {
			t.Fatalf("Follows(%+v) = %v, %v", tt.who, got, err)
		}
	}
}

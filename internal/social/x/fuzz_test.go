package x

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/x/xtest"
)

var errorBodies = []string{
	string(xtest.Fixture("duplicate")),
	string(xtest.Fixture("too_long")),
	string(xtest.Fixture("user_not_found")),
	string(xtest.Fixture("token_invalid_refresh")),
	string(xtest.Fixture("credits_depleted")),
	`{"error":"unauthorized_client"}`,
	`{"errors":[{"message":"a"},{"message":"a"},{"detail":"b"},{"title":"c"},{"message":"d"}]}`,
	`{"errors":[{"message":7}],"detail":"fallback"}`,
	`{"title":"Too Many Requests"}`,
	`<html>502</html>`, `null`, `[]`, ``,
}

func TestReason(t *testing.T) {
	t.Parallel()
	want := []string{
		"You are not allowed to create a Tweet with duplicate content.",
		"Your Tweet text is too long. For more information on how X determines text length see https://github.com/twitter/twitter-text.",
		"Could not find user with username: [nobody].",
		"invalid_request: Value passed for the token was invalid.",
		"credits depleted",
		"unauthorized_client",
		"a; b; c",
		"fallback",
		"Too Many Requests",
		"", "", "", "",
	}
	for i, b := range errorBodies {
		if got := reason([]byte(b)); got != want[i] {
			t.Errorf("reason(%s) = %q, want %q", b, got, want[i])
		}
	}
}

// FuzzReason feeds error bodies X (or anything in front of it) may send.
func FuzzReason(f *testing.F) {
	for _, b := range errorBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if s := reason(b); !utf8.ValidString(s) {
			t.Fatalf("reason(%q) = %q is not valid UTF-8", b, s)
		}
	})
}

func TestReset(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set("x-rate-limit-reset", "1705420800")
	h.Set("x-user-limit-24hour-remaining", "4")
	h.Set("x-user-limit-24hour-reset", "1705500000")
	if got := reset(h); !got.Equal(time.Unix(1705420800, 0)) {
		t.Fatalf("window reset = %v", got)
	}
	h.Set("x-user-limit-24hour-remaining", "0")
	h.Set("x-app-limit-24hour-remaining", "0")
	h.Set("x-app-limit-24hour-reset", "1705400000")
	if got := reset(h); !got.Equal(time.Unix(1705500000, 0)) {
		t.Fatalf("daily reset = %v", got)
	}
	if got := reset(http.Header{"X-Rate-Limit-Reset": {"soon"}}); !got.IsZero() {
		t.Fatalf("reset(soon) = %v", got)
	}
}

// FuzzReset feeds rate-limit headers.
func FuzzReset(f *testing.F) {
	f.Add("1705420800", "0", "1705500000", "", "")
	f.Add("-1", "", "99999999999999999999", "0", "x")
	f.Fuzz(func(t *testing.T, window, userLeft, userReset, appLeft, appReset string) {
		h := http.Header{}
		h.Set("x-rate-limit-reset", window)
		h.Set("x-user-limit-24hour-remaining", userLeft)
		h.Set("x-user-limit-24hour-reset", userReset)
		h.Set("x-app-limit-24hour-remaining", appLeft)
		h.Set("x-app-limit-24hour-reset", appReset)
		got := reset(h)
		n, err := strconv.ParseInt(window, 10, 64)
		spent := strings.TrimSpace(userLeft) == "0" || strings.TrimSpace(appLeft) == "0"
		if !spent && err == nil && n > 0 && !got.Equal(time.Unix(n, 0)) {
			t.Fatalf("reset = %v, want the window's %d", got, n)
		}
	})
}

func TestMentionFixture(t *testing.T) {
	t.Parallel()
	var p page
	if err := json.Unmarshal(xtest.Fixture("mentions"), &p); err != nil {
		t.Fatal(err)
	}
	ms := messages(p, "2244994945", "1869529813024198655")
	if len(ms) != 2 {
		t.Fatalf("%d messages", len(ms))
	}
	if m := ms[0]; m.RemoteID != "1869529813024198656" || m.Author.Handle != "@X" || m.ReplyTo != "" || m.Thread != m.RemoteID {
		t.Fatalf("first: %+v", m)
	}
	want := social.Message{RemoteID: "1869532418270068736", ReplyTo: "1869530918270063104", Thread: "1869530918270063104",
		Author: social.Identity{Network: social.X, AccountID: "1501990432180408321", Handle: "@zsc"},
		Text:   "@outlet is the XPS deal still on? & do you ship to Zürich? https://t.co/aBcD3fGh1j\nROOST-7KQ4MX",
		URL:    "https://x.com/zsc/status/1869532418270068736", At: time.Date(2026, 11, 20, 14, 50, 30, 0, time.UTC)}
	if ms[1] != want {
		t.Fatalf("second:\n got %+v\nwant %+v", ms[1], want)
	}
	// Only what is newer than the cursor, and never the account's own posts.
	if ms := messages(p, "1501990432180408321", "1869529813024198656"); len(ms) != 0 {
		t.Fatalf("kept %+v", ms)
	}
}

// FuzzMentions feeds mention timeline pages: whatever they hold, the
// messages are valid X IDs newer than the cursor, oldest first, once each.
func FuzzMentions(f *testing.F) {
	f.Add(xtest.Fixture("mentions"), "0")
	f.Add([]byte(`{"data":[{"id":"2","text":"&amp;&#x1F600;"},{"id":"10"},{"id":"2"},{"id":"0x1"},{"id":""}],"includes":{"users":[{"id":""}]}}`), "1")
	f.Fuzz(func(t *testing.T, b []byte, since string) {
		var p page
		if json.Unmarshal(b, &p) != nil {
			return
		}
		ms := messages(p, "2244994945", since)
		for i, m := range ms {
			if !isID(m.RemoteID) || !idLess(since, m.RemoteID) || i > 0 && !idLess(ms[i-1].RemoteID, m.RemoteID) {
				t.Fatalf("message %d of %v: %q", i, len(ms), m.RemoteID)
			}
			if m.Author.Network != social.X || !utf8.ValidString(m.Text) {
				t.Fatalf("message %+v", m)
			}
		}
	})
}

// FuzzPostCost: a text with a link X sees is always the dearer call.
func FuzzPostCost(f *testing.F) {
	for _, s := range []string{"deal https://go.example/x", "example.com", "a@b.co", "plain", "é.com/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := PostCost(s)
		if c != CreatePost && c != CreatePostWithURL || len(social.URLs(s)) > 0 && c != CreatePostWithURL {
			t.Fatalf("PostCost(%q) = %v", s, c)
		}
	})
}

// FuzzComparable: the text match is stable however the text comes back.
func FuzzComparable(f *testing.F) {
	for _, s := range []string{"Thanks &amp; see you https://t.co/x  soon", "e\u0301", "", "a\tb\nc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if c := comparable(s); comparable(c) != c {
			t.Fatalf("comparable(%q) = %q is not stable", s, c)
		}
	})
}

func TestSnowflake(t *testing.T) {
	t.Parallel()
	// A documented post ID, and when it was made.
	const id = "1445880548472328192"
	n, _ := strconv.ParseUint(id, 10, 64)
	at := time.UnixMilli(int64(n>>22) + twepoch)
	if lo, hi := snowflake(at), snowflake(at.Add(time.Millisecond)); !idLess(lo, id) && lo != id || !idLess(id, hi) {
		t.Fatalf("snowflakes %s and %s do not bracket %s", lo, hi, id)
	}
	if snowflake(time.Unix(0, 0)) != "0" {
		t.Fatal("a time before X's epoch is not 0")
	}
}

func TestDMFixture(t *testing.T) {
	t.Parallel()
	var p dmPage
	if err := json.Unmarshal(xtest.Fixture("dm_events"), &p); err != nil {
		t.Fatal(err)
	}
	ms := dmMessages(p, "2244994945", "1869530000000000000")
	// The person's message; not the account's own, nor a group join.
	if len(ms) != 1 {
		t.Fatalf("%d messages: %+v", len(ms), ms)
	}
	m := ms[0]
	if m.RemoteID != "1869532999876157445" || m.Thread != "1501990432180408321-2244994945" || !m.Direct || m.Author.Handle != "@zsc" ||
		m.Author.AccountID != "1501990432180408321" || m.Text != "Hi! Is the XPS deal still on? & ROOST-7KQ4MX" || m.Followers == nil || *m.Followers != 48213 ||
		!m.At.Equal(time.Date(2026, 11, 20, 14, 51, 2, 0, time.UTC)) || m.URL != "https://x.com/messages/1501990432180408321-2244994945" {
		t.Fatalf("message: %+v", m)
	}
	if ms := dmMessages(p, "2244994945", "1869532999876157445"); len(ms) != 0 {
		t.Fatalf("a message at the cursor read again: %+v", ms)
	}
}

// FuzzDMEvents feeds DM event pages: whatever they hold, the messages are
// direct, valid X IDs newer than the cursor, oldest first, once each, and
// never the account's own.
func FuzzDMEvents(f *testing.F) {
	f.Add(xtest.Fixture("dm_events"), "0")
	f.Add([]byte(`{"data":[{"id":"5","sender_id":"7","dm_conversation_id":"7-9","text":"&lt;3"},{"id":"5"},{"id":"6","sender_id":"2244994945","dm_conversation_id":"x"},`+
		`{"id":"8","event_type":"ParticipantsLeave","sender_id":"7","dm_conversation_id":"g"}],"includes":{"users":[{"id":"7","public_metrics":{"followers_count":-3}}]}}`), "1")
	f.Fuzz(func(t *testing.T, b []byte, since string) {
		var p dmPage
		if json.Unmarshal(b, &p) != nil {
			return
		}
		ms := dmMessages(p, "2244994945", since)
		for i, m := range ms {
			if !isID(m.RemoteID) || !idLess(since, m.RemoteID) || i > 0 && !idLess(ms[i-1].RemoteID, m.RemoteID) || !m.Direct || m.Thread == "" ||
				m.Author.AccountID == "2244994945" || !isID(m.Author.AccountID) || !utf8.ValidString(m.Text) || m.Followers != nil && *m.Followers < 0 {
				t.Fatalf("message %d of %d: %+v", i, len(ms), m)
			}
		}
	})
}

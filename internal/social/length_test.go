package social_test

import (
	"strings"
	"testing"

	"github.com/roost-hq/roost/internal/social"
)

func TestLengthRules(t *testing.T) {
	t.Parallel()
	link := "https://go.example/" + strings.Repeat("a", 40)
	for _, c := range []struct {
		network, text string
		want          int
	}{
		{social.Mastodon, "Deal " + link + " ^LB", 5 + 23 + 4},
		{social.Mastodon, "hi @ann@mastodon.example", 7},
		{social.Mastodon, "👩‍👩‍👧 family", 8},
		{social.Bluesky, "Deal " + link, 5 + len(link)},
		{social.Bluesky, "👩‍👩‍👧 naïve 日本", 10},
		{social.X, "Deal " + link + ".", 5 + 23 + 1},
		{social.X, "日本語", 6},
		{social.X, "👩‍👩‍👧🎉", 4},
		{social.X, "cafe\u0301", 4}, // NFC: é is one code point
	} {
		if got := social.Rules(c.network).Count(c.text); got != c.want {
			t.Errorf("%s length of %q = %d, want %d", c.network, c.text, got, c.want)
		}
	}
	a := social.Account{Network: social.Bluesky}
	if _, ok := a.Check(strings.Repeat("a", 300)); !ok {
		t.Error("300 graphemes refused on Bluesky")
	}
	if _, ok := a.Check(strings.Repeat("a", 301)); ok {
		t.Error("301 graphemes accepted on Bluesky")
	}
	if _, ok := a.Check(strings.Repeat("👩‍👩‍👧", 200)); ok {
		t.Error("over 3000 bytes accepted on Bluesky")
	}
	if n, ok := (social.Account{Network: social.Mastodon, CharLimit: 1000}).Check(strings.Repeat("a", 900)); !ok || n != 900 {
		t.Error("an instance's own limit was not used")
	}
	// Direct messages: Bluesky's chat and X's DMs have their own limits;
	// on Mastodon a direct message is a post.
	for network, want := range map[string]int{social.Bluesky: 1000, social.X: 10000} {
		r, own := social.DirectRules(network)
		if !own || r.Limit != want {
			t.Errorf("%s direct rule: %+v %v", network, r, own)
		}
	}
	if r, own := social.DirectRules(social.X); r.Count("日本語 👩‍👩‍👧") != 9 || !own {
		t.Errorf("X direct messages count characters: %d", r.Count("日本語 👩‍👩‍👧"))
	}
	if r, own := social.DirectRules(social.Mastodon); own || r.Limit != 500 {
		t.Errorf("Mastodon direct rule: %+v %v", r, own)
	}
}

func FuzzLength(f *testing.F) {
	for _, s := range []string{"hi https://x.example/a.", "👩‍👩‍👧", "日本", "@a@b.c", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, n := range social.Networks {
			if got := social.Rules(n).Count(s); got < 0 || got > 3*len(s)+23 {
				t.Fatalf("%s length of %q = %d", n, s, got)
			}
		}
	})
}

package social

import (
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/rivo/uniseg"
	"golang.org/x/text/unicode/norm"
)

// Network names.
const (
	Sandbox  = "sandbox"
	Mastodon = "mastodon"
	Bluesky  = "bluesky"
	X        = "x"
)

// Networks lists the networks Roost knows, in the order pages show them.
var Networks = []string{Mastodon, Bluesky, X, Sandbox}

// Rule is how a network measures a post.
type Rule struct {
	Name  string // the network's name for people
	Limit int    // the default limit (a Mastodon instance may set its own)
	// Count measures text as the network does.
	Count func(text string) int
	// Unit names what Count counts, for people.
	Unit string
}

// Rules returns the network's length rule.
func Rules(network string) Rule {
	switch network {
	case Mastodon:
		// Mastodon counts characters (grapheme clusters) with every URL
		// counting as 23, and a mention as its user part only.
		return Rule{Name: "Mastodon", Limit: 500, Count: mastodonLength, Unit: "characters"}
	case Bluesky:
		return Rule{Name: "Bluesky", Limit: 300, Count: uniseg.GraphemeClusterCount, Unit: "graphemes"}
	case X:
		return Rule{Name: "X", Limit: 280, Count: xLength, Unit: "weighted characters"}
	}
	return Rule{Name: "Sandbox", Limit: 500, Count: uniseg.GraphemeClusterCount, Unit: "characters"}
}

// DirectRules returns the network's length rule for a direct message, and
// whether it has one of its own: Bluesky's chat takes 1000 graphemes
// (chat.bsky.convo.defs#messageInput) and X's direct messages 10,000
// characters. On Mastodon and the sandbox a direct message is a post, under
// the post rule (false).
func DirectRules(network string) (Rule, bool) {
	switch network {
	case Bluesky:
		return Rule{Name: "Bluesky chat", Limit: 1000, Count: uniseg.GraphemeClusterCount, Unit: "graphemes"}, true
	case X:
		return Rule{Name: "X direct messages", Limit: 10000, Count: utf8.RuneCountInString, Unit: "characters"}, true
	}
	return Rules(network), false
}

// urlLength is what Mastodon and X count a link as, whatever its length.
const urlLength = 23

var (
	urlRE     = regexp.MustCompile(`https?://[^\s<>"]+`)
	mentionRE = regexp.MustCompile(`@([A-Za-z0-9_]+)@[A-Za-z0-9.-]+[A-Za-z0-9]`)
)

// URLs returns the links in text as the networks see them: trailing
// punctuation is not part of a link.
func URLs(text string) [][2]int {
	var out [][2]int
	for _, m := range urlRE.FindAllStringIndex(text, -1) {
		end := m[1]
		for end > m[0] && strings.ContainsRune(".,:;!?)]}'\"", rune(text[end-1])) {
			end--
		}
		if u, err := url.Parse(text[m[0]:end]); err == nil && u.Host != "" {
			out = append(out, [2]int{m[0], end})
		}
	}
	return out
}

// replaceURLs returns text with each link replaced by 23 placeholder
// characters.
func replaceURLs(text string) string {
	var b strings.Builder
	last := 0
	for _, u := range URLs(text) {
		b.WriteString(text[last:u[0]])
		b.WriteString(strings.Repeat("x", urlLength))
		last = u[1]
	}
	b.WriteString(text[last:])
	return b.String()
}

func mastodonLength(text string) int {
	text = mentionRE.ReplaceAllString(replaceURLs(text), "@$1")
	return uniseg.GraphemeClusterCount(text)
}

// xLength is X's weighted length (twitter-text 3): text is normalised to
// NFC; code points in the Latin, general-punctuation and similar ranges
// weigh 1, all others 2; an emoji, however many code points it has, weighs
// 2; each link weighs 23.
func xLength(text string) int {
	text = replaceURLs(norm.NFC.String(text))
	n := 0
	g := uniseg.NewGraphemes(text)
	for g.Next() {
		rs := g.Runes()
		if isEmoji(rs) {
			n += 2
			continue
		}
		for _, r := range rs {
			n += xWeight(r)
		}
	}
	return n
}

func xWeight(r rune) int {
	switch {
	case r <= 4351, r >= 8192 && r <= 8205, r >= 8208 && r <= 8223, r >= 8242 && r <= 8247:
		return 1
	}
	return 2
}

// isEmoji reports whether a grapheme cluster is an emoji: a pictograph,
// a flag, or anything joined with ZWJ or shown as emoji by VS16.
func isEmoji(rs []rune) bool {
	for _, r := range rs {
		switch {
		case r == 0x200D || r == 0xFE0F,
			r >= 0x1F000 && r <= 0x1FAFF,
			r >= 0x2600 && r <= 0x27BF,
			r >= 0x1F1E6 && r <= 0x1F1FF:
			return true
		}
	}
	return false
}

// Check reports whether text fits the account's limit, and its length.
func (a Account) Check(text string) (length int, ok bool) {
	n := Rules(a.Network).Count(text)
	ok = n <= a.Limit() && n > 0
	if a.Network == Bluesky && len(text) > 3000 {
		ok = false // Bluesky also caps a post at 3000 bytes
	}
	return n, ok && utf8.ValidString(text)
}

func hostOf(instance string) string {
	if u, err := url.Parse(instance); err == nil && u.Host != "" {
		return u.Host
	}
	return instance
}

package bluesky

import (
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

func TestSpansByteOffsets(t *testing.T) {
	t.Parallel()
	type want struct{ kind, text, value string }
	tests := []struct {
		name, text, link string
		want             []want
	}{
		{"ascii", "Deal https://go.example/abc ^LB", "https://go.example/abc",
			[]want{{spanLink, "https://go.example/abc", "https://go.example/abc"}}},
		{"emoji first", "🎉🎉 Sale! https://go.example/abc.", "https://go.example/abc",
			[]want{{spanLink, "https://go.example/abc", "https://go.example/abc"}}},
		{"zwj family and flags", "👨‍👩‍👧 🇨🇭 Familienrabatt: https://go.example/f", "",
			[]want{{spanLink, "https://go.example/f", "https://go.example/f"}}},
		{"combining marks", "Cafe\u0301 cre\u0300me bru\u0302le\u0301e https://go.example/c", "",
			[]want{{spanLink, "https://go.example/c", "https://go.example/c"}}},
		{"non-latin", "日本語のセール、Ελληνικά, العربية: https://go.example/jp #セール", "",
			[]want{{spanLink, "https://go.example/jp", "https://go.example/jp"}, {spanTag, "#セール", "セール"}}},
		{"mentions and tags", "Zürich (@Alice.bsky.social) asks @bob.test. #XPS15, #2024 #️⃣ ＃deal", "",
			[]want{{spanMention, "@Alice.bsky.social", "alice.bsky.social"}, {spanMention, "@bob.test", "bob.test"},
				{spanTag, "#XPS15", "XPS15"}, {spanTag, "＃deal", "deal"}}},
		{"not mentions", "mail me at a@b.example or @x or @3.50 or @-dash.", "", nil},
		{"tracked link not found by the rule", "see go.example/abc", "go.example/abc",
			[]want{{spanLink, "go.example/abc", "go.example/abc"}}},
		{"no tag inside a link", "https://shop.example/#deal ok", "",
			[]want{{spanLink, "https://shop.example/#deal", "https://shop.example/#deal"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := spans(tt.text, tt.link)
			if len(got) != len(tt.want) {
				t.Fatalf("spans(%q) = %+v, want %d", tt.text, got, len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.kind != w.kind || tt.text[g.start:g.end] != w.text || g.value != w.value {
					t.Fatalf("span %d = %s %q (%q), want %s %q (%q)", i, g.kind, tt.text[g.start:g.end], g.value, w.kind, w.text, w.value)
				}
				// The offsets are bytes: where the text before is not
				// ASCII, they differ from rune and UTF-16 counts.
				if start := strings.Index(tt.text, w.text); g.start != start {
					t.Fatalf("span %d starts at byte %d, want %d", i, g.start, start)
				}
			}
		})
	}
	text := "🎉 Zürich: https://go.example/abc"
	sp := spans(text, "")[0]
	runes := utf8.RuneCountInString(text[:sp.start])
	units := len(utf16.Encode([]rune(text[:sp.start])))
	if sp.start != 14 || runes != 10 || units != 11 {
		t.Fatalf("byte %d, runes %d, UTF-16 units %d before the link", sp.start, runes, units)
	}
}

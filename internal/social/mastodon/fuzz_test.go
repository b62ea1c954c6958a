package mastodon_test

import (
	"testing"
	"unicode/utf8"

	"github.com/roost-hq/roost/internal/social/mastodon"
)

// FuzzPlainText feeds status HTML from servers Roost does not control.
func FuzzPlainText(f *testing.F) {
	for _, s := range []string{"<p>hi<br/>there</p>", "<p>a &amp; b</p><p>c</p>", "<a href=\"x\">@<span>outlet</span></a>", "<<>>&#x1F600;", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := mastodon.PlainText(s)
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("PlainText(%q) = %q is not valid UTF-8", s, out)
		}
	})
}

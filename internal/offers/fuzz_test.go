package offers_test

import (
	"strings"
	"testing"

	"github.com/roost-hq/roost/internal/offers"
)

// FuzzFindTokens: whatever a network sends, the tokens found are few and
// well formed, so the lookups they lead to are bounded.
func FuzzFindTokens(f *testing.F) {
	for _, s := range []string{"@outlet ABCDE-FGHJK", "abcdefghjk", "ABCDE-FGHJK ABCDE-FGHJM ABCDE-FGHJN ABCDE-FGHJP", "\xff\x00ABCDE-FGHJK", "🎉ABCDE-FGHJK"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got := offers.FindTokens(text)
		if len(got) > 3 {
			t.Fatalf("%d tokens from one message", len(got))
		}
		for _, tok := range got {
			if len(tok) != 10 || strings.Trim(tok, offers.CodeAlphabet) != "" {
				t.Fatalf("malformed token %q from %q", tok, text)
			}
		}
	})
}

package bluesky

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"

	"github.com/roost-hq/roost/internal/social"
)

// Bluesky shows a post's text as written: links, mentions and hashtags are
// live only where the record's facets say so. A facet marks a range of the
// text by UTF-8 byte offsets (not characters, not UTF-16 units), so an
// emoji or an accented letter before a link moves its range by 2 to 4
// bytes per character.

// facet is app.bsky.richtext.facet.
type facet struct {
	Index    byteSlice `json:"index"`
	Features []feature `json:"features"`
}

// byteSlice is app.bsky.richtext.facet#byteSlice: start inclusive, end
// exclusive, in bytes of the UTF-8 text.
type byteSlice struct {
	ByteStart int `json:"byteStart"`
	ByteEnd   int `json:"byteEnd"`
}

// feature is one of #link, #mention and #tag.
type feature struct {
	Type string `json:"$type"`
	URI  string `json:"uri,omitempty"`
	DID  string `json:"did,omitempty"`
	Tag  string `json:"tag,omitempty"`
}

// Span kinds.
const (
	spanLink    = "link"
	spanMention = "mention"
	spanTag     = "tag"
)

// span is a piece of post text that means something to Bluesky.
type span struct {
	start, end int    // byte offsets into the text, end exclusive
	kind       string // spanLink, spanMention or spanTag
	value      string // the URL; the handle without its @; the tag without its #
}

var (
	// As the official client detects them: a mention follows the start,
	// a space or an opening parenthesis; a hashtag follows the start or a
	// space and runs to the next space (or invisible joiner).
	mentionRE = regexp.MustCompile(`(?:^|[\s\p{Z}(])(@[a-zA-Z0-9.-]+)`)
	tagRE     = regexp.MustCompile(`(?:^|[\s\p{Z}])([#＃][^\s\p{Z}\x{00AD}\x{2060}\x{200A}\x{200B}\x{200C}\x{200D}\x{20E2}]+)`)
	// handleRE is atproto's handle syntax: dot-separated DNS labels, the
	// last starting with a letter.
	handleRE = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)
)

// validHandle reports whether s is a handle by atproto's syntax.
func validHandle(s string) bool { return len(s) <= 253 && handleRE.MatchString(s) }

// spans finds the links, mentions and hashtags of text, in order and not
// overlapping. linkURL, the tracked link, is marked even where the generic
// link rule would not find it.
func spans(text, linkURL string) []span {
	var out []span
	add := func(s span) {
		if s.start < 0 || s.end > len(text) || s.start >= s.end {
			return
		}
		for _, o := range out {
			if s.start < o.end && o.start < s.end {
				return // links win over mentions, mentions over tags
			}
		}
		out = append(out, s)
	}
	for _, u := range social.URLs(text) {
		add(span{u[0], u[1], spanLink, text[u[0]:u[1]]})
	}
	if linkURL != "" && utf8.ValidString(linkURL) {
		if i := strings.Index(text, linkURL); i >= 0 {
			add(span{i, i + len(linkURL), spanLink, linkURL})
		}
	}
	for _, m := range mentionRE.FindAllStringSubmatchIndex(text, -1) {
		start, end := m[2], m[3]
		for end > start+1 && (text[end-1] == '.' || text[end-1] == '-') {
			end-- // a full stop after a handle ends the sentence, not the handle
		}
		if h := text[start+1 : end]; validHandle(h) {
			add(span{start, end, spanMention, strings.ToLower(h)})
		}
	}
	for _, m := range tagRE.FindAllStringSubmatchIndex(text, -1) {
		start, end := m[2], m[3]
		_, hash := utf8.DecodeRuneInString(text[start:])
		for end > start+hash {
			r, n := utf8.DecodeLastRuneInString(text[start+hash : end])
			if !unicode.IsPunct(r) {
				break
			}
			end -= n // trailing punctuation is not part of a tag
		}
		if tag := text[start+hash : end]; validTag(tag) {
			add(span{start, end, spanTag, tag})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	return out
}

// validTag follows the client's rule and the lexicon's limits: not a
// keycap (#️⃣), not only ASCII digits and punctuation, at most 64 graphemes and
// 640 bytes.
func validTag(tag string) bool {
	if tag == "" || strings.HasPrefix(tag, "\ufe0f") || !utf8.ValidString(tag) || len(tag) > 640 || uniseg.GraphemeClusterCount(tag) > 64 {
		return false
	}
	for _, r := range tag {
		if (r < '0' || r > '9') && !unicode.IsPunct(r) && !unicode.IsSpace(r) {
			return true
		}
	}
	return false
}

// maxMentions bounds the handles one post resolves, each a request.
const maxMentions = 10

// facets marks up a draft: every link, every mention whose handle
// resolves to a DID (others stay plain text), every hashtag.
func (c *Connector) facets(ctx context.Context, s *session, d social.Draft) ([]facet, error) {
	var out []facet
	dids := map[string]string{}
	for _, sp := range spans(d.Text, d.LinkURL) {
		f := facet{Index: byteSlice{sp.start, sp.end}}
		switch sp.kind {
		case spanLink:
			f.Features = []feature{{Type: "app.bsky.richtext.facet#link", URI: sp.value}}
		case spanTag:
			f.Features = []feature{{Type: "app.bsky.richtext.facet#tag", Tag: sp.value}}
		case spanMention:
			did, seen := dids[sp.value]
			if !seen && len(dids) < maxMentions {
				var err error
				if did, err = c.resolveHandle(ctx, s, sp.value); err != nil {
					return nil, err
				}
				dids[sp.value] = did
			}
			if did == "" {
				continue
			}
			f.Features = []feature{{Type: "app.bsky.richtext.facet#mention", DID: did}}
		}
		out = append(out, f)
	}
	return out, nil
}

// resolveHandle asks the PDS for a handle's DID (it resolves any handle,
// through DNS or HTTPS). A handle that does not resolve gives "": the
// mention stays text. Any other failure is returned, and the post waits.
func (c *Connector) resolveHandle(ctx context.Context, s *session, handle string) (string, error) {
	var out struct {
		DID string `json:"did"`
	}
	_, err := c.xrpc(ctx, xrpcReq{method: http.MethodGet, host: s.host(), nsid: "com.atproto.identity.resolveHandle", query: url.Values{"handle": {handle}}, out: &out})
	if e := asError(err); e != nil && e.Kind == social.Rejected {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if !validDID(out.DID) {
		return "", nil
	}
	return out.DID, nil
}

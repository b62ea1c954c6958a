package links

import (
	"net/url"
	"strings"

	"golang.org/x/net/idna"
)

// MaxURLLen bounds destination and fallback URLs.
const MaxURLLen = 4096

// CheckURL validates an absolute http(s) URL a member gives as a
// destination and returns it normalised: the host in ASCII (punycode) and
// lower case. Relative URLs, other schemes (javascript:, data:, …) and
// credentials in the URL are refused.
func CheckURL(raw string) (string, string) {
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		return "", "is required"
	case len(raw) > MaxURLLen:
		return "", "must be at most 4096 characters"
	case strings.ContainsAny(raw, " \t\r\n\x00"):
		return "", "must not contain spaces or control characters (encode them as %20 and so on)"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", "is not a valid URL"
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme == "":
		return "", "must be an absolute URL starting with https:// or http://"
	case scheme != "http" && scheme != "https":
		return "", "must start with https:// or http:// (" + scheme + ": links are not allowed)"
	case u.Opaque != "" || u.Host == "":
		return "", "must have a host, like https://shop.example.com/deal"
	case u.User != nil:
		return "", "must not contain a user name or password"
	}
	host, port := u.Hostname(), u.Port()
	ascii, err := idna.Lookup.ToASCII(host)
	if err != nil || ascii == "" || strings.Trim(ascii, ".") == "" {
		return "", "has an invalid host name"
	}
	u.Scheme = scheme
	u.Host = strings.ToLower(ascii)
	if port != "" {
		u.Host += ":" + port
	}
	return u.String(), ""
}

// hostAllowed reports whether host is one of the allowed domains or a
// subdomain of one. An empty list allows every host.
func hostAllowed(host string, allowed []string) bool {
	if len(allowed) == 0 {
		return true
	}
	for _, d := range allowed {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// Tracking is what a redirect adds to a destination.
type Tracking struct {
	ClickParam string // query parameter for the click ID, e.g. roost_cid
	Source     string // utm_source: the network
	Campaign   string // utm_campaign: the offer's slug
	Content    string // utm_content: the post
}

// Template is a destination prepared for redirects: the click ID goes
// between Prefix and Suffix, so a redirect is two string concatenations.
// NoClickID marks a destination whose own query already uses the click
// parameter: the member's value is kept and no click ID is added.
type Template struct {
	Prefix, Suffix string
	NoClickID      bool
}

// URL returns the destination with the click ID in place.
func (t Template) URL(clickID string) string {
	if t.NoClickID {
		return t.Prefix + t.Suffix
	}
	return t.Prefix + clickID + t.Suffix
}

// Prepare merges the tracking fields into the destination's query string:
// parameters the member already set are kept as they are and never
// repeated; the fragment stays at the end; the existing query keeps its
// order and encoding.
func Prepare(dest string, tr Tracking) (Template, error) {
	u, err := url.Parse(dest)
	if err != nil {
		return Template{}, err
	}
	has := map[string]bool{}
	for _, part := range strings.Split(u.RawQuery, "&") {
		k, _, _ := strings.Cut(part, "=")
		if k, err := url.QueryUnescape(k); err == nil {
			has[k] = true
		}
	}
	var extra []string
	for _, kv := range [][2]string{{"utm_source", tr.Source}, {"utm_medium", "social"}, {"utm_campaign", tr.Campaign}, {"utm_content", tr.Content}} {
		if kv[1] != "" && !has[kv[0]] {
			extra = append(extra, url.QueryEscape(kv[0])+"="+url.QueryEscape(kv[1]))
		}
	}
	frag := ""
	if u.Fragment != "" || strings.HasSuffix(dest, "#") {
		frag = "#" + u.EscapedFragment()
	}
	u.Fragment, u.RawFragment = "", ""
	u.ForceQuery = false
	q := u.RawQuery
	u.RawQuery = ""
	base := u.String()
	sep := "?"
	if q != "" {
		base += "?" + q
		sep = "&"
	}
	var t Template
	if has[tr.ClickParam] {
		t.NoClickID = true
		t.Prefix = base
		if len(extra) > 0 {
			t.Prefix += sep + strings.Join(extra, "&")
		}
		t.Suffix = frag
		return t, nil
	}
	t.Prefix = base + sep + url.QueryEscape(tr.ClickParam) + "="
	if len(extra) > 0 {
		t.Suffix = "&" + strings.Join(extra, "&")
	}
	t.Suffix += frag
	return t, nil
}

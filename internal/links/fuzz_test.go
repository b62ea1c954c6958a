package links

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzDestination feeds arbitrary destinations through validation and
// tracking: whatever CheckURL accepts must be an absolute http(s) URL, and
// the tracked URL must still parse, keep the destination's host, and carry
// the click ID exactly once.
func FuzzDestination(f *testing.F) {
	for _, s := range []string{"https://shop.example.com/p?x=1#f", "http://a.example", "javascript:alert(1)", "https://bücher.example/ä?ö=ü",
		"https://x.example/?roost_cid=1", "https://x.example/#", "https://x.example:8443/a?b&c=&=d", "//x.example", "https://[::1]:80/"} {
		f.Add(s, "xps sale")
	}
	f.Fuzz(func(t *testing.T, raw, campaign string) {
		dest, msg := CheckURL(raw)
		if msg != "" {
			return
		}
		u, err := url.Parse(dest)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			t.Fatalf("CheckURL(%q) accepted %q", raw, dest)
		}
		tpl, err := Prepare(dest, Tracking{ClickParam: "roost_cid", Campaign: campaign})
		if err != nil {
			t.Fatalf("Prepare(%q): %v", dest, err)
		}
		out, err := url.Parse(tpl.URL("01jclickid"))
		if err != nil || out.Host != u.Host || out.Scheme != u.Scheme {
			t.Fatalf("tracked %q from %q: %v", tpl.URL("01jclickid"), dest, err)
		}
		if !tpl.NoClickID && strings.Count(tpl.URL("01jclickid"), "roost_cid=01jclickid") != 1 {
			t.Fatalf("click ID not exactly once in %q", tpl.URL("01jclickid"))
		}
	})
}

// FuzzClassify feeds arbitrary user agents and referrers: never a panic,
// always a known device class.
func FuzzClassify(f *testing.F) {
	f.Add("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)", "https://mastodon.social/@x")
	f.Add("", "::")
	f.Fuzz(func(t *testing.T, ua, ref string) {
		c := classify(ua, "GET")
		switch c.Device {
		case "desktop", "mobile", "tablet", "bot", "other":
		default:
			t.Fatalf("device %q", c.Device)
		}
		if c.Bot != (c.BotReason != "") {
			t.Fatalf("bot %v with reason %q", c.Bot, c.BotReason)
		}
		// The cache, keyed by user agent alone, answers as classify does
		// for either method, asked first or second.
		for _, m := range []string{"HEAD", "GET", "HEAD"} {
			if got, want := Classify(ua, m), classify(ua, m); got != want {
				t.Fatalf("Classify(%q, %s) = %+v, classify says %+v", ua, m, got, want)
			}
		}
		if h := referrerHost(ref); strings.ContainsAny(h, "/?#@ ") {
			t.Fatalf("referrer host %q from %q", h, ref)
		}
	})
}

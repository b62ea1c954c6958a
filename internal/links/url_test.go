package links

import (
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want, err string }{
		{"https://shop.example.com/deal?x=1#top", "https://shop.example.com/deal?x=1#top", ""},
		{"  HTTPS://Shop.Example.COM/Deal ", "https://shop.example.com/Deal", ""},
		{"https://bücher.example/straße?q=ä", "https://xn--bcher-kva.example/stra%C3%9Fe?q=ä", ""},
		{"http://127.0.0.1:8080/x", "http://127.0.0.1:8080/x", ""},
		{"javascript:alert(1)", "", "javascript: links are not allowed"},
		{"JavaScript:alert(1)", "", "javascript: links are not allowed"},
		{"JavaScript://%0aalert(1)", "", "not a valid URL"},
		{"data:text/html,<script>", "", "data: links are not allowed"},
		{"/relative/path", "", "absolute URL"},
		{"//evil.example/x", "", "absolute URL"},
		{"shop.example.com", "", "absolute URL"},
		{"ftp://x.example/f", "", "ftp: links are not allowed"},
		{"https://user:pw@evil.example/", "", "user name or password"},
		{"https://paypal.com@evil.example/", "", "user name or password"},
		{"https:///nohost", "", "must have a host"},
		{"https://exa mple.com/", "", "spaces"},
		{"https://x.example/\x00", "", "control characters"},
		{"", "", "is required"},
		{"https://x.example/" + strings.Repeat("a", MaxURLLen), "", "at most 4096"},
	} {
		got, msg := CheckURL(tc.in)
		if got != tc.want || !strings.Contains(msg, tc.err) || (tc.err == "") != (msg == "") {
			t.Errorf("CheckURL(%q) = %q, %q; want %q, %q", tc.in, got, msg, tc.want, tc.err)
		}
	}
}

func TestPrepare(t *testing.T) {
	t.Parallel()
	tr := Tracking{ClickParam: "roost_cid", Source: "mastodon", Campaign: "xps-13", Content: "pst_1"}
	for _, tc := range []struct {
		dest string
		tr   Tracking
		want string
	}{
		{"https://shop.example.com/p", tr, "https://shop.example.com/p?roost_cid=CID&utm_source=mastodon&utm_medium=social&utm_campaign=xps-13&utm_content=pst_1"},
		{"https://shop.example.com/p?b=2&a=1", Tracking{ClickParam: "roost_cid"}, "https://shop.example.com/p?b=2&a=1&roost_cid=CID&utm_medium=social"},
		{"https://shop.example.com/p?utm_source=newsletter&utm_medium=email#reviews", tr,
			"https://shop.example.com/p?utm_source=newsletter&utm_medium=email&roost_cid=CID&utm_campaign=xps-13&utm_content=pst_1#reviews"},
		{"https://shop.example.com/p?q=a%20b&x=%E2%9C%93", Tracking{ClickParam: "cid", Campaign: "sale & more"},
			"https://shop.example.com/p?q=a%20b&x=%E2%9C%93&cid=CID&utm_medium=social&utm_campaign=sale+%26+more"},
		{"https://shop.example.com/p?", Tracking{ClickParam: "cid"}, "https://shop.example.com/p?cid=CID&utm_medium=social"},
		{"https://shop.example.com/#/spa/route?x=1", Tracking{ClickParam: "cid"}, "https://shop.example.com/?cid=CID&utm_medium=social#/spa/route?x=1"},
		{"https://shop.example.com/p?roost_cid=mine&x=1", tr, "https://shop.example.com/p?roost_cid=mine&x=1&utm_source=mastodon&utm_medium=social&utm_campaign=xps-13&utm_content=pst_1"},
		{"https://shop.example.com/p?UTM_SOURCE=x", Tracking{ClickParam: "cid", Source: "bluesky"}, "https://shop.example.com/p?UTM_SOURCE=x&cid=CID&utm_source=bluesky&utm_medium=social"},
	} {
		tpl, err := Prepare(tc.dest, tc.tr)
		if err != nil {
			t.Fatal(err)
		}
		if got := tpl.URL("CID"); got != tc.want {
			t.Errorf("Prepare(%q):\n got %s\nwant %s", tc.dest, got, tc.want)
		}
	}
}

func TestHostAllowed(t *testing.T) {
	t.Parallel()
	allowed := []string{"shop.example.com", "example.org"}
	for host, ok := range map[string]bool{"shop.example.com": true, "eu.shop.example.com": true, "example.org": true, "www.example.org": true,
		"evilshop.example.com": false, "example.org.evil.example": false, "example.com": false} {
		if hostAllowed(host, allowed) != ok {
			t.Errorf("hostAllowed(%q) = %v", host, !ok)
		}
	}
	if !hostAllowed("anything.example", nil) {
		t.Error("an empty allowlist should allow every host")
	}
}

package links

import "testing"

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ua, method, device, reason string
		bot                        bool
	}{
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "GET", "mobile", "", false},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "GET", "desktop", "", false},
		{"Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "GET", "tablet", "", false},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "HEAD", "bot", "HEAD request", true},
		{"http.rb/5.1.1 (Mastodon/4.2.8; +https://mastodon.social/) Bot", "GET", "bot", "link preview: Mastodon", true},
		{"Mozilla/5.0 (compatible; Cardyb/1.1; +mailto:support@bsky.app)", "GET", "bot", "link preview: Bluesky", true},
		{"Twitterbot/1.0", "GET", "bot", "link preview: Twitterbot", true},
		{"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "GET", "bot", "link preview: facebookexternalhit", true},
		{"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "GET", "bot", "link preview: Slackbot", true},
		{"Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", "GET", "bot", "link preview: Discordbot", true},
		{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "GET", "bot", "crawler: Googlebot", true},
		{"curl/8.5.0", "GET", "bot", "automated client: curl", true},
		{"", "GET", "bot", "no user agent", true},
		{"", "HEAD", "bot", "no user agent", true},
		{"Twitterbot/1.0", "HEAD", "bot", "HEAD request", true},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "HEAD", "bot", "HEAD request", true},
	} {
		c := Classify(tc.ua, tc.method)
		if c.Bot != tc.bot || c.Device != tc.device || c.BotReason != tc.reason {
			t.Errorf("Classify(%q, %s) = %+v; want bot=%v device=%s reason=%q", tc.ua, tc.method, c, tc.bot, tc.device, tc.reason)
		}
	}
}

func TestReferrerHost(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://Mastodon.Social/@brand/1234?private=1": "mastodon.social",
		"android-app://com.twitter.android/":            "com.twitter.android",
		"not a url":                                     "",
		"":                                              "",
	} {
		if got := referrerHost(in); got != want {
			t.Errorf("referrerHost(%q) = %q, want %q", in, got, want)
		}
	}
}

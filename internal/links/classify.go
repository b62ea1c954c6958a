package links

import (
	"net/url"
	"strings"
	"sync"

	"github.com/mileusna/useragent"
)

// previewFetchers are the link-preview and card fetchers of social
// networks and chat apps, matched case-insensitively in the user agent.
// One Mastodon post makes every instance that sees it fetch the preview, so
// these must never count as people.
var previewFetchers = []struct{ token, name string }{
	{"twitterbot", "Twitterbot"},
	{"facebookexternalhit", "facebookexternalhit"},
	{"facebookcatalog", "facebookcatalog"},
	{"mastodon/", "Mastodon"},
	{"pleroma", "Pleroma"},
	{"akkoma", "Akkoma"},
	{"misskey", "Misskey"},
	{"gotosocial", "GoToSocial"},
	{"cardyb", "Bluesky"},
	{"bluesky", "Bluesky"},
	{"bsky", "Bluesky"},
	{"slackbot", "Slackbot"},
	{"slack-imgproxy", "Slackbot"},
	{"discordbot", "Discordbot"},
	{"telegrambot", "TelegramBot"},
	{"whatsapp", "WhatsApp"},
	{"linkedinbot", "LinkedInBot"},
	{"skypeuripreview", "Skype"},
	{"embedly", "Embedly"},
	{"redditbot", "Redditbot"},
	{"pinterest", "Pinterest"},
	{"iframely", "Iframely"},
	{"threads", "Threads"},
	{"google-pagerenderer", "Google"},
	{"applebot", "Applebot"},
}

// crawlerWords catch automated clients the user-agent library does not name.
var crawlerWords = []string{"bot", "crawler", "spider", "preview", "fetcher", "curl/", "wget/", "python-requests", "python-urllib",
	"go-http-client", "okhttp", "java/", "libwww", "httpclient", "headless", "scrapy", "axios/", "node-fetch", "monitor", "uptime"}

// Classified is what Roost learns from a request's user agent.
type Classified struct {
	Device    string // desktop, mobile, tablet, bot or other
	OS        string
	Browser   string
	Bot       bool
	BotReason string
}

// classified remembers recent answers by user agent: most clicks come from
// a few thousand distinct user agents, and parsing one costs microseconds.
// The map is simply dropped when it grows past its bound.
var classified struct {
	sync.Mutex
	m map[string]Classified
}

const classifiedMax = 20_000

// Classify reads the user agent and method of a redirect request. HEAD
// requests and preview fetchers are bots: kept, but never human clicks.
func Classify(ua, method string) Classified {
	classified.Lock()
	c, ok := classified.m[ua]
	classified.Unlock()
	if !ok {
		c = classify(ua, "GET")
		classified.Lock()
		if classified.m == nil || len(classified.m) >= classifiedMax {
			classified.m = make(map[string]Classified, 1024)
		}
		classified.m[ua] = c
		classified.Unlock()
	}
	if method == "HEAD" && c.BotReason != "no user agent" {
		// What a GET would be, but a HEAD request is never a person's
		// click (classify says the same; this spares a second entry).
		c.Bot, c.BotReason, c.Device = true, "HEAD request", "bot"
	}
	return c
}

func classify(ua, method string) Classified {
	c := Classified{Device: "other"}
	p := useragent.Parse(ua)
	c.OS, c.Browser = p.OS, p.Name
	switch {
	case p.Tablet:
		c.Device = "tablet"
	case p.Mobile:
		c.Device = "mobile"
	case p.Desktop:
		c.Device = "desktop"
	}
	low := strings.ToLower(ua)
	switch {
	case strings.TrimSpace(ua) == "":
		c.Bot, c.BotReason = true, "no user agent"
	case method == "HEAD":
		c.Bot, c.BotReason = true, "HEAD request"
	default:
		for _, f := range previewFetchers {
			if strings.Contains(low, f.token) {
				c.Bot, c.BotReason = true, "link preview: "+f.name
				break
			}
		}
		if !c.Bot && p.Bot {
			c.Bot, c.BotReason = true, "crawler: "+orUnknown(p.Name)
		}
		if !c.Bot {
			for _, w := range crawlerWords {
				if strings.Contains(low, w) {
					c.Bot, c.BotReason = true, "automated client: "+strings.Trim(w, "/")
					break
				}
			}
		}
	}
	if c.Bot {
		c.Device = "bot"
	}
	return c
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// referrerHost keeps only the host of a Referer header: the rest may carry
// a person's private path or query.
func referrerHost(ref string) string {
	if ref == "" {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil || u.Host == "" {
		return ""
	}
	h := strings.ToLower(u.Hostname())
	if len(h) > 253 {
		h = h[:253]
	}
	return h
}

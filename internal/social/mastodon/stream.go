package mastodon

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/netclient"
)

// Stream follows the account's notifications through Mastodon's streaming
// API (server-sent events on /api/v1/streaming/user/notification, at the
// address the instance gives for streaming) and calls wake for each
// mention. It returns when ctx ends or the stream breaks.
func (c *Connector) Stream(ctx context.Context, conn *social.Conn, wake func()) error {
	var cr Creds
	if err := json.Unmarshal(conn.Creds, &cr); err != nil || cr.AccessToken == "" {
		return &social.Error{Network: social.Mastodon, Kind: social.Unauthorized, Reason: "no access token: reconnect the account"}
	}
	base := c.streamingBase(ctx, conn.Instance)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/streaming/user/notification", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+cr.AccessToken)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", netclient.UserAgent)
	// A stream lasts: the client's overall timeout would cut it, so only
	// ctx ends it (the transport keeps its dial and TLS timeouts).
	hc := &http.Client{}
	if c.HTTP != nil {
		hc.Transport = c.HTTP.Transport
	}
	resp, err := hc.Do(req)
	if err != nil {
		return social.AsError(social.Mastodon, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return &social.Error{Network: social.Mastodon, Kind: social.Unauthorized, Status: resp.StatusCode, Reason: "the streaming API refused the token"}
	case resp.StatusCode != http.StatusOK:
		return &social.Error{Network: social.Mastodon, Kind: social.Unavailable, Status: resp.StatusCode, Reason: "the streaming API answered " + resp.Status}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var event, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if event == "notification" && isMention(data) {
				wake()
			}
			event, data = "", ""
		case strings.HasPrefix(line, ":"): // a heartbeat
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimSpace(strings.TrimPrefix(line, "data:"))
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := sc.Err(); err != nil {
		return &social.Error{Network: social.Mastodon, Kind: social.Unavailable, Reason: "the stream broke: " + err.Error()}
	}
	return &social.Error{Network: social.Mastodon, Kind: social.Unavailable, Reason: "the server closed the stream"}
}

// isMention reads a notification event's type.
func isMention(data string) bool {
	var n struct {
		Type string `json:"type"`
	}
	return json.Unmarshal([]byte(data), &n) == nil && n.Type == "mention"
}

// streamingBase is where the instance serves streaming: its configured
// streaming address (wss://… becomes https://…) when on the same scheme
// family, else the instance itself.
func (c *Connector) streamingBase(ctx context.Context, instance string) string {
	var inst struct {
		Configuration struct {
			URLs struct {
				Streaming string `json:"streaming"`
			} `json:"urls"`
		} `json:"configuration"`
	}
	if err := c.client().Do(ctx, netclient.Request{Method: http.MethodGet, URL: instance + "/api/v2/instance", Out: &inst}); err != nil {
		return instance
	}
	u, err := url.Parse(inst.Configuration.URLs.Streaming)
	if err != nil || u.Host == "" {
		return instance
	}
	switch u.Scheme {
	case "wss", "https":
		return "https://" + u.Host
	}
	return instance
}

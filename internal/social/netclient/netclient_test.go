package netclient_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/netclient"
)

func TestFailuresInWords(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(300 * time.Millisecond) }))
	t.Cleanup(slow.Close)
	limited := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	t.Cleanup(limited.Close)
	c := &netclient.Client{Network: "test", HTTP: &http.Client{Timeout: 100 * time.Millisecond}}
	for _, tc := range []struct {
		url, method string
		kind        social.Kind
		reason      string
		sent        bool
	}{
		{closed, "POST", social.Unavailable, "refused the connection", false},
		{"http://no-such-host.invalid", "GET", social.Unavailable, "no server by that name", false},
		{slow.URL, "POST", social.Unavailable, "no answer in time", true},
		{slow.URL, "GET", social.Unavailable, "no answer in time", false},
		{limited.URL, "GET", social.RateLimited, "Too Many Requests", false},
	} {
		err := c.Do(context.Background(), netclient.Request{Method: tc.method, URL: tc.url})
		var e *social.Error
		if !errors.As(err, &e) || e.Kind != tc.kind || !strings.Contains(e.Reason, tc.reason) || e.Sent != tc.sent {
			t.Errorf("%s %s: %+v, want %s %q sent=%v", tc.method, tc.url, e, tc.kind, tc.reason, tc.sent)
		}
		if tc.kind == social.RateLimited && time.Until(e.RetryAt) < 110*time.Second {
			t.Errorf("Retry-After not read: %v", e.RetryAt)
		}
	}
}

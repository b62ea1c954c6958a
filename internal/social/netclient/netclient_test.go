package netclient_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
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

func TestPublicOnly(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{"8.8.8.8": true, "2a00:1450::1": true, "127.0.0.1": false, "10.1.2.3": false, "192.168.0.1": false,
		"169.254.169.254": false, "100.64.0.1": false, "::1": false, "fd00::1": false, "0.0.0.0": false, "::ffff:127.0.0.1": false} {
		if got := netclient.Public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Public(%s) = %v", addr, got)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	if _, err := netclient.PublicOnly(time.Second).Get(srv.URL); err == nil || !strings.Contains(err.Error(), "not a public address") {
		t.Fatalf("a loopback server was reached: %v", err)
	}
}

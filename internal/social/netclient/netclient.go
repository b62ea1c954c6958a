// Package netclient is the HTTP plumbing Roost's network clients share:
// a User-Agent on every request (some servers refuse requests without
// one), the caller's deadline and no retries of its own, bounded and
// checked JSON bodies, and failures sorted into social.Error kinds with
// the network's reason and rate-limit reset.
package netclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/roost-hq/roost/internal/social"
)

// UserAgent names Roost to the networks.
const UserAgent = "Roost/1 (+https://github.com/roost-hq/roost)"

// maxBody bounds a response body: network answers are small.
const maxBody = 4 << 20

// Client calls one network's HTTP API.
type Client struct {
	Network string
	HTTP    *http.Client // default: one with a 30 s timeout
	// Reason extracts the network's error message from an error body.
	Reason func(body []byte) string
	// Reset reads when a rate limit resets from a 429's headers.
	Reset func(h http.Header) time.Time
}

// Request is one call.
type Request struct {
	Method string
	URL    string
	Header http.Header
	JSON   any        // a JSON body
	Form   url.Values // a form body
	Out    any        // decoded from a 2xx JSON answer
	// Headers, when set, receives the answer's headers.
	Headers *http.Header
}

// Do sends the request. A 2xx answer is decoded into Out; anything else
// becomes a *social.Error.
func (c *Client) Do(ctx context.Context, r Request) error {
	var body io.Reader
	ctype := ""
	switch {
	case r.JSON != nil:
		b, err := json.Marshal(r.JSON)
		if err != nil {
			return err
		}
		body, ctype = bytes.NewReader(b), "application/json"
	case r.Form != nil:
		body, ctype = strings.NewReader(r.Form.Encode()), "application/x-www-form-urlencoded"
	}
	wrote := false
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wrote = true }})
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return &social.Error{Network: c.Network, Kind: social.Rejected, Reason: "bad request address: " + err.Error()}
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	res, err := hc.Do(req)
	if err != nil {
		// Sent: the request went out and the answer was lost; for a
		// post, it may exist.
		return &social.Error{Network: c.Network, Kind: social.Unavailable, Reason: describe(err), Sent: wrote && r.Method != http.MethodGet}
	}
	defer res.Body.Close()
	if r.Headers != nil {
		*r.Headers = res.Header
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody+1))
	if err != nil || len(b) > maxBody {
		reason := "the answer was too large"
		if err != nil {
			reason = "the answer broke off: " + describe(err)
		}
		return &social.Error{Network: c.Network, Kind: social.Unavailable, Status: res.StatusCode, Reason: reason, Sent: r.Method != http.MethodGet}
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		if r.Out == nil || len(bytes.TrimSpace(b)) == 0 && res.StatusCode == http.StatusNoContent {
			return nil
		}
		if err := json.Unmarshal(b, r.Out); err != nil {
			return &social.Error{Network: c.Network, Kind: social.Unavailable, Status: res.StatusCode, Reason: "the answer was not the JSON expected: " + err.Error(), Sent: r.Method != http.MethodGet}
		}
		return nil
	}
	e := &social.Error{Network: c.Network, Status: res.StatusCode, Reason: http.StatusText(res.StatusCode)}
	if c.Reason != nil {
		if s := c.Reason(b); s != "" {
			e.Reason = clip(s)
		}
	}
	switch {
	case res.StatusCode == http.StatusTooManyRequests:
		e.Kind = social.RateLimited
		if c.Reset != nil {
			e.RetryAt = c.Reset(res.Header)
		}
		if e.RetryAt.IsZero() {
			e.RetryAt = RetryAfter(res.Header)
		}
	case res.StatusCode == http.StatusUnauthorized:
		e.Kind = social.Unauthorized
	case res.StatusCode >= 500 || res.StatusCode == http.StatusRequestTimeout:
		e.Kind, e.Sent = social.Unavailable, r.Method != http.MethodGet
	default:
		e.Kind = social.Rejected
	}
	return e
}

var defaultHTTP = &http.Client{Timeout: 30 * time.Second}

// describe says in words why a request got no answer.
func describe(err error) string {
	var dns *net.DNSError
	var opErr *net.OpError
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err):
		return "no answer in time"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &dns):
		return "no server by that name (" + dns.Name + ")"
	case errors.As(err, &certErr):
		return "its TLS certificate was not accepted"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the server refused the connection"
	case errors.As(err, &opErr):
		return "the connection failed: " + opErr.Err.Error()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// RetryAfter reads a Retry-After header (seconds or an HTTP date).
func RetryAfter(h http.Header) time.Time {
	v := h.Get("Retry-After")
	if v == "" {
		return time.Time{}
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Now().Add(time.Duration(n) * time.Second)
	}
	if t, err := http.ParseTime(v); err == nil {
		return t
	}
	return time.Time{}
}

// UnixReset reads a header holding a Unix time in seconds.
func UnixReset(h http.Header, name string) time.Time {
	if n, err := strconv.ParseInt(h.Get(name), 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0)
	}
	return time.Time{}
}

// Errorf is a Rejected error with the network's name.
func (c *Client) Errorf(format string, args ...any) error {
	return &social.Error{Network: c.Network, Kind: social.Rejected, Reason: fmt.Sprintf(format, args...)}
}

// clip keeps a network's message short enough for a page, a log line and
// a cookie: servers are not trusted to keep them short.
func clip(s string) string {
	r := []rune(strings.ToValidUTF8(s, "?"))
	if len(r) > 300 {
		return string(r[:300]) + "…"
	}
	return string(r)
}

// PublicOnly returns a client that connects only to public addresses: for
// servers named by outsiders (a shopper's Mastodon server, from their
// handle), so nobody can make Roost call into its own network. The check
// runs on the address actually dialled, after DNS, so a name that
// resolves to a private address is refused too.
func PublicOnly(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, Control: func(network, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip, err := netip.ParseAddr(host)
		if err != nil || !Public(ip) {
			return fmt.Errorf("%s is not a public address", host)
		}
		return nil
	}}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = d.DialContext
	t.Proxy = nil
	return &http.Client{Timeout: timeout, Transport: t}
}

// cgnat is the shared address space of carrier-grade NAT (RFC 6598).
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// Public reports whether ip is an address on the public internet.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsGlobalUnicast() && !ip.IsPrivate() && !cgnat.Contains(ip)
}

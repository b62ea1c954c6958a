// Package social is Roost's side of the social networks: brand accounts
// and their sealed credentials, and the Connector each network implements
// so the rest of Roost can publish, read mentions, and ask who a person is
// and whether they follow a brand account. The built-in sandbox network
// implements it in the database, for demos and tests; the mastodon,
// bluesky and x packages implement it over each network's HTTP API.
package social

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Identity is a person as a network knows them: the stable account ID is
// what counts, the handle is for people to read.
type Identity struct {
	Network   string `json:"network"`
	AccountID string `json:"account_id"`
	Handle    string `json:"handle"`
}

// Health is how an account's credentials stand, as the last calls saw them.
type Health string

const (
	Healthy  Health = "ok"       // the last call worked
	Expiring Health = "expiring" // the credentials end soon and cannot be refreshed
	Revoked  Health = "revoked"  // the network refused the credentials: reconnect
	Failing  Health = "failing"  // the network keeps failing (down, or refusing for another reason)
)

// Account is a brand account on a network.
type Account struct {
	ID               string     `json:"id"`
	WorkspaceID      string     `json:"-"`
	Network          string     `json:"network"`
	Handle           string     `json:"handle"`
	RemoteID         string     `json:"remote_id"`
	DisplayName      string     `json:"display_name"`
	Instance         string     `json:"instance,omitempty"`
	Health           Health     `json:"health"`
	HealthReason     string     `json:"health_reason,omitempty"`
	LastOKAt         *time.Time `json:"last_ok_at"`
	RateLimitedUntil *time.Time `json:"rate_limited_until"`
	ExpiresAt        *time.Time `json:"credentials_expire_at"`
	CharLimit        int        `json:"char_limit"`
	Followers        *int64     `json:"followers"`
	ConnectedBy      string     `json:"connected_by,omitempty"`
	CreatedAt        time.Time  `json:"created_at"`
	Disconnected     bool       `json:"disconnected"`
}

// Limit is the account's post length limit: what its server said, or the
// network's rule.
func (a Account) Limit() int {
	if a.CharLimit > 0 {
		return a.CharLimit
	}
	return Rules(a.Network).Limit
}

// Mention is the handle by which people address the account in a post.
func (a Account) Mention() string {
	if a.Network == Mastodon && a.Instance != "" {
		return "@" + a.Handle + "@" + hostOf(a.Instance)
	}
	return "@" + a.Handle
}

// Conn is an account with its credentials opened, for one connector call.
// A connector that refreshes the credentials sets Creds and Changed, and
// the caller keeps the new ones.
type Conn struct {
	Account
	Creds   []byte // the network's own JSON
	Changed bool
	// ExpiresAt is when the (possibly refreshed) credentials end, if known.
	ExpiresAt *time.Time
}

// SetCreds replaces the credentials after a refresh.
func (c *Conn) SetCreds(b []byte, expires *time.Time) {
	c.Creds, c.Changed, c.ExpiresAt = b, true, expires
}

// Profile is what a network says about a connected account.
type Profile struct {
	RemoteID    string
	Handle      string
	DisplayName string
	Followers   int64
	CharLimit   int // 0: the network's rule
}

// Draft is a post to publish. Key is unique to the copy and stable across
// retries: connectors pass it where the network accepts one (an
// Idempotency-Key, a record key) so a retry cannot make a second post.
type Draft struct {
	Key     string
	Text    string
	LinkURL string // the tracked link inside Text, for networks that mark links up
	ReplyTo string // the remote ID of the post answered, for replies
	// Direct keeps a reply to a direct message direct (Mastodon's
	// "direct" visibility; a Messenger's SendDirect elsewhere): a private
	// question never gets a public answer.
	Direct bool
	// Thread is the network's direct-message conversation and To the
	// person answered (their stable account ID), for SendDirect.
	Thread, To string
	// Created is when the copy was composed, stable across retries, for
	// networks whose record keys carry a time (Bluesky's TIDs).
	Created time.Time
}

// Published is where a post landed.
type Published struct {
	RemoteID string
	URL      string
}

// Message is a mention, reply or direct message to a brand account.
type Message struct {
	RemoteID string    `json:"remote_id"`
	ReplyTo  string    `json:"reply_to,omitempty"`
	Thread   string    `json:"thread,omitempty"`
	Author   Identity  `json:"author"`
	Text     string    `json:"text"`
	URL      string    `json:"url,omitempty"`
	Direct   bool      `json:"direct"`
	At       time.Time `json:"at"`
	// Followers is how many followers the author had, as the network said
	// with the message (nil: it did not say).
	Followers *int64 `json:"followers,omitempty"`
}

// Connector is what a network offers Roost. Every call takes a deadline
// from its context; a connector never retries by itself beyond that, and
// reports failures as *Error so callers can tell a rate limit from a
// revoked token.
type Connector interface {
	// Network names the network ("sandbox", "mastodon", …).
	Network() string
	// Verify re-checks the credentials and reads the account's profile.
	Verify(ctx context.Context, c *Conn) (Profile, error)
	// Publish posts a draft (a reply when ReplyTo is set).
	Publish(ctx context.Context, c *Conn, d Draft) (Published, error)
	// FindPublished looks among the account's latest posts for one made
	// from the draft (by its key or its tracked link), after an attempt
	// whose outcome is unknown.
	FindPublished(ctx context.Context, c *Conn, d Draft) (Published, bool, error)
	// Mentions returns mentions and replies after the cursor, oldest
	// first, and the cursor to pass next time ("" starts from now).
	Mentions(ctx context.Context, c *Conn, cursor string) ([]Message, string, error)
	// Lookup finds a person by handle.
	Lookup(ctx context.Context, c *Conn, handle string) (Identity, error)
	// Follows reports whether the person follows the brand account.
	Follows(ctx context.Context, c *Conn, person Identity) (bool, error)
}

// Streamer is a connector that can push: Stream holds a connection open
// and calls wake whenever a mention or reply arrives, until ctx ends or
// the connection fails. The poller still reads the messages from its
// cursor, so nothing rests on the stream: it only says when to look.
type Streamer interface {
	Stream(ctx context.Context, c *Conn, wake func()) error
}

// Messenger is a connector whose network keeps direct messages apart from
// posts: Bluesky's chat, X's direct messages. (Mastodon's direct messages
// are mentions of "direct" visibility: Mentions reads them and Publish
// answers them with Draft.Direct.)
type Messenger interface {
	// DirectMessages returns the direct messages people sent the account
	// after the cursor, oldest first, each with Direct set and Thread
	// naming the network's conversation, and the cursor to pass next time
	// ("" starts from now). The account's own messages are left out. A
	// failure returns no messages and the same cursor.
	DirectMessages(ctx context.Context, c *Conn, cursor string) ([]Message, string, error)
	// SendDirect sends d.Text as a direct message in the conversation
	// d.Thread, to the person d.To.
	SendDirect(ctx context.Context, c *Conn, d Draft) (Published, error)
	// FindDirect looks among the conversation's latest messages for one
	// the account sent from the draft, after an attempt whose outcome is
	// unknown (networks take no idempotency key for direct messages).
	FindDirect(ctx context.Context, c *Conn, d Draft) (Published, bool, error)
}

// ErrNoSuchPerson is returned by Lookup for an unknown handle.
var ErrNoSuchPerson = errors.New("no such person on this network")

// Kind sorts network failures by what to do about them.
type Kind string

const (
	RateLimited  Kind = "rate_limited" // wait until RetryAt
	Unauthorized Kind = "unauthorized" // the credentials were refused: reconnect
	Rejected     Kind = "rejected"     // the network refused the request itself (too long, duplicate, …): do not retry
	Unavailable  Kind = "unavailable"  // down, slow or garbled: retry later
	// Forbidden: the credentials work but were not granted this (a Bluesky
	// app password without access to direct messages, an X connection
	// without the dm.read scope). The account stays healthy for the rest;
	// reconnecting with the permission fixes it.
	Forbidden Kind = "forbidden"
)

// Error is a failed network call.
type Error struct {
	Network string
	Kind    Kind
	Status  int       // the HTTP status, 0 when none came back
	Reason  string    // the network's own words, for people
	RetryAt time.Time // for RateLimited, when the limit resets (zero: unknown)
	// Sent means the request may have reached the network (a timeout after
	// sending): a post may exist even though no answer came.
	Sent bool
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s", e.Network, e.Kind)
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// AsError returns the *Error in err's chain, or one of kind Unavailable
// wrapping any other failure.
func AsError(network string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Network: network, Kind: Unavailable, Reason: err.Error()}
}

package social

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// SandboxNetwork is the built-in network: anyone can be any handle (the
// sandbox has no passwords), follower lists live in the database, edited
// from the dashboard and the CLI, and brand posts and people's mentions
// are rows of a timeline. It lets everything be tried with no credentials
// and no outside service, through the same Connector as real networks.
type SandboxNetwork struct{ db *store.DB }

// NewSandbox returns the sandbox connector on db.
func NewSandbox(db *store.DB) *SandboxNetwork { return &SandboxNetwork{db: db} }

// Network is "sandbox".
func (n *SandboxNetwork) Network() string { return Sandbox }

// Verify reads the account's follower count.
func (n *SandboxNetwork) Verify(ctx context.Context, c *Conn) (Profile, error) {
	p := Profile{RemoteID: c.RemoteID, Handle: c.Handle, DisplayName: c.DisplayName}
	err := n.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM sandbox_follows WHERE account_id = $1`, c.ID).Scan(&p.Followers)
	return p, err
}

// Publish adds the post to the sandbox timeline; the same key lands once.
func (n *SandboxNetwork) Publish(ctx context.Context, c *Conn, d Draft) (Published, error) {
	pid := id.New("sbp")
	_, err := n.db.W.ExecContext(ctx, `INSERT INTO sandbox_posts (id, account_id, author, text, reply_to, key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (account_id, key) DO NOTHING`, pid, c.ID, c.Handle, d.Text, d.ReplyTo, d.Key, n.db.Now().UnixMicro())
	if err != nil {
		return Published{}, fmt.Errorf("sandbox: publish: %w", err)
	}
	p, ok, err := n.FindPublished(ctx, c, d)
	if err == nil && !ok {
		err = errors.New("sandbox: the post vanished")
	}
	return p, err
}

// FindPublished finds the post made with the draft's key.
func (n *SandboxNetwork) FindPublished(ctx context.Context, c *Conn, d Draft) (Published, bool, error) {
	var pid string
	err := n.db.R.QueryRowContext(ctx, `SELECT id FROM sandbox_posts WHERE account_id = $1 AND key = $2`, c.ID, d.Key).Scan(&pid)
	if errors.Is(err, sql.ErrNoRows) {
		return Published{}, false, nil
	}
	if err != nil {
		return Published{}, false, err
	}
	return Published{RemoteID: pid, URL: "sandbox:" + pid}, true, nil
}

// Mentions returns what people sent the account after the cursor (the
// sandbox starts from the beginning of its timeline).
func (n *SandboxNetwork) Mentions(ctx context.Context, c *Conn, cursor string) ([]Message, string, error) {
	rows, err := n.db.R.QueryContext(ctx, `SELECT id, author, text, reply_to, created_at FROM sandbox_posts
		WHERE account_id = $1 AND author <> $2 AND id > $3 ORDER BY id LIMIT 100`, c.ID, c.Handle, cursor)
	if err != nil {
		return nil, cursor, fmt.Errorf("sandbox: mentions: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var m Message
		if err := rows.Scan(&m.RemoteID, &m.Author.AccountID, &m.Text, &m.ReplyTo, store.T(&m.At)); err != nil {
			return nil, cursor, err
		}
		m.Author.Network, m.Author.Handle = Sandbox, "@"+m.Author.AccountID
		m.URL = "sandbox:" + m.RemoteID
		out = append(out, m)
		cursor = m.RemoteID
	}
	return out, cursor, rows.Err()
}

// Lookup turns a handle into an identity: in the sandbox, a person's stable
// ID is their handle. The connection may be nil.
func (n *SandboxNetwork) Lookup(ctx context.Context, _ *Conn, handle string) (Identity, error) {
	var e valid.Errors
	h := SandboxHandle(&e, "handle", handle)
	if e.Err() != nil {
		return Identity{}, ErrNoSuchPerson
	}
	return Identity{Network: Sandbox, AccountID: h, Handle: "@" + h}, nil
}

// Follows reports whether the person is on the account's follower list.
func (n *SandboxNetwork) Follows(ctx context.Context, c *Conn, person Identity) (bool, error) {
	if c.Network != Sandbox || person.Network != Sandbox {
		return false, nil
	}
	var k int
	err := n.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM sandbox_follows WHERE account_id = $1 AND follower = $2`, c.ID, person.AccountID).Scan(&k)
	return k > 0, err
}

// Mention is a person on the sandbox writing to a brand account (a
// mention, or a reply when replyTo names one of its posts), as a real
// network's user would: the inbox and claim tokens pick it up from there.
func (n *SandboxNetwork) Mention(ctx context.Context, a Account, from, text, replyTo string) (Message, error) {
	var e valid.Errors
	h := SandboxHandle(&e, "from", from)
	text = e.Lines("text", text, 1, 5000)
	if a.Network != Sandbox {
		e.Add("account", "only sandbox accounts take sandbox mentions")
	}
	if h == a.Handle {
		e.Add("from", "is the brand account itself")
	}
	if err := e.Err(); err != nil {
		return Message{}, err
	}
	m := Message{RemoteID: id.New("sbp"), Author: Identity{Network: Sandbox, AccountID: h, Handle: "@" + h}, Text: text, ReplyTo: replyTo, At: n.db.Now().UTC().Truncate(time.Microsecond)}
	m.URL = "sandbox:" + m.RemoteID
	_, err := n.db.W.ExecContext(ctx, `INSERT INTO sandbox_posts (id, account_id, author, text, reply_to, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		m.RemoteID, a.ID, h, text, replyTo, store.Micros(m.At))
	if err != nil {
		return Message{}, fmt.Errorf("sandbox: mention: %w", err)
	}
	return m, nil
}

// Timeline lists an account's sandbox posts and what people sent it,
// newest first: what the sandbox network would show.
func (n *SandboxNetwork) Timeline(ctx context.Context, a Account, limit int) ([]Message, error) {
	rows, err := n.db.R.QueryContext(ctx, `SELECT id, author, text, reply_to, created_at FROM sandbox_posts WHERE account_id = $1 ORDER BY id DESC LIMIT $2`, a.ID, limit)
	if err != nil {
		return nil, fmt.Errorf("sandbox: timeline: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var m Message
		if err := rows.Scan(&m.RemoteID, &m.Author.AccountID, &m.Text, &m.ReplyTo, store.T(&m.At)); err != nil {
			return nil, err
		}
		m.Author.Network, m.Author.Handle = Sandbox, "@"+m.Author.AccountID
		out = append(out, m)
	}
	return out, rows.Err()
}

// SetFollowers replaces a sandbox account's follower list.
func (n *SandboxNetwork) SetFollowers(ctx context.Context, account Account, handles []string) ([]string, error) {
	if account.Network != Sandbox {
		return nil, valid.New("account", "only sandbox accounts have editable followers")
	}
	var e valid.Errors
	seen := map[string]bool{}
	var clean []string
	for _, h := range handles {
		if h = SandboxHandle(&e, "followers", h); h != "" && !seen[h] {
			seen[h] = true
			clean = append(clean, h)
		}
	}
	if len(clean) > 100_000 {
		e.Add("followers", "at most 100,000 followers")
	}
	if err := e.Err(); err != nil {
		return nil, err
	}
	now := n.db.Now().UnixMicro()
	err := n.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sandbox_follows WHERE account_id = $1`, account.ID); err != nil {
			return err
		}
		for _, h := range clean {
			if _, err := tx.ExecContext(ctx, `INSERT INTO sandbox_follows (account_id, follower, created_at) VALUES ($1, $2, $3)`, account.ID, h, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("social: set followers: %w", err)
	}
	return clean, nil
}

// Followers lists a sandbox account's followers.
func (n *SandboxNetwork) Followers(ctx context.Context, account Account) ([]string, error) {
	rows, err := n.db.R.QueryContext(ctx, `SELECT follower FROM sandbox_follows WHERE account_id = $1 ORDER BY follower`, account.ID)
	if err != nil {
		return nil, fmt.Errorf("social: list followers: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

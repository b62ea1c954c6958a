package posts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
)

// Publisher publishes due copies. Any number of Publishers may run, in one
// process or several on one PostgreSQL: a copy is leased by one at a time
// with a conditional update, and only the lease's holder may record what
// happened. A copy whose attempt may have reached the network (a crash, or
// a timeout after sending) is looked for on the network before it is
// published again, and every post carries a key the network can use to
// refuse a second copy; together they make a copy go out once.
type Publisher struct {
	DB  *store.DB
	Hub *social.Hub
	Log *slog.Logger
	// Lease is how long a worker may hold a copy (default 2 minutes); it
	// must exceed a call's deadline.
	Lease time.Duration
	// MaxAttempts before a copy fails for good (default 8).
	MaxAttempts int
}

type leased struct {
	Copy
	uncertain bool
	lease     string
	linkCode  string
}

// Run publishes due copies every second until ctx ends.
func (p *Publisher) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if _, err := p.RunOnce(ctx); err != nil && ctx.Err() == nil {
			p.Log.Error("posts: publish", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce publishes the copies due now and returns how many it handled.
func (p *Publisher) RunOnce(ctx context.Context) (int, error) {
	now := p.DB.Now().UnixMicro()
	rows, err := p.DB.R.QueryContext(ctx, `SELECT id FROM post_copies WHERE status IN ('scheduled', 'publishing') AND due_at <= $1
		AND (lease_until IS NULL OR lease_until < $1) ORDER BY due_at LIMIT 20`, now)
	if err != nil {
		return 0, fmt.Errorf("posts: due copies: %w", err)
	}
	var ids []string
	for rows.Next() {
		var cid string
		if err := rows.Scan(&cid); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, cid)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, cid := range ids {
		if ctx.Err() != nil {
			break
		}
		c, ok, err := p.lease(ctx, cid)
		if err != nil {
			return n, err
		}
		if !ok {
			continue // another worker took it
		}
		n++
		if err := p.publish(ctx, c); err != nil {
			return n, err
		}
	}
	return n, nil
}

// lease takes a due copy for this worker. A copy found in "publishing"
// with its lease run out was being published by a worker that stopped: it
// may be on the network already, so it is marked uncertain.
func (p *Publisher) lease(ctx context.Context, copyID string) (leased, bool, error) {
	lt := p.Lease
	if lt == 0 {
		lt = 2 * time.Minute
	}
	now := p.DB.Now()
	c := leased{lease: id.Token(10)}
	row := p.DB.W.QueryRowContext(ctx, `UPDATE post_copies SET status = 'publishing', lease = $1, lease_until = $2, attempts = attempts + 1,
		uncertain = CASE WHEN status = 'publishing' THEN TRUE ELSE uncertain END, updated_at = $3
		WHERE id = $4 AND status IN ('scheduled', 'publishing') AND due_at <= $3 AND (lease_until IS NULL OR lease_until < $3)
		RETURNING post_id, account_id, COALESCE(link_id, ''), text, attempts, uncertain, workspace_id`,
		c.lease, now.Add(lt).UnixMicro(), now.UnixMicro(), copyID)
	var wsID string
	err := row.Scan(&c.PostID, &c.AccountID, &c.LinkID, &c.Text, &c.Attempts, &c.uncertain, &wsID)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("posts: lease: %w", err)
	}
	c.ID = copyID
	if c.LinkID != "" {
		var code string
		if err := p.DB.R.QueryRowContext(ctx, `SELECT code FROM links WHERE id = $1`, c.LinkID).Scan(&code); err == nil {
			c.linkCode = code
		}
	}
	return c, true, nil
}

func (p *Publisher) publish(ctx context.Context, c leased) error {
	a, err := p.Hub.Store.AccountByID(ctx, c.AccountID)
	if err != nil {
		return err
	}
	c.Network, c.Handle = a.Network, a.Handle
	d := social.Draft{Key: c.ID, Text: c.Text, LinkURL: linkIn(c.Text, c.linkCode)}
	d.Created, _ = id.Time(c.ID)
	var pub social.Published
	callErr := p.Hub.Call(ctx, a, func(ctx context.Context, conn social.Connector, cn *social.Conn) error {
		if c.uncertain {
			got, found, err := conn.FindPublished(ctx, cn, d)
			if err != nil {
				return err
			}
			if found {
				pub = got
				return nil
			}
		}
		var err error
		pub, err = conn.Publish(ctx, cn, d)
		return err
	})
	return p.record(ctx, c, pub, callErr)
}

// record writes an attempt's outcome, if this worker still holds the lease.
func (p *Publisher) record(ctx context.Context, c leased, pub social.Published, callErr error) error {
	ctx = context.WithoutCancel(ctx) // the outcome is kept even while stopping
	now := p.DB.Now()
	var q string
	var args []any
	if callErr == nil {
		q, args = `status = 'published', remote_id = $1, remote_url = $2, published_at = $3, uncertain = FALSE, error = ''`, []any{pub.RemoteID, pub.URL, now.UnixMicro()}
	} else {
		ne := social.AsError(c.Network, callErr)
		maxAttempts := p.MaxAttempts
		if maxAttempts == 0 {
			maxAttempts = 8
		}
		reason := ne.Error()
		switch {
		case ne.Kind == social.Unauthorized || ne.Kind == social.Rejected:
			q, args = `status = 'failed', error = $1, uncertain = FALSE`, []any{reason}
		case c.Attempts >= maxAttempts:
			q, args = `status = 'failed', error = $1, uncertain = $2`, []any{fmt.Sprintf("gave up after %d attempts: %s", c.Attempts, reason), ne.Sent || c.uncertain}
		default:
			due := now.Add(backoff(c.Attempts))
			if ne.Kind == social.RateLimited && ne.RetryAt.After(now) {
				due = ne.RetryAt.Add(time.Second)
			}
			// Still uncertain if this attempt may have reached the network,
			// or failed before it could look.
			q, args = `status = 'scheduled', due_at = $1, error = $2, uncertain = $3`, []any{due.UnixMicro(), reason, ne.Sent || c.uncertain && ne.Kind != social.RateLimited}
		}
		p.Log.Warn("posts: publish failed", "copy", c.ID, "account", c.AccountID, "attempt", c.Attempts, "err", reason)
	}
	n := len(args)
	args = append(args, now.UnixMicro(), c.ID, c.lease)
	res, err := p.DB.W.ExecContext(ctx, fmt.Sprintf(`UPDATE post_copies SET %s, lease_until = NULL, lease = '', updated_at = $%d WHERE id = $%d AND lease = $%d AND status = 'publishing'`,
		q, n+1, n+2, n+3), args...)
	if err != nil {
		return fmt.Errorf("posts: record outcome: %w", err)
	}
	if k, _ := res.RowsAffected(); k == 0 {
		p.Log.Warn("posts: lease lost before the outcome was kept; the next attempt will look for the post", "copy", c.ID)
	}
	return nil
}

// backoff is the wait before attempt n+1: 5 s doubling to 30 min, with
// jitter so that many copies do not retry in step.
func backoff(n int) time.Duration {
	d := 5 * time.Second << min(n, 9)
	d = min(d, 30*time.Minute)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)))
}

// linkIn returns the full tracked link inside text, given its code.
func linkIn(text, code string) string {
	if code == "" {
		return ""
	}
	for _, u := range social.URLs(text) {
		if s := text[u[0]:u[1]]; len(s) > len(code) && s[len(s)-len(code)-1:] == "/"+code {
			return s
		}
	}
	return ""
}

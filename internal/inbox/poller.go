// Package inbox gathers what people send brand accounts (mentions,
// replies, direct messages where the network allows) into conversations,
// and settles the claim tokens those messages carry.
//
// One poller per account runs at a time across every process on the
// database: it leases the account's poller row, reads the network from its
// cursor, and stores the messages and the next cursor in one transaction
// that only the lease's holder can commit. A crash before the commit reads
// the same messages again; a crash after it never reads them twice.
package inbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
)

// Poller reads every connected account's mentions on a schedule.
type Poller struct {
	DB     *store.DB
	Hub    *social.Hub
	Offers *offers.Store
	Log    *slog.Logger
	// Every is how often an account is polled (default 30 s); the sandbox,
	// which costs nothing to ask, is polled every SandboxEvery (default 2 s).
	Every, SandboxEvery time.Duration
	// Lease bounds one poll (default 2 minutes): a process that stops while
	// holding it is replaced once it runs out.
	Lease time.Duration
	// StreamCheckEvery is how often RunStreams looks for accounts to
	// stream (default 15 s).
	StreamCheckEvery time.Duration
}

// maxBackoff caps the wait after repeated failures.
const maxBackoff = 30 * time.Minute

var errLeaseLost = errors.New("inbox: the poll's lease ran out before its messages were stored")

func (p *Poller) every(network string) time.Duration {
	if network == social.Sandbox {
		return orDefault(p.SandboxEvery, 2*time.Second)
	}
	return orDefault(p.Every, 30*time.Second)
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Run polls due accounts every second until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if _, err := p.RunOnce(ctx); err != nil && ctx.Err() == nil {
			p.Log.Error("inbox: poll", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce polls the accounts due now, then settles the claim tokens their
// messages carried, and returns how many messages it stored. A failing
// network is recorded on its account's poller and does not stop the rest.
func (p *Poller) RunOnce(ctx context.Context) (int, error) {
	now := time.Now().UnixMicro()
	// Every connected account gets a poller row the first time it is seen.
	if _, err := p.DB.W.ExecContext(ctx, `INSERT INTO account_pollers (account_id, due_at)
		SELECT id, 0 FROM accounts WHERE disconnected_at IS NULL AND id NOT IN (SELECT account_id FROM account_pollers)
		ON CONFLICT DO NOTHING`); err != nil {
		return 0, fmt.Errorf("inbox: add pollers: %w", err)
	}
	rows, err := p.DB.R.QueryContext(ctx, `SELECT p.account_id FROM account_pollers p JOIN accounts a ON a.id = p.account_id
		WHERE a.disconnected_at IS NULL AND p.due_at <= $1 AND (p.lease_until IS NULL OR p.lease_until < $1)
		ORDER BY p.due_at LIMIT 50`, now)
	if err != nil {
		return 0, fmt.Errorf("inbox: due accounts: %w", err)
	}
	var due []string
	for rows.Next() {
		var aid string
		if err := rows.Scan(&aid); err != nil {
			rows.Close()
			return 0, err
		}
		due = append(due, aid)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	stored := 0
	for _, aid := range due {
		if ctx.Err() != nil {
			return stored, nil
		}
		n, err := p.poll(ctx, aid)
		stored += n
		if err != nil {
			return stored, err
		}
	}
	if _, err := p.Offers.VerifyTokens(ctx, p.follows, 50); err != nil {
		p.Log.Warn("inbox: claim tokens wait for the network", "err", err)
	}
	return stored, nil
}

// follows asks a brand account's network whether the person follows it.
func (p *Poller) follows(ctx context.Context, accountID string, who social.Identity) (bool, error) {
	a, err := p.Hub.Store.AccountByID(ctx, accountID)
	if err != nil {
		return false, err
	}
	if a.Network != who.Network {
		return false, nil
	}
	var ok bool
	err = p.Hub.Call(ctx, a, func(ctx context.Context, c social.Connector, conn *social.Conn) error {
		ok, err = c.Follows(ctx, conn, who)
		return err
	})
	return ok, err
}

// poll leases one account's poller, reads its mentions and, where the
// network keeps them apart, its direct messages, and stores them with both
// cursors in one transaction. Only database failures are returned; a
// network's failure is kept on the poller row (and on the account's
// health, by the hub) and retried later. Direct messages that cannot be
// read (a rate limit, credentials without that permission) do not hold up
// the mentions: the reason is kept in dm_error and they are tried again
// later from the same cursor.
func (p *Poller) poll(ctx context.Context, accountID string) (int, error) {
	lease := id.Token(10)
	now := time.Now()
	var cursor, dmCursor string
	var failures int
	var streamUntil, dmDue int64
	// due_at is set to now while polling: a stream's wake during the poll
	// sets it to 0, which the poll's end keeps, so that mention is read at
	// once rather than at the next interval.
	err := p.DB.W.QueryRowContext(ctx, `UPDATE account_pollers SET lease = $1, lease_until = $2, due_at = $4
		WHERE account_id = $3 AND due_at <= $4 AND (lease_until IS NULL OR lease_until < $4)
		RETURNING cursor, failures, COALESCE(stream_until, 0), dm_cursor, dm_due_at`,
		lease, now.Add(orDefault(p.Lease, 2*time.Minute)).UnixMicro(), accountID, now.UnixMicro()).Scan(&cursor, &failures, &streamUntil, &dmCursor, &dmDue)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil // another process has it
	}
	if err != nil {
		return 0, fmt.Errorf("inbox: lease poller: %w", err)
	}
	a, err := p.Hub.Store.AccountByID(ctx, accountID)
	if err != nil {
		return 0, err
	}
	var msgs, dms []social.Message
	next, dmNext := cursor, dmCursor
	readDMs := false
	var dmErr error
	callErr := p.Hub.Call(ctx, a, func(ctx context.Context, c social.Connector, conn *social.Conn) error {
		var err error
		msgs, next, err = c.Mentions(ctx, conn, cursor)
		if err != nil {
			return err
		}
		if m, ok := c.(social.Messenger); ok && dmDue <= time.Now().UnixMicro() {
			readDMs = true
			if dms, dmNext, dmErr = m.DirectMessages(ctx, conn, dmCursor); dmErr != nil {
				dms, dmNext = nil, dmCursor
			}
		}
		// A failure of the direct messages alone is the poller's to keep
		// (dm_error), not the account's health: mentions were read.
		return nil
	})
	if callErr != nil {
		return 0, p.failed(ctx, a, lease, failures, callErr)
	}
	due := time.Now().Add(p.every(a.Network))
	if streaming(streamUntil, now) {
		due = time.Now().Add(streamPollEvery)
	}
	if len(msgs) > 0 && next != cursor || len(dms) > 0 && dmNext != dmCursor {
		due = time.Now() // a full page may mean more are waiting: catch up at once
	}
	var dmDueNext int64
	dmReason := ""
	if dmErr != nil {
		e := social.AsError(a.Network, dmErr)
		dmReason = clip(e.Error(), 300)
		wait := p.every(a.Network)
		switch e.Kind {
		case social.RateLimited:
			wait = time.Minute
			if !e.RetryAt.IsZero() {
				wait = time.Until(e.RetryAt)
			}
		case social.Forbidden, social.Unauthorized:
			wait = dmRefusedWait
		}
		dmDueNext = time.Now().Add(wait).UnixMicro()
		p.Log.Info("inbox: direct messages unavailable", "account", a.ID, "network", a.Network, "kind", e.Kind)
	}
	stored := 0
	err = p.DB.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE account_pollers SET cursor = $1, due_at = CASE WHEN due_at = 0 THEN due_at ELSE $2 END, lease = '', lease_until = NULL, polled_at = $3,
			failures = 0, error = '' WHERE account_id = $4 AND lease = $5`, next, due.UnixMicro(), time.Now().UnixMicro(), a.ID, lease)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return errLeaseLost
		}
		if readDMs {
			// The lease was checked above, in this transaction.
			if _, err := tx.ExecContext(ctx, `UPDATE account_pollers SET dm_cursor = $1, dm_due_at = $2, dm_error = $3, dm_polled_at = $4 WHERE account_id = $5`,
				dmNext, dmDueNext, dmReason, time.Now().UnixMicro(), a.ID); err != nil {
				return err
			}
		}
		for _, m := range append(msgs, dms...) {
			ok, err := storeInbound(ctx, tx, a, m, p.DB.Now())
			if err != nil {
				return err
			}
			if ok {
				stored++
			}
		}
		return nil
	})
	if errors.Is(err, errLeaseLost) {
		p.Log.Warn("inbox: poll outlived its lease; another process reads the account now", "account", a.ID)
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("inbox: store messages of %s: %w", a.ID, err)
	}
	return stored, nil
}

// dmRefusedWait is how long direct messages wait after the network refused
// them to the credentials: until someone reconnects the account with the
// permission, asking every poll would only repeat the refusal.
const dmRefusedWait = 15 * time.Minute

// failed keeps a network failure on the poller and schedules the next try:
// when the rate limit resets, or after a doubling backoff.
func (p *Poller) failed(ctx context.Context, a social.Account, lease string, failures int, callErr error) error {
	e := social.AsError(a.Network, callErr)
	wait := p.every(a.Network) << min(failures, 10)
	wait = min(wait, maxBackoff)
	due := time.Now().Add(wait)
	if e.Kind == social.RateLimited && !e.RetryAt.IsZero() {
		due = e.RetryAt
	}
	_, err := p.DB.W.ExecContext(ctx, `UPDATE account_pollers SET due_at = $1, lease = '', lease_until = NULL, polled_at = $2,
		failures = failures + 1, error = $3 WHERE account_id = $4 AND lease = $5`, due.UnixMicro(), time.Now().UnixMicro(), e.Error(), a.ID, lease)
	if err != nil {
		return fmt.Errorf("inbox: record failure: %w", err)
	}
	p.Log.Info("inbox: mentions unavailable", "account", a.ID, "network", a.Network, "kind", e.Kind, "retry_at", due.UTC().Format(time.RFC3339))
	return nil
}

package inbox

import (
	"context"
	"sync"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/social"
)

// Streaming: where a network pushes (Mastodon's streaming API), one
// process per account holds the stream open, and each mention it hears
// makes the account due for polling at once. The messages still come
// through the poll, from its cursor, in its transaction; the stream only
// removes the wait. A live stream stretches the polling interval to
// streamPollEvery, a safety net for anything the stream missed.

const (
	streamLease     = 45 * time.Second
	streamPollEvery = 5 * time.Minute
)

// RunStreams keeps a stream open for each account whose network has one,
// taking over accounts whose stream holder stopped, until ctx ends.
func (p *Poller) RunStreams(ctx context.Context) {
	me := id.Token(10)
	var mu sync.Mutex
	running := map[string]bool{}
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(orDefault(p.StreamCheckEvery, 15*time.Second))
	defer t.Stop()
	for {
		for _, a := range p.streamable(ctx) {
			mu.Lock()
			busy := running[a.ID]
			mu.Unlock()
			if busy || !p.takeStream(ctx, a.ID, me) {
				continue
			}
			mu.Lock()
			running[a.ID] = true
			mu.Unlock()
			wg.Go(func() {
				p.stream(ctx, a, me)
				mu.Lock()
				delete(running, a.ID)
				mu.Unlock()
			})
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// streamable lists the connected accounts whose connector streams.
func (p *Poller) streamable(ctx context.Context) []social.Account {
	rows, err := p.DB.R.QueryContext(ctx, `SELECT id FROM accounts WHERE disconnected_at IS NULL`)
	if err != nil {
		return nil
	}
	var ids []string
	for rows.Next() {
		var aid string
		if rows.Scan(&aid) == nil {
			ids = append(ids, aid)
		}
	}
	rows.Close()
	var out []social.Account
	for _, aid := range ids {
		a, err := p.Hub.Store.AccountByID(ctx, aid)
		if err != nil || a.Health == social.Revoked {
			continue
		}
		if _, ok := p.Hub.Connector(a.Network).(social.Streamer); ok {
			out = append(out, a)
		}
	}
	return out
}

// takeStream takes (or renews) the account's stream lease for this
// process; false when another process holds it.
func (p *Poller) takeStream(ctx context.Context, accountID, me string) bool {
	now := time.Now()
	p.DB.W.ExecContext(ctx, `INSERT INTO account_pollers (account_id, due_at) VALUES ($1, 0) ON CONFLICT DO NOTHING`, accountID)
	res, err := p.DB.W.ExecContext(ctx, `UPDATE account_pollers SET stream_lease = $1, stream_until = $2
		WHERE account_id = $3 AND (stream_until IS NULL OR stream_until < $4 OR stream_lease = $1)`, me, now.Add(streamLease).UnixMicro(), accountID, now.UnixMicro())
	if err != nil {
		return false
	}
	n, _ := res.RowsAffected()
	return n == 1
}

// stream follows one account's stream while this process holds its lease.
func (p *Poller) stream(ctx context.Context, a social.Account, me string) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer p.DB.W.ExecContext(context.WithoutCancel(ctx), `UPDATE account_pollers SET stream_until = NULL, stream_lease = '' WHERE account_id = $1 AND stream_lease = $2`, a.ID, me)
	go func() {
		t := time.NewTicker(streamLease / 3)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
				if !p.takeStream(sctx, a.ID, me) {
					cancel() // another process took over
					return
				}
			}
		}
	}()
	conn, err := p.Hub.Store.Open(sctx, a)
	if err != nil {
		return
	}
	wake := func() {
		p.DB.W.ExecContext(sctx, `UPDATE account_pollers SET due_at = 0 WHERE account_id = $1`, a.ID)
	}
	// Anything that came while no stream was open is read now.
	wake()
	err = p.Hub.Connector(a.Network).(social.Streamer).Stream(sctx, conn, wake)
	if err != nil && sctx.Err() == nil {
		p.Log.Info("inbox: stream ended; polling carries on", "account", a.ID, "err", err)
	}
}

// streaming reports whether a live stream covers the account.
func streaming(streamUntil int64, now time.Time) bool { return streamUntil > now.UnixMicro() }

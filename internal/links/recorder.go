package links

import (
	"bufio"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roost-hq/roost/internal/store"
)

// Click is one redirect as the hot path records it. It holds no IP
// address: only the visitor key made from it, and the country.
type Click struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"ws"`
	LinkID      string    `json:"link"`
	At          time.Time `json:"at"`
	Visitor     string    `json:"v"`
	UA          string    `json:"ua"`
	Referrer    string    `json:"ref"` // host only
	Method      string    `json:"m"`
	Country     string    `json:"cc"`
}

// RecorderConfig sizes the click buffer and its writer.
type RecorderConfig struct {
	Buffer     int           // clicks held in memory before spilling
	BatchSize  int           // clicks per insert
	FlushEvery time.Duration // longest a click waits before its batch is written
	SpillDir   string        // where clicks go when the buffer is full or the database down; "" blocks instead
}

// DefaultRecorderConfig is used for zero fields.
var DefaultRecorderConfig = RecorderConfig{Buffer: 100_000, BatchSize: 500, FlushEvery: 200 * time.Millisecond}

// Recorder buffers clicks in memory and writes them in batches, so a
// redirect never waits on the database. It never drops a click: when the
// buffer is full it spills to a local file (or, with no spill directory,
// makes the redirect wait), retries while the database is down, replays
// spilled clicks when it can, and writes everything on Close.
type Recorder struct {
	db  *store.DB
	log *slog.Logger
	cfg RecorderConfig

	mu     sync.RWMutex // guards closed against Add racing Close
	closed bool
	ch     chan Click

	spillMu   sync.Mutex
	spillFile *os.File
	spillBuf  *bufio.Writer
	spilled   atomic.Int64 // clicks in spill files, not yet in the database

	giveUp chan struct{} // closed when Close's deadline passes
	done   chan struct{}
	stmts  map[stmtKey]*sql.Stmt // prepared inserts; only the writer goroutine uses them

	// Written counts clicks stored; Spills counts clicks that went to disk.
	Written, Spills atomic.Int64
}

const spillLive = "clicks.jsonl"

// NewRecorder starts a recorder writing to db. Spilled clicks left by an
// earlier process are replayed.
func NewRecorder(db *store.DB, log *slog.Logger, cfg RecorderConfig) (*Recorder, error) {
	if cfg.Buffer <= 0 {
		cfg.Buffer = DefaultRecorderConfig.Buffer
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultRecorderConfig.BatchSize
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = DefaultRecorderConfig.FlushEvery
	}
	r := &Recorder{db: db, log: log, cfg: cfg, ch: make(chan Click, cfg.Buffer), giveUp: make(chan struct{}), done: make(chan struct{}), stmts: map[stmtKey]*sql.Stmt{}}
	if cfg.SpillDir != "" {
		if err := os.MkdirAll(cfg.SpillDir, 0o700); err != nil {
			return nil, fmt.Errorf("links: click spill directory: %w", err)
		}
		// Whatever an earlier process spilled waits for replay.
		if _, err := os.Stat(filepath.Join(cfg.SpillDir, spillLive)); err == nil {
			if err := os.Rename(filepath.Join(cfg.SpillDir, spillLive), filepath.Join(cfg.SpillDir, fmt.Sprintf("clicks-%d.replay.jsonl", time.Now().UnixNano()))); err != nil {
				return nil, fmt.Errorf("links: click spill file: %w", err)
			}
		}
		n, err := r.countReplay()
		if err != nil {
			return nil, err
		}
		r.spilled.Store(n)
		if n > 0 {
			log.Info("replaying clicks spilled by an earlier run", "clicks", n)
		}
	}
	go r.run()
	return r, nil
}

// Depth is the number of clicks not yet in the database.
func (r *Recorder) Depth() int64 { return int64(len(r.ch)) + r.spilled.Load() }

// Add records a click. It returns at once unless the buffer is full and
// there is no spill directory.
func (r *Recorder) Add(c Click) {
	r.mu.RLock()
	if !r.closed {
		select {
		case r.ch <- c:
			r.mu.RUnlock()
			return
		default:
		}
		if r.cfg.SpillDir == "" {
			r.ch <- c // backpressure: wait for the writer
			r.mu.RUnlock()
			return
		}
	}
	r.mu.RUnlock()
	if err := r.spill([]Click{c}); err != nil {
		// The disk failed too: wait for room rather than lose the click.
		r.log.Error("cannot spill a click; waiting for the buffer", "err", err)
		r.mu.RLock()
		defer r.mu.RUnlock()
		if !r.closed {
			r.ch <- c
		}
	}
}

// Close stops taking clicks and writes all buffered ones. If ctx ends
// first (the database is down), what remains is spilled to disk for the
// next start.
func (r *Recorder) Close(ctx context.Context) error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.ch)
	}
	r.mu.Unlock()
	select {
	case <-r.done:
	case <-ctx.Done():
		close(r.giveUp)
		<-r.done
	}
	r.spillMu.Lock()
	defer r.spillMu.Unlock()
	return r.closeSpillLocked()
}

func (r *Recorder) run() {
	defer close(r.done)
	defer func() {
		for _, st := range r.stmts {
			st.Close()
		}
	}()
	batch := make([]Click, 0, r.cfg.BatchSize)
	tick := time.NewTicker(r.cfg.FlushEvery)
	defer tick.Stop()
	for {
		select {
		case c, ok := <-r.ch:
			if !ok {
				r.flush(batch)
				r.replay(true)
				return
			}
			batch = append(batch, c)
			if len(batch) >= r.cfg.BatchSize {
				r.flush(batch)
				batch = batch[:0]
			}
		case <-tick.C:
			if len(batch) > 0 {
				r.flush(batch)
				batch = batch[:0]
			}
			if r.spilled.Load() > 0 && len(r.ch) < cap(r.ch)/2 {
				r.replay(false)
			}
		}
	}
}

// flush writes a batch, retrying with backoff while the database fails.
// When told to give up, it spills the batch and everything still buffered.
func (r *Recorder) flush(batch []Click) {
	if len(batch) == 0 {
		return
	}
	wait := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		n, err := r.insert(ctx, batch, false)
		cancel()
		if err == nil {
			r.Written.Add(int64(n))
			return
		}
		r.log.Warn("cannot write clicks; retrying", "clicks", len(batch), "err", err, "retry_in", wait)
		select {
		case <-r.giveUp:
			rest := append([]Click(nil), batch...)
			for c := range r.ch {
				rest = append(rest, c)
			}
			if err := r.spill(rest); err != nil {
				r.log.Error("clicks lost: database and disk both failed", "clicks", len(rest), "err", err)
			}
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}

func (r *Recorder) spill(cs []Click) error {
	r.spillMu.Lock()
	defer r.spillMu.Unlock()
	if r.spillFile == nil {
		if r.cfg.SpillDir == "" {
			return errors.New("no spill directory")
		}
		f, err := os.OpenFile(filepath.Join(r.cfg.SpillDir, spillLive), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		r.spillFile, r.spillBuf = f, bufio.NewWriterSize(f, 64<<10)
	}
	enc := json.NewEncoder(r.spillBuf)
	for _, c := range cs {
		if err := enc.Encode(c); err != nil {
			return err
		}
	}
	r.spilled.Add(int64(len(cs)))
	r.Spills.Add(int64(len(cs)))
	return nil
}

func (r *Recorder) closeSpillLocked() error {
	if r.spillFile == nil {
		return nil
	}
	err := errors.Join(r.spillBuf.Flush(), r.spillFile.Sync(), r.spillFile.Close())
	r.spillFile, r.spillBuf = nil, nil
	return err
}

func (r *Recorder) replayFiles() ([]string, error) {
	if r.cfg.SpillDir == "" {
		return nil, nil
	}
	files, err := filepath.Glob(filepath.Join(r.cfg.SpillDir, "clicks-*.replay.jsonl"))
	slices.Sort(files)
	return files, err
}

func (r *Recorder) countReplay() (int64, error) {
	files, err := r.replayFiles()
	if err != nil {
		return 0, err
	}
	var n int64
	for _, f := range files {
		err := readSpill(f, func(Click) { n++ })
		if err != nil {
			return 0, err
		}
	}
	return n, nil
}

func readSpill(path string, fn func(Click)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var c Click
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			continue // a line cut short by a crash: the rest still counts
		}
		fn(c)
	}
	return sc.Err()
}

// replay moves the live spill file aside and writes every spilled click
// to the database, deleting each file once it is stored. Clicks keep their
// IDs, so a replay interrupted half-way never counts a click twice.
func (r *Recorder) replay(final bool) {
	r.spillMu.Lock()
	if r.spillFile != nil {
		if err := r.closeSpillLocked(); err != nil {
			r.log.Error("cannot close click spill file", "err", err)
		}
		live := filepath.Join(r.cfg.SpillDir, spillLive)
		if err := os.Rename(live, filepath.Join(r.cfg.SpillDir, fmt.Sprintf("clicks-%d.replay.jsonl", time.Now().UnixNano()))); err != nil {
			r.log.Error("cannot rotate click spill file", "err", err)
		}
	}
	r.spillMu.Unlock()
	files, err := r.replayFiles()
	if err != nil {
		r.log.Error("cannot list spilled clicks", "err", err)
		return
	}
	for _, path := range files {
		var all []Click
		if err := readSpill(path, func(c Click) { all = append(all, c) }); err != nil {
			r.log.Error("cannot read spilled clicks", "file", path, "err", err)
			return
		}
		for i := 0; i < len(all); i += r.cfg.BatchSize {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			n, err := r.insert(ctx, all[i:min(i+r.cfg.BatchSize, len(all))], true)
			cancel()
			if err != nil {
				if !final {
					r.log.Warn("cannot replay spilled clicks yet", "err", err)
				} else {
					r.log.Error("spilled clicks stay on disk for the next start", "file", path, "err", err)
				}
				return
			}
			r.Written.Add(int64(n))
		}
		if err := os.Remove(path); err != nil {
			r.log.Error("cannot remove replayed click file", "file", path, "err", err)
			return
		}
		r.spilled.Add(-int64(len(all)))
		r.log.Info("replayed spilled clicks", "clicks", len(all))
	}
}

// row is a click ready for the database.
type row struct {
	Click
	Classified
	day    int64
	hour   int64
	unique bool
}

// chunkSizes split a batch into multi-row statements of a few fixed sizes,
// so each is prepared once and reused: parsing a statement of hundreds of
// rows costs as much as running it.
var chunkSizes = []int{256, 64, 16, 4, 1}

// bulk runs a multi-row INSERT for n rows of cols values each, in chunks
// of prepared statements. head is the statement up to VALUES, tail what
// follows the rows; args(i) gives row i's values. When scan is not nil the
// statement has a RETURNING clause and scan reads each returned row.
func (r *Recorder) bulk(ctx context.Context, tx *sql.Tx, head, tail string, cols, n int, args func(i int) []any, scan func(*sql.Rows) error) error {
	for start := 0; start < n; {
		size := chunkSizes[len(chunkSizes)-1]
		for _, c := range chunkSizes {
			if c <= n-start {
				size = c
				break
			}
		}
		st := r.stmts[stmtKey{head, tail, size}]
		if st == nil {
			return fmt.Errorf("links: statement for %d rows not prepared", size)
		}
		vals := make([]any, 0, size*cols)
		for i := start; i < start+size; i++ {
			vals = append(vals, args(i)...)
		}
		ts := tx.StmtContext(ctx, st)
		if scan == nil {
			if _, err := ts.ExecContext(ctx, vals...); err != nil {
				return err
			}
		} else {
			res, err := ts.QueryContext(ctx, vals...)
			if err != nil {
				return err
			}
			for res.Next() {
				if err := scan(res); err != nil {
					res.Close()
					return err
				}
			}
			res.Close()
			if err := res.Err(); err != nil {
				return err
			}
		}
		start += size
	}
	return nil
}

type stmtKey struct {
	head, tail string
	size       int
}

// Bulk statements of the click writer: head, tail and values per row.
var bulkStatements = []struct {
	head, tail string
	cols       int
}{
	{uniquesHead, uniquesTail, 3},
	{clicksHead, "", 13},
	{clicksHead, clicksReplayTail, 13},
}

const (
	uniquesHead      = `INSERT INTO click_uniques (link_id, day, visitor)`
	uniquesTail      = `ON CONFLICT (link_id, day, visitor) DO NOTHING RETURNING link_id, day, visitor`
	clicksHead       = `INSERT INTO clicks (id, workspace_id, link_id, at, visitor, referrer_host, device, os, browser, country, bot, bot_reason, is_unique)`
	clicksReplayTail = `ON CONFLICT (id) DO NOTHING RETURNING id`
)

// prepare readies every bulk statement, once, before the first batch: not
// inside a transaction, which holds SQLite's only write connection.
func (r *Recorder) prepare(ctx context.Context) error {
	if len(r.stmts) > 0 {
		return nil
	}
	for _, b := range bulkStatements {
		for _, size := range chunkSizes {
			var sb strings.Builder
			sb.WriteString(b.head)
			sb.WriteString(" VALUES ")
			for i := range size {
				if i > 0 {
					sb.WriteString(", ")
				}
				sb.WriteByte('(')
				for j := range b.cols {
					if j > 0 {
						sb.WriteString(", ")
					}
					sb.WriteString(r.db.Param(i*b.cols + j + 1))
				}
				sb.WriteByte(')')
			}
			sb.WriteString(" " + b.tail)
			st, err := r.db.W.PrepareContext(ctx, sb.String())
			if err != nil {
				return fmt.Errorf("links: prepare click insert: %w", err)
			}
			r.stmts[stmtKey{b.head, b.tail, size}] = st
		}
	}
	return nil
}

// insert stores a batch in one transaction and returns how many clicks
// were new. A replay (clicks spilled to disk, perhaps stored already by a
// run that died mid-replay) skips the clicks it finds by ID; a fresh batch
// cannot hold a stored click, so it takes the cheaper plain insert.
func (r *Recorder) insert(ctx context.Context, batch []Click, replay bool) (int, error) {
	rows := make([]row, len(batch))
	for i, c := range batch {
		rows[i] = row{Click: c, Classified: Classify(c.UA, c.Method), day: day(c.At), hour: c.At.UTC().Unix() / 3600 * 3600 * 1e6}
	}
	if err := r.prepare(ctx); err != nil {
		return 0, err
	}
	inserted := 0
	err := r.db.Tx(ctx, func(tx *sql.Tx) error {
		// A human visitor's first click on a link each day is unique. The
		// primary key of click_uniques decides, across every node.
		type ukey struct {
			link    string
			day     int64
			visitor string
		}
		first := map[ukey]int{}
		var keys []ukey
		for i, rw := range rows {
			if rw.Bot {
				continue
			}
			k := ukey{rw.LinkID, rw.day, rw.Visitor}
			if _, ok := first[k]; !ok {
				first[k] = i
				keys = append(keys, k)
			}
		}
		err := r.bulk(ctx, tx, uniquesHead, uniquesTail, 3, len(keys), func(i int) []any { return []any{keys[i].link, keys[i].day, keys[i].visitor} },
			func(res *sql.Rows) error {
				var k ukey
				if err := res.Scan(&k.link, &k.day, &k.visitor); err != nil {
					return err
				}
				rows[first[k]].unique = true
				return nil
			})
		if err != nil {
			return fmt.Errorf("links: insert uniques: %w", err)
		}

		stored := make(map[string]bool, len(rows))
		clickArgs := func(i int) []any {
			rw := rows[i]
			return []any{rw.ID, rw.WorkspaceID, rw.LinkID, rw.At.UnixMicro(), rw.Visitor, rw.Referrer, rw.Device,
				trunc(rw.OS, 64), trunc(rw.Browser, 64), rw.Country, rw.Bot, rw.BotReason, rw.unique}
		}
		if replay {
			err = r.bulk(ctx, tx, clicksHead, clicksReplayTail, 13, len(rows), clickArgs, func(res *sql.Rows) error {
				var id string
				err := res.Scan(&id)
				stored[id] = true
				return err
			})
		} else {
			err = r.bulk(ctx, tx, clicksHead, "", 13, len(rows), clickArgs, nil)
			for _, rw := range rows {
				stored[rw.ID] = true
			}
		}
		if err != nil {
			return fmt.Errorf("links: insert clicks: %w", err)
		}
		inserted = len(stored)

		// Rollups: one upsert per link and hour (and per link, day and
		// breakdown value) in this batch, in a fixed order so two nodes never
		// deadlock on each other's rows.
		type ckey struct {
			link string
			hour int64
		}
		type count struct {
			ws                    string
			total, human, uniques int64
		}
		type dkey struct {
			link     string
			day      int64
			dim, val string
		}
		type dcount struct {
			ws            string
			clicks, human int64
		}
		counts := map[ckey]*count{}
		dims := map[dkey]*dcount{}
		for _, rw := range rows {
			if !stored[rw.ID] {
				continue
			}
			c := counts[ckey{rw.LinkID, rw.hour}]
			if c == nil {
				c = &count{ws: rw.WorkspaceID}
				counts[ckey{rw.LinkID, rw.hour}] = c
			}
			c.total++
			if !rw.Bot {
				c.human++
			}
			if rw.unique {
				c.uniques++
			}
			for _, dv := range [4][2]string{{"referrer", rw.Referrer}, {"device", rw.Device}, {"country", rw.Country}, {"bot", rw.BotReason}} {
				if dv[0] == "bot" && !rw.Bot {
					continue
				}
				k := dkey{rw.LinkID, rw.day, dv[0], dv[1]}
				d := dims[k]
				if d == nil {
					d = &dcount{ws: rw.WorkspaceID}
					dims[k] = d
				}
				d.clicks++
				if !rw.Bot {
					d.human++
				}
			}
		}
		for _, k := range slices.SortedFunc(maps.Keys(counts), func(a, b ckey) int {
			return cmp.Or(strings.Compare(a.link, b.link), cmp.Compare(a.hour, b.hour))
		}) {
			c := counts[k]
			if _, err := tx.ExecContext(ctx, `INSERT INTO click_counts (link_id, hour, workspace_id, total, human, uniques) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (link_id, hour) DO UPDATE SET total = click_counts.total + excluded.total,
				human = click_counts.human + excluded.human, uniques = click_counts.uniques + excluded.uniques`,
				k.link, k.hour, c.ws, c.total, c.human, c.uniques); err != nil {
				return fmt.Errorf("links: count clicks: %w", err)
			}
		}
		for _, k := range slices.SortedFunc(maps.Keys(dims), func(a, b dkey) int {
			return cmp.Or(strings.Compare(a.link, b.link), cmp.Compare(a.day, b.day), strings.Compare(a.dim, b.dim), strings.Compare(a.val, b.val))
		}) {
			d := dims[k]
			if _, err := tx.ExecContext(ctx, `INSERT INTO click_dims (link_id, day, dim, value, workspace_id, clicks, human) VALUES ($1, $2, $3, $4, $5, $6, $7)
				ON CONFLICT (link_id, day, dim, value) DO UPDATE SET clicks = click_dims.clicks + excluded.clicks, human = click_dims.human + excluded.human`,
				k.link, k.day, k.dim, k.val, d.ws, d.clicks, d.human); err != nil {
				return fmt.Errorf("links: count clicks by %s: %w", k.dim, err)
			}
		}
		return nil
	})
	return inserted, err
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

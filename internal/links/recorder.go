package links

import (
	"bufio"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
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
var DefaultRecorderConfig = RecorderConfig{Buffer: 100_000, BatchSize: 2000, FlushEvery: 200 * time.Millisecond}

// Recorder buffers clicks in memory and writes them in batches, so a
// redirect never waits on the database. It never drops a click: when the
// buffer is full it spills to a local file (or, with no spill directory,
// makes the redirect wait), retries while the database is down, replays
// spilled clicks when it can, and writes everything on Close.
//
// The buffer is a list of batches under a mutex rather than a channel of
// Buffer clicks: memory (and what the garbage collector scans) follows the
// clicks actually waiting, and the writer takes a whole batch at once.
type Recorder struct {
	db  *store.DB
	log *slog.Logger
	cfg RecorderConfig

	mu      sync.Mutex
	room    sync.Cond // signalled when the writer frees room, or exits
	cur     []Click   // the batch Add appends to
	full    [][]Click // batches waiting for the writer, oldest first
	held    int       // clicks in memory: cur, full and the batch being written
	free    [][]Click // written batches, kept for reuse
	closed  bool      // Close was called: the writer drains and exits
	exited  bool      // the writer is gone: Add can only spill
	wake    chan struct{}
	giveUp  chan struct{} // closed when Close's deadline passes
	done    chan struct{}
	spillMu sync.Mutex

	spillFile *os.File
	spillBuf  *bufio.Writer
	spilled   atomic.Int64 // clicks in spill files, not yet in the database

	// Only the writer goroutine uses these.
	stmts    map[stmtKey]*sql.Stmt // prepared inserts
	rows     []row
	vals     []any
	seen     seenSet
	profiles profileCache

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
	r := &Recorder{db: db, log: log, cfg: cfg, wake: make(chan struct{}, 1), giveUp: make(chan struct{}), done: make(chan struct{}), stmts: map[stmtKey]*sql.Stmt{}}
	r.room.L = &r.mu
	r.seen.init()
	r.profiles.init(profileCacheMax)
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
func (r *Recorder) Depth() int64 {
	r.mu.Lock()
	n := r.held
	r.mu.Unlock()
	return int64(n) + r.spilled.Load()
}

// Add records a click. It returns at once unless the buffer is full and
// there is no spill directory.
func (r *Recorder) Add(c Click) {
	r.mu.Lock()
	for {
		if r.exited {
			r.mu.Unlock()
			r.spillClosed(c)
			return
		}
		if r.held < r.cfg.Buffer {
			r.appendLocked(c)
			r.mu.Unlock()
			return
		}
		r.signal() // the buffer is full: the writer takes what it has
		if r.cfg.SpillDir != "" {
			break
		}
		r.room.Wait() // backpressure: wait for the writer
	}
	r.mu.Unlock()
	if err := r.spill([]Click{c}); err != nil {
		// The disk failed too: wait for room rather than lose the click.
		r.log.Error("cannot spill a click; waiting for the buffer", "err", err)
		r.mu.Lock()
		for !r.exited && r.held >= r.cfg.Buffer {
			r.room.Wait()
		}
		if r.exited {
			r.mu.Unlock()
			r.log.Error("click lost: added after the recorder closed, and the disk failed", "click", c.ID)
			return
		}
		r.appendLocked(c)
		r.mu.Unlock()
	}
}

// spillClosed writes a click added after Close straight to the spill
// file, flushed and closed again: no Close will follow to do it.
func (r *Recorder) spillClosed(c Click) {
	err := r.spill([]Click{c})
	if err == nil {
		r.spillMu.Lock()
		err = r.closeSpillLocked()
		r.spillMu.Unlock()
	}
	if err != nil {
		r.log.Error("click lost: added after the recorder closed, and the disk failed", "click", c.ID, "err", err)
	}
}

func (r *Recorder) appendLocked(c Click) {
	if r.cur == nil {
		if n := len(r.free); n > 0 {
			r.cur, r.free = r.free[n-1], r.free[:n-1]
		} else {
			r.cur = make([]Click, 0, r.cfg.BatchSize)
		}
	}
	r.cur = append(r.cur, c)
	r.held++
	if len(r.cur) >= r.cfg.BatchSize {
		r.full = append(r.full, r.cur)
		r.cur = nil
		r.signal()
	}
}

// signal wakes the writer without waiting.
func (r *Recorder) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// take hands the writer the oldest full batch, or, when partial is true
// (the flush interval passed), the recorder is closing or the buffer is
// full, the batch being filled. It returns nil when there is nothing to
// write.
func (r *Recorder) take(partial bool) []Click {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.full) > 0 {
		b := r.full[0]
		r.full[0] = nil
		r.full = r.full[1:]
		if len(r.full) == 0 {
			r.full = nil // let the emptied array go
		}
		return b
	}
	if (partial || r.closed || r.held >= r.cfg.Buffer) && len(r.cur) > 0 {
		b := r.cur
		r.cur = nil
		return b
	}
	return nil
}

// release gives back a batch the writer has stored (or spilled): its room
// in the buffer, and its array for reuse.
func (r *Recorder) release(b []Click) {
	clear(b)
	r.mu.Lock()
	r.held -= len(b)
	if cap(b) == r.cfg.BatchSize && len(r.free) < 4 {
		r.free = append(r.free, b[:0])
	}
	r.room.Broadcast()
	r.mu.Unlock()
}

// drain takes every click still in memory, for a spill when the database
// cannot be reached before Close's deadline.
func (r *Recorder) drain() []Click {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Click
	for _, b := range r.full {
		out = append(out, b...)
	}
	out = append(out, r.cur...)
	r.full, r.cur = nil, nil
	r.held -= len(out)
	r.room.Broadcast()
	return out
}

// Close stops taking clicks and writes all buffered ones. If ctx ends
// first (the database is down), what remains is spilled to disk for the
// next start. A click added after Close goes to the spill file.
func (r *Recorder) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.signal()
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
	tick := time.NewTicker(r.cfg.FlushEvery)
	defer tick.Stop()
	for {
		partial := false
		select {
		case <-r.wake:
		case <-tick.C:
			partial = true
		}
		for {
			b := r.take(partial)
			if b == nil {
				break
			}
			r.flush(b)
			r.release(b)
		}
		r.mu.Lock()
		if r.closed && r.held == 0 {
			r.exited = true
			r.room.Broadcast()
			r.mu.Unlock()
			r.replay(true)
			return
		}
		low := r.held < r.cfg.Buffer/2
		r.mu.Unlock()
		if partial && low && r.spilled.Load() > 0 {
			r.replay(false)
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
			rest := append(append([]Click(nil), batch...), r.drain()...)
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
	prof   int // its profile in the batch
	unique bool
	stored bool
}

// profile is what clicks share but for their ID, time, visitor and unique
// flag: a viral link's clicks come in a handful of profiles (the same
// link, device, browser, referrer). Each is stored once, in
// click_profiles, and a click row points to it.
type profile struct {
	ws, link, ref, device, os, browser, country, reason string
	bot                                                 bool
}

func compareProfiles(a, b profile) int {
	return cmp.Or(strings.Compare(a.link, b.link), strings.Compare(a.ref, b.ref), strings.Compare(a.device, b.device),
		strings.Compare(a.os, b.os), strings.Compare(a.browser, b.browser), strings.Compare(a.country, b.country),
		cmp.Compare(b2i(a.bot), b2i(b.bot)), strings.Compare(a.reason, b.reason), strings.Compare(a.ws, b.ws))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// profileOf is the profile of a click as classified.
func profileOf(c Click, cl Classified) profile {
	return profile{ws: c.WorkspaceID, link: c.LinkID, ref: c.Referrer, device: cl.Device, os: trunc(cl.OS, 64), browser: trunc(cl.Browser, 64),
		country: c.Country, bot: cl.Bot, reason: cl.BotReason}
}

// profileCache remembers the IDs of the profiles this writer has met, so
// a batch asks the database only about new ones (profiles are never
// deleted: an ID stays good). It is keyed by 128-bit hashes of the
// profiles, which give the collector nothing to scan, and kept in two
// generations: when the newer is full the older is dropped, so the
// profiles of the links being clicked now stay while old ones go. A
// forgotten profile is simply looked up again. Only the writer uses it.
type profileCache struct {
	seed1, seed2 maphash.Seed
	max          int
	cur, old     map[[2]uint64]int64
}

// profileCacheMax bounds each generation: about 1 MB.
const profileCacheMax = 20_000

func (c *profileCache) init(max int) {
	c.seed1, c.seed2, c.max = maphash.MakeSeed(), maphash.MakeSeed(), max
	c.cur, c.old = map[[2]uint64]int64{}, map[[2]uint64]int64{}
}

func (c *profileCache) key(p profile) [2]uint64 {
	return [2]uint64{maphash.Comparable(c.seed1, p), maphash.Comparable(c.seed2, p)}
}

func (c *profileCache) get(p profile) (int64, bool) {
	k := c.key(p)
	if id, ok := c.cur[k]; ok {
		return id, true
	}
	id, ok := c.old[k]
	if ok {
		c.put(k, id)
	}
	return id, ok
}

func (c *profileCache) add(p profile, id int64) { c.put(c.key(p), id) }

func (c *profileCache) put(k [2]uint64, id int64) {
	if len(c.cur) >= c.max {
		c.old, c.cur = c.cur, make(map[[2]uint64]int64, c.max)
	}
	c.cur[k] = id
}

// chunkSizes split a batch into multi-row statements of a few fixed sizes,
// so each is prepared once and reused: parsing a statement of hundreds of
// rows costs as much as running it.
var chunkSizes = []int{256, 64, 16, 4, 1}

// chunk returns the largest chunk size at most n.
func chunk(n int) int {
	for _, c := range chunkSizes {
		if c <= n {
			return c
		}
	}
	return 1
}

// bulk runs a multi-row INSERT for n rows of cols values each, in chunks
// of prepared statements. head is the statement up to VALUES, tail what
// follows the rows; args(i, vals) appends row i's values. When scan is not
// nil the statement has a RETURNING clause and scan reads each returned row.
func (r *Recorder) bulk(ctx context.Context, tx *sql.Tx, head, tail string, n int, args func(i int, vals []any) []any, scan func(*sql.Rows) error) error {
	for start := 0; start < n; {
		size := chunk(n - start)
		vals := r.vals[:0]
		for i := start; i < start+size; i++ {
			vals = args(i, vals)
		}
		if err := r.exec(ctx, tx, stmtKey{head, tail, size}, vals, scan); err != nil {
			return err
		}
		start += size
	}
	return nil
}

// exec runs a prepared statement in tx with vals, reading what it returns
// with scan when scan is not nil.
func (r *Recorder) exec(ctx context.Context, tx *sql.Tx, key stmtKey, vals []any, scan func(*sql.Rows) error) error {
	r.vals = vals[:0]
	defer clear(vals) // let the batch's strings go
	st := r.stmts[key]
	if st == nil {
		return fmt.Errorf("links: statement for %d rows not prepared", key.size)
	}
	ts := tx.StmtContext(ctx, st)
	if scan == nil {
		_, err := ts.ExecContext(ctx, vals...)
		return err
	}
	res, err := ts.QueryContext(ctx, vals...)
	if err != nil {
		return err
	}
	defer res.Close()
	for res.Next() {
		if err := scan(res); err != nil {
			return err
		}
	}
	return res.Err()
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
	{clicksHead, "", 5},
	{clicksHead, clicksReplayTail, 5},
	{countsHead, countsTail, 6},
	{dimsHead, dimsTail, 7},
}

const (
	uniquesHead      = `INSERT INTO click_uniques (link_id, day, visitor)`
	uniquesTail      = `ON CONFLICT (link_id, day, visitor) DO NOTHING RETURNING link_id, day, visitor`
	clicksHead       = `INSERT INTO click_log (id, profile_id, at, visitor, is_unique)`
	clicksReplayTail = `ON CONFLICT (id) DO NOTHING RETURNING id`
	countsHead       = `INSERT INTO click_counts (link_id, hour, workspace_id, total, human, uniques)`
	countsTail       = `ON CONFLICT (link_id, hour) DO UPDATE SET total = click_counts.total + excluded.total,
		human = click_counts.human + excluded.human, uniques = click_counts.uniques + excluded.uniques`
	dimsHead = `INSERT INTO click_dims (link_id, day, dim, value, workspace_id, clicks, human)`
	dimsTail = `ON CONFLICT (link_id, day, dim, value) DO UPDATE SET clicks = click_dims.clicks + excluded.clicks, human = click_dims.human + excluded.human`

	// A profile's ID is read, and the profile stored only when it is not
	// there: a profile found costs no write (and on PostgreSQL no dead
	// row), and one another node stores at the same moment is read once
	// it is committed.
	profileSelect = `SELECT id FROM click_profiles WHERE link_id = $1 AND referrer_host = $2 AND device = $3 AND os = $4
		AND browser = $5 AND country = $6 AND bot = $7 AND bot_reason = $8`
	profileInsert = `INSERT INTO click_profiles (link_id, referrer_host, device, os, browser, country, bot, bot_reason, workspace_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (link_id, referrer_host, device, os, browser, country, bot, bot_reason) DO NOTHING RETURNING id`

	// PostgreSQL: a whole batch in one statement, as arrays.
	clicksUnnest = clicksHead + ` SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::boolean[])`
	unnestKey    = "unnest"
)

// prepare readies every statement, once, before the first batch: not
// inside a transaction, which holds SQLite's only write connection. It
// prepares all or none, so a failed attempt is made again whole.
func (r *Recorder) prepare(ctx context.Context) (err error) {
	if len(r.stmts) > 0 {
		return nil
	}
	defer func() {
		if err != nil {
			for k, st := range r.stmts {
				st.Close()
				delete(r.stmts, k)
			}
		}
	}()
	add := func(key stmtKey, q string) error {
		st, err := r.db.W.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("links: prepare click insert: %w", err)
		}
		r.stmts[key] = st
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
					sb.WriteString(r.db.Param(1 + i*b.cols + j))
				}
				sb.WriteByte(')')
			}
			sb.WriteString(" " + b.tail)
			if err := add(stmtKey{b.head, b.tail, size}, sb.String()); err != nil {
				return err
			}
		}
	}
	for _, q := range []string{profileSelect, profileInsert} {
		if err := add(stmtKey{q, "", 0}, q); err != nil {
			return err
		}
	}
	if r.db.Dialect == store.Postgres {
		return add(stmtKey{unnestKey, "", 0}, clicksUnnest)
	}
	return nil
}

// insert stores a batch in one transaction and returns how many clicks
// were new. A replay (clicks spilled to disk, perhaps stored already by a
// run that died mid-replay) skips the clicks it finds by ID; a fresh batch
// cannot hold a stored click, so it takes the cheaper plain insert.
func (r *Recorder) insert(ctx context.Context, batch []Click, replay bool) (int, error) {
	rows := r.rows[:0]
	var profs []profile
	profIndex := map[profile]int{}
	// Neighbouring clicks usually share a user agent and a profile:
	// comparing with the last is cheaper than hashing.
	var lastUA, lastMethod string
	var lastCl Classified
	lastProf := -1
	for i, c := range batch {
		if i == 0 || c.UA != lastUA || c.Method != lastMethod {
			lastUA, lastMethod, lastCl = c.UA, c.Method, Classify(c.UA, c.Method)
		}
		unix := c.At.Unix()
		rw := row{Click: c, Classified: lastCl, day: unix / 86400, hour: unix / 3600 * 3600 * 1e6}
		p := profileOf(c, lastCl)
		if lastProf < 0 || profs[lastProf] != p {
			k, ok := profIndex[p]
			if !ok {
				k = len(profs)
				profs = append(profs, p)
				profIndex[p] = k
			}
			lastProf = k
		}
		rw.prof = lastProf
		rows = append(rows, rw)
	}
	r.rows = rows
	defer clear(rows[:cap(rows)])
	if err := r.prepare(ctx); err != nil {
		return 0, err
	}

	// Profiles this writer has not stored before are looked up or added
	// in the batch's transaction, in a fixed order so two nodes never
	// deadlock on each other's; the cache learns them once it commits.
	pids := make([]int64, len(profs))
	var missing []int
	for i, p := range profs {
		if id, ok := r.profiles.get(p); ok {
			pids[i] = id
		} else {
			missing = append(missing, i)
		}
	}
	slices.SortFunc(missing, func(a, b int) int { return compareProfiles(profs[a], profs[b]) })

	// A human visitor's first click on a link each day is unique. The
	// primary key of click_uniques decides, across every node; a key this
	// writer has already seen there was claimed by an earlier click, so
	// it is not asked again.
	first := map[seenKey]int{}
	var keys []seenKey
	for i, rw := range rows {
		if rw.Bot {
			continue
		}
		k := seenKey{rw.LinkID, rw.day, rw.Visitor}
		if _, ok := first[k]; !ok {
			first[k] = i
			if !r.seen.has(k) {
				keys = append(keys, k)
			}
		}
	}
	inserted := 0
	err := r.db.Tx(ctx, func(tx *sql.Tx) error {
		for i := range rows {
			rows[i].unique, rows[i].stored = false, !replay
		}
		for _, i := range missing {
			var err error
			pids[i], err = profileID(profs[i], func(q string, args ...any) *sql.Row {
				return tx.StmtContext(ctx, r.stmts[stmtKey{q, "", 0}]).QueryRowContext(ctx, args...)
			})
			if err != nil {
				return err
			}
		}
		err := r.bulk(ctx, tx, uniquesHead, uniquesTail, len(keys), func(i int, vals []any) []any {
			return append(vals, keys[i].link, keys[i].day, keys[i].visitor)
		}, func(res *sql.Rows) error {
			var k seenKey
			if err := res.Scan(&k.link, &k.day, &k.visitor); err != nil {
				return err
			}
			rows[first[k]].unique = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("links: insert uniques: %w", err)
		}

		args := func(i int, vals []any) []any {
			rw := &rows[i]
			return append(vals, rw.ID, pids[rw.prof], rw.At.UnixMicro(), rw.Visitor, rw.unique)
		}
		switch {
		case replay:
			byID := make(map[string]int, len(rows))
			for i, rw := range rows {
				byID[rw.ID] = i
			}
			err = r.bulk(ctx, tx, clicksHead, clicksReplayTail, len(rows), args, func(res *sql.Rows) error {
				var id string
				err := res.Scan(&id)
				if i, ok := byID[id]; ok {
					rows[i].stored = true
				}
				return err
			})
		case r.db.Dialect == store.Postgres:
			err = r.insertUnnest(ctx, tx, pids)
		default:
			err = r.bulk(ctx, tx, clicksHead, "", len(rows), args, nil)
		}
		if err != nil {
			return fmt.Errorf("links: insert clicks: %w", err)
		}
		inserted = 0
		for _, rw := range rows {
			if rw.stored {
				inserted++
			}
		}
		return r.rollups(ctx, tx, profs)
	})
	if err == nil {
		for _, k := range keys {
			r.seen.add(k)
		}
		for _, i := range missing {
			r.profiles.add(profs[i], pids[i])
		}
	}
	return inserted, err
}

// insertUnnest writes a fresh batch on PostgreSQL in one statement.
func (r *Recorder) insertUnnest(ctx context.Context, tx *sql.Tx, pids []int64) error {
	n := len(r.rows)
	ids, visitors := make([]string, n), make([]string, n)
	ats, profiles := make([]int64, n), make([]int64, n)
	uniq := make([]bool, n)
	for i, rw := range r.rows {
		ids[i], profiles[i], ats[i], visitors[i], uniq[i] = rw.ID, pids[rw.prof], rw.At.UnixMicro(), rw.Visitor, rw.unique
	}
	return r.exec(ctx, tx, stmtKey{unnestKey, "", 0}, append(r.vals[:0], ids, profiles, ats, visitors, uniq), nil)
}

// rollups adds the batch's stored clicks to the counters: one upsert row
// per link and hour (and per link, day and breakdown value), in a fixed
// order so two nodes never deadlock on each other's rows. Clicks are
// first tallied per profile and hour, which is all the counters need.
func (r *Recorder) rollups(ctx context.Context, tx *sql.Tx, profs []profile) error {
	type tally struct {
		prof          int
		hour          int64
		total, unique int64
	}
	var tallies []tally
	at := map[[2]int64]int{}
	last := -1
	for _, rw := range r.rows {
		if !rw.stored {
			continue
		}
		if last < 0 || tallies[last].prof != rw.prof || tallies[last].hour != rw.hour {
			k := [2]int64{int64(rw.prof), rw.hour}
			i, ok := at[k]
			if !ok {
				i = len(tallies)
				tallies = append(tallies, tally{prof: rw.prof, hour: rw.hour})
				at[k] = i
			}
			last = i
		}
		tallies[last].total++
		if rw.unique {
			tallies[last].unique++
		}
	}

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
	for _, t := range tallies {
		p := profs[t.prof]
		human := t.total
		if p.bot {
			human = 0
		}
		c := counts[ckey{p.link, t.hour}]
		if c == nil {
			c = &count{ws: p.ws}
			counts[ckey{p.link, t.hour}] = c
		}
		c.total += t.total
		c.human += human
		c.uniques += t.unique
		day := t.hour / 1e6 / 86400
		for _, dv := range [4][2]string{{"referrer", p.ref}, {"device", p.device}, {"country", p.country}, {"bot", p.reason}} {
			if dv[0] == "bot" && !p.bot {
				continue
			}
			k := dkey{p.link, day, dv[0], dv[1]}
			d := dims[k]
			if d == nil {
				d = &dcount{ws: p.ws}
				dims[k] = d
			}
			d.clicks += t.total
			d.human += human
		}
	}
	ck := slices.SortedFunc(maps.Keys(counts), func(a, b ckey) int {
		return cmp.Or(strings.Compare(a.link, b.link), cmp.Compare(a.hour, b.hour))
	})
	err := r.bulk(ctx, tx, countsHead, countsTail, len(ck), func(i int, vals []any) []any {
		c := counts[ck[i]]
		return append(vals, ck[i].link, ck[i].hour, c.ws, c.total, c.human, c.uniques)
	}, nil)
	if err != nil {
		return fmt.Errorf("links: count clicks: %w", err)
	}
	dk := slices.SortedFunc(maps.Keys(dims), func(a, b dkey) int {
		return cmp.Or(strings.Compare(a.link, b.link), cmp.Compare(a.day, b.day), strings.Compare(a.dim, b.dim), strings.Compare(a.val, b.val))
	})
	err = r.bulk(ctx, tx, dimsHead, dimsTail, len(dk), func(i int, vals []any) []any {
		d := dims[dk[i]]
		return append(vals, dk[i].link, dk[i].day, dk[i].dim, dk[i].val, d.ws, d.clicks, d.human)
	}, nil)
	if err != nil {
		return fmt.Errorf("links: count clicks by dimension: %w", err)
	}
	return nil
}

// seenKey is a visitor's day on a link, as click_uniques keys it.
type seenKey struct {
	link    string
	day     int64
	visitor string
}

// seenSet remembers, in a bounded set, the keys this writer has found in
// click_uniques or put there, so a returning visitor's clicks do not ask
// the database again. It holds 128-bit hashes rather than the strings, so
// it costs the garbage collector nothing to scan; when full it starts
// over, and a key it forgot is simply asked of the database again. Only
// the writer goroutine uses it.
type seenSet struct {
	seed1, seed2 maphash.Seed
	m            map[[2]uint64]struct{}
}

// seenMax bounds the set: about 2 MB.
const seenMax = 50_000

func (s *seenSet) init() {
	s.seed1, s.seed2 = maphash.MakeSeed(), maphash.MakeSeed()
	s.m = make(map[[2]uint64]struct{})
}

func (s *seenSet) hash(k seenKey) [2]uint64 {
	var h [2]uint64
	for i, seed := range []maphash.Seed{s.seed1, s.seed2} {
		var m maphash.Hash
		m.SetSeed(seed)
		m.WriteString(k.link)
		m.WriteByte(0)
		m.WriteString(k.visitor)
		maphash.WriteComparable(&m, k.day)
		h[i] = m.Sum64()
	}
	return h
}

func (s *seenSet) has(k seenKey) bool {
	_, ok := s.m[s.hash(k)]
	return ok
}

func (s *seenSet) add(k seenKey) {
	if len(s.m) >= seenMax {
		clear(s.m)
	}
	s.m[s.hash(k)] = struct{}{}
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// StoreClick writes one click and its profile straight to the database,
// outside the buffer and without counting it in the rollups: for data
// generators and tests that need a click in place. Redirects go through
// the Recorder.
func StoreClick(ctx context.Context, q store.Querier, c Click, cl Classified, unique bool) error {
	pid, err := profileID(profileOf(c, cl), func(query string, args ...any) *sql.Row { return q.QueryRowContext(ctx, query, args...) })
	if err != nil {
		return err
	}
	if _, err := q.ExecContext(ctx, clicksHead+` VALUES ($1, $2, $3, $4, $5)`, c.ID, pid, c.At.UnixMicro(), c.Visitor, unique); err != nil {
		return fmt.Errorf("links: store click: %w", err)
	}
	return nil
}

// profileID reads the ID of profile p, storing the profile first if it is
// new, through query, which runs profileSelect or profileInsert.
func profileID(p profile, query func(q string, args ...any) *sql.Row) (int64, error) {
	key := []any{p.link, p.ref, p.device, p.os, p.browser, p.country, p.bot, p.reason}
	var id int64
	// Twice at most: a profile that is neither found nor stored was
	// stored by another node in between, and is there to read.
	for range 2 {
		err := query(profileSelect, key...).Scan(&id)
		if !errors.Is(err, sql.ErrNoRows) {
			return id, wrapProfile(err)
		}
		err = query(profileInsert, append(key, p.ws)...).Scan(&id)
		if !errors.Is(err, sql.ErrNoRows) {
			return id, wrapProfile(err)
		}
	}
	return 0, errors.New("links: click profile neither found nor stored")
}

func wrapProfile(err error) error {
	if err != nil {
		return fmt.Errorf("links: click profile: %w", err)
	}
	return nil
}

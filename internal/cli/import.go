package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/config"
	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/orders/csvimport"
	"github.com/roost-hq/roost/internal/server"
	"github.com/roost-hq/roost/internal/valid"
	"golang.org/x/term"
)

const importUsage = `Usage: roost import orders --workspace SLUG [--rejected PATH] FILE.csv

Imports orders from a CSV file (- reads standard input), for backfills: one
row per order line, the order's columns repeated on each of its rows, and the
rows of an order next to each other. The header row names the columns:
order_id, placed_at, currency, quantity and unit_price are required; rate,
line_id, sku, name, discount, codes, click_id and email are optional.

Good orders are imported as the store's webhooks would bring them; a row with
a problem rejects its whole order. Rejected rows are written, with the reason
for each, to FILE.rejected.csv (or --rejected): correct that file and import
it. Importing a file again imports only what is new.

Exit status: 0 when every row was imported (or had been), 1 when some rows
were rejected or the import stopped, 2 on usage errors.

Flags:
`

func importOrders(ctx context.Context, e *Env, args []string) error {
	var cfg config.Config
	fs := flags(e, "import orders", " FILE.csv", &cfg)
	// A bad flag is one line (and the hint to -h), not the whole usage.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	slug := fs.String("workspace", "", "the workspace's address (slug) (required)")
	rejectedPath := fs.String("rejected", "", "where to write the rejected rows and their reasons (default FILE.rejected.csv, next to FILE)")
	pos, err := parseArgs(fs, args, &cfg)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(e.Stderr, importUsage)
		fs.SetOutput(e.Stderr)
		fs.PrintDefaults()
		return err
	}
	if err != nil {
		return err
	}
	if *slug == "" || len(pos) != 1 {
		return usageErr("give --workspace and exactly one CSV file (- for standard input)")
	}
	name := pos[0]
	if *rejectedPath == "" {
		*rejectedPath = defaultRejectedPath(name)
	}

	in, size, closeIn, err := openInput(e, name)
	if err != nil {
		return err
	}
	defer closeIn()
	if name != "-" {
		if a, err := os.Stat(name); err == nil {
			if b, err := os.Stat(*rejectedPath); err == nil && os.SameFile(a, b) {
				return usageErr("--rejected must not be the file imported")
			}
		}
	}

	db, w, err := workspaceDB(ctx, &cfg, *slug)
	if err != nil {
		return err
	}
	defer db.Close()
	// Customers' emails are kept as HMACs under the instance key: the
	// server's key, or the hashes would not match its own.
	keys, _, err := cfg.Keys(false)
	if err != nil {
		return err
	}
	if err := server.CheckKey(ctx, db, keys); err != nil {
		return err
	}
	st := orders.NewStore(db, keys)

	count := &countingReader{r: in}
	rd, err := csvimport.NewReader(count)
	if err != nil {
		return fmt.Errorf("%s: %w", displayName(name), err)
	}
	rej := &rejectedFile{path: *rejectedPath, header: rd.Header()}
	var sum importSummary
	bar := newProgress(e.Stderr, count, size)
	var stop error
	for {
		if ctx.Err() != nil {
			stop = errors.New("interrupted")
			break
		}
		o, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			stop = fmt.Errorf("%s: %w", displayName(name), err)
			break
		}
		sum.rows += len(o.Rows)
		if len(o.Rejected) == 0 {
			if stop = sum.receive(ctx, st, w.ID, o); stop != nil {
				break
			}
		}
		if len(o.Rejected) > 0 {
			sum.rejectedRows += len(o.Rejected)
			sum.rejectedOrders++
			for _, r := range o.Rejected {
				if stop = rej.write(r); stop != nil {
					break
				}
			}
			if stop != nil {
				break
			}
		}
		bar.update(sum)
	}
	bar.done()
	if err := rej.close(); err != nil && stop == nil {
		stop = err
	}
	fmt.Fprintln(e.Stdout, sum.text(displayName(name), rej, stop != nil))
	if stop != nil {
		return stop
	}
	if sum.rejectedRows > 0 {
		return &exitError{1, fmt.Errorf("%s rejected: see %s", plural(sum.rejectedRows, "row", "rows"), rej.path)}
	}
	return nil
}

// openInput opens the file to import, or standard input for "-", with its
// size when it is known.
func openInput(e *Env, name string) (io.Reader, int64, func(), error) {
	if name == "-" {
		var size int64 = -1
		if f, ok := e.Stdin.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
				size = fi.Size()
			}
		}
		return e.Stdin, size, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, nil, usageErr("cannot open %s: %v", name, errors.Unwrap(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, nil, err
	}
	if fi.IsDir() {
		f.Close()
		return nil, 0, nil, usageErr("%s is a directory, not a CSV file", name)
	}
	size := int64(-1)
	if fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return f, size, func() { f.Close() }, nil
}

// defaultRejectedPath is FILE.rejected.csv next to FILE.
func defaultRejectedPath(name string) string {
	if name == "-" {
		return "stdin.rejected.csv"
	}
	if ext := filepath.Ext(name); strings.EqualFold(ext, ".csv") {
		name = strings.TrimSuffix(name, ext)
	}
	return name + ".rejected.csv"
}

func displayName(name string) string {
	if name == "-" {
		return "standard input"
	}
	return name
}

// importSummary counts what an import did.
type importSummary struct {
	rows, imported, already, waiting int
	rejectedRows, rejectedOrders     int
}

// receive commits one order, then applies it; a refusal rejects its rows.
// An order already imported is applied too, in case an earlier import
// stopped between the two.
func (s *importSummary) receive(ctx context.Context, st *orders.Store, wsID string, o *csvimport.Order) error {
	rc, err := st.Receive(ctx, wsID, o.Event)
	if ve, ok := valid.As(err); ok {
		o.Reject(ve)
		return nil
	}
	if err != nil {
		return err
	}
	settled, err := st.Process(ctx, rc.EventID)
	if err != nil {
		return err
	}
	if rc.Duplicate {
		s.already++
	} else {
		s.imported++
	}
	if !settled {
		s.waiting++
	}
	return nil
}

func (s importSummary) text(name string, rej *rejectedFile, stopped bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s read; %s imported, %d already imported", name, plural(s.rows, "row", "rows"), plural(s.imported, "order", "orders"), s.already)
	if s.rejectedRows == 0 {
		b.WriteString("; no rows rejected.")
	} else {
		fmt.Fprintf(&b, "; %s (%s) rejected", plural(s.rejectedRows, "row", "rows"), plural(s.rejectedOrders, "order", "orders"))
		if rej.written {
			fmt.Fprintf(&b, ", written with the reason for each to %s.", rej.path)
		} else {
			b.WriteString(".")
		}
	}
	if s.waiting > 0 {
		fmt.Fprintf(&b, " %s for a click not yet recorded: roost serve will finish them.", plural(s.waiting, "order waits", "orders wait"))
	}
	if stopped {
		b.WriteString(" The import stopped before the end of the file; importing it again picks up what is missing.")
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// rejectedFile is created on the first rejected row, so an import without
// any leaves no file.
type rejectedFile struct {
	path    string
	header  []string
	f       *os.File
	w       *csvimport.RejectedWriter
	written bool
}

func (r *rejectedFile) write(rj csvimport.Rejection) error {
	if r.f == nil {
		f, err := os.Create(r.path)
		if err != nil {
			return fmt.Errorf("cannot write the rejected rows: %w", err)
		}
		r.f = f
		if r.w, err = csvimport.NewRejectedWriter(f, r.header); err != nil {
			return fmt.Errorf("cannot write the rejected rows: %w", err)
		}
	}
	if err := r.w.Write(rj); err != nil {
		return fmt.Errorf("cannot write the rejected rows: %w", err)
	}
	r.written = true
	return nil
}

func (r *rejectedFile) close() error {
	if r.f == nil {
		return nil
	}
	err := r.w.Flush()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cannot write the rejected rows: %w", err)
	}
	return nil
}

// countingReader counts the bytes read, for the progress bar.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// progress draws a one-line bar on a terminal, at most ten times a second;
// elsewhere it draws nothing.
type progress struct {
	f     *os.File // nil: not a terminal
	read  *countingReader
	size  int64 // -1: unknown
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer, read *countingReader, size int64) *progress {
	p := &progress{read: read, size: size}
	if f, ok := w.(*os.File); ok && isTerminal(f) {
		p.f = f
	}
	return p
}

func (p *progress) update(s importSummary) {
	if p.f == nil || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	width := 80
	if w, _, err := term.GetSize(int(p.f.Fd())); err == nil && w > 0 {
		width = w
	}
	fmt.Fprint(p.f, "\r"+progressLine(s, p.read.n, p.size, width-1)+"\x1b[K")
	p.drawn = true
}

// done clears the bar, so the summary starts on a clean line.
func (p *progress) done() {
	if p.f != nil && p.drawn {
		fmt.Fprint(p.f, "\r\x1b[K")
	}
}

// progressLine is the bar's text, at most width bytes.
func progressLine(s importSummary, read, size int64, width int) string {
	counts := fmt.Sprintf("rows %d  orders %d  rejected %d", s.rows, s.imported+s.already, s.rejectedRows)
	var line string
	if size > 0 {
		frac := min(float64(read)/float64(size), 1)
		const cells = 15
		full := int(frac * cells)
		line = fmt.Sprintf("[%s%s] %3.0f%%  %s / %s  %s", strings.Repeat("#", full), strings.Repeat(".", cells-full), frac*100, byteSize(read), byteSize(size), counts)
	} else {
		line = fmt.Sprintf("%s read  %s", byteSize(read), counts)
	}
	if len(line) > width {
		line = line[:max(width, 0)]
	}
	return line
}

func byteSize(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// Package csvimport reads orders from a CSV file, for backfills: one row
// per order line, the order's own columns repeated on each of its rows, and
// the rows of an order next to each other. It streams: a file of any size is
// read one order at a time, and each order comes back either as an
// orders.Event ready for orders.Store.Receive, or as the rejections of all
// its rows with the reason for each. Never half an order: one bad row
// rejects every row of its order.
//
// The format:
//
//	column      required  meaning
//	order_id    yes       the order's ID at the store; rows of an order must be consecutive
//	placed_at   yes       when it was placed: RFC 3339 (2025-03-04T15:04:05Z) or a date (2025-03-04, midnight UTC)
//	currency    yes       ISO 4217 code (USD, EUR, JPY, …)
//	rate        no        how many units of the workspace's currency one unit of currency is worth (1.0834); required when they differ
//	line_id     no        the store's ID of the line, unique within the order
//	sku         no        the product's SKU
//	name        no        the product's name
//	quantity    yes       a whole number from 1 to 1,000,000
//	unit_price  yes       the price of one unit in the currency, before discounts (19.99)
//	discount    no        the discount on the whole line, in the currency (default 0)
//	codes       no        discount codes used on the order, separated by spaces or commas
//	click_id    no        the Roost click ID carried through the checkout
//	email       no        the customer's email (Roost keeps only a salted hash)
//
// A header row is required. Column names are case-insensitive, in any
// order; a column not listed is refused before anything is read, so a typo
// cannot drop data. A "reason" column, which the rejected file adds, is
// ignored, so a corrected rejected file imports as is. Order columns may be
// left blank on the rows after the first; a differing value rejects the
// order. The file must be UTF-8 (a byte-order mark is fine); CRLF line
// ends, quoted fields and blank lines are. Only orders: no refunds or
// cancellations.
package csvimport

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/roost-hq/roost/internal/money"
	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/valid"
)

// Limits on what a file may hold.
const (
	MaxField  = 4 << 10  // bytes in one cell
	MaxRecord = 64 << 10 // bytes in one row, quotes and all
	MaxRows   = 1000     // rows (order lines) in one order, as orders.Store.Check allows

	maxText     = 200 // bytes of a text cell, as orders.Store.Check allows
	maxCodes    = 20
	maxClickID  = 40
	maxEmail    = 320
	maxQuantity = 1_000_000
	maxAmount   = 10_000_000_000_000 // minor units of a unit price or a line's total: 10^13
	bufSize     = 64 << 10
)

// ReasonColumn is the column the rejected file adds. An input file may
// carry it; its values are ignored.
const ReasonColumn = "reason"

type column struct {
	name     string
	required bool
	order    bool // the same on every row of an order
}

var columns = []column{
	{"order_id", true, true},
	{"placed_at", true, true},
	{"currency", true, true},
	{"rate", false, true},
	{"line_id", false, false},
	{"sku", false, false},
	{"name", false, false},
	{"quantity", true, false},
	{"unit_price", true, false},
	{"discount", false, false},
	{"codes", false, true},
	{"click_id", false, true},
	{"email", false, true},
}

// Columns lists the columns a file may have, in the documented order.
func Columns() []string {
	out := make([]string, len(columns))
	for i, c := range columns {
		out[i] = c.name
	}
	return out
}

// Rejection is one row that was not imported, and why.
type Rejection struct {
	Line   int      // the row's line in the file, from 1 (the header is line 1)
	Reason string   // what is wrong, naming the column
	Raw    []string // the row's cells as read; nil when the row could not be read as CSV
}

// Row is one row of the file as read.
type Row struct {
	Line int
	Raw  []string
}

// Order is one order read from the file: its Event when Rejected is empty,
// else a rejection for each of its rows.
type Order struct {
	ID       string // the order_id of its rows ("" when it has none)
	Event    orders.Event
	Rows     []Row
	Rejected []Rejection
	g        *group
}

// Reject turns the order's validation errors from orders.Store.Receive into
// rejections of its rows: an error about one line goes to that line's row,
// one about the order to every row.
func (o *Order) Reject(ve *valid.Errors) {
	g := o.g
	if g == nil {
		g = &group{id: o.ID, rows: o.Rows}
	}
	for _, f := range ve.Fields {
		col, i := checkField(f.Field)
		msg := col + ": " + f.Message
		if i >= 0 && i < len(g.rows) {
			g.rowErr(i, msg)
		} else {
			g.orderErrs = append(g.orderErrs, msg)
		}
	}
	if len(ve.Fields) == 0 {
		g.orderErrs = append(g.orderErrs, "refused")
	}
	o.Event = orders.Event{}
	o.Rejected = g.rejections()
}

// checkField names the file's column for a field of orders.Store.Check's
// errors, and the order line (row) it is about, or -1.
func checkField(field string) (string, int) {
	switch {
	case field == "external_id":
		return "order_id", -1
	case strings.HasPrefix(field, "codes["):
		return "codes", -1
	case strings.HasPrefix(field, "lines["):
		n, rest, ok := strings.Cut(strings.TrimPrefix(field, "lines["), "].")
		i, err := strconv.Atoi(n)
		if !ok || err != nil {
			return field, -1
		}
		if rest == "id" {
			rest = "line_id"
		}
		return rest, i
	}
	return field, -1
}

// Reader reads orders from a CSV file.
type Reader struct {
	csv       *csv.Reader
	lim       *limiter
	header    []string
	idx       map[string]int // column name → its index in a row
	now       func() time.Time
	pending   *group         // the order being read
	orphans   []Row          // unreadable rows before the first order
	orphanWhy []string       // and why
	broken    int            // the line of an unreadable row just read, or 0
	seen      map[string]int // order ID → the line it first appeared on
	lastLine  int            // the last line read
	err       error          // sticky: io.EOF, or why the file cannot be read further
}

// NewReader reads the header row and checks it: every column known, none
// twice, the required ones there. Its errors say what to fix in the file.
func NewReader(r io.Reader) (*Reader, error) {
	lim := &limiter{r: r, max: MaxRecord + 2*bufSize}
	br := bufio.NewReaderSize(lim, bufSize)
	head, err := br.Peek(bufSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	if bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3)
		head = head[3:]
	}
	switch {
	case len(bytes.TrimSpace(head)) == 0:
		return nil, errors.New("the file is empty: it needs a header row naming its columns")
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}),
		len(head) >= 2 && (head[0] == 0 || head[1] == 0):
		return nil, errors.New("the file is UTF-16: save it as CSV UTF-8")
	}
	// A partial character at the end of the peeked bytes is not an error.
	if len(head) == bufSize {
		head = head[:len(head)-utf8.UTFMax]
	}
	if !utf8.Valid(head) {
		return nil, notUTF8(1 + bytes.Count(head[:validPrefix(head)], []byte("\n")))
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = 0 // the header's count
	rd := &Reader{csv: cr, lim: lim, idx: map[string]int{}, now: time.Now, seen: map[string]int{}}
	header, err := cr.Read()
	lim.n = 0
	if err != nil {
		return nil, fmt.Errorf("cannot read the header row: %w", err)
	}
	rd.header = header
	var unknown []string
	var dup string
	for i, h := range header {
		if !utf8.ValidString(h) {
			return nil, notUTF8(1)
		}
		name := strings.ToLower(strings.TrimSpace(h))
		if name == "" {
			continue // a column without a name must be empty (checked on each row)
		}
		if _, twice := rd.idx[name]; twice && dup == "" {
			dup = name
		}
		rd.idx[name] = i
		if name != ReasonColumn && !slices.Contains(Columns(), name) {
			unknown = append(unknown, strconv.Quote(h))
		}
	}
	switch {
	case len(unknown) > 0 && !slices.ContainsFunc(Columns(), func(c string) bool { _, ok := rd.idx[c]; return ok }):
		return nil, fmt.Errorf("the first row is not a header: a file starts with a row naming its columns, such as %s", strings.Join(Columns(), ","))
	case len(unknown) > 0:
		return nil, fmt.Errorf("unknown column %s in the header: the columns are %s", strings.Join(unknown, ", "), strings.Join(Columns(), ", "))
	case dup != "":
		return nil, fmt.Errorf("the header names the column %q twice", dup)
	}
	var missing []string
	for _, c := range columns {
		if _, ok := rd.idx[c.name]; c.required && !ok {
			missing = append(missing, c.name)
		}
	}
	if len(missing) > 0 {
		what := "column"
		if len(missing) > 1 {
			what = "columns"
		}
		return nil, fmt.Errorf("the header lacks the required %s %s (the first row must name the columns)", what, strings.Join(missing, ", "))
	}
	rd.lastLine = 1
	return rd, nil
}

// Header returns the header row as it is in the file.
func (r *Reader) Header() []string { return slices.Clone(r.header) }

// Next returns the next order, or io.EOF after the last. Any other error
// means the rest of the file cannot be read (it is not UTF-8, or a row is
// too long, as when a quote is never closed); the order being read then
// comes back first, rejected.
func (r *Reader) Next() (*Order, error) {
	for r.err == nil {
		rec, line, err := r.readRow()
		var pe *csv.ParseError
		switch {
		case err == io.EOF:
			r.err = io.EOF
		case errors.As(err, &pe):
			why := "the row could not be read as CSV: " + pe.Err.Error()
			if errors.Is(pe.Err, csv.ErrFieldCount) {
				if blank(rec) {
					continue // a spreadsheet's empty row
				}
				why = fmt.Sprintf("the row has %d cells and the header %d", len(rec), len(r.header))
			} else {
				rec = nil
			}
			r.unreadable(Row{Line: line, Raw: rec}, why)
		case err != nil:
			r.err = err
			if r.pending != nil {
				r.pending.orderErrs = append(r.pending.orderErrs, fmt.Sprintf("not imported: the file could not be read after line %d", r.lastLine))
			}
		case blank(rec):
		default:
			if o := r.add(Row{Line: line, Raw: rec}); o != nil {
				return o, nil
			}
		}
	}
	if g := r.pending; g != nil || len(r.orphans) > 0 {
		if g == nil {
			g = &group{rows: r.orphans}
			g.unread, g.errs = r.orphanErrs()
		}
		r.pending, r.orphans = nil, nil
		return r.close(g), nil
	}
	return nil, r.err
}

// readRow reads one record, with the line it starts on.
func (r *Reader) readRow() ([]string, int, error) {
	rec, err := r.csv.Read()
	r.lim.n = 0
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		r.lastLine = pe.Line
		return rec, pe.StartLine, err
	}
	if errors.Is(err, errTooLong) {
		return nil, 0, fmt.Errorf("a row after line %d is longer than %d KiB: is a quote left open? Nothing after line %d was read", r.lastLine, MaxRecord>>10, r.lastLine)
	}
	if err != nil {
		return nil, 0, err
	}
	line, _ := r.csv.FieldPos(0)
	for _, c := range rec {
		if !utf8.ValidString(c) {
			return nil, 0, notUTF8(line)
		}
	}
	r.lastLine, _ = r.csv.FieldPos(len(rec) - 1)
	return rec, line, nil
}

func notUTF8(line int) error {
	return fmt.Errorf("line %d is not UTF-8 text: save the file as CSV UTF-8 (it may be in Windows-1252 or Latin-1); nothing from line %d on was read", line, line)
}

// validPrefix is the length of the valid UTF-8 at the start of b.
func validPrefix(b []byte) int {
	n := 0
	for n < len(b) {
		r, size := utf8.DecodeRune(b[n:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		n += size
	}
	return n
}

func blank(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// unreadable files a row that is not CSV: it may belong to the order
// before it or to the one after, so both are rejected.
func (r *Reader) unreadable(row Row, why string) {
	if g := r.pending; g != nil {
		g.rows = append(g.rows, row)
		g.markUnread(len(g.rows) - 1)
		g.rowErr(len(g.rows)-1, why)
	} else {
		r.orphans = append(r.orphans, row)
		r.orphanWhy = append(r.orphanWhy, why)
	}
	r.broken = row.Line
}

// add puts a readable row in the order being read, or starts the next
// order with it and returns the one it ends.
func (r *Reader) add(row Row) *Order {
	id := r.get(row, "order_id")
	g := r.pending
	if g != nil && id != "" && id == g.id && len(g.rows) < MaxRows {
		g.rows = append(g.rows, row)
		r.broken = 0
		return nil
	}
	ng := &group{id: id}
	switch {
	case g != nil && id != "" && id == g.id:
		// More rows than an order may have: the order is cut in parts of
		// MaxRows rows, all rejected, so memory stays bounded.
		why := fmt.Sprintf("the order has more than %d lines (rows)", MaxRows)
		if !slices.Contains(g.orderErrs, why) {
			g.orderErrs = append(g.orderErrs, why)
		}
		ng.orderErrs = append(ng.orderErrs, why)
	case id != "":
		if first, ok := r.seen[id]; ok {
			ng.orderErrs = append(ng.orderErrs, fmt.Sprintf("order_id: order %q already appeared on line %d; the rows of an order must be consecutive", id, first))
		} else {
			r.seen[id] = row.Line
		}
	}
	if len(r.orphans) > 0 {
		ng.rows = r.orphans
		ng.unread, ng.errs = r.orphanErrs()
		r.orphans = nil
	} else if r.broken != 0 && g != nil {
		ng.orderErrs = append(ng.orderErrs, fmt.Sprintf("line %d, just before this order, could not be read and may belong to it", r.broken))
	}
	r.broken = 0
	ng.rows = append(ng.rows, row)
	r.pending = ng
	if g != nil {
		return r.close(g)
	}
	return nil
}

func (r *Reader) orphanErrs() (map[int]bool, map[int][]string) {
	unread, errs := map[int]bool{}, map[int][]string{}
	for i, why := range r.orphanWhy {
		unread[i], errs[i] = true, []string{why}
	}
	r.orphanWhy = nil
	return unread, errs
}

// get returns a row's cell for a column, trimmed, without the quote the
// rejected file puts before what a spreadsheet would take for a formula.
func (r *Reader) get(row Row, col string) string {
	i, ok := r.idx[col]
	if !ok || i >= len(row.Raw) {
		return ""
	}
	return strings.TrimSpace(unguard(row.Raw[i]))
}

// group is an order being read: its rows and what is wrong with them.
type group struct {
	id        string
	rows      []Row
	unread    map[int]bool     // rows that could not be read as CSV
	errs      map[int][]string // row index → its problems
	orderErrs []string         // problems of the whole order
}

func (g *group) markUnread(i int) {
	if g.unread == nil {
		g.unread = map[int]bool{}
	}
	g.unread[i] = true
}

func (g *group) rowErr(i int, msg string) {
	if g.errs == nil {
		g.errs = map[int][]string{}
	}
	g.errs[i] = append(g.errs[i], msg)
}

func (g *group) ok() bool { return len(g.errs) == 0 && len(g.orderErrs) == 0 }

// rejections gives every row of the order a reason: its own problems and
// the order's, or, for a good row, where the order's problem is.
func (g *group) rejections() []Rejection {
	var bad []int
	for i, row := range g.rows {
		if len(g.errs[i]) > 0 {
			bad = append(bad, row.Line)
		}
	}
	out := make([]Rejection, len(g.rows))
	for i, row := range g.rows {
		parts := append(slices.Clone(g.errs[i]), g.orderErrs...)
		if len(parts) == 0 {
			parts = []string{"not imported: its order has a problem on " + lineList(bad)}
		}
		out[i] = Rejection{Line: row.Line, Reason: strings.Join(parts, "; "), Raw: row.Raw}
	}
	return out
}

func lineList(lines []int) string {
	const most = 5
	s := make([]string, 0, most)
	for i, l := range lines {
		if i == most {
			break
		}
		s = append(s, strconv.Itoa(l))
	}
	switch more := len(lines) - len(s); {
	case len(s) == 1:
		return "line " + s[0]
	case more > 0:
		return "lines " + strings.Join(s, ", ") + fmt.Sprintf(" and %d more", more)
	default:
		return "lines " + strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
	}
}

// close checks an order's rows and builds its event, or its rejections.
func (r *Reader) close(g *group) *Order {
	o := &Order{ID: g.id, Rows: g.rows, g: g}
	ev := r.build(g)
	if g.ok() {
		o.Event = ev
	} else {
		o.Rejected = g.rejections()
	}
	return o
}

// build reads the order's values from its rows, recording every problem.
func (r *Reader) build(g *group) orders.Event {
	var readable []int
	for i, row := range g.rows {
		if g.unread[i] {
			continue
		}
		ok := true
		for j, c := range row.Raw {
			name := strings.ToLower(strings.TrimSpace(r.header[j]))
			switch {
			case name == ReasonColumn:
			case name == "" && strings.TrimSpace(c) != "":
				g.rowErr(i, fmt.Sprintf("column %d has no name in the header, yet this row has a value there", j+1))
				ok = false
			case len(c) > MaxField:
				g.rowErr(i, fmt.Sprintf("%s: is longer than %d bytes", name, MaxField))
				ok = false
			case strings.ContainsRune(c, 0):
				g.rowErr(i, name+": contains a NUL character")
				ok = false
			}
		}
		if ok {
			readable = append(readable, i)
		}
	}
	o := &orders.Order{ExternalID: g.id}
	if g.id == "" {
		for _, i := range readable {
			g.rowErr(i, "order_id: is required")
		}
	} else if len(g.id) > maxText {
		g.orderErrs = append(g.orderErrs, fmt.Sprintf("order_id: is longer than %d bytes", maxText))
	}

	// The order's columns: the first value given, and no other.
	orderCol := func(col string, parse func(string) (string, error)) (string, bool) {
		var val, raw string
		var at int
		failed := false
		for _, i := range readable {
			s := r.get(g.rows[i], col)
			if s == "" {
				continue
			}
			v, err := parse(s)
			switch {
			case err != nil:
				g.rowErr(i, col+": "+err.Error())
				failed = true
			case raw == "":
				val, raw, at = v, s, g.rows[i].Line
			case v != val:
				g.rowErr(i, fmt.Sprintf("%s: %q differs from %q on line %d of the same order", col, s, raw, at))
				failed = true
			}
		}
		if raw == "" && !failed && len(readable) > 0 && slices.ContainsFunc(columns, func(c column) bool { return c.name == col && c.required }) {
			g.rowErr(readable[0], col+": is required")
		}
		return val, raw != "" && !failed
	}
	placed, _ := orderCol("placed_at", func(s string) (string, error) {
		t, err := r.parseTime(s)
		return t.UTC().Format(time.RFC3339Nano), err
	})
	o.PlacedAt, _ = time.Parse(time.RFC3339Nano, placed)
	var currencyOK bool
	o.Currency, currencyOK = orderCol("currency", func(s string) (string, error) {
		c := strings.ToUpper(s)
		if _, ok := money.Exponent(c); !ok {
			return "", fmt.Errorf("%q is not an ISO 4217 currency code such as USD or EUR", s)
		}
		return c, nil
	})
	o.Rate, _ = orderCol("rate", parseRate)
	codes, _ := orderCol("codes", func(s string) (string, error) {
		c, err := parseCodes(s)
		return strings.ToUpper(strings.Join(c, " ")), err
	})
	if codes != "" {
		o.Codes = strings.Fields(codes)
	}
	o.ClickID, _ = orderCol("click_id", func(s string) (string, error) {
		if len(s) > maxClickID || strings.ContainsAny(s, " \t") {
			return "", fmt.Errorf("%q is not a Roost click ID", s)
		}
		return s, nil
	})
	o.Email, _ = orderCol("email", func(s string) (string, error) {
		if len(s) > maxEmail || !strings.Contains(s, "@") {
			return "", fmt.Errorf("%q is not an email address", s)
		}
		return s, nil
	})

	// The lines.
	lineIDs := map[string]int{}
	for _, i := range readable {
		row := g.rows[i]
		l := orders.Line{ExternalID: r.get(row, "line_id"), SKU: r.get(row, "sku"), Name: r.get(row, "name")}
		for col, v := range map[string]string{"line_id": l.ExternalID, "sku": l.SKU, "name": l.Name} {
			if len(v) > maxText {
				g.rowErr(i, fmt.Sprintf("%s: is longer than %d bytes", col, maxText))
			}
		}
		if l.ExternalID != "" {
			if at, dup := lineIDs[l.ExternalID]; dup {
				g.rowErr(i, fmt.Sprintf("line_id: %q is also on line %d of the same order", l.ExternalID, at))
			}
			lineIDs[l.ExternalID] = row.Line
		}
		qty, qtyOK := r.get(row, "quantity"), false
		switch {
		case qty == "":
			g.rowErr(i, "quantity: is required")
		case strings.Trim(qty, "0123456789") != "":
			g.rowErr(i, fmt.Sprintf("quantity: %q is not a whole number from 1 to 1,000,000", qty))
		default:
			n, err := strconv.ParseInt(qty, 10, 64)
			if err != nil || n < 1 || n > maxQuantity {
				g.rowErr(i, fmt.Sprintf("quantity: %q is not a whole number from 1 to 1,000,000", qty))
			} else {
				l.Quantity, qtyOK = n, true
			}
		}
		amount := func(col string, required bool) (int64, bool) {
			s := r.get(row, col)
			if s == "" {
				if required {
					g.rowErr(i, col+": is required")
				}
				return 0, !required
			}
			if !currencyOK {
				return 0, false // the currency's problem is reported
			}
			n, err := money.Parse(s, o.Currency)
			switch {
			case err != nil:
				g.rowErr(i, col+": "+err.Error())
			case n < 0:
				g.rowErr(i, col+": must not be negative")
			case n > maxAmount:
				g.rowErr(i, col+": is too large")
			default:
				return n, true
			}
			return 0, false
		}
		var priceOK, discountOK bool
		l.UnitPrice, priceOK = amount("unit_price", true)
		l.Discount, discountOK = amount("discount", false)
		if qtyOK && priceOK {
			if l.UnitPrice > 0 && l.Quantity > maxAmount/l.UnitPrice {
				g.rowErr(i, fmt.Sprintf("unit_price: quantity × unit_price is more than %s", money.Format(maxAmount, o.Currency)))
			} else if discountOK && l.Discount > l.Quantity*l.UnitPrice {
				g.rowErr(i, "discount: is more than quantity × unit_price (the discount is for the whole line)")
			}
		}
		o.Lines = append(o.Lines, l)
	}
	if !g.ok() {
		return orders.Event{}
	}
	return orders.Event{Source: orders.CSV, Kind: orders.Placed, Order: o}
}

// parseTime reads an RFC 3339 time or a date (midnight UTC).
func (r *Reader) parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t, err = time.Parse(time.DateOnly, s)
	}
	switch {
	case err != nil:
		return t, fmt.Errorf("%q is neither an RFC 3339 time such as 2025-03-04T15:04:05Z nor a date such as 2025-03-04", s)
	case t.Year() < 1970:
		return t, fmt.Errorf("%q is before 1970", s)
	case t.After(r.now().Add(48 * time.Hour)):
		return t, fmt.Errorf("%q is in the future", s)
	}
	return t, nil
}

// parseRate checks an exchange rate: a positive decimal, as orders.Store
// reads it.
func parseRate(s string) (string, error) {
	whole, frac, dot := strings.Cut(s, ".")
	r, ok := new(big.Rat).SetString(s)
	if !ok || len(s) > 40 || whole+frac == "" || dot && frac == "" || strings.Trim(whole+frac, "0123456789") != "" || r.Sign() <= 0 {
		return "", fmt.Errorf("%q is not a positive decimal rate such as 1.0834", s)
	}
	return s, nil
}

// parseCodes splits discount codes on spaces and commas.
func parseCodes(s string) ([]string, error) {
	var codes []string
	for _, c := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		if len(c) > maxText {
			return nil, fmt.Errorf("a code is longer than %d bytes", maxText)
		}
		if !slices.ContainsFunc(codes, func(have string) bool { return strings.EqualFold(have, c) }) {
			codes = append(codes, c)
		}
	}
	if len(codes) > maxCodes {
		return nil, fmt.Errorf("more than %d codes", maxCodes)
	}
	return codes, nil
}

// limiter fails a read once a row has taken more than max bytes, so an
// unclosed quote cannot read a whole file into memory.
type limiter struct {
	r      io.Reader
	n, max int
}

var errTooLong = errors.New("row too long")

func (l *limiter) Read(p []byte) (int, error) {
	if l.n > l.max {
		return 0, errTooLong
	}
	n, err := l.r.Read(p)
	l.n += n
	return n, err
}

// formula reports whether a spreadsheet would run a cell as a formula.
func formula(s string) bool { return s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) }

// guard keeps a cell a spreadsheet would run as a formula inert.
func guard(s string) string {
	if formula(s) {
		return "'" + s
	}
	return s
}

// unguard undoes guard, so a rejected file, corrected, imports the values
// it was written from.
func unguard(s string) string {
	if strings.HasPrefix(s, "'") && formula(s[1:]) {
		return s[1:]
	}
	return s
}

// RejectedWriter writes rejected rows as CSV: a reason column first (with
// the row's line in the input), then the input's own columns, every cell
// kept inert for spreadsheets. A corrected rejected file imports as is.
type RejectedWriter struct {
	cw     *csv.Writer
	reason int // the input's own reason column, dropped, or -1
}

// NewRejectedWriter writes the header: reason, then the input's header.
func NewRejectedWriter(w io.Writer, header []string) (*RejectedWriter, error) {
	rw := &RejectedWriter{cw: csv.NewWriter(w), reason: -1}
	for i, h := range header {
		if strings.EqualFold(strings.TrimSpace(h), ReasonColumn) {
			rw.reason = i
		}
	}
	if err := rw.write(ReasonColumn, header); err != nil {
		return nil, err
	}
	return rw, nil
}

// Write writes one rejected row.
func (w *RejectedWriter) Write(rj Rejection) error {
	return w.write(fmt.Sprintf("line %d: %s", rj.Line, rj.Reason), rj.Raw)
}

func (w *RejectedWriter) write(reason string, cells []string) error {
	rec := make([]string, 0, len(cells)+1)
	rec = append(rec, guard(reason))
	for i, c := range cells {
		if i != w.reason {
			rec = append(rec, guard(c))
		}
	}
	return w.cw.Write(rec)
}

// Flush writes what is buffered.
func (w *RejectedWriter) Flush() error {
	w.cw.Flush()
	return w.cw.Error()
}

package csvimport_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/orders/csvimport"
	"github.com/roost-hq/roost/internal/valid"
)

// result is everything read from a file: the orders accepted, the rows
// rejected, and the error that ended the reading (nil at the end).
type result struct {
	events   []orders.Event
	rejected []csvimport.Rejection
	rows     int
	err      error
}

func read(t testing.TB, r io.Reader) result {
	t.Helper()
	var res result
	rd, err := csvimport.NewReader(r)
	if err != nil {
		res.err = err
		return res
	}
	for {
		o, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return res
		}
		if err != nil {
			res.err = err
			return res
		}
		res.rows += len(o.Rows)
		if len(o.Rejected) > 0 {
			if o.Event.Order != nil {
				t.Fatalf("order %q is both rejected and accepted", o.ID)
			}
			res.rejected = append(res.rejected, o.Rejected...)
		} else {
			res.events = append(res.events, o.Event)
		}
	}
}

func readString(t testing.TB, s string) result { return read(t, strings.NewReader(s)) }

func fixture(t *testing.T, name string) result {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return read(t, f)
}

const header = "order_id,placed_at,currency,rate,line_id,sku,name,quantity,unit_price,discount,codes,click_id,email\n"

// row is a good row with some cells changed: row("quantity=0").
func row(set ...string) string {
	cells := map[string]string{"order_id": "1", "placed_at": "2025-01-02", "currency": "USD", "quantity": "1", "unit_price": "1.00"}
	for _, s := range set {
		k, v, _ := strings.Cut(s, "=")
		cells[k] = v
	}
	rec := make([]string, 0, 13)
	for _, c := range csvimport.Columns() {
		rec = append(rec, cells[c])
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(rec)
	w.Flush()
	return b.String()
}

func reasons(rs []csvimport.Rejection) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprintf("%d: %s", r.Line, r.Reason)
	}
	return out
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func placed(o orders.Order) orders.Event {
	return orders.Event{Source: orders.CSV, Kind: orders.Placed, Order: &o}
}

func TestGoodFile(t *testing.T) {
	t.Parallel()
	res := fixture(t, "orders.csv")
	if res.err != nil || len(res.rejected) > 0 || res.rows != 4 {
		t.Fatalf("err %v, %d rows, rejected %v", res.err, res.rows, reasons(res.rejected))
	}
	want := []orders.Event{
		placed(orders.Order{ExternalID: "1001", PlacedAt: date("2025-03-04T15:04:05Z"), Currency: "USD", Codes: []string{"SPRING25"}, Email: "ann@example.com",
			Lines: []orders.Line{
				{ExternalID: "1", SKU: "XPS13", Name: "XPS 13, 2025", Quantity: 1, UnitPrice: 99900, Discount: 10000},
				{ExternalID: "2", SKU: "DOCK", Name: "USB-C dock", Quantity: 2, UnitPrice: 1999},
			}}),
		placed(orders.Order{ExternalID: "1002", PlacedAt: date("2025-03-05T00:00:00Z"), Currency: "EUR", Rate: "1.0834", Codes: []string{"SPRING25", "VIP"},
			Lines: []orders.Line{{SKU: "MUG", Name: "Mug", Quantity: 3, UnitPrice: 750}}}),
		placed(orders.Order{ExternalID: "1003", PlacedAt: date("2025-03-06T08:00:00Z"), Currency: "JPY", Rate: "0.0067", ClickID: "01JNX7Q3T8Z0000000000000AB",
			Lines: []orders.Line{{ExternalID: "A", SKU: "TEA", Name: "Matcha", Quantity: 1, UnitPrice: 1200}}}),
	}
	if !reflect.DeepEqual(res.events, want) {
		for i := range max(len(res.events), len(want)) {
			var got, exp any
			if i < len(res.events) {
				got = *res.events[i].Order
			}
			if i < len(want) {
				exp = *want[i].Order
			}
			t.Errorf("order %d:\n got %+v\nwant %+v", i, got, exp)
		}
	}
}

// TestMixedFile: good orders come through, and every row of a bad order is
// rejected, each with its reason.
func TestMixedFile(t *testing.T) {
	t.Parallel()
	res := fixture(t, "mixed.csv")
	if res.err != nil || res.rows != 9 {
		t.Fatalf("err %v, %d rows", res.err, res.rows)
	}
	var ids []string
	for _, ev := range res.events {
		ids = append(ids, ev.Order.ExternalID)
	}
	// 2004 is in GBP without a rate: the parser cannot know the
	// workspace's currency; orders.Store.Receive refuses it.
	if want := []string{"2001", "2004", "2005", "2006"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("orders %v, want %v", ids, want)
	}
	want := []string{
		`4: not imported: its order has a problem on line 5`,
		`5: quantity: "0" is not a whole number from 1 to 1,000,000`,
		`6: unit_price: must not be negative`,
		`8: order_id: order "2001" already appeared on line 2; the rows of an order must be consecutive`,
	}
	if got := reasons(res.rejected); !reflect.DeepEqual(got, want) {
		t.Errorf("rejections:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r := res.rejected[2]; !reflect.DeepEqual(r.Raw, []string{"2003", "2025-04-03", "USD", "", "", "E", `=HYPERLINK("http://evil.example")`, "1", "-1.00", "", "", "", ""}) {
		t.Errorf("raw cells of line 6: %q", r.Raw)
	}
}

// TestBadRows gives each bad row its exact reason; a bad row rejects all
// the rows of its order.
func TestBadRows(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 201)
	for name, c := range map[string]struct {
		rows string
		want []string
	}{
		"no order_id":         {row("order_id="), []string{"2: order_id: is required"}},
		"order_id too long":   {row("order_id=" + long), []string{"2: order_id: is longer than 200 bytes"}},
		"no placed_at":        {row("placed_at="), []string{"2: placed_at: is required"}},
		"placed_at format":    {row("placed_at=03/04/2025"), []string{`2: placed_at: "03/04/2025" is neither an RFC 3339 time such as 2025-03-04T15:04:05Z nor a date such as 2025-03-04`}},
		"placed_at no zone":   {row("placed_at=2025-03-04T10:00:00"), []string{`2: placed_at: "2025-03-04T10:00:00" is neither an RFC 3339 time such as 2025-03-04T15:04:05Z nor a date such as 2025-03-04`}},
		"placed_at old":       {row("placed_at=1969-12-31"), []string{`2: placed_at: "1969-12-31" is before 1970`}},
		"placed_at future":    {row("placed_at=2999-01-01"), []string{`2: placed_at: "2999-01-01" is in the future`}},
		"no currency":         {row("currency="), []string{"2: currency: is required"}},
		"unknown currency":    {row("currency=XYZ"), []string{`2: currency: "XYZ" is not an ISO 4217 currency code such as USD or EUR`}},
		"negative rate":       {row("rate=-1"), []string{`2: rate: "-1" is not a positive decimal rate such as 1.0834`}},
		"exponent rate":       {row("rate=1e3"), []string{`2: rate: "1e3" is not a positive decimal rate such as 1.0834`}},
		"zero rate":           {row("rate=0.0"), []string{`2: rate: "0.0" is not a positive decimal rate such as 1.0834`}},
		"no quantity":         {row("quantity="), []string{"2: quantity: is required"}},
		"zero quantity":       {row("quantity=0"), []string{`2: quantity: "0" is not a whole number from 1 to 1,000,000`}},
		"negative quantity":   {row("quantity=-1"), []string{`2: quantity: "-1" is not a whole number from 1 to 1,000,000`}},
		"decimal quantity":    {row("quantity=1.5"), []string{`2: quantity: "1.5" is not a whole number from 1 to 1,000,000`}},
		"huge quantity":       {row("quantity=1000001"), []string{`2: quantity: "1000001" is not a whole number from 1 to 1,000,000`}},
		"no unit_price":       {row("unit_price="), []string{"2: unit_price: is required"}},
		"too many decimals":   {row("unit_price=19.999"), []string{`2: unit_price: "19.999" is not an amount in USD (at most 2 decimals)`}},
		"yen decimals":        {row("currency=JPY", "unit_price=1.5"), []string{`2: unit_price: "1.5" is not an amount in JPY (at most 0 decimals)`}},
		"not a price":         {row("unit_price=abc"), []string{`2: unit_price: "abc" is not an amount in USD`}},
		"thousands separator": {row("unit_price=1,000.00"), []string{`2: unit_price: "1,000.00" is not an amount in USD`}},
		"negative price":      {row("unit_price=-1"), []string{"2: unit_price: must not be negative"}},
		"huge price":          {row("unit_price=100000000000.01"), []string{"2: unit_price: is too large"}},
		"huge line":           {row("quantity=1000000", "unit_price=100000.01"), []string{"2: unit_price: quantity × unit_price is more than 100000000000.00 USD"}},
		"negative discount":   {row("discount=-0.50"), []string{"2: discount: must not be negative"}},
		"discount over total": {row("quantity=2", "unit_price=1.00", "discount=2.01"), []string{"2: discount: is more than quantity × unit_price (the discount is for the whole line)"}},
		"long sku":            {row("sku=" + long), []string{"2: sku: is longer than 200 bytes"}},
		"long cell":           {row("name=" + strings.Repeat("é", 2049)), []string{"2: name: is longer than 4096 bytes"}},
		"NUL":                 {row("name=a\x00b"), []string{"2: name: contains a NUL character"}},
		"too many codes":      {row("codes=C1 C2 C3 C4 C5 C6 C7 C8 C9 C10 C11 C12 C13 C14 C15 C16 C17 C18 C19 C20,c20,C21"), []string{"2: codes: more than 20 codes"}},
		"long code":           {row("codes=" + long), []string{"2: codes: a code is longer than 200 bytes"}},
		"long click_id":       {row("click_id=" + strings.Repeat("c", 41)), []string{fmt.Sprintf("2: click_id: %q is not a Roost click ID", strings.Repeat("c", 41))}},
		"email":               {row("email=ann at example.com"), []string{`2: email: "ann at example.com" is not an email address`}},
		"two problems":        {row("quantity=0", "unit_price=x"), []string{`2: quantity: "0" is not a whole number from 1 to 1,000,000; unit_price: "x" is not an amount in USD`}},
		"second row bad": {row("sku=A") + row("sku=B", "quantity=x") + row("sku=C"), []string{
			"2: not imported: its order has a problem on line 3",
			`3: quantity: "x" is not a whole number from 1 to 1,000,000`,
			"4: not imported: its order has a problem on line 3",
		}},
		"currency differs": {row() + row("currency=EUR"), []string{
			"2: not imported: its order has a problem on line 3",
			`3: currency: "EUR" differs from "USD" on line 2 of the same order`,
		}},
		"email differs": {row("email=a@example.com") + row("email=b@example.com"), []string{
			"2: not imported: its order has a problem on line 3",
			`3: email: "b@example.com" differs from "a@example.com" on line 2 of the same order`,
		}},
		"line_id twice": {row("line_id=L1") + row("line_id=L1"), []string{
			"2: not imported: its order has a problem on line 3",
			`3: line_id: "L1" is also on line 2 of the same order`,
		}},
		"not consecutive": {row("order_id=1") + row("order_id=2") + row("order_id=1"), []string{
			`4: order_id: order "1" already appeared on line 2; the rows of an order must be consecutive`,
		}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := readString(t, header+c.rows)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if got := reasons(res.rejected); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

// TestOrderColumnsOnce: order columns may be blank after the first row,
// and whichever row gives a value gives it for the order.
func TestOrderColumnsOnce(t *testing.T) {
	t.Parallel()
	res := readString(t, header+row("sku=A", "codes=X1", "email=a@example.com")+row("sku=B", "placed_at=", "currency=", "codes=x1"))
	if res.err != nil || len(res.rejected) > 0 || len(res.events) != 1 {
		t.Fatalf("%v %v", res.err, reasons(res.rejected))
	}
	o := res.events[0].Order
	if len(o.Lines) != 2 || o.Lines[1].UnitPrice != 100 || o.Email != "a@example.com" || !reflect.DeepEqual(o.Codes, []string{"X1"}) {
		t.Errorf("%+v", o)
	}
}

// TestUnreadableRow: a row that is not CSV may belong to the order before
// it or the one after, so both are rejected; the next ones are not.
func TestUnreadableRow(t *testing.T) {
	t.Parallel()
	body := header + row("order_id=A", "sku=1") + row("order_id=A", "sku=2") + "A,x\n" + row("order_id=B") + row("order_id=C") +
		`C,2025-01-02,USD,,,b"ad,,1,1,,,,` + "\n" + row("order_id=D")
	res := readString(t, body)
	if res.err != nil {
		t.Fatal(res.err)
	}
	want := []string{
		"2: not imported: its order has a problem on line 4",
		"3: not imported: its order has a problem on line 4",
		"4: the row has 2 cells and the header 13",
		"5: line 4, just before this order, could not be read and may belong to it",
		"6: not imported: its order has a problem on line 7",
		`7: the row could not be read as CSV: bare " in non-quoted-field`,
		"8: line 7, just before this order, could not be read and may belong to it",
	}
	if got := reasons(res.rejected); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(res.events) != 0 {
		t.Errorf("imported %d orders", len(res.events))
	}
	if !reflect.DeepEqual(res.rejected[2].Raw, []string{"A", "x"}) || res.rejected[5].Raw != nil {
		t.Errorf("raw cells: %q, %q", res.rejected[2].Raw, res.rejected[5].Raw)
	}
	// An unreadable first row goes with the first order.
	res = readString(t, header+"x\n"+row()+row("order_id=2"))
	if got := reasons(res.rejected); len(res.events) != 1 || !reflect.DeepEqual(got, []string{"2: the row has 1 cells and the header 13", "3: not imported: its order has a problem on line 2"}) {
		t.Errorf("%v %v", got, res.err)
	}
	// A quote never closed swallows the rest of a small file: one row.
	res = readString(t, header+row("order_id=1")+`2,"2025-01-02,USD,,,,,1,1,,,,`+"\n"+row("order_id=3"))
	if got := reasons(res.rejected); res.err != nil || len(res.events) != 0 || !reflect.DeepEqual(got, []string{
		"2: not imported: its order has a problem on line 3",
		`3: the row could not be read as CSV: extraneous or missing " in quoted-field`,
	}) {
		t.Errorf("%v %v", got, res.err)
	}
}

func TestTooManyLines(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(header)
	for i := range csvimport.MaxRows + 2 {
		b.WriteString(row("order_id=big", fmt.Sprintf("line_id=%d", i)))
	}
	b.WriteString(row("order_id=small"))
	res := readString(t, b.String())
	if res.err != nil || len(res.rejected) != csvimport.MaxRows+2 || len(res.events) != 1 || res.events[0].Order.ExternalID != "small" {
		t.Fatalf("%v: %d rejected, %d orders", res.err, len(res.rejected), len(res.events))
	}
	for _, r := range res.rejected {
		if r.Reason != "the order has more than 1000 lines (rows)" {
			t.Fatalf("line %d: %s", r.Line, r.Reason)
		}
	}
	// Exactly the most is fine.
	b.Reset()
	b.WriteString(header)
	for i := range csvimport.MaxRows {
		b.WriteString(row(fmt.Sprintf("line_id=%d", i)))
	}
	if res := readString(t, b.String()); res.err != nil || len(res.events) != 1 || len(res.events[0].Order.Lines) != csvimport.MaxRows {
		t.Fatalf("%v %v", res.err, reasons(res.rejected))
	}
}

// TestBOMCRLFQuotes reads what spreadsheets write: a byte-order mark,
// CRLF, quoted cells with commas, quotes and line breaks, columns in
// another order and case, empty rows and a trailing empty line.
func TestBOMCRLFQuotes(t *testing.T) {
	t.Parallel()
	body := "\ufeffSKU, Order_ID ,Quantity,UNIT_PRICE,Currency,Placed_At,Name,reason\r\n" +
		`A1,1,1,"1,00",USD,2025-01-02,"Say ""hi""",` + "\r\n" +
		`A2,1,2,3.50,USD,2025-01-02,"two` + "\r\n" + `lines",old reason` + "\r\n" +
		",,,,,,,\r\n" +
		"\r\n" +
		`'-B1,2,1,0.5,usd,2025-01-03T10:00:00-05:00,'=SUM(1),` + "\r\n" +
		"\r\n"
	res := readString(t, body)
	if res.err != nil {
		t.Fatal(res.err)
	}
	if got := reasons(res.rejected); !reflect.DeepEqual(got, []string{`2: unit_price: "1,00" is not an amount in USD`, "3: not imported: its order has a problem on line 2"}) {
		t.Errorf("rejected %v", got)
	}
	want := []orders.Event{placed(orders.Order{ExternalID: "2", PlacedAt: date("2025-01-03T15:00:00Z"), Currency: "USD",
		Lines: []orders.Line{{SKU: "-B1", Name: "=SUM(1)", Quantity: 1, UnitPrice: 50}}})}
	if !reflect.DeepEqual(res.events, want) {
		t.Errorf("got %+v", res.events)
	}
	// Fixed, the first order imports: the line break stays in the name and
	// the next row's line number counts it.
	res = readString(t, strings.Replace(body, `"1,00"`, "1.00", 1))
	if len(res.events) != 2 || res.events[0].Order.Lines[1].Name != "two\nlines" || res.events[0].Order.Lines[0].Name != `Say "hi"` {
		t.Fatalf("%+v %v", res.events, reasons(res.rejected))
	}
	rd, _ := csvimport.NewReader(strings.NewReader(body))
	if h := rd.Header(); h[1] != " Order_ID " || len(h) != 8 {
		t.Errorf("header %q", h)
	}
	// A file of only a header has no orders.
	if res := readString(t, "\ufeff"+header); res.err != nil || res.rows != 0 {
		t.Errorf("header only: %+v", res)
	}
}

// TestLineNumbers: rejections name the file's lines, counting the header,
// line breaks inside quotes and blank lines.
func TestLineNumbers(t *testing.T) {
	t.Parallel()
	res := readString(t, header+"\n"+`1,2025-01-02,USD,,,,"a`+"\n"+`b",1,1,,,,`+"\n\n"+row("order_id=2", "quantity=0"))
	if got := reasons(res.rejected); len(got) != 1 || !strings.HasPrefix(got[0], "6: quantity:") {
		t.Errorf("%v", got)
	}
}

func TestBadHeader(t *testing.T) {
	t.Parallel()
	utf16le := []byte{0xFF, 0xFE}
	for _, u := range utf16.Encode([]rune(header)) {
		utf16le = append(utf16le, byte(u), byte(u>>8))
	}
	for name, c := range map[string]struct{ body, want string }{
		"empty":         {"", "the file is empty: it needs a header row naming its columns"},
		"blank":         {"\ufeff\r\n\r\n", "the file is empty: it needs a header row naming its columns"},
		"unknown":       {"order_id,placed_at,currency,quantity,untiprice,unit_price\n", `unknown column "untiprice" in the header: the columns are order_id, placed_at, currency, rate, line_id, sku, name, quantity, unit_price, discount, codes, click_id, email`},
		"twice":         {"order_id,placed_at,currency,quantity,unit_price,SKU,sku\n", `the header names the column "sku" twice`},
		"missing":       {"order_id,currency,sku,quantity\n", "the header lacks the required columns placed_at, unit_price (the first row must name the columns)"},
		"data first":    {"1,2025-01-02,USD,,,,,1,1.00,,,,\n", "the first row is not a header: a file starts with a row naming its columns, such as order_id,placed_at,currency,rate,line_id,sku,name,quantity,unit_price,discount,codes,click_id,email"},
		"utf-16":        {string(utf16le), "the file is UTF-16: save it as CSV UTF-8"},
		"utf-16 no BOM": {string(utf16le[2:]), "the file is UTF-16: save it as CSV UTF-8"},
		"latin-1":       {header + row() + "2,2025-01-02,USD,,,,Caf\xe9,1,1.00,,,,\n", "line 3 is not UTF-8 text: save the file as CSV UTF-8 (it may be in Windows-1252 or Latin-1); nothing from line 3 on was read"},
		"latin-1 head":  {"order_id,placed_at,currency,quantity,unit_price,caf\xe9\n", "line 1 is not UTF-8 text: save the file as CSV UTF-8 (it may be in Windows-1252 or Latin-1); nothing from line 1 on was read"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := readString(t, c.body)
			if res.err == nil || res.err.Error() != c.want {
				t.Errorf("got %v\nwant %s", res.err, c.want)
			}
			if len(res.events) > 0 {
				t.Errorf("imported %d orders from a refused file", len(res.events))
			}
		})
	}
}

// TestNotUTF8Late: bad bytes past what is checked up front stop the
// reading there; the order they are in is rejected, not half imported.
func TestNotUTF8Late(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(header)
	n := 0
	for b.Len() < 100<<10 {
		n++
		b.WriteString(row(fmt.Sprintf("order_id=%d", n)))
	}
	b.WriteString(row(fmt.Sprintf("order_id=%d", n+1), "sku=ok"))
	b.WriteString(row(fmt.Sprintf("order_id=%d", n+1), "name=Caf\xe9"))
	b.WriteString(row(fmt.Sprintf("order_id=%d", n+2)))
	res := readString(t, b.String())
	bad := n + 3 // the line of the Latin-1 row
	if res.err == nil || !strings.HasPrefix(res.err.Error(), fmt.Sprintf("line %d is not UTF-8 text", bad)) {
		t.Fatalf("err %v", res.err)
	}
	if len(res.events) != n || !reflect.DeepEqual(reasons(res.rejected), []string{fmt.Sprintf("%d: not imported: the file could not be read after line %d", bad-1, bad-1)}) {
		t.Errorf("%d orders (want %d), rejected %v", len(res.events), n, reasons(res.rejected))
	}
}

// TestLongRow: a quote left open in a big file stops the reading with a
// clear error instead of reading the whole file into one cell.
func TestLongRow(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(header + row("order_id=1") + `2,2025-01-02,USD,,,,"open,1,1,,,,` + "\n")
	for b.Len() < 1<<20 {
		b.WriteString(row("order_id=3"))
	}
	res := readString(t, b.String())
	if res.err == nil || res.err.Error() != "a row after line 2 is longer than 64 KiB: is a quote left open? Nothing after line 2 was read" {
		t.Fatalf("err %v", res.err)
	}
	if len(res.events) != 0 || len(res.rejected) != 1 {
		t.Errorf("%d orders, rejected %v", len(res.events), reasons(res.rejected))
	}
}

// TestReject maps orders.Store.Check's fields to the file's rows and columns.
func TestReject(t *testing.T) {
	t.Parallel()
	rd, err := csvimport.NewReader(strings.NewReader(header + row("sku=A") + row("sku=B") + row("order_id=2")))
	if err != nil {
		t.Fatal(err)
	}
	o, err := rd.Next()
	if err != nil || len(o.Rejected) > 0 {
		t.Fatal(err, o.Rejected)
	}
	var ve valid.Errors
	ve.Add("lines[1].discount", "must be between zero and the line's quantity × unit price")
	ve.Add("rate", "is required")
	ve.Add("lines[0].id", "is too long")
	o.Reject(&ve)
	want := []string{
		"2: line_id: is too long; rate: is required",
		"3: discount: must be between zero and the line's quantity × unit price; rate: is required",
	}
	if got := reasons(o.Rejected); o.Event.Order != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
	if o.Rejected[1].Raw[5] != "B" {
		t.Errorf("raw %q", o.Rejected[1].Raw)
	}
}

// TestRejectedFile: the reason first, the row as it was, cells a
// spreadsheet would run kept inert; corrected, it imports as is.
func TestRejectedFile(t *testing.T) {
	t.Parallel()
	in := header + row("order_id=1", "sku=-X1", "name==cmd|' /C calc'!A0", "quantity=0") + `2,2025-01-02,USD,,,,"x,y` + "\n"
	rd, err := csvimport.NewReader(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w, err := csvimport.NewRejectedWriter(&out, rd.Header())
	if err != nil {
		t.Fatal(err)
	}
	for {
		o, err := rd.Next()
		if err != nil {
			break
		}
		for _, r := range o.Rejected {
			w.Write(r)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "reason," + header +
		`"line 2: quantity: ""0"" is not a whole number from 1 to 1,000,000",1,2025-01-02,USD,,,'-X1,'=cmd|' /C calc'!A0,0,1.00,,,,` + "\n" +
		`"line 3: the row could not be read as CSV: extraneous or missing "" in quoted-field"` + "\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	// Fixed in place, the file imports with its values back as they were;
	// its reason column is ignored.
	fixed := strings.Replace(strings.Split(out.String(), "\n")[0]+"\n"+strings.Split(out.String(), "\n")[1]+"\n", ",0,1.00", ",1,1.00", 1)
	res := readString(t, fixed)
	if res.err != nil || len(res.events) != 1 {
		t.Fatalf("%v %v", res.err, reasons(res.rejected))
	}
	if l := res.events[0].Order.Lines[0]; l.SKU != "-X1" || l.Name != "=cmd|' /C calc'!A0" {
		t.Errorf("line %+v", l)
	}
	// Written again, the reason column is replaced, not added.
	rd, _ = csvimport.NewReader(strings.NewReader(fixed))
	out.Reset()
	w, _ = csvimport.NewRejectedWriter(&out, rd.Header())
	w.Write(csvimport.Rejection{Line: 2, Reason: "again", Raw: []string{"old", "1"}})
	w.Flush()
	if got := out.String(); !strings.HasPrefix(got, "reason,order_id,") || !strings.HasSuffix(got, "line 2: again,1\n") {
		t.Errorf("%q", got)
	}
}

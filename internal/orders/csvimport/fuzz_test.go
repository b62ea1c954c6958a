package csvimport_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/roost-hq/roost/internal/money"
	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/orders/csvimport"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
	"github.com/roost-hq/roost/internal/valid"
)

// FuzzReader feeds the reader anything at all: it must not panic, every
// row it reads must come back in an order or a rejection, and every order
// it accepts must pass orders.Store.Check (but for the rate, which depends
// on the workspace's currency).
func FuzzReader(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.csv")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\ufeff" + header + row("quantity=0") + row("order_id=2") + "x\r\n" + row("order_id=2")))
	f.Add([]byte(header + row("currency=KWD", "unit_price=1.999", "discount=0.001") + row("currency=", "placed_at=", "codes=A,B")))
	f.Add([]byte(header + `1,"2025-01-02",USD,,,,"a""b` + "\n" + `c",1,1,,,,` + "\n"))
	f.Add([]byte("order_id,placed_at,currency,quantity,unit_price,,reason\n1,2025-01-02,usd,9,0,,why\n"))
	f.Add([]byte(header + row("quantity=1000000", "unit_price=10000000.00")))
	db := storetest.New(f, store.SQLite)
	keys, _ := secret.New(secret.Generate())
	st := orders.NewStore(db, keys)
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := csvimport.NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		last := 1
		for {
			o, err := rd.Next()
			if err != nil {
				return
			}
			if len(o.Rows) == 0 {
				t.Fatalf("an order without rows: %+v", o)
			}
			for _, r := range o.Rows {
				if r.Line <= last {
					t.Fatalf("line %d after line %d", r.Line, last)
				}
				last = r.Line
			}
			if len(o.Rejected) > 0 {
				if o.Event.Order != nil || len(o.Rejected) != len(o.Rows) {
					t.Fatalf("order %q: %d rows, %d rejections, event %v", o.ID, len(o.Rows), len(o.Rejected), o.Event.Order)
				}
				for _, r := range o.Rejected {
					if r.Reason == "" {
						t.Fatalf("line %d rejected without a reason", r.Line)
					}
				}
				continue
			}
			ev := o.Event
			if ev.Source != orders.CSV || ev.Kind != orders.Placed || ev.Order == nil {
				t.Fatalf("event %+v", ev)
			}
			od := ev.Order
			if _, ok := money.Exponent(od.Currency); !ok || od.ExternalID == "" || od.ExternalID != o.ID || od.PlacedAt.IsZero() ||
				len(od.Lines) != len(o.Rows) || len(od.Lines) > csvimport.MaxRows {
				t.Fatalf("order %+v", od)
			}
			for _, l := range od.Lines {
				if l.Quantity < 1 || l.Quantity > 1e6 || l.UnitPrice < 0 || l.UnitPrice > 1e13 || l.Discount < 0 || l.Discount > l.Quantity*l.UnitPrice {
					t.Fatalf("line %+v", l)
				}
			}
			if err := st.Check(context.Background(), "ws_fuzz", ev); err != nil {
				ve, ok := valid.As(err)
				if !ok || len(ve.Fields) != 1 || ve.Fields[0].Field != "rate" || od.Rate != "" {
					t.Fatalf("orders.Store.Check refuses %+v: %v", od, err)
				}
			}
		}
	})
}

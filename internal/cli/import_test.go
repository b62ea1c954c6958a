package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/store/storetest"
)

// TestImportOrders imports a file with good and bad orders, then again,
// then its corrected rejected file.
func TestImportOrders(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			dbURL := storetest.URL(t, d)
			env := map[string]string{"ROOST_DATA_DIR": dir, "ROOST_DATABASE_URL": dbURL, "ROOST_SECRET_KEY": secret.Generate()}
			if r := roost(t, env, "a long password\n", "admin", "create", "--workspace", "Acme", "--email", "o@example.com", "--name", "O", "--password-stdin"); r.code != 0 {
				t.Fatalf("admin create: %+v", r)
			}
			b, err := os.ReadFile("../orders/csvimport/testdata/mixed.csv")
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, "orders.csv")
			os.WriteFile(file, b, 0o600)
			rejected := filepath.Join(dir, "orders.rejected.csv")

			r := roost(t, env, "", "import", "orders", "--workspace", "acme", file)
			want := file + ": 9 rows read; 3 orders imported, 0 already imported; 5 rows (4 orders) rejected, written with the reason for each to " + rejected + ".\n"
			if r.code != 1 || r.stdout != want || r.stderr != "roost import orders: 5 rows rejected: see "+rejected+"\n" {
				t.Fatalf("import: exit %d\nstdout %q\nwant   %q\nstderr %q", r.code, r.stdout, want, r.stderr)
			}
			wantRejected := `reason,order_id,placed_at,currency,rate,line_id,sku,name,quantity,unit_price,discount,codes,click_id,email
line 4: not imported: its order has a problem on line 5,2002,2025-04-02,USD,,,C,Charlie,1,3.00,,,,
"line 5: quantity: ""0"" is not a whole number from 1 to 1,000,000",2002,2025-04-02,USD,,,D,Delta,0,3.00,,,,
line 6: unit_price: must not be negative,2003,2025-04-03,USD,,,E,"'=HYPERLINK(""http://evil.example"")",1,'-1.00,,,,
line 7: rate: is required: the order is in GBP and the workspace reports in USD; give how many USD one GBP is worth,2004,2025-04-04,GBP,,,F,Foxtrot,1,2.00,,,,
"line 8: order_id: order ""2001"" already appeared on line 2; the rows of an order must be consecutive",2001,2025-04-01,USD,,,G,Golf,1,1.00,,,,
`
			got, err := os.ReadFile(rejected)
			if err != nil || string(got) != wantRejected {
				t.Fatalf("rejected file (%v):\n%s\nwant\n%s", err, got, wantRejected)
			}
			db := storetest.Open(t, dbURL)
			totals := func() map[string]int64 {
				rows, err := db.R.Query(`SELECT external_id, total FROM orders WHERE source = 'csv' ORDER BY external_id`)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				m := map[string]int64{}
				for rows.Next() {
					var id string
					var total int64
					rows.Scan(&id, &total)
					m[id] = total
				}
				return m
			}
			// 2006 is 2 × 20.00 EUR at 1.10.
			wantTotals := map[string]int64{"2001": 2000, "2005": 400, "2006": 4400}
			if got := totals(); !equalTotals(got, wantTotals) {
				t.Fatalf("orders: %v, want %v", got, wantTotals)
			}

			// Again: nothing new, the same rejections.
			r = roost(t, env, "", "import", "orders", "--workspace", "acme", file)
			want = file + ": 9 rows read; 0 orders imported, 3 already imported; 5 rows (4 orders) rejected, written with the reason for each to " + rejected + ".\n"
			if r.code != 1 || r.stdout != want {
				t.Fatalf("second import: exit %d\nstdout %q\nwant   %q", r.code, r.stdout, want)
			}
			if got := totals(); !equalTotals(got, wantTotals) {
				t.Fatalf("orders after the second import: %v", got)
			}

			// The rejected file, corrected, imports as is, from standard input.
			fixed := strings.NewReplacer("D,Delta,0,", "D,Delta,1,", "'-1.00", "1.00", "GBP,,", "GBP,1.25,", "2001,2025-04-01,USD,,,G", "2007,2025-04-01,USD,,,G").Replace(wantRejected)
			r = roost(t, env, fixed, "import", "orders", "--workspace", "acme", "--rejected", filepath.Join(dir, "again.csv"), "-")
			want = "standard input: 5 rows read; 4 orders imported, 0 already imported; no rows rejected.\n"
			if r.code != 0 || r.stdout != want || r.stderr != "" {
				t.Fatalf("corrected import: %+v", r)
			}
			if _, err := os.Stat(filepath.Join(dir, "again.csv")); !os.IsNotExist(err) {
				t.Errorf("a rejected file without rejections: %v", err)
			}
			wantTotals["2002"], wantTotals["2003"], wantTotals["2004"], wantTotals["2007"] = 600, 100, 250, 100
			if got := totals(); !equalTotals(got, wantTotals) {
				t.Fatalf("orders after the corrected import: %v, want %v", got, wantTotals)
			}
		})
	}
}

func equalTotals(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestImportOrdersErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"ROOST_DATA_DIR": dir, "ROOST_SECRET_KEY": secret.Generate()}
	if r := roost(t, env, "a long password\n", "admin", "create", "--workspace", "Acme", "--email", "o@example.com", "--name", "O", "--password-stdin"); r.code != 0 {
		t.Fatalf("admin create: %+v", r)
	}
	good := filepath.Join(dir, "good.csv")
	os.WriteFile(good, []byte("order_id,placed_at,currency,quantity,unit_price\n1,2025-01-02,USD,1,1.00\n"), 0o600)
	typo := filepath.Join(dir, "typo.csv")
	os.WriteFile(typo, []byte("order_id,placed_at,currency,quantity,unit_prise\n1,2025-01-02,USD,1,1.00\n"), 0o600)
	latin1 := filepath.Join(dir, "latin1.csv")
	os.WriteFile(latin1, []byte("order_id,placed_at,currency,quantity,unit_price,name\n1,2025-01-02,USD,1,1.00,Caf\xe9\n"), 0o600)

	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		msg  string
	}{
		{"missing file", env, []string{"--workspace", "acme", filepath.Join(dir, "nope.csv")}, 2, "cannot open " + filepath.Join(dir, "nope.csv") + ": no such file or directory"},
		{"directory", env, []string{"--workspace", "acme", dir}, 2, "is a directory"},
		{"no workspace flag", env, []string{good}, 2, "give --workspace and exactly one CSV file"},
		{"two files", env, []string{"--workspace", "acme", good, good}, 2, "give --workspace and exactly one CSV file"},
		{"no file", env, []string{"--workspace", "acme"}, 2, "give --workspace and exactly one CSV file"},
		{"bad flag", env, []string{"--workspace", "acme", "--bogus", good}, 2, "flag provided but not defined: -bogus"},
		{"rejected is input", env, []string{"--workspace", "acme", "--rejected", good, good}, 2, "--rejected must not be the file imported"},
		{"unknown workspace", env, []string{"--workspace", "nope", good}, 1, `no workspace with the address "nope"`},
		{"unknown column", env, []string{"--workspace", "acme", typo}, 1, typo + `: unknown column "unit_prise" in the header`},
		{"not UTF-8", env, []string{"--workspace", "acme", latin1}, 1, latin1 + ": line 2 is not UTF-8 text"},
		{"no key", map[string]string{"ROOST_DATA_DIR": dir}, []string{"--workspace", "acme", good}, 1, "no secret key: set ROOST_SECRET_KEY"},
		{"another key", map[string]string{"ROOST_DATA_DIR": dir, "ROOST_SECRET_KEY": secret.Generate()}, []string{"--workspace", "acme", good}, 1, "the secret key differs"},
	} {
		r := roost(t, c.env, "", append([]string{"import", "orders"}, c.args...)...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != c.code || !strings.HasPrefix(lines[0], "roost import orders: ") || !strings.Contains(lines[0], c.msg) ||
			len(lines) > 1 && (c.code != 2 || len(lines) > 2 || lines[1] != "Run roost import orders -h for usage.") {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and one line with %q", c.name, r.code, r.stderr, c.code, c.msg)
		}
	}
	if r := roost(t, env, "", "import", "orders", "-h"); r.code != 0 || !strings.Contains(r.stderr, "Usage: roost import orders --workspace SLUG [--rejected PATH] FILE.csv") ||
		!strings.Contains(r.stderr, "Exit status: 0 when every row was imported") || !strings.Contains(r.stderr, "-rejected") {
		t.Errorf("-h: %+v", r)
	}
	// Not a terminal: no progress bar, nothing on stderr.
	if r := roost(t, env, "", "import", "orders", "--workspace", "acme", good); r.code != 0 || r.stderr != "" ||
		r.stdout != good+": 1 row read; 1 order imported, 0 already imported; no rows rejected.\n" {
		t.Errorf("good file: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "good.rejected.csv")); !os.IsNotExist(err) {
		t.Errorf("a rejected file without rejections: %v", err)
	}
}

func TestProgressLine(t *testing.T) {
	t.Parallel()
	s := importSummary{rows: 10, imported: 2, already: 1, rejectedRows: 2}
	for _, c := range []struct {
		read, size int64
		width      int
		want       string
	}{
		{500, 1000, 200, "[#######........]  50%  500 B / 1.0 kB  rows 10  orders 3  rejected 2"},
		{2_500_000, 2_000_000, 200, "[###############] 100%  2.5 MB / 2.0 MB  rows 10  orders 3  rejected 2"},
		{39_000_000, 250_000_000, 79, "[##.............]  16%  39.0 MB / 250.0 MB  rows 10  orders 3  rejected 2"},
		{1_234_567_890, -1, 200, "1.2 GB read  rows 10  orders 3  rejected 2"},
		{0, 1000, 25, "[...............]   0%  0"},
	} {
		if got := progressLine(s, c.read, c.size, c.width); got != c.want {
			t.Errorf("progressLine(%d, %d, %d) = %q, want %q", c.read, c.size, c.width, got, c.want)
		}
	}
	if got := defaultRejectedPath("data/orders.CSV"); got != "data/orders.rejected.csv" {
		t.Errorf("rejected path %q", got)
	}
	if got := defaultRejectedPath("orders.txt"); got != "orders.txt.rejected.csv" {
		t.Errorf("rejected path %q", got)
	}
}

package money

import "testing"

func TestFormatAndParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		minor    int64
		currency string
		text     string
	}{
		{1999, "USD", "19.99 USD"}, {5, "EUR", "0.05 EUR"}, {-250, "GBP", "-2.50 GBP"},
		{1999, "JPY", "1999 JPY"}, {1999, "KWD", "1.999 KWD"}, {0, "USD", "0.00 USD"},
	} {
		if got := Format(tc.minor, tc.currency); got != tc.text {
			t.Errorf("Format(%d, %s) = %q, want %q", tc.minor, tc.currency, got, tc.text)
		}
	}
	for _, tc := range []struct {
		minor    int64
		currency string
		text     string
	}{
		{123456789, "USD", "1,234,567.89 USD"}, {-100000, "EUR", "-1,000.00 EUR"}, {99999, "USD", "999.99 USD"},
		{1234567, "JPY", "1,234,567 JPY"}, {1000, "JPY", "1,000 JPY"}, {5, "KWD", "0.005 KWD"}, {1234, "XYZ", "1,234 XYZ"},
	} {
		if got := Display(tc.minor, tc.currency); got != tc.text {
			t.Errorf("Display(%d, %s) = %q, want %q", tc.minor, tc.currency, got, tc.text)
		}
	}
	for _, tc := range []struct {
		in, currency string
		want         int64
		ok           bool
	}{
		{"19.99", "USD", 1999, true}, {"19.9", "USD", 1990, true}, {"19", "USD", 1900, true}, {"-0.5", "EUR", -50, true},
		{"1999", "JPY", 1999, true}, {"1.5", "JPY", 0, false}, {"1.999", "KWD", 1999, true}, {"1.999", "USD", 0, false},
		{"", "USD", 0, false}, {"abc", "USD", 0, false}, {"1e3", "USD", 0, false}, {"1", "XYZ", 0, false}, {"99999999999999999999", "USD", 0, false},
	} {
		got, err := Parse(tc.in, tc.currency)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Parse(%q, %s) = %d, %v", tc.in, tc.currency, got, err)
		}
	}
	if _, ok := Exponent("usd"); ok {
		t.Error("lower-case codes are not ISO 4217")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("19.99", "USD")
	f.Add("-0.001", "KWD")
	f.Fuzz(func(t *testing.T, s, cur string) {
		n, err := Parse(s, cur)
		if err != nil {
			return
		}
		back, err := Parse(Format(n, cur)[:len(Format(n, cur))-len(cur)-1], cur)
		if err != nil || back != n {
			t.Fatalf("Parse(%q, %q) = %d, but its formatting parses to %d, %v", s, cur, n, back, err)
		}
	})
}

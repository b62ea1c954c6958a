// Package money is amounts in minor units (int64) of ISO 4217 currencies,
// never floats: 1999 USD is $19.99, 1999 JPY is ¥1,999, 1999 KWD is 1.999 KD.
package money

import (
	"fmt"
	"strconv"
	"strings"
)

// exponents are the minor-unit digits of the active ISO 4217 currencies
// (the list of 2024); every currency not listed here is refused.
var exponents = map[string]int{}

func init() {
	for exp, codes := range map[int]string{
		0: "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF",
		3: "BHD IQD JOD KWD LYD OMR TND",
		4: "CLF UYW",
		2: "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC " +
			"CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD " +
			"KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR " +
			"RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VES VED WST " +
			"XCD YER ZAR ZMW ZWL",
	} {
		for _, c := range strings.Fields(codes) {
			exponents[c] = exp
		}
	}
}

// Exponent returns the number of minor-unit digits of an ISO 4217 code.
func Exponent(currency string) (int, bool) {
	e, ok := exponents[currency]
	return e, ok
}

// Format writes an amount with its currency code: "19.99 USD", "1999 JPY".
func Format(minor int64, currency string) string {
	return Decimal(minor, currency) + " " + currency
}

// Display writes an amount for people: Format with the whole units grouped
// by thousands ("1,299.00 USD").
func Display(minor int64, currency string) string {
	d := Decimal(minor, currency)
	sign := ""
	if strings.HasPrefix(d, "-") {
		sign, d = "-", d[1:]
	}
	whole, frac, _ := strings.Cut(d, ".")
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return sign + b.String() + " " + currency
}

// Decimal writes an amount as a plain decimal of its currency: "19.99",
// "1999" (JPY), "-0.500" (KWD).
func Decimal(minor int64, currency string) string {
	e, ok := exponents[currency]
	if !ok {
		return strconv.FormatInt(minor, 10)
	}
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	s := strconv.FormatInt(minor, 10)
	if e > 0 {
		for len(s) <= e {
			s = "0" + s
		}
		s = s[:len(s)-e] + "." + s[len(s)-e:]
	}
	return sign + s
}

// Parse reads a decimal amount ("19.99", "1999", "-0.5") in a currency
// into minor units, refusing more decimals than the currency has.
func Parse(s, currency string) (int64, error) {
	e, ok := exponents[currency]
	if !ok {
		return 0, fmt.Errorf("unknown currency %q", currency)
	}
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || len(frac) > e || strings.ContainsAny(whole+frac, "+-eE ") {
		return 0, fmt.Errorf("%q is not an amount in %s (at most %d decimals)", s, currency, e)
	}
	frac += strings.Repeat("0", e-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an amount in %s", s, currency)
	}
	if neg {
		n = -n
	}
	return n, nil
}

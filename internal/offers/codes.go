package offers

import (
	"crypto/rand"
	"math/big"
	"strings"
)

// CodeAlphabet is what codes are made of: digits and capitals without the
// look-alikes 0/O, 1/I/L, so a code read aloud or copied from a photo
// survives. 31 symbols: each carries almost 5 bits.
const CodeAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// Code length bounds. Eight symbols are 31^8 ≈ 8.5e11 codes: guessing one
// of a few thousand issued codes takes hundreds of millions of tries.
const (
	MinCodeLength     = 6
	MaxCodeLength     = 16
	DefaultCodeLength = 8
)

// NewCode returns prefix followed by n random symbols of CodeAlphabet.
func NewCode(prefix string, n int) string {
	var b strings.Builder
	b.WriteString(prefix)
	max := big.NewInt(int64(len(CodeAlphabet)))
	for range n {
		i, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		b.WriteByte(CodeAlphabet[i.Int64()])
	}
	return b.String()
}

// NormalizeCode is how codes compare: case-insensitively, ignoring spaces
// around them.
func NormalizeCode(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

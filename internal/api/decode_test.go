package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzDecode feeds arbitrary bodies to the JSON decoder every API create
// and update uses: it must never panic, and must either fill the value or
// answer a 400 problem.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"email":"a@b.co","name":"A","role":"agent"}`, `{"role":null}`, `[]`, `{"a":1}`, `{"name":"\u0000"}`, `{`, ``, `{"name":1e999}`, `{"signature":"^LB"} x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in struct {
			Email     string  `json:"email"`
			Name      string  `json:"name"`
			Role      *string `json:"role"`
			Signature *string `json:"signature"`
		}
		err := decode(body, &in)
		var p *Problem
		if err != nil && (!errors.As(err, &p) || p.Status != 400 || p.Detail == "") {
			t.Fatalf("decode(%q) = %v, want nil or a 400 problem", body, err)
		}
		// Whatever is accepted is exactly one valid JSON object.
		if err == nil {
			trimmed := bytes.TrimSpace(body)
			if !json.Valid(body) || len(trimmed) == 0 || trimmed[0] != '{' {
				t.Fatalf("decode accepted %q, which is not one JSON object", body)
			}
		}
	})
}

func TestDecodeTime(t *testing.T) {
	t.Parallel()
	var in struct {
		At *time.Time `json:"at"`
	}
	err := decode([]byte(`{"at":"yesterday"}`), &in)
	var p *Problem
	if !errors.As(err, &p) || p.Status != 400 || !strings.Contains(p.Detail, "RFC 3339") {
		t.Fatalf("decode of a bad time = %v", err)
	}
}

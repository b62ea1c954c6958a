package offers

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// Rejection is a line of an import that was not taken, and why.
type Rejection struct {
	Line   int    `json:"line"`
	Value  string `json:"value"`
	Reason string `json:"reason"`
}

// ImportReport says what an import did.
type ImportReport struct {
	Added    int         `json:"added"`
	Rejected []Rejection `json:"rejected"`
}

var poolCodeRE = regexp.MustCompile(`^[A-Z0-9_-]+$`)

// MaxPoolImport bounds one import.
const MaxPoolImport = 100_000

// ImportPool adds codes from the store to a pool offer's pool: a CSV whose
// first column is the code (a header line "code" is skipped). Lines that
// cannot be used are reported with the reason; the others are added.
func (s *Store) ImportPool(ctx context.Context, wsID, offerID string, r io.Reader) (ImportReport, error) {
	o, err := s.Get(ctx, wsID, offerID)
	if err != nil {
		return ImportReport{}, err
	}
	if o.CodeMode != Pool {
		return ImportReport{}, &Refusal{"not_a_pool", "This offer does not take its codes from a pool."}
	}
	rep := ImportReport{Rejected: []Rejection{}}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	seen := map[string]bool{}
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				rep.Rejected = append(rep.Rejected, Rejection{Line: line, Reason: "not valid CSV: " + pe.Err.Error()})
				continue
			}
			return rep, fmt.Errorf("offers: read codes: %w", err)
		}
		if line > MaxPoolImport {
			return rep, &Refusal{"too_many", fmt.Sprintf("Import at most %d codes at a time.", MaxPoolImport)}
		}
		raw := strings.TrimSpace(rec[0])
		code := NormalizeCode(raw)
		switch {
		case code == "" || (line == 1 && code == "CODE"):
			continue
		case len(code) > 64:
			rep.Rejected = append(rep.Rejected, Rejection{line, raw, "a code is at most 64 characters"})
			continue
		case !poolCodeRE.MatchString(code):
			rep.Rejected = append(rep.Rejected, Rejection{line, raw, "a code may hold only letters, digits, hyphens and underscores"})
			continue
		case seen[code]:
			rep.Rejected = append(rep.Rejected, Rejection{line, raw, "already earlier in this file"})
			continue
		}
		seen[code] = true
		res, err := s.db.W.ExecContext(ctx, `INSERT INTO offer_codes (workspace_id, code, offer_id) VALUES ($1, $2, $3) ON CONFLICT (workspace_id, code) DO NOTHING`,
			wsID, code, offerID)
		if err != nil {
			return rep, fmt.Errorf("offers: add a code: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			rep.Rejected = append(rep.Rejected, Rejection{line, raw, "already exists in this workspace"})
			continue
		}
		rep.Added++
	}
	return rep, nil
}

// ExportCodes writes the codes an offer has issued as CSV: code, status,
// when claimed and until when, who, and the order that used it.
func (s *Store) ExportCodes(ctx context.Context, o Offer, w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"code", "status", "claimed_at", "expires_at", "network", "handle", "order_ref"})
	before := ""
	for {
		cs, err := s.Claims(ctx, o.WorkspaceID, ClaimFilter{OfferID: o.ID, Before: before, Limit: 1000})
		if err != nil {
			return err
		}
		for _, c := range cs {
			exp := ""
			if c.ExpiresAt != nil {
				exp = c.ExpiresAt.Format(time.RFC3339)
			}
			cw.Write([]string{c.Code, string(c.Status), c.CreatedAt.Format(time.RFC3339), exp, c.Identity.Network, csvSafe(c.Identity.Handle), csvSafe(c.OrderRef)})
		}
		if len(cs) < 1000 {
			break
		}
		before = cs[len(cs)-1].ID
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a value a spreadsheet would run as a formula inert.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

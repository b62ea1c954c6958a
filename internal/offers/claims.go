package offers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
)

// Identity is a person as a network knows them.
type Identity = social.Identity

// ClaimStatus is where a claim is.
type ClaimStatus string

const (
	Active   ClaimStatus = "active"   // the code is the person's, not used yet
	Redeemed ClaimStatus = "redeemed" // an order used the code
	Expired  ClaimStatus = "expired"  // not used in time: the unit went back to stock
)

// Claim is a unit of an offer taken by a person.
type Claim struct {
	ID          string      `json:"id"`
	WorkspaceID string      `json:"-"`
	OfferID     string      `json:"offer_id"`
	Identity    Identity    `json:"identity"`
	Code        string      `json:"code"`
	ClickID     string      `json:"click_id"`
	Status      ClaimStatus `json:"status"`
	CreatedAt   time.Time   `json:"created_at"`
	ExpiresAt   *time.Time  `json:"expires_at"`
	RedeemedAt  *time.Time  `json:"redeemed_at"`
	OrderRef    string      `json:"order_ref"`
}

// Refusal is a claim Roost will not make, with a reason a person can read
// and a code a program can switch on.
type Refusal struct {
	Code    string
	Message string
}

func (r *Refusal) Error() string { return r.Message }

// Refusal codes.
var (
	ErrDraft      = &Refusal{"not_published", "This offer is not open yet."}
	ErrNotStarted = &Refusal{"not_started", "This offer has not started yet."}
	ErrEnded      = &Refusal{"ended", "This offer has ended."}
	ErrSoldOut    = &Refusal{"sold_out", "Sorry, this offer is sold out."}
	ErrPoolEmpty  = &Refusal{"pool_empty", "Sorry, there are no codes left for this offer."}
	ErrLimit      = &Refusal{"limit_reached", "You have already claimed as many as this offer allows."}
	ErrNeedsLink  = &Refusal{"needs_link", "This offer is for people who follow the brand's posts: open it from one of its posts."}
	ErrNotFollow  = &Refusal{"not_a_follower", "This offer is for followers of the brand's account."}
	ErrIdentity   = &Refusal{"no_identity", "Roost could not tell who is claiming."}
)

// ClaimRequest asks for a unit of an offer.
type ClaimRequest struct {
	Identity Identity
	// RequestKey makes retries safe: the same key returns the same claim.
	// Empty means "the person's first claim", so asking again returns it.
	RequestKey string
	// ClickID is the click that brought the person, if any; the link
	// audience requires one of the workspace's clicks.
	ClickID string
	// FollowerOf is the brand account the identity was verified to follow
	// (by a network connector); the followers audience requires one of the
	// offer's accounts.
	FollowerOf string
}

const claimCols = `id, workspace_id, offer_id, network, account_id, handle, code, click_id, status, created_at, expires_at, redeemed_at, order_ref`

func scanClaim(row interface{ Scan(...any) error }) (Claim, error) {
	var c Claim
	var exp, red time.Time
	err := row.Scan(&c.ID, &c.WorkspaceID, &c.OfferID, &c.Identity.Network, &c.Identity.AccountID, &c.Identity.Handle, &c.Code, &c.ClickID,
		&c.Status, store.T(&c.CreatedAt), store.T(&exp), store.T(&red), &c.OrderRef)
	if errors.Is(err, sql.ErrNoRows) {
		return c, store.ErrNotFound
	}
	if !exp.IsZero() {
		c.ExpiresAt = &exp
	}
	if !red.IsZero() {
		c.RedeemedAt = &red
	}
	return c, err
}

// Claim gives the person a unit of the offer and its code, or says why
// not. The database decides: the offer's counter rises only while below
// the cap, a person's claims fill numbered slots under a unique key, and
// pool codes are handed out by a conditional update. Everything happens in
// one transaction, so a refusal leaves nothing behind.
func (s *Store) Claim(ctx context.Context, o Offer, req ClaimRequest) (Claim, error) {
	now := s.db.Now()
	if err := checkOpen(o, now); err != nil {
		return Claim{}, err
	}
	req.Identity.Network = strings.TrimSpace(req.Identity.Network)
	req.Identity.AccountID = strings.TrimSpace(req.Identity.AccountID)
	for _, f := range []string{req.Identity.Network, req.Identity.AccountID, req.Identity.Handle} {
		if len(f) > 200 || !utf8.ValidString(f) || strings.ContainsRune(f, 0) {
			return Claim{}, ErrIdentity
		}
	}
	if req.Identity.Network == "" || req.Identity.AccountID == "" {
		return Claim{}, ErrIdentity
	}
	if req.RequestKey == "" {
		req.RequestKey = "first"
	}
	// Scoped to the person, and hashed: a key is theirs alone, and any
	// text a client sends fits the column.
	req.RequestKey = secret.Hash(fmt.Sprintf("%d:%s|%d:%s|%s", len(req.Identity.Network), req.Identity.Network,
		len(req.Identity.AccountID), req.Identity.AccountID, req.RequestKey))
	switch o.Audience {
	case Link:
		ok, err := s.clickInWorkspace(ctx, o.WorkspaceID, req.ClickID)
		if err != nil {
			return Claim{}, err
		}
		if !ok {
			return Claim{}, ErrNeedsLink
		}
	case Followers:
		if req.FollowerOf == "" || !contains(o.Accounts, req.FollowerOf) {
			return Claim{}, ErrNotFollow
		}
	}
	// Once sold out, refusals and repeat requests are answered from the
	// read pool without taking the write lock: a sold-out offer under a
	// crowd must not queue everyone behind the writer. (The conditional
	// update below still decides every unit.)
	var left int64
	if err := s.db.R.QueryRowContext(ctx, `SELECT cap - claimed FROM offers WHERE id = $1`, o.ID).Scan(&left); err != nil {
		return Claim{}, fmt.Errorf("offers: read stock: %w", err)
	}
	if left <= 0 {
		c, err := scanClaim(s.db.R.QueryRowContext(ctx, `SELECT `+claimCols+` FROM claims WHERE offer_id = $1 AND (request_key = $2
			OR ($3 = 1 AND network = $4 AND account_id = $5 AND slot = 1))`, o.ID, req.RequestKey, o.PerPerson, req.Identity.Network, req.Identity.AccountID))
		if errors.Is(err, store.ErrNotFound) {
			return Claim{}, ErrSoldOut
		}
		return c, err
	}
	// Two requests of one person can race for the same slot: the loser's
	// transaction fails on the unique key, and its second try finds the
	// winner's claim.
	var c Claim
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		c, err = s.claimOnce(ctx, o, req, now)
		if !store.IsUniqueViolation(err) {
			return c, err
		}
	}
	return c, err
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func checkOpen(o Offer, now time.Time) error {
	switch o.State(now) {
	case Draft:
		return ErrDraft
	case Scheduled:
		return ErrNotStarted
	case Ended:
		return ErrEnded
	}
	return nil // sold out is decided by the database, below
}

func (s *Store) clickInWorkspace(ctx context.Context, wsID, clickID string) (bool, error) {
	if clickID == "" || len(clickID) > 40 || strings.Trim(clickID, "0123456789abcdefghjkmnpqrstvwxyz") != "" {
		return false, nil
	}
	var n int
	err := s.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM clicks WHERE id = $1 AND workspace_id = $2`, clickID, wsID).Scan(&n)
	return n > 0, err
}

func (s *Store) claimOnce(ctx context.Context, o Offer, req ClaimRequest, now time.Time) (Claim, error) {
	var c Claim
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		// A retry of a request that succeeded returns its claim.
		var err error
		c, err = scanClaim(tx.QueryRowContext(ctx, `SELECT `+claimCols+` FROM claims WHERE offer_id = $1 AND request_key = $2`, o.ID, req.RequestKey))
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			return err
		}
		// The person's first free slot.
		rows, err := tx.QueryContext(ctx, `SELECT slot FROM claims WHERE offer_id = $1 AND network = $2 AND account_id = $3 AND slot IS NOT NULL`,
			o.ID, req.Identity.Network, req.Identity.AccountID)
		if err != nil {
			return fmt.Errorf("offers: read slots: %w", err)
		}
		taken := map[int]bool{}
		for rows.Next() {
			var n int
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return err
			}
			taken[n] = true
		}
		rows.Close()
		slot := 0
		for n := 1; n <= o.PerPerson; n++ {
			if !taken[n] {
				slot = n
				break
			}
		}
		if slot == 0 {
			if o.PerPerson == 1 {
				// The same person asking again gets the same code.
				c, err = scanClaim(tx.QueryRowContext(ctx, `SELECT `+claimCols+` FROM claims WHERE offer_id = $1 AND network = $2 AND account_id = $3 AND slot = 1`,
					o.ID, req.Identity.Network, req.Identity.AccountID))
				return err
			}
			return ErrLimit
		}
		// The unit: only while there is stock and the offer is open.
		res, err := tx.ExecContext(ctx, `UPDATE offers SET claimed = claimed + 1 WHERE id = $1 AND claimed < cap AND published
			AND starts_at <= $2 AND (ends_at IS NULL OR ends_at > $2)`, o.ID, now.UnixMicro())
		if err != nil {
			return fmt.Errorf("offers: take a unit: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrSoldOut
		}
		c = Claim{ID: id.New("clm"), WorkspaceID: o.WorkspaceID, OfferID: o.ID, Identity: req.Identity, ClickID: req.ClickID, Status: Active,
			CreatedAt: now.UTC().Truncate(time.Microsecond)}
		if o.ClaimTTLHours > 0 {
			exp := c.CreatedAt.Add(time.Duration(o.ClaimTTLHours) * time.Hour)
			c.ExpiresAt = &exp
		}
		if c.Code, err = s.takeCode(ctx, tx, o, c.ID); err != nil {
			return err
		}
		var exp any
		if c.ExpiresAt != nil {
			exp = store.Micros(*c.ExpiresAt)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO claims (id, workspace_id, offer_id, network, account_id, handle, slot, request_key, code, click_id, status, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			c.ID, c.WorkspaceID, c.OfferID, req.Identity.Network, req.Identity.AccountID, req.Identity.Handle, slot, req.RequestKey, c.Code, c.ClickID,
			c.Status, store.Micros(c.CreatedAt), exp)
		return err
	})
	return c, err
}

// takeCode finds the code for a new claim: the offer's shared code, a new
// unique one, or the next free one of the pool.
func (s *Store) takeCode(ctx context.Context, tx *sql.Tx, o Offer, claimID string) (string, error) {
	switch o.CodeMode {
	case Shared:
		return o.SharedCode, nil
	case Unique:
		// The primary key of offer_codes makes codes unique in the workspace;
		// a collision (rare: 31^8 codes) just draws again.
		for range 8 {
			code := NewCode(o.CodePrefix, o.CodeLength)
			res, err := tx.ExecContext(ctx, `INSERT INTO offer_codes (workspace_id, code, offer_id, claim_id) VALUES ($1, $2, $3, $4)
				ON CONFLICT (workspace_id, code) DO NOTHING`, o.WorkspaceID, code, o.ID, claimID)
			if err != nil {
				return "", fmt.Errorf("offers: issue a code: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				return code, nil
			}
		}
		return "", errors.New("offers: no free code after 8 draws: lengthen the offer's codes")
	case Pool:
		skip := ""
		if s.db.Dialect == store.Postgres {
			skip = " FOR UPDATE SKIP LOCKED"
		}
		var code string
		err := tx.QueryRowContext(ctx, `UPDATE offer_codes SET claim_id = $1 WHERE workspace_id = $2 AND code = (
			SELECT code FROM offer_codes WHERE offer_id = $3 AND claim_id IS NULL ORDER BY code LIMIT 1`+skip+`) RETURNING code`,
			claimID, o.WorkspaceID, o.ID).Scan(&code)
		if errors.Is(err, sql.ErrNoRows) {
			return "", ErrPoolEmpty
		}
		if err != nil {
			return "", fmt.Errorf("offers: take a pool code: %w", err)
		}
		return code, nil
	}
	return "", fmt.Errorf("offers: unknown code mode %q", o.CodeMode)
}

// ClaimFor returns the person's claims on an offer, oldest first: what the
// claim page shows them again.
func (s *Store) ClaimsFor(ctx context.Context, offerID string, who Identity) ([]Claim, error) {
	return s.claims(ctx, `offer_id = $1 AND network = $2 AND account_id = $3`, []any{offerID, who.Network, who.AccountID}, "ASC", 100)
}

func (s *Store) claims(ctx context.Context, where string, args []any, order string, limit int) ([]Claim, error) {
	rows, err := s.db.R.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM claims WHERE %s ORDER BY id %s LIMIT %d`, claimCols, where, order, limit), args...)
	if err != nil {
		return nil, fmt.Errorf("offers: list claims: %w", err)
	}
	defer rows.Close()
	var out []Claim
	for rows.Next() {
		c, err := scanClaim(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ClaimFilter narrows a list of claims.
type ClaimFilter struct {
	OfferID, Network string
	Status           ClaimStatus
	Before           string // cursor: claims older than this ID
	Limit            int
}

// Claims lists the workspace's claims, newest first.
func (s *Store) Claims(ctx context.Context, wsID string, f ClaimFilter) ([]Claim, error) {
	where, args := `workspace_id = $1`, []any{wsID}
	add := func(cond string, v any) {
		args = append(args, v)
		where += fmt.Sprintf(" AND %s $%d", cond, len(args))
	}
	if f.OfferID != "" {
		add("offer_id =", f.OfferID)
	}
	if f.Network != "" {
		add("network =", f.Network)
	}
	if f.Status != "" {
		add("status =", f.Status)
	}
	if f.Before != "" {
		add("id <", f.Before)
	}
	return s.claims(ctx, where, args, "DESC", max(1, f.Limit))
}

// Counts are an offer's figures as its page shows them.
type Counts struct {
	Claimed  int64 `json:"claimed"`
	Redeemed int64 `json:"redeemed"`
	Left     int64 `json:"left"`
	// PoolFree is how many imported codes are still unused (pool offers).
	PoolFree int64 `json:"pool_free"`
}

// Counts reads an offer's figures now.
func (s *Store) Counts(ctx context.Context, wsID, offerID string) (Counts, error) {
	var c Counts
	var capUnits int64
	err := s.db.R.QueryRowContext(ctx, `SELECT o.cap, o.claimed,
		(SELECT COUNT(*) FROM claims c WHERE c.offer_id = o.id AND c.status = 'redeemed'),
		(SELECT COUNT(*) FROM offer_codes k WHERE k.offer_id = o.id AND k.claim_id IS NULL)
		FROM offers o WHERE o.workspace_id = $1 AND o.id = $2`, wsID, offerID).Scan(&capUnits, &c.Claimed, &c.Redeemed, &c.PoolFree)
	if errors.Is(err, sql.ErrNoRows) {
		return c, store.ErrNotFound
	}
	c.Left = max(0, capUnits-c.Claimed)
	return c, err
}

// Redeem marks the claim holding a unique or pool code as used by an
// order. Redeeming again with the same order changes nothing.
func (s *Store) Redeem(ctx context.Context, wsID, code, orderRef string) (Claim, error) {
	return RedeemIn(ctx, s.db.W, wsID, code, orderRef)
}

// RedeemIn is Redeem inside the caller's transaction (the one recording
// the order).
func RedeemIn(ctx context.Context, q store.Querier, wsID, code, orderRef string) (Claim, error) {
	code = NormalizeCode(code)
	res, err := q.ExecContext(ctx, `UPDATE claims SET status = 'redeemed', redeemed_at = $1, order_ref = $2
		WHERE workspace_id = $3 AND code = $4 AND status = 'active' AND id = (SELECT claim_id FROM offer_codes WHERE workspace_id = $3 AND code = $4)`,
		time.Now().UnixMicro(), orderRef, wsID, code)
	if err != nil {
		return Claim{}, fmt.Errorf("offers: redeem: %w", err)
	}
	c, err := ClaimByCode(ctx, q, wsID, code)
	if err != nil {
		return Claim{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 && !(c.Status == Redeemed && c.OrderRef == orderRef) {
		return c, &Refusal{"not_redeemable", fmt.Sprintf("Code %s is %s, not waiting to be used.", code, c.Status)}
	}
	return c, nil
}

// Release undoes a redemption when its order is cancelled: the code is the
// person's again.
func (s *Store) Release(ctx context.Context, wsID, code, orderRef string) (Claim, error) {
	return ReleaseIn(ctx, s.db.W, wsID, code, orderRef)
}

// ReleaseIn is Release inside the caller's transaction.
func ReleaseIn(ctx context.Context, q store.Querier, wsID, code, orderRef string) (Claim, error) {
	code = NormalizeCode(code)
	if _, err := q.ExecContext(ctx, `UPDATE claims SET status = 'active', redeemed_at = NULL, order_ref = ''
		WHERE workspace_id = $1 AND code = $2 AND status = 'redeemed' AND order_ref = $3`, wsID, code, orderRef); err != nil {
		return Claim{}, fmt.Errorf("offers: release: %w", err)
	}
	return ClaimByCode(ctx, q, wsID, code)
}

// ClaimByCode finds the claim that holds a unique or pool code.
func ClaimByCode(ctx context.Context, q store.Querier, wsID, code string) (Claim, error) {
	return scanClaim(q.QueryRowContext(ctx, `SELECT `+claimCols+` FROM claims WHERE workspace_id = $1 AND code = $2 AND id = (
		SELECT claim_id FROM offer_codes WHERE workspace_id = $1 AND code = $2)`, wsID, NormalizeCode(code)))
}

// SharedCodeOffer finds the offer whose shared code this is, or "".
func SharedCodeOffer(ctx context.Context, q store.Querier, wsID, code string) (string, error) {
	var offerID string
	err := q.QueryRowContext(ctx, `SELECT id FROM offers WHERE workspace_id = $1 AND code_mode = 'shared' AND UPPER(shared_code) = $2 ORDER BY created_at DESC LIMIT 1`,
		wsID, NormalizeCode(code)).Scan(&offerID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return offerID, err
}

// ExpireClaims ends the unredeemed claims whose time is up, returning their
// units to stock and their slots to the people. Each claim expires once,
// whichever node runs this. It returns how many expired.
func (s *Store) ExpireClaims(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		n := 0
		err := s.db.Tx(ctx, func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, `UPDATE claims SET status = 'expired', slot = NULL WHERE id IN (
				SELECT id FROM claims WHERE status = 'active' AND expires_at <= $1 LIMIT 500) AND status = 'active' RETURNING offer_id`, now.UnixMicro())
			if err != nil {
				return fmt.Errorf("offers: expire claims: %w", err)
			}
			per := map[string]int{}
			for rows.Next() {
				var off string
				if err := rows.Scan(&off); err != nil {
					rows.Close()
					return err
				}
				per[off]++
				n++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for off, k := range per {
				if _, err := tx.ExecContext(ctx, `UPDATE offers SET claimed = claimed - $1 WHERE id = $2`, k, off); err != nil {
					return fmt.Errorf("offers: return expired units: %w", err)
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < 500 {
			return total, nil
		}
	}
}

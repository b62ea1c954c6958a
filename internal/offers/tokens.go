package offers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/store"
)

// Claim tokens are the network-agnostic proof of who someone is, for a
// followers offer when signing in with the network is not possible: the
// page gives the browser a one-time token, the person mentions a brand
// account with it, and the mention names its author. The flow:
//
//	NewToken      the browser asks (rate limited by the caller)
//	MarkMentioned the inbox stores a mention carrying it (same transaction)
//	VerifyTokens  a worker checks the author follows the account, and claims
//
// A token is bound to the browser that asked, so seeing someone's public
// mention gives nobody else their code.

// TokenStatus is where a token is.
type TokenStatus string

const (
	TokenWaiting   TokenStatus = "waiting"   // shown to the browser, not seen in a mention yet
	TokenMentioned TokenStatus = "mentioned" // seen in a mention: the author is known, not yet checked
	TokenClaimed   TokenStatus = "claimed"   // the author follows: the claim is made
	TokenRefused   TokenStatus = "refused"   // the author could not claim (Reason says why)
)

// TokenLife is how long a token waits for its mention.
const TokenLife = time.Hour

// tokenLen is the token's length in CodeAlphabet symbols: 31^10 ≈ 8e14,
// far beyond guessing within its hour, and short enough to type.
const tokenLen = 10

// Token is a one-time claim token.
type Token struct {
	Token     string      `json:"token"` // as shown: "ABCDE-FGHJK"
	OfferID   string      `json:"offer_id"`
	Status    TokenStatus `json:"status"`
	Person    Identity    `json:"person"`
	AccountID string      `json:"account_id"`
	ClaimID   string      `json:"claim_id"`
	Reason    string      `json:"reason"`
	CreatedAt time.Time   `json:"created_at"`
	ExpiresAt time.Time   `json:"expires_at"`
}

// Expired reports whether a waiting token can no longer be used.
func (t Token) Expired(now time.Time) bool {
	return t.Status == TokenWaiting && !now.Before(t.ExpiresAt)
}

// ErrNoTokens refuses a token for an offer that needs none.
var ErrNoTokens = &Refusal{"no_tokens", "This offer does not need a claim token."}

func visitorKey(visitor string) string { return secret.Hash("claim-token-visitor:" + visitor) }

func showToken(t string) string {
	if len(t) == tokenLen {
		return t[:tokenLen/2] + "-" + t[tokenLen/2:]
	}
	return t
}

const tokenCols = `token, offer_id, status, network, person_id, person_handle, COALESCE(account_id, ''), COALESCE(claim_id, ''), reason, created_at, expires_at`

func scanToken(row interface{ Scan(...any) error }) (Token, error) {
	var t Token
	err := row.Scan(&t.Token, &t.OfferID, &t.Status, &t.Person.Network, &t.Person.AccountID, &t.Person.Handle, &t.AccountID, &t.ClaimID,
		&t.Reason, store.T(&t.CreatedAt), store.T(&t.ExpiresAt))
	if errors.Is(err, sql.ErrNoRows) {
		return t, store.ErrNotFound
	}
	t.Token = showToken(t.Token)
	return t, err
}

// NewToken gives the browser (visitor) a token for a followers offer. A
// browser that already holds a usable one gets it again, so reloading the
// page or asking twice does not mint more.
func (s *Store) NewToken(ctx context.Context, o Offer, visitor, clickID string) (Token, error) {
	now := time.Now()
	if o.Audience != Followers {
		return Token{}, ErrNoTokens
	}
	if err := checkOpen(o, now); err != nil {
		return Token{}, err
	}
	if visitor == "" {
		return Token{}, ErrIdentity
	}
	if t, err := s.TokenFor(ctx, o.ID, visitor); err == nil && t.Status == TokenWaiting && !t.Expired(now) {
		return t, nil
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Token{}, err
	}
	if len(clickID) > 40 {
		clickID = ""
	}
	for attempt := 0; ; attempt++ {
		tok := NewCode("", tokenLen)
		_, err := s.db.W.ExecContext(ctx, `INSERT INTO claim_tokens (token, workspace_id, offer_id, visitor, click_id, status, created_at, expires_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, 'waiting', $6, $7, $6)`, tok, o.WorkspaceID, o.ID, visitorKey(visitor), clickID, now.UnixMicro(), now.Add(TokenLife).UnixMicro())
		if store.IsUniqueViolation(err) && attempt < 3 {
			continue
		}
		if err != nil {
			return Token{}, fmt.Errorf("offers: new token: %w", err)
		}
		return s.token(ctx, s.db.W, tok)
	}
}

func (s *Store) token(ctx context.Context, q store.Querier, tok string) (Token, error) {
	return scanToken(q.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM claim_tokens WHERE token = $1`, tok))
}

// TokenFor returns the browser's latest token for the offer.
func (s *Store) TokenFor(ctx context.Context, offerID, visitor string) (Token, error) {
	return scanToken(s.db.W.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM claim_tokens WHERE offer_id = $1 AND visitor = $2
		ORDER BY created_at DESC LIMIT 1`, offerID, visitorKey(visitor)))
}

// tokenRE is a token as people write it: ten code symbols, with or
// without the dash in the middle, in either case.
var tokenRE = regexp.MustCompile(`^(?i)[2-9a-hjkmnp-z]{5}-?[2-9a-hjkmnp-z]{5}$`)

// FindTokens returns the tokens a message may carry, normalised, at most
// a few: a message is not a place to try many guesses at once. A token is
// a whole word: anything but ASCII letters, digits and dashes separates.
func FindTokens(text string) []string {
	words := strings.FieldsFunc(text, func(r rune) bool {
		return !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	})
	var out []string
	for _, w := range words {
		if len(out) == 3 {
			break
		}
		if tokenRE.MatchString(w) {
			out = append(out, strings.ToUpper(strings.ReplaceAll(w, "-", "")))
		}
	}
	return out
}

// MarkMentioned records, inside the caller's transaction (the one storing
// the message), that a message by author to a brand account carried
// tokens. Only waiting, unexpired tokens of the workspace change. It
// returns how many did.
func MarkMentioned(ctx context.Context, tx store.Querier, wsID, accountID, messageID string, author Identity, text string, now time.Time) (int, error) {
	n := 0
	for _, tok := range FindTokens(text) {
		res, err := tx.ExecContext(ctx, `UPDATE claim_tokens SET status = 'mentioned', account_id = $1, message_id = $2, network = $3, person_id = $4,
			person_handle = $5, updated_at = $6 WHERE token = $7 AND workspace_id = $8 AND status = 'waiting' AND expires_at > $6`,
			accountID, messageID, author.Network, author.AccountID, author.Handle, now.UnixMicro(), tok, wsID)
		if err != nil {
			return n, fmt.Errorf("offers: mark token: %w", err)
		}
		k, _ := res.RowsAffected()
		n += int(k)
	}
	return n, nil
}

// FollowCheck asks a brand account's network whether the person follows
// it. A network failure is returned as an error, and the token waits for
// the next try.
type FollowCheck func(ctx context.Context, accountID string, who Identity) (bool, error)

// VerifyTokens settles mentioned tokens: if the author follows the brand
// account they wrote to, and that account is one of the offer's, they
// claim; otherwise the token is refused with the reason. It is safe to run
// on several processes at once: the claim is idempotent per person, and
// each token's outcome is written only while it is still "mentioned".
func (s *Store) VerifyTokens(ctx context.Context, follows FollowCheck, limit int) (settled int, err error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT token, workspace_id, offer_id, account_id, network, person_id, person_handle, click_id
		FROM claim_tokens WHERE status = 'mentioned' ORDER BY updated_at LIMIT $1`, limit)
	if err != nil {
		return 0, fmt.Errorf("offers: mentioned tokens: %w", err)
	}
	type pending struct {
		tok, ws, offer, account, click string
		who                            Identity
	}
	var todo []pending
	for rows.Next() {
		var p pending
		if err := rows.Scan(&p.tok, &p.ws, &p.offer, &p.account, &p.who.Network, &p.who.AccountID, &p.who.Handle, &p.click); err != nil {
			rows.Close()
			return 0, err
		}
		todo = append(todo, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	var firstErr error
	for _, p := range todo {
		claimID, reason, err := s.settle(ctx, follows, p.ws, p.offer, p.account, p.click, p.who)
		if err != nil {
			firstErr = cmpErr(firstErr, fmt.Errorf("offers: token %s: %w", showToken(p.tok), err))
			continue // the network or database failed: the token waits
		}
		status := TokenClaimed
		if claimID == "" {
			status = TokenRefused
		}
		if _, err := s.db.W.ExecContext(ctx, `UPDATE claim_tokens SET status = $1, claim_id = $2, reason = $3, updated_at = $4
			WHERE token = $5 AND status = 'mentioned'`, status, store.Null(claimID), reason, time.Now().UnixMicro(), p.tok); err != nil {
			return settled, fmt.Errorf("offers: settle token: %w", err)
		}
		settled++
	}
	return settled, firstErr
}

func cmpErr(first, next error) error {
	if first != nil {
		return first
	}
	return next
}

// settle decides one token: a claim ID, or a reason for refusing.
func (s *Store) settle(ctx context.Context, follows FollowCheck, wsID, offerID, accountID, clickID string, who Identity) (string, string, error) {
	o, err := s.Get(ctx, wsID, offerID)
	if errors.Is(err, store.ErrNotFound) {
		return "", "The offer no longer exists.", nil
	}
	if err != nil {
		return "", "", err
	}
	if !contains(o.Accounts, accountID) {
		return "", "The mention went to an account this offer is not for.", nil
	}
	ok, err := follows(ctx, accountID, who)
	if err != nil {
		return "", "", err
	}
	if !ok {
		return "", fmt.Sprintf("%s does not follow the account yet. Follow it, then ask for a new token.", who.Handle), nil
	}
	c, err := s.Claim(ctx, o, ClaimRequest{Identity: who, ClickID: clickID, FollowerOf: accountID})
	var ref *Refusal
	if errors.As(err, &ref) {
		return "", ref.Message, nil
	}
	if err != nil {
		return "", "", err
	}
	return c.ID, "", nil
}

// TakeSignIn reports whether the browser holding a claimed token should
// now be signed in as its author: true once per token, so signing out
// afterwards sticks.
func (s *Store) TakeSignIn(ctx context.Context, token string) (bool, error) {
	res, err := s.db.W.ExecContext(ctx, `UPDATE claim_tokens SET signed_in_at = $1 WHERE token = $2 AND status = 'claimed' AND signed_in_at IS NULL`,
		time.Now().UnixMicro(), strings.ReplaceAll(token, "-", ""))
	if err != nil {
		return false, fmt.Errorf("offers: token sign-in: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Package offers is the Dell play: deals for the people who follow a
// brand's accounts (or at least read its posts), with a hard cap, a limit
// per person and a code the store honours. The database enforces the cap
// and the limit; nothing here reads a count and then writes on its strength.
package offers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/money"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// Audience says who may claim an offer.
type Audience string

const (
	Public    Audience = "public"    // anyone with the page
	Link      Audience = "link"      // people who arrived through one of the workspace's tracked links
	Followers Audience = "followers" // verified followers of chosen brand accounts
)

// CodeMode says where codes come from.
type CodeMode string

const (
	Shared CodeMode = "shared" // one code for everyone
	Unique CodeMode = "unique" // generated for each claim
	Pool   CodeMode = "pool"   // imported from the store, one per claim
)

// State is where an offer is in its life; it derives from the times, the
// stock and whether it was published.
type State string

const (
	Draft     State = "draft"
	Scheduled State = "scheduled"
	Live      State = "live"
	SoldOut   State = "sold_out"
	Ended     State = "ended"
)

// Product is one item of an offer, with its regular and deal price in
// minor units of the offer's currency.
type Product struct {
	SKU          string `json:"sku"`
	Name         string `json:"name"`
	RegularPrice int64  `json:"regular_price"`
	DealPrice    int64  `json:"deal_price"`
}

// Offer is a deal.
type Offer struct {
	ID            string     `json:"id"`
	WorkspaceID   string     `json:"-"`
	Slug          string     `json:"slug"`
	Title         string     `json:"title"`
	Description   string     `json:"description"`
	ImageURL      string     `json:"image_url"`
	LandingURL    string     `json:"landing_url"`
	Currency      string     `json:"currency"`
	Products      []Product  `json:"products"`
	StartsAt      time.Time  `json:"starts_at"`
	EndsAt        *time.Time `json:"ends_at"`
	Cap           int64      `json:"cap"`
	PerPerson     int        `json:"per_person"`
	Audience      Audience   `json:"audience"`
	Accounts      []string   `json:"accounts"` // brand accounts whose followers may claim
	CodeMode      CodeMode   `json:"code_mode"`
	SharedCode    string     `json:"shared_code,omitempty"`
	CodePrefix    string     `json:"code_prefix"`
	CodeLength    int        `json:"code_length"`
	ClaimTTLHours int        `json:"claim_ttl_hours"` // 0: claims never expire
	Published     bool       `json:"published"`
	Claimed       int64      `json:"claimed"`
	CreatedBy     string     `json:"created_by"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// Left is how many units can still be claimed.
func (o Offer) Left() int64 { return max(0, o.Cap-o.Claimed) }

// State derives the offer's state at now.
func (o Offer) State(now time.Time) State {
	switch {
	case !o.Published:
		return Draft
	case now.Before(o.StartsAt):
		return Scheduled
	case o.EndsAt != nil && !now.Before(*o.EndsAt):
		return Ended
	case o.Claimed >= o.Cap:
		return SoldOut
	}
	return Live
}

// Input is what a member sets on an offer; the rest Roost keeps.
type Input struct {
	Slug          string
	Title         string
	Description   string
	ImageURL      string
	LandingURL    string
	Currency      string
	Products      []Product
	StartsAt      time.Time
	EndsAt        *time.Time
	Cap           int64
	PerPerson     int
	Audience      Audience
	Accounts      []string
	CodeMode      CodeMode
	SharedCode    string
	CodePrefix    string
	CodeLength    int
	ClaimTTLHours int
	Published     bool
}

var prefixRE = regexp.MustCompile(`^[A-Z0-9-]{0,12}$`)

// Reserved slugs would shadow the claim pages' own paths.
var reservedSlugs = []string{"new", "static", "api"}

func (in Input) check(now time.Time) (Input, error) {
	var e valid.Errors
	in.Slug = e.Slug("slug", strings.ToLower(in.Slug))
	if slices.Contains(reservedSlugs, in.Slug) {
		e.Add("slug", "%q is reserved; choose another", in.Slug)
	}
	in.Title = e.Text("title", in.Title, 1, 140)
	in.Description = strings.TrimSpace(in.Description)
	if len([]rune(in.Description)) > 4000 {
		e.Add("description", "must be at most 4000 characters")
	}
	if in.ImageURL != "" {
		u, msg := links.CheckURL(in.ImageURL)
		if msg != "" {
			e.Add("image_url", "%s", msg)
		}
		in.ImageURL = u
	}
	u, msg := links.CheckURL(in.LandingURL)
	if msg != "" {
		e.Add("landing_url", "%s", msg)
	}
	in.LandingURL = u
	in.Currency = strings.ToUpper(strings.TrimSpace(in.Currency))
	if _, ok := money.Exponent(in.Currency); !ok {
		e.Add("currency", "must be an ISO 4217 currency code such as USD or EUR")
	}
	if len(in.Products) > 100 {
		e.Add("products", "at most 100 products")
	}
	skus := map[string]bool{}
	for i, p := range in.Products {
		f := fmt.Sprintf("products[%d]", i)
		p.SKU = e.Text(f+".sku", p.SKU, 1, 64)
		p.Name = e.Text(f+".name", p.Name, 1, 200)
		if p.RegularPrice < 0 || p.DealPrice < 0 {
			e.Add(f, "prices must not be negative")
		}
		if p.DealPrice > p.RegularPrice {
			e.Add(f+".deal_price", "must not be above the regular price")
		}
		if skus[p.SKU] {
			e.Add(f+".sku", "%q is listed twice", p.SKU)
		}
		skus[p.SKU] = true
		in.Products[i] = p
	}
	if in.StartsAt.IsZero() {
		in.StartsAt = now
	}
	in.StartsAt = in.StartsAt.UTC().Truncate(time.Microsecond)
	if in.EndsAt != nil {
		t := in.EndsAt.UTC().Truncate(time.Microsecond)
		in.EndsAt = &t
		if !t.After(in.StartsAt) {
			e.Add("ends_at", "must be after the start")
		}
	}
	if in.Cap < 1 || in.Cap > 10_000_000 {
		e.Add("cap", "must be from 1 to 10,000,000 units")
	}
	if in.PerPerson == 0 {
		in.PerPerson = 1
	}
	if in.PerPerson < 1 || in.PerPerson > 100 {
		e.Add("per_person", "must be from 1 to 100")
	}
	switch in.Audience {
	case Public, Link:
		in.Accounts = nil
	case Followers:
		if len(in.Accounts) == 0 {
			e.Add("accounts", "name the brand accounts whose followers may claim")
		}
	default:
		e.Add("audience", "must be public, link or followers")
	}
	in.CodePrefix = strings.ToUpper(strings.TrimSpace(in.CodePrefix))
	if !prefixRE.MatchString(in.CodePrefix) {
		e.Add("code_prefix", "may hold up to 12 letters, digits and hyphens")
	}
	if in.CodeLength == 0 {
		in.CodeLength = DefaultCodeLength
	}
	if in.CodeLength < MinCodeLength || in.CodeLength > MaxCodeLength {
		e.Add("code_length", "must be from %d to %d", MinCodeLength, MaxCodeLength)
	}
	in.SharedCode = NormalizeCode(in.SharedCode)
	switch in.CodeMode {
	case Shared:
		if in.SharedCode == "" || len(in.SharedCode) > 64 {
			e.Add("shared_code", "is required for a shared code: the code your store accepts, up to 64 characters")
		}
	case Unique, Pool:
		in.SharedCode = ""
	default:
		e.Add("code_mode", "must be shared, unique or pool")
	}
	if in.ClaimTTLHours < 0 || in.ClaimTTLHours > 24*365 {
		e.Add("claim_ttl_hours", "must be from 0 (never) to 8760")
	}
	return in, e.Err()
}

// Store reads and writes offers and their claims.
type Store struct{ db *store.DB }

// NewStore returns a Store on db.
func NewStore(db *store.DB) *Store { return &Store{db: db} }

// Create makes an offer.
func (s *Store) Create(ctx context.Context, wsID, createdBy string, in Input) (Offer, error) {
	now := s.db.Now()
	in, err := in.check(now)
	if err != nil {
		return Offer{}, err
	}
	o := fromInput(in)
	o.ID, o.WorkspaceID, o.CreatedBy = id.New("off"), wsID, createdBy
	o.CreatedAt = now.UTC().Truncate(time.Microsecond)
	o.UpdatedAt = o.CreatedAt
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO offers (id, workspace_id, slug, title, description, image_url, landing_url, currency, starts_at, ends_at,
			cap, per_person, audience, accounts, code_mode, shared_code, code_prefix, code_length, claim_ttl_hours, published, created_by, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)`,
			o.ID, wsID, o.Slug, o.Title, o.Description, o.ImageURL, o.LandingURL, o.Currency, store.Micros(o.StartsAt), timePtr(o.EndsAt),
			o.Cap, o.PerPerson, o.Audience, strings.Join(o.Accounts, " "), o.CodeMode, o.SharedCode, o.CodePrefix, o.CodeLength, o.ClaimTTLHours, o.Published,
			store.Null(createdBy), store.Micros(o.CreatedAt), store.Micros(o.UpdatedAt))
		if store.IsUniqueViolation(err) {
			return valid.Conflict("slug", "the address %q is taken", o.Slug)
		}
		if err != nil {
			return fmt.Errorf("offers: create: %w", err)
		}
		return writeProducts(ctx, tx, o)
	})
	return o, err
}

// Input is the offer's settings, as Update takes them: a partial change
// starts from here.
func (o Offer) Input() Input {
	return Input{Slug: o.Slug, Title: o.Title, Description: o.Description, ImageURL: o.ImageURL, LandingURL: o.LandingURL, Currency: o.Currency,
		Products: o.Products, StartsAt: o.StartsAt, EndsAt: o.EndsAt, Cap: o.Cap, PerPerson: o.PerPerson, Audience: o.Audience, Accounts: o.Accounts,
		CodeMode: o.CodeMode, SharedCode: o.SharedCode, CodePrefix: o.CodePrefix, CodeLength: o.CodeLength, ClaimTTLHours: o.ClaimTTLHours, Published: o.Published}
}

func fromInput(in Input) Offer {
	return Offer{Slug: in.Slug, Title: in.Title, Description: in.Description, ImageURL: in.ImageURL, LandingURL: in.LandingURL,
		Currency: in.Currency, Products: nonNil(in.Products), StartsAt: in.StartsAt, EndsAt: in.EndsAt, Cap: in.Cap, PerPerson: in.PerPerson,
		Audience: in.Audience, Accounts: nonNil(in.Accounts), CodeMode: in.CodeMode, SharedCode: in.SharedCode, CodePrefix: in.CodePrefix,
		CodeLength: in.CodeLength, ClaimTTLHours: in.ClaimTTLHours, Published: in.Published}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func timePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return store.Micros(*t)
}

func writeProducts(ctx context.Context, tx *sql.Tx, o Offer) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM offer_products WHERE offer_id = $1`, o.ID); err != nil {
		return fmt.Errorf("offers: write products: %w", err)
	}
	for i, p := range o.Products {
		if _, err := tx.ExecContext(ctx, `INSERT INTO offer_products (offer_id, position, sku, name, regular_price, deal_price) VALUES ($1, $2, $3, $4, $5, $6)`,
			o.ID, i, p.SKU, p.Name, p.RegularPrice, p.DealPrice); err != nil {
			return fmt.Errorf("offers: write products: %w", err)
		}
	}
	return nil
}

const offerCols = `id, workspace_id, slug, title, description, image_url, landing_url, currency, starts_at, ends_at, cap, per_person, audience, accounts,
	code_mode, shared_code, code_prefix, code_length, claim_ttl_hours, published, claimed, COALESCE(created_by, ''), created_at, updated_at`

func scanOffer(row interface{ Scan(...any) error }) (Offer, error) {
	var o Offer
	var ends time.Time
	var accounts string
	err := row.Scan(&o.ID, &o.WorkspaceID, &o.Slug, &o.Title, &o.Description, &o.ImageURL, &o.LandingURL, &o.Currency, store.T(&o.StartsAt), store.T(&ends),
		&o.Cap, &o.PerPerson, &o.Audience, &accounts, &o.CodeMode, &o.SharedCode, &o.CodePrefix, &o.CodeLength, &o.ClaimTTLHours, &o.Published, &o.Claimed,
		&o.CreatedBy, store.T(&o.CreatedAt), store.T(&o.UpdatedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return o, store.ErrNotFound
	}
	if !ends.IsZero() {
		o.EndsAt = &ends
	}
	o.Accounts = nonNil(strings.Fields(accounts))
	o.Products = []Product{}
	return o, err
}

func (s *Store) loadProducts(ctx context.Context, q store.Querier, o *Offer) error {
	rows, err := q.QueryContext(ctx, `SELECT sku, name, regular_price, deal_price FROM offer_products WHERE offer_id = $1 ORDER BY position`, o.ID)
	if err != nil {
		return fmt.Errorf("offers: read products: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p Product
		if err := rows.Scan(&p.SKU, &p.Name, &p.RegularPrice, &p.DealPrice); err != nil {
			return err
		}
		o.Products = append(o.Products, p)
	}
	return rows.Err()
}

// Get returns one of the workspace's offers.
func (s *Store) Get(ctx context.Context, wsID, offerID string) (Offer, error) {
	o, err := scanOffer(s.db.R.QueryRowContext(ctx, `SELECT `+offerCols+` FROM offers WHERE workspace_id = $1 AND id = $2`, wsID, offerID))
	if err != nil {
		return o, err
	}
	return o, s.loadProducts(ctx, s.db.R, &o)
}

// BySlug returns the offer behind a public claim page, in any workspace.
func (s *Store) BySlug(ctx context.Context, slug string) (Offer, error) {
	o, err := scanOffer(s.db.R.QueryRowContext(ctx, `SELECT `+offerCols+` FROM offers WHERE slug = $1`, strings.ToLower(slug)))
	if err != nil {
		return o, err
	}
	return o, s.loadProducts(ctx, s.db.R, &o)
}

// List returns the workspace's offers, newest first, limit at a time,
// starting after the offer with ID before ("" for the first page).
func (s *Store) List(ctx context.Context, wsID, before string, limit int) ([]Offer, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+offerCols+` FROM offers WHERE workspace_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`,
		wsID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("offers: list: %w", err)
	}
	var out []Offer
	for rows.Next() {
		o, err := scanOffer(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if err := s.loadProducts(ctx, s.db.R, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Update replaces an offer's settings. The code mode cannot change once a
// unit has been claimed, and the cap cannot drop below what is claimed.
func (s *Store) Update(ctx context.Context, wsID, offerID string, in Input) (Offer, error) {
	in, err := in.check(time.Now())
	if err != nil {
		return Offer{}, err
	}
	var o Offer
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		cur, err := scanOffer(tx.QueryRowContext(ctx, `SELECT `+offerCols+` FROM offers WHERE workspace_id = $1 AND id = $2`+s.db.ForUpdate(), wsID, offerID))
		if err != nil {
			return err
		}
		if cur.Claimed > 0 && in.CodeMode != cur.CodeMode {
			return valid.New("code_mode", "cannot change after units have been claimed")
		}
		if in.Cap < cur.Claimed {
			return valid.New("cap", "cannot be below the %d units already claimed", cur.Claimed)
		}
		o = fromInput(in)
		o.ID, o.WorkspaceID, o.CreatedBy, o.CreatedAt, o.Claimed = cur.ID, wsID, cur.CreatedBy, cur.CreatedAt, cur.Claimed
		o.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
		_, err = tx.ExecContext(ctx, `UPDATE offers SET slug = $1, title = $2, description = $3, image_url = $4, landing_url = $5, currency = $6,
			starts_at = $7, ends_at = $8, cap = $9, per_person = $10, audience = $11, accounts = $12, code_mode = $13, shared_code = $14,
			code_prefix = $15, code_length = $16, claim_ttl_hours = $17, published = $18, updated_at = $19 WHERE id = $20`,
			o.Slug, o.Title, o.Description, o.ImageURL, o.LandingURL, o.Currency, store.Micros(o.StartsAt), timePtr(o.EndsAt), o.Cap, o.PerPerson,
			o.Audience, strings.Join(o.Accounts, " "), o.CodeMode, o.SharedCode, o.CodePrefix, o.CodeLength, o.ClaimTTLHours, o.Published,
			store.Micros(o.UpdatedAt), o.ID)
		if store.IsUniqueViolation(err) {
			return valid.Conflict("slug", "the address %q is taken", o.Slug)
		}
		if err != nil {
			return fmt.Errorf("offers: update: %w", err)
		}
		return writeProducts(ctx, tx, o)
	})
	return o, err
}

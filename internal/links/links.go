package links

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// Link is a tracked short link.
type Link struct {
	ID          string     `json:"id"`
	WorkspaceID string     `json:"-"`
	Code        string     `json:"code"`
	Custom      bool       `json:"custom"`
	Destination string     `json:"destination"`
	Title       string     `json:"title"`
	Tags        []string   `json:"tags"`
	ExpiresAt   *time.Time `json:"expires_at"`
	FallbackURL string     `json:"fallback_url"`
	OfferID     string     `json:"offer_id"`
	PostID      string     `json:"post_id"`
	AccountID   string     `json:"account_id"`
	UTMSource   string     `json:"utm_source"`
	UTMCampaign string     `json:"utm_campaign"`
	UTMContent  string     `json:"utm_content"`
	CreatedBy   string     `json:"created_by"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// Expired reports whether the link has expired at now.
func (l Link) Expired(now time.Time) bool { return l.ExpiresAt != nil && !now.Before(*l.ExpiresAt) }

// Reserved lists the first path segments Roost's own routes use: no custom
// code may take one. The server test checks that every top-level route is here.
var Reserved = []string{"api", "app", "hooks", "signin", "static", "healthz", "readyz", "metrics", "o", "t.js", "favicon.ico", "robots.txt",
	"login", "logout", "setup", "invite", "webhooks", "well-known", ".well-known", "admin", "assets"}

// CodeLen is the length of generated codes: 8 characters of Crockford
// base32 are 40 random bits, about a trillion codes.
const CodeLen = 8

var customCodeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{1,62}[a-z0-9]$`)

// NormalizeCode is how codes are compared: case-insensitively.
func NormalizeCode(code string) string { return strings.ToLower(strings.TrimSpace(code)) }

// Settings are a workspace's link settings.
type Settings struct {
	ClickParam     string   `json:"click_param"`
	AllowedDomains []string `json:"allowed_domains"`
}

// DefaultClickParam is the query parameter that carries the click ID.
const DefaultClickParam = "roost_cid"

var clickParamRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,40}$`)

// NewLink is the input for a link. Code is an optional custom code.
type NewLink struct {
	Code        string
	Destination string
	Title       string
	Tags        []string
	ExpiresAt   *time.Time
	FallbackURL string
	// Set by the capabilities that own the link (posts, offers); the API
	// does not take them from clients.
	OfferID, PostID, AccountID         string
	UTMSource, UTMCampaign, UTMContent string
	CreatedBy                          string
	// OwnPage marks a destination on Roost itself (an offer's claim
	// page): the workspace's domain allowlist is for the store's pages.
	OwnPage bool
}

// Update changes a link; nil fields stay as they are. ClearExpiry removes
// the expiry.
type Update struct {
	Destination *string
	Title       *string
	Tags        *[]string
	ExpiresAt   *time.Time
	ClearExpiry bool
	FallbackURL *string
}

// Store reads and writes links.
type Store struct {
	db *store.DB
	// changed is called with the code of every link this node changes, so
	// its redirect cache forgets it at once (other nodes notice by polling).
	changed func(code string)
}

// NewStore returns a Store on db.
func NewStore(db *store.DB) *Store { return &Store{db: db, changed: func(string) {}} }

func checkTags(e *valid.Errors, tags []string) []string {
	out := []string{}
	for _, t := range tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" {
			continue
		}
		var te valid.Errors
		t = te.Text("tags", t, 1, 40)
		if te.Err() != nil {
			e.Add("tags", "each tag %s", te.Fields[0].Message)
			continue
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) > 20 {
		e.Add("tags", "at most 20 tags")
	}
	slices.Sort(out)
	return out
}

func checkDest(e *valid.Errors, field, raw string, allowed []string, required bool) string {
	if raw == "" && !required {
		return ""
	}
	u, msg := CheckURL(raw)
	if msg != "" {
		e.Add(field, "%s", msg)
		return ""
	}
	pu, _ := url.Parse(u)
	if !hostAllowed(pu.Hostname(), allowed) {
		e.Add(field, "goes to %s, which is not one of this workspace's allowed domains (%s)", pu.Hostname(), strings.Join(allowed, ", "))
	}
	return u
}

// Settings returns the workspace's link settings.
func (s *Store) Settings(ctx context.Context, wsID string) (Settings, error) {
	return settings(ctx, s.db.R, wsID)
}

func settings(ctx context.Context, q store.Querier, wsID string) (Settings, error) {
	st := Settings{ClickParam: DefaultClickParam, AllowedDomains: []string{}}
	var domains string
	err := q.QueryRowContext(ctx, `SELECT click_param, allowed_domains FROM link_settings WHERE workspace_id = $1`, wsID).Scan(&st.ClickParam, &domains)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("links: read settings: %w", err)
	}
	if domains != "" {
		st.AllowedDomains = strings.Fields(domains)
	}
	return st, nil
}

// SaveSettings changes the workspace's link settings. Every link of the
// workspace is marked changed, so all nodes rebuild their redirects.
func (s *Store) SaveSettings(ctx context.Context, wsID string, in Settings) (Settings, error) {
	var e valid.Errors
	in.ClickParam = strings.TrimSpace(in.ClickParam)
	if !clickParamRE.MatchString(in.ClickParam) {
		e.Add("click_param", "must be 1 to 40 letters, digits, dots, hyphens or underscores")
	}
	if strings.HasPrefix(strings.ToLower(in.ClickParam), "utm_") {
		e.Add("click_param", "must not start with utm_, which Roost sets itself")
	}
	var domains []string
	for _, d := range in.AllowedDomains {
		d = strings.ToLower(strings.Trim(strings.TrimSpace(d), "."))
		if d == "" {
			continue
		}
		u, msg := CheckURL("https://" + d + "/")
		if msg != "" || strings.ContainsAny(d, "/:?#") {
			e.Add("allowed_domains", "%q is not a domain name such as shop.example.com", d)
			continue
		}
		pu, _ := url.Parse(u)
		if !slices.Contains(domains, pu.Hostname()) {
			domains = append(domains, pu.Hostname())
		}
	}
	if err := e.Err(); err != nil {
		return Settings{}, err
	}
	if domains == nil {
		domains = []string{}
	}
	now := time.Now().UnixMicro()
	var codes []string
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO link_settings (workspace_id, click_param, allowed_domains, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (workspace_id) DO UPDATE SET click_param = excluded.click_param, allowed_domains = excluded.allowed_domains, updated_at = excluded.updated_at`,
			wsID, in.ClickParam, strings.Join(domains, " "), now); err != nil {
			return fmt.Errorf("links: save settings: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE links SET updated_at = $1 WHERE workspace_id = $2`, now, wsID); err != nil {
			return fmt.Errorf("links: save settings: %w", err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT code FROM links WHERE workspace_id = $1`, wsID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				return err
			}
			codes = append(codes, c)
		}
		return rows.Err()
	})
	if err != nil {
		return Settings{}, err
	}
	for _, c := range codes {
		s.changed(c)
	}
	return Settings{ClickParam: in.ClickParam, AllowedDomains: domains}, nil
}

// Create makes a link with a generated code, or the custom code asked for.
func (s *Store) Create(ctx context.Context, wsID string, in NewLink) (Link, error) {
	st, err := s.Settings(ctx, wsID)
	if err != nil {
		return Link{}, err
	}
	var e valid.Errors
	allowed := st.AllowedDomains
	if in.OwnPage {
		allowed = nil
	}
	l := Link{
		ID: id.New("lnk"), WorkspaceID: wsID,
		Destination: checkDest(&e, "destination", in.Destination, allowed, true),
		Title:       e.Text("title", in.Title, 0, 200),
		Tags:        checkTags(&e, in.Tags),
		ExpiresAt:   in.ExpiresAt,
		FallbackURL: checkDest(&e, "fallback_url", in.FallbackURL, st.AllowedDomains, false),
		OfferID:     in.OfferID, PostID: in.PostID, AccountID: in.AccountID,
		UTMSource: in.UTMSource, UTMCampaign: in.UTMCampaign, UTMContent: in.UTMContent,
		CreatedBy: in.CreatedBy,
	}
	if in.Code != "" {
		l.Code, l.Custom = NormalizeCode(in.Code), true
		switch {
		case !customCodeRE.MatchString(l.Code):
			e.Add("code", "must be 3 to 64 letters, digits, hyphens or underscores, starting and ending with a letter or digit")
		case slices.Contains(Reserved, l.Code):
			e.Add("code", "%q is used by Roost itself; choose another", l.Code)
		}
	}
	if l.Destination != "" {
		if tpl, _ := Prepare(l.Destination, Tracking{ClickParam: st.ClickParam}); tpl.NoClickID {
			e.Add("destination", "already has a %s parameter, which Roost uses for the click ID", st.ClickParam)
		}
	}
	if l.ExpiresAt != nil {
		t := l.ExpiresAt.UTC().Truncate(time.Microsecond)
		l.ExpiresAt = &t
	}
	if err := e.Err(); err != nil {
		return Link{}, err
	}
	now := s.db.Now().UTC().Truncate(time.Microsecond)
	l.CreatedAt, l.UpdatedAt = now, now
	for attempt := 0; ; attempt++ {
		if !l.Custom {
			l.Code = id.Token(5)[:CodeLen]
		}
		err = s.db.Tx(ctx, func(tx *sql.Tx) error { return insertLink(ctx, tx, l) })
		if !store.IsUniqueViolation(err) {
			break
		}
		if l.Custom {
			return Link{}, valid.Conflict("code", "%q is already taken", l.Code)
		}
		if attempt == 5 {
			return Link{}, fmt.Errorf("links: no free code after %d attempts", attempt+1)
		}
	}
	if err != nil {
		return Link{}, err
	}
	s.changed(l.Code)
	return l, nil
}

func insertLink(ctx context.Context, tx *sql.Tx, l Link) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO links (id, workspace_id, code, custom, destination, title, expires_at, fallback_url,
		offer_id, post_id, account_id, utm_source, utm_campaign, utm_content, created_by, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		l.ID, l.WorkspaceID, l.Code, l.Custom, l.Destination, l.Title, timePtr(l.ExpiresAt), l.FallbackURL,
		store.Null(l.OfferID), store.Null(l.PostID), store.Null(l.AccountID), l.UTMSource, l.UTMCampaign, l.UTMContent,
		store.Null(l.CreatedBy), store.Micros(l.CreatedAt), store.Micros(l.UpdatedAt))
	if err != nil {
		return err
	}
	return writeTags(ctx, tx, l)
}

func writeTags(ctx context.Context, tx *sql.Tx, l Link) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM link_tags WHERE link_id = $1`, l.ID); err != nil {
		return fmt.Errorf("links: write tags: %w", err)
	}
	for _, t := range l.Tags {
		if _, err := tx.ExecContext(ctx, `INSERT INTO link_tags (link_id, workspace_id, tag) VALUES ($1, $2, $3)`, l.ID, l.WorkspaceID, t); err != nil {
			return fmt.Errorf("links: write tags: %w", err)
		}
	}
	return nil
}

func timePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return store.Micros(*t)
}

const linkCols = `l.id, l.workspace_id, l.code, l.custom, l.destination, l.title, l.expires_at, l.fallback_url,
	COALESCE(l.offer_id, ''), COALESCE(l.post_id, ''), COALESCE(l.account_id, ''), l.utm_source, l.utm_campaign, l.utm_content,
	COALESCE(l.created_by, ''), l.created_at, l.updated_at`

func scanLink(row interface{ Scan(...any) error }) (Link, error) {
	var l Link
	var exp time.Time
	err := row.Scan(&l.ID, &l.WorkspaceID, &l.Code, &l.Custom, &l.Destination, &l.Title, store.T(&exp), &l.FallbackURL,
		&l.OfferID, &l.PostID, &l.AccountID, &l.UTMSource, &l.UTMCampaign, &l.UTMContent, &l.CreatedBy, store.T(&l.CreatedAt), store.T(&l.UpdatedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return l, store.ErrNotFound
	}
	if !exp.IsZero() {
		l.ExpiresAt = &exp
	}
	l.Tags = []string{}
	return l, err
}

// Get returns one of the workspace's links (not deleted ones).
func (s *Store) Get(ctx context.Context, wsID, linkID string) (Link, error) {
	return s.one(ctx, `l.workspace_id = $1 AND l.id = $2`, wsID, linkID)
}

// ByCode returns the workspace's link with the code, in any case.
func (s *Store) ByCode(ctx context.Context, wsID, code string) (Link, error) {
	return s.one(ctx, `l.workspace_id = $1 AND l.code = $2`, wsID, NormalizeCode(code))
}

func (s *Store) one(ctx context.Context, where string, args ...any) (Link, error) {
	l, err := scanLink(s.db.R.QueryRowContext(ctx, `SELECT `+linkCols+` FROM links l WHERE `+where+` AND l.deleted_at IS NULL`, args...))
	if err != nil {
		return l, err
	}
	err = s.loadTags(ctx, []*Link{&l})
	return l, err
}

func (s *Store) loadTags(ctx context.Context, ls []*Link) error {
	if len(ls) == 0 {
		return nil
	}
	byID := map[string]*Link{}
	var ph []string
	var args []any
	for i, l := range ls {
		byID[l.ID] = l
		ph = append(ph, fmt.Sprintf("$%d", i+1))
		args = append(args, l.ID)
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT link_id, tag FROM link_tags WHERE link_id IN (`+strings.Join(ph, ", ")+`) ORDER BY tag`, args...)
	if err != nil {
		return fmt.Errorf("links: read tags: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var lid, tag string
		if err := rows.Scan(&lid, &tag); err != nil {
			return err
		}
		byID[lid].Tags = append(byID[lid].Tags, tag)
	}
	return rows.Err()
}

// Filter narrows a list of links.
type Filter struct {
	Tag, OfferID, PostID string
	Search               string // in code, title and destination
	Before               string // cursor: links older than this ID
	Limit                int
}

// List returns the workspace's links, newest first.
func (s *Store) List(ctx context.Context, wsID string, f Filter) ([]Link, error) {
	q := `SELECT ` + linkCols + ` FROM links l WHERE l.workspace_id = $1 AND l.deleted_at IS NULL`
	args := []any{wsID}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if f.Tag != "" {
		q += ` AND EXISTS (SELECT 1 FROM link_tags t WHERE t.link_id = l.id AND t.workspace_id = l.workspace_id AND t.tag = ` + arg(strings.ToLower(f.Tag)) + `)`
	}
	if f.OfferID != "" {
		q += ` AND l.offer_id = ` + arg(f.OfferID)
	}
	if f.PostID != "" {
		q += ` AND l.post_id = ` + arg(f.PostID)
	}
	if f.Search != "" {
		p := arg("%" + strings.ToLower(f.Search) + "%")
		q += ` AND (l.code LIKE ` + p + ` OR LOWER(l.title) LIKE ` + p + ` OR LOWER(l.destination) LIKE ` + p + `)`
	}
	if f.Before != "" {
		q += ` AND l.id < ` + arg(f.Before)
	}
	q += ` ORDER BY l.id DESC LIMIT ` + arg(f.Limit)
	rows, err := s.db.R.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("links: list: %w", err)
	}
	var out []Link
	for rows.Next() {
		l, err := scanLink(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ptrs := make([]*Link, len(out))
	for i := range out {
		ptrs[i] = &out[i]
	}
	return out, s.loadTags(ctx, ptrs)
}

// Update changes a link.
func (s *Store) Update(ctx context.Context, wsID, linkID string, u Update) (Link, error) {
	l, err := s.Get(ctx, wsID, linkID)
	if err != nil {
		return Link{}, err
	}
	st, err := s.Settings(ctx, wsID)
	if err != nil {
		return Link{}, err
	}
	var e valid.Errors
	if u.Destination != nil {
		l.Destination = checkDest(&e, "destination", *u.Destination, st.AllowedDomains, true)
		if tpl, _ := Prepare(l.Destination, Tracking{ClickParam: st.ClickParam}); l.Destination != "" && tpl.NoClickID {
			e.Add("destination", "already has a %s parameter, which Roost uses for the click ID", st.ClickParam)
		}
	}
	if u.Title != nil {
		l.Title = e.Text("title", *u.Title, 0, 200)
	}
	if u.Tags != nil {
		l.Tags = checkTags(&e, *u.Tags)
	}
	if u.FallbackURL != nil {
		l.FallbackURL = checkDest(&e, "fallback_url", *u.FallbackURL, st.AllowedDomains, false)
	}
	if u.ClearExpiry {
		l.ExpiresAt = nil
	} else if u.ExpiresAt != nil {
		t := u.ExpiresAt.UTC().Truncate(time.Microsecond)
		l.ExpiresAt = &t
	}
	if err := e.Err(); err != nil {
		return Link{}, err
	}
	l.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE links SET destination = $1, title = $2, expires_at = $3, fallback_url = $4, updated_at = $5
			WHERE workspace_id = $6 AND id = $7 AND deleted_at IS NULL`,
			l.Destination, l.Title, timePtr(l.ExpiresAt), l.FallbackURL, store.Micros(l.UpdatedAt), wsID, linkID)
		if err != nil {
			return fmt.Errorf("links: update: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		if u.Tags != nil {
			return writeTags(ctx, tx, l)
		}
		return nil
	})
	if err != nil {
		return Link{}, err
	}
	s.changed(l.Code)
	return l, nil
}

// Delete stops a link from redirecting. Its code stays taken and its
// clicks stay counted.
func (s *Store) Delete(ctx context.Context, wsID, linkID string) error {
	var code string
	now := time.Now().UnixMicro()
	err := s.db.W.QueryRowContext(ctx, `UPDATE links SET deleted_at = $1, updated_at = $1 WHERE workspace_id = $2 AND id = $3 AND deleted_at IS NULL RETURNING code`,
		now, wsID, linkID).Scan(&code)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("links: delete: %w", err)
	}
	s.changed(code)
	return nil
}

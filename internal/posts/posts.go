// Package posts is publishing: a post written once, a copy per brand
// account with its own tracked link, the author's signature and text
// checked against that network's rules, and a worker that publishes each
// copy exactly once, now or at its time.
package posts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// Status is where a copy is.
type Status string

const (
	Scheduled  Status = "scheduled"  // waiting for its time (or a retry)
	Publishing Status = "publishing" // a worker holds it now
	Published  Status = "published"  // on the network: RemoteID and URL say where
	Failed     Status = "failed"     // the network refused it, or retries ran out: Error says why
	Cancelled  Status = "cancelled"  // a member cancelled it before it went out
)

// Post is what a member wrote, and its copies.
type Post struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"-"`
	MemberID    string    `json:"member_id"`
	OfferID     string    `json:"offer_id"`
	Body        string    `json:"body"`
	Destination string    `json:"destination"`
	ScheduledAt time.Time `json:"scheduled_at"`
	CreatedAt   time.Time `json:"created_at"`
	Copies      []Copy    `json:"copies"`
}

// Status sums the copies up: the least advanced wins, then failures.
func (p Post) Status() Status {
	order := []Status{Publishing, Scheduled, Failed, Published, Cancelled}
	for _, st := range order {
		for _, c := range p.Copies {
			if c.Status == st {
				return st
			}
		}
	}
	return Cancelled
}

// Copy is a post as it goes to one account.
type Copy struct {
	ID          string     `json:"id"`
	PostID      string     `json:"-"`
	AccountID   string     `json:"account_id"`
	Network     string     `json:"network"`
	Handle      string     `json:"handle"`
	LinkID      string     `json:"link_id"`
	Text        string     `json:"text"`
	Status      Status     `json:"status"`
	DueAt       time.Time  `json:"due_at"`
	Attempts    int        `json:"attempts"`
	RemoteID    string     `json:"remote_id"`
	RemoteURL   string     `json:"remote_url"`
	Error       string     `json:"error"`
	PublishedAt *time.Time `json:"published_at"`
}

// Store keeps posts.
type Store struct {
	db      *store.DB
	links   *links.Store
	offers  *offers.Store
	social  *social.Store
	baseURL string
}

// NewStore returns a Store. baseURL is Roost's public address, for links.
func NewStore(db *store.DB, l *links.Store, o *offers.Store, s *social.Store, baseURL string) *Store {
	return &Store{db: db, links: l, offers: o, social: s, baseURL: strings.TrimRight(baseURL, "/")}
}

// Author is the member writing: their signature goes on every copy.
type Author struct {
	MemberID  string
	Signature string
}

// Compose is a post to write.
type Compose struct {
	Body       string   `json:"body"`
	AccountIDs []string `json:"account_ids"`
	OfferID    string   `json:"offer_id"`
	// Destination is where the tracked link goes; empty with an offer
	// means the offer's claim page, empty without one means no link.
	Destination string     `json:"destination"`
	At          *time.Time `json:"scheduled_at"` // nil: now
}

// LinkPlaceholder marks where the tracked link goes in a body; without it
// the link goes at the end.
const LinkPlaceholder = "{link}"

// Render is a copy's final text: the body with the account's tracked link
// and the author's signature.
func Render(body, link, signature string) string {
	text := strings.TrimSpace(body)
	if link != "" {
		if strings.Contains(text, LinkPlaceholder) {
			text = strings.Replace(text, LinkPlaceholder, link, 1)
		} else {
			text += "\n\n" + link
		}
	}
	text = strings.ReplaceAll(text, LinkPlaceholder, "")
	if signature != "" {
		text += " " + signature
	}
	return text
}

// SampleLink is a tracked link as long as real ones, for measuring text
// before the links exist.
func (s *Store) SampleLink() string { return s.baseURL + "/" + strings.Repeat("x", links.CodeLen) }

// Compose writes a post: it checks the text against every account's
// rules, makes a tracked link per account (tied to the post, the account
// and the offer), and schedules a copy per account.
func (s *Store) Compose(ctx context.Context, wsID string, by Author, in Compose) (Post, error) {
	var e valid.Errors
	body := e.Lines("body", in.Body, 1, 5000)
	now := s.db.Now().UTC().Truncate(time.Microsecond)
	at := now
	if in.At != nil {
		at = in.At.UTC().Truncate(time.Microsecond)
		if at.Before(now.Add(-time.Minute)) {
			e.Add("scheduled_at", "is in the past")
		}
		if at.After(now.AddDate(1, 0, 0)) {
			e.Add("scheduled_at", "is more than a year away")
		}
	}
	var offer *offers.Offer
	if in.OfferID != "" {
		o, err := s.offers.Get(ctx, wsID, in.OfferID)
		if errors.Is(err, store.ErrNotFound) {
			e.Add("offer_id", "is not one of this workspace's offers")
		} else if err != nil {
			return Post{}, err
		} else {
			offer = &o
		}
	}
	dest := strings.TrimSpace(in.Destination)
	ownPage := false
	if dest == "" && offer != nil {
		dest, ownPage = s.baseURL+"/o/"+offer.Slug, true
	}
	var accounts []social.Account
	seen := map[string]bool{}
	for _, aid := range in.AccountIDs {
		if seen[aid] {
			continue
		}
		seen[aid] = true
		a, err := s.social.Account(ctx, wsID, aid)
		if errors.Is(err, store.ErrNotFound) || err == nil && a.Disconnected {
			e.Add("account_ids", "%q is not a connected account of this workspace", aid)
			continue
		}
		if err != nil {
			return Post{}, err
		}
		accounts = append(accounts, a)
	}
	if len(in.AccountIDs) == 0 {
		e.Add("account_ids", "choose at least one account")
	}
	if body != "" {
		sample := ""
		if dest != "" {
			sample = s.SampleLink()
		}
		for _, a := range accounts {
			text := Render(body, sample, by.Signature)
			if n, ok := a.Check(text); !ok {
				rule := social.Rules(a.Network)
				e.Add("body", "is %d %s with the link and signature, over the %d that %s on %s allows", n, rule.Unit, a.Limit(), a.Mention(), rule.Name)
			}
		}
	}
	if err := e.Err(); err != nil {
		return Post{}, err
	}

	p := Post{ID: id.New("pst"), WorkspaceID: wsID, MemberID: by.MemberID, OfferID: in.OfferID, Body: body, Destination: dest, ScheduledAt: at, CreatedAt: now}
	var made []links.Link
	for _, a := range accounts {
		c := Copy{ID: id.New("cpy"), PostID: p.ID, AccountID: a.ID, Network: a.Network, Handle: a.Handle, Status: Scheduled, DueAt: at}
		link := ""
		if dest != "" {
			nl := links.NewLink{Destination: dest, Title: "Post to " + a.Mention(), OfferID: in.OfferID, PostID: p.ID, AccountID: a.ID,
				UTMSource: a.Network, UTMContent: p.ID, CreatedBy: by.MemberID, OwnPage: ownPage}
			if offer != nil {
				nl.UTMCampaign = offer.Slug
			}
			l, err := s.links.Create(ctx, wsID, nl)
			if err != nil {
				s.dropLinks(ctx, wsID, made)
				if ve, ok := valid.As(err); ok {
					return Post{}, valid.New("destination", "%s", ve.Error())
				}
				return Post{}, err
			}
			made = append(made, l)
			c.LinkID, link = l.ID, s.baseURL+"/"+l.Code
		}
		c.Text = Render(body, link, by.Signature)
		p.Copies = append(p.Copies, c)
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO posts (id, workspace_id, member_id, offer_id, body, destination, scheduled_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			p.ID, wsID, store.Null(p.MemberID), store.Null(p.OfferID), p.Body, p.Destination, store.Micros(at), store.Micros(now)); err != nil {
			return err
		}
		for _, c := range p.Copies {
			if _, err := tx.ExecContext(ctx, `INSERT INTO post_copies (id, post_id, workspace_id, account_id, link_id, text, status, due_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				c.ID, p.ID, wsID, c.AccountID, store.Null(c.LinkID), c.Text, c.Status, store.Micros(at), store.Micros(now)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.dropLinks(ctx, wsID, made)
		return Post{}, fmt.Errorf("posts: compose: %w", err)
	}
	return p, nil
}

// dropLinks removes the links made for a post that was not saved.
func (s *Store) dropLinks(ctx context.Context, wsID string, ls []links.Link) {
	for _, l := range ls {
		s.links.Delete(context.WithoutCancel(ctx), wsID, l.ID)
	}
}

const copyCols = `c.id, c.post_id, c.account_id, a.network, a.handle, COALESCE(c.link_id, ''), c.text, c.status, c.due_at, c.attempts,
	c.remote_id, c.remote_url, c.error, c.published_at`

func scanCopy(row interface{ Scan(...any) error }) (Copy, error) {
	var c Copy
	var pub time.Time
	err := row.Scan(&c.ID, &c.PostID, &c.AccountID, &c.Network, &c.Handle, &c.LinkID, &c.Text, &c.Status, store.T(&c.DueAt), &c.Attempts,
		&c.RemoteID, &c.RemoteURL, &c.Error, store.T(&pub))
	if !pub.IsZero() {
		c.PublishedAt = &pub
	}
	return c, err
}

// Filter narrows a list of posts.
type Filter struct {
	Status   Status    // posts with a copy in this status
	Before   string    // posts with an ID before this one (newest first)
	From, To time.Time // posts scheduled in [From, To), when set
	Limit    int
}

// List returns the workspace's posts, newest first, with their copies.
func (s *Store) List(ctx context.Context, wsID string, f Filter) ([]Post, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	q := `SELECT p.id, COALESCE(p.member_id, ''), COALESCE(p.offer_id, ''), p.body, p.destination, p.scheduled_at, p.created_at FROM posts p WHERE p.workspace_id = $1`
	args := []any{wsID}
	if f.Before != "" {
		args = append(args, f.Before)
		q += fmt.Sprintf(` AND p.id < $%d`, len(args))
	}
	if f.Status != "" {
		args = append(args, f.Status)
		q += fmt.Sprintf(` AND EXISTS (SELECT 1 FROM post_copies c WHERE c.post_id = p.id AND c.status = $%d)`, len(args))
	}
	if !f.From.IsZero() {
		args = append(args, f.From.UnixMicro(), f.To.UnixMicro())
		q += fmt.Sprintf(` AND p.scheduled_at >= $%d AND p.scheduled_at < $%d`, len(args)-1, len(args))
	}
	args = append(args, f.Limit)
	q += fmt.Sprintf(` ORDER BY p.id DESC LIMIT $%d`, len(args))
	rows, err := s.db.R.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("posts: list: %w", err)
	}
	var out []Post
	byID := map[string]int{}
	for rows.Next() {
		p := Post{WorkspaceID: wsID, Copies: []Copy{}}
		if err := rows.Scan(&p.ID, &p.MemberID, &p.OfferID, &p.Body, &p.Destination, store.T(&p.ScheduledAt), store.T(&p.CreatedAt)); err != nil {
			rows.Close()
			return nil, err
		}
		byID[p.ID] = len(out)
		out = append(out, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	// The copies of the page's posts, in one query.
	crow, err := s.db.R.QueryContext(ctx, `SELECT `+copyCols+` FROM post_copies c JOIN accounts a ON a.id = c.account_id
		WHERE c.workspace_id = $1 AND c.post_id >= $2 AND c.post_id <= $3 ORDER BY a.network, a.handle`, wsID, out[len(out)-1].ID, out[0].ID)
	if err != nil {
		return nil, fmt.Errorf("posts: list copies: %w", err)
	}
	defer crow.Close()
	for crow.Next() {
		c, err := scanCopy(crow)
		if err != nil {
			return nil, err
		}
		if i, ok := byID[c.PostID]; ok {
			out[i].Copies = append(out[i].Copies, c)
		}
	}
	return out, crow.Err()
}

// Get returns one of the workspace's posts.
func (s *Store) Get(ctx context.Context, wsID, postID string) (Post, error) {
	ps, err := s.List(ctx, wsID, Filter{Before: postID + "~", Limit: 1})
	if err != nil {
		return Post{}, err
	}
	if len(ps) == 0 || ps[0].ID != postID {
		return Post{}, store.ErrNotFound
	}
	return ps[0], nil
}

// Published counts the copies the workspace has published, ever.
func (s *Store) Published(ctx context.Context, wsID string) (int64, error) {
	var n int64
	err := s.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM post_copies WHERE workspace_id = $1 AND status = 'published'`, wsID).Scan(&n)
	return n, err
}

// Cancel stops the copies of a post that have not gone out. A copy a
// worker is publishing right now cannot be stopped.
func (s *Store) Cancel(ctx context.Context, wsID, postID string) (Post, error) {
	if _, err := s.Get(ctx, wsID, postID); err != nil {
		return Post{}, err
	}
	if _, err := s.db.W.ExecContext(ctx, `UPDATE post_copies SET status = 'cancelled', updated_at = $1 WHERE workspace_id = $2 AND post_id = $3 AND status = 'scheduled'`,
		time.Now().UnixMicro(), wsID, postID); err != nil {
		return Post{}, fmt.Errorf("posts: cancel: %w", err)
	}
	return s.Get(ctx, wsID, postID)
}

// Retry schedules a failed copy again, now.
func (s *Store) Retry(ctx context.Context, wsID, postID, copyID string) (Post, error) {
	p, err := s.Get(ctx, wsID, postID)
	if err != nil {
		return Post{}, err
	}
	if !slices.ContainsFunc(p.Copies, func(c Copy) bool { return c.ID == copyID }) {
		return Post{}, store.ErrNotFound
	}
	res, err := s.db.W.ExecContext(ctx, `UPDATE post_copies SET status = 'scheduled', due_at = $1, attempts = 0, error = '', updated_at = $1
		WHERE workspace_id = $2 AND post_id = $3 AND id = $4 AND status = 'failed'`, time.Now().UnixMicro(), wsID, postID, copyID)
	if err != nil {
		return Post{}, fmt.Errorf("posts: retry: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Post{}, valid.Conflict("copy", "only a failed copy can be retried")
	}
	return s.Get(ctx, wsID, postID)
}

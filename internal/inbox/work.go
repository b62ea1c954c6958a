package inbox

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
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// Store is the inbox as the team works it: conversations, their messages
// and notes, replies, saved replies, routing rules and customers.
type Store struct {
	db      *store.DB
	hub     *social.Hub
	links   *links.Store
	offers  *offers.Store
	baseURL string
}

// NewStore returns the inbox. Replies go out through hub; saved replies
// that insert an offer's link make tracked links with links.
func NewStore(db *store.DB, hub *social.Hub, ls *links.Store, os *offers.Store, baseURL string) *Store {
	return &Store{db: db, hub: hub, links: ls, offers: os, baseURL: baseURL}
}

// Conversation statuses.
const (
	Open    = "open"    // waiting on the team
	Pending = "pending" // the team answered, waiting on the customer
	Closed  = "closed"  // done (a new message reopens it)
)

// Conversation is one person's exchange with one brand account in one
// thread.
type Conversation struct {
	ID              string     `json:"id"`
	AccountID       string     `json:"account_id"`
	Account         string     `json:"account"` // the brand account's @handle
	Network         string     `json:"network"`
	Person          Person     `json:"person"`
	Status          string     `json:"status"`
	AssigneeID      string     `json:"assignee_id,omitempty"`
	Assignee        string     `json:"assignee,omitempty"`
	Tags            []string   `json:"tags"`
	Preview         string     `json:"preview"`
	Unread          bool       `json:"unread"`
	VIP             bool       `json:"vip"`
	LastMessageAt   time.Time  `json:"last_message_at"`
	CreatedAt       time.Time  `json:"created_at"`
	FirstResponseAt *time.Time `json:"first_response_at"`
	ClosedAt        *time.Time `json:"closed_at"`
}

// Person is who the customer is on the network, and the customer record
// their identities belong to.
type Person struct {
	Network    string `json:"network"`
	AccountID  string `json:"account_id"`
	Handle     string `json:"handle"`
	CustomerID string `json:"customer_id"`
}

// Message is a message of a conversation, in or out.
type Message struct {
	ID        string    `json:"id"`
	Direction string    `json:"direction"` // in or out
	RemoteID  string    `json:"remote_id,omitempty"`
	URL       string    `json:"url,omitempty"`
	Author    string    `json:"author"` // the person's handle, or the member's name
	MemberID  string    `json:"member_id,omitempty"`
	Text      string    `json:"text"`
	Status    string    `json:"status"` // received, pending_approval, sending, sent, failed
	Error     string    `json:"error,omitempty"`
	At        time.Time `json:"at"`
}

// Note is an internal note: it never leaves Roost.
type Note struct {
	ID        string    `json:"id"`
	Member    string    `json:"member"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
}

// Filter narrows the conversation list.
type Filter struct {
	Status   string // open, pending, closed, or "" for open and pending
	Assignee string // a member ID, "none", or ""
	Tag      string
	Account  string
	Limit    int
}

// Settings are a workspace's inbox settings.
type Settings struct {
	RequireApproval bool  `json:"require_approval"` // agents' replies wait for a marketer's or admin's approval
	VIPRevenue      int64 `json:"vip_revenue"`      // customers with at least this net revenue (minor units) are VIPs; 0: none
}

const convCols = `c.id, c.account_id, '@' || a.handle, c.network, c.person_id, c.person_handle, COALESCE(ci.customer_id, ''), c.status,
	COALESCE(c.assignee_id, ''), COALESCE(m.name, ''), c.last_message_at, c.created_at, c.first_response_at, c.closed_at`

const convFrom = ` FROM conversations c JOIN accounts a ON a.id = c.account_id LEFT JOIN members m ON m.id = c.assignee_id
	LEFT JOIN customer_identities ci ON ci.workspace_id = c.workspace_id AND ci.network = c.network AND ci.person_id = c.person_id`

func scanConv(row interface{ Scan(...any) error }) (Conversation, error) {
	var c Conversation
	var first, closed time.Time
	err := row.Scan(&c.ID, &c.AccountID, &c.Account, &c.Network, &c.Person.AccountID, &c.Person.Handle, &c.Person.CustomerID, &c.Status,
		&c.AssigneeID, &c.Assignee, store.T(&c.LastMessageAt), store.T(&c.CreatedAt), store.T(&first), store.T(&closed))
	if errors.Is(err, sql.ErrNoRows) {
		return c, store.ErrNotFound
	}
	c.Person.Network = c.Network
	if !first.IsZero() {
		c.FirstResponseAt = &first
	}
	if !closed.IsZero() {
		c.ClosedAt = &closed
	}
	c.Tags = []string{}
	return c, err
}

// List returns the workspace's conversations for a member: VIPs first,
// then the latest message first.
func (s *Store) List(ctx context.Context, wsID, memberID string, f Filter) ([]Conversation, error) {
	where, args := ` WHERE c.workspace_id = $1`, []any{wsID}
	add := func(cond string, v any) {
		args = append(args, v)
		where += fmt.Sprintf(cond, len(args))
	}
	switch f.Status {
	case Open, Pending, Closed:
		add(` AND c.status = $%d`, f.Status)
	default:
		where += ` AND c.status <> 'closed'`
	}
	switch f.Assignee {
	case "":
	case "none":
		where += ` AND c.assignee_id IS NULL`
	default:
		add(` AND c.assignee_id = $%d`, f.Assignee)
	}
	if f.Tag != "" {
		add(` AND EXISTS (SELECT 1 FROM conversation_tags t WHERE t.conversation_id = c.id AND t.tag = $%d)`, f.Tag)
	}
	if f.Account != "" {
		add(` AND c.account_id = $%d`, f.Account)
	}
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 100
	}
	args = append(args, f.Limit)
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+convCols+convFrom+where+fmt.Sprintf(` ORDER BY c.last_message_at DESC LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("inbox: list: %w", err)
	}
	var out []Conversation
	for rows.Next() {
		c, err := scanConv(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := s.decorate(ctx, wsID, memberID, out); err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b Conversation) int {
		if a.VIP != b.VIP {
			if a.VIP {
				return -1
			}
			return 1
		}
		return 0
	})
	return out, nil
}

// decorate adds tags, the last message, unread state and the VIP flag.
func (s *Store) decorate(ctx context.Context, wsID, memberID string, cs []Conversation) error {
	if len(cs) == 0 {
		return nil
	}
	st, err := s.Settings(ctx, wsID)
	if err != nil {
		return err
	}
	revenue := map[string]int64{}
	for i := range cs {
		c := &cs[i]
		q := s.db.R
		rows, err := q.QueryContext(ctx, `SELECT tag FROM conversation_tags WHERE conversation_id = $1 ORDER BY tag`, c.ID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var t string
			rows.Scan(&t)
			c.Tags = append(c.Tags, t)
		}
		rows.Close()
		var at time.Time
		err = q.QueryRowContext(ctx, `SELECT text, at FROM messages WHERE conversation_id = $1 ORDER BY at DESC, id DESC LIMIT 1`, c.ID).Scan(&c.Preview, store.T(&at))
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		c.Preview = clip(c.Preview, 140)
		var read time.Time
		err = q.QueryRowContext(ctx, `SELECT read_at FROM conversation_reads WHERE conversation_id = $1 AND member_id = $2`, c.ID, memberID).Scan(store.T(&read))
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var lastIn time.Time
		q.QueryRowContext(ctx, `SELECT MAX(created_at) FROM messages WHERE conversation_id = $1 AND direction = 'in'`, c.ID).Scan(store.T(&lastIn))
		c.Unread = memberID != "" && lastIn.After(read)
		if st.VIPRevenue > 0 && c.Person.CustomerID != "" {
			r, ok := revenue[c.Person.CustomerID]
			if !ok {
				if r, err = customerNet(ctx, q, wsID, c.Person.CustomerID); err != nil {
					return err
				}
				revenue[c.Person.CustomerID] = r
			}
			c.VIP = r >= st.VIPRevenue
		}
	}
	return nil
}

func clip(s string, n int) string {
	r := []rune(strings.Join(strings.Fields(s), " "))
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return string(r)
}

// Get returns a conversation of the workspace with its messages (oldest
// first) and notes.
func (s *Store) Get(ctx context.Context, wsID, memberID, convID string) (Conversation, []Message, []Note, error) {
	c, err := scanConv(s.db.R.QueryRowContext(ctx, `SELECT `+convCols+convFrom+` WHERE c.workspace_id = $1 AND c.id = $2`, wsID, convID))
	if err != nil {
		return c, nil, nil, err
	}
	cs := []Conversation{c}
	if err := s.decorate(ctx, wsID, memberID, cs); err != nil {
		return c, nil, nil, err
	}
	c = cs[0]
	rows, err := s.db.R.QueryContext(ctx, `SELECT g.id, g.direction, COALESCE(g.remote_id, ''), g.url, g.author_handle, COALESCE(g.member_id, ''),
		COALESCE(m.name, ''), g.text, g.status, g.error, g.at FROM messages g LEFT JOIN members m ON m.id = g.member_id
		WHERE g.conversation_id = $1 ORDER BY g.at, g.id`, convID)
	if err != nil {
		return c, nil, nil, err
	}
	var msgs []Message
	for rows.Next() {
		var m Message
		var member string
		if err := rows.Scan(&m.ID, &m.Direction, &m.RemoteID, &m.URL, &m.Author, &m.MemberID, &member, &m.Text, &m.Status, &m.Error, store.T(&m.At)); err != nil {
			rows.Close()
			return c, nil, nil, err
		}
		if m.Direction == "out" {
			m.Author = member
		}
		msgs = append(msgs, m)
	}
	rows.Close()
	nrows, err := s.db.R.QueryContext(ctx, `SELECT n.id, COALESCE(m.name, ''), n.text, n.created_at FROM conversation_notes n LEFT JOIN members m ON m.id = n.member_id
		WHERE n.conversation_id = $1 ORDER BY n.created_at`, convID)
	if err != nil {
		return c, nil, nil, err
	}
	defer nrows.Close()
	var notes []Note
	for nrows.Next() {
		var n Note
		if err := nrows.Scan(&n.ID, &n.Member, &n.Text, store.T(&n.CreatedAt)); err != nil {
			return c, nil, nil, err
		}
		notes = append(notes, n)
	}
	return c, msgs, notes, nrows.Err()
}

// MarkRead records that the member has seen the conversation.
func (s *Store) MarkRead(ctx context.Context, convID, memberID string) error {
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO conversation_reads (conversation_id, member_id, read_at) VALUES ($1, $2, $3)
		ON CONFLICT (conversation_id, member_id) DO UPDATE SET read_at = excluded.read_at`, convID, memberID, s.db.Now().UnixMicro())
	return err
}

// Has reports store.ErrNotFound unless the conversation is the workspace's.
func (s *Store) Has(ctx context.Context, wsID, convID string) error {
	return s.exists(ctx, wsID, convID)
}

func (s *Store) exists(ctx context.Context, wsID, convID string) error {
	var n int
	if err := s.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM conversations WHERE workspace_id = $1 AND id = $2`, wsID, convID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Assign gives the conversation to a member of the workspace ("" takes
// it from whoever has it).
func (s *Store) Assign(ctx context.Context, wsID, convID, memberID string) error {
	if err := s.exists(ctx, wsID, convID); err != nil {
		return err
	}
	if memberID != "" {
		var n int
		s.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM members WHERE workspace_id = $1 AND id = $2`, wsID, memberID).Scan(&n)
		if n == 0 {
			return valid.New("assignee_id", "is not a member of this workspace")
		}
	}
	_, err := s.db.W.ExecContext(ctx, `UPDATE conversations SET assignee_id = $1, updated_at = $2 WHERE id = $3`, store.Null(memberID), s.db.Now().UnixMicro(), convID)
	return err
}

// SetStatus opens, parks or closes a conversation.
func (s *Store) SetStatus(ctx context.Context, wsID, convID, status string) error {
	if status != Open && status != Pending && status != Closed {
		return valid.New("status", "must be open, pending or closed")
	}
	if err := s.exists(ctx, wsID, convID); err != nil {
		return err
	}
	now := s.db.Now().UnixMicro()
	var closed any
	if status == Closed {
		closed = now
	}
	_, err := s.db.W.ExecContext(ctx, `UPDATE conversations SET status = $1, closed_at = $2, updated_at = $3 WHERE id = $4`, status, closed, now, convID)
	return err
}

var tagRE = regexp.MustCompile(`^[\p{L}\p{N}_-]{1,40}$`)

// SetTags replaces a conversation's tags.
func (s *Store) SetTags(ctx context.Context, wsID, convID string, tags []string) error {
	var clean []string
	for _, t := range tags {
		t = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(t), "#"))
		if t == "" {
			continue
		}
		if !tagRE.MatchString(t) {
			return valid.New("tags", "%q is not a tag: letters, digits, - and _, up to 40", t)
		}
		if !slices.Contains(clean, t) {
			clean = append(clean, t)
		}
	}
	if len(clean) > 20 {
		return valid.New("tags", "at most 20")
	}
	if err := s.exists(ctx, wsID, convID); err != nil {
		return err
	}
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM conversation_tags WHERE conversation_id = $1`, convID); err != nil {
			return err
		}
		for _, t := range clean {
			if _, err := tx.ExecContext(ctx, `INSERT INTO conversation_tags (conversation_id, tag) VALUES ($1, $2)`, convID, t); err != nil {
				return err
			}
		}
		return nil
	})
}

// AddNote keeps an internal note on the conversation.
func (s *Store) AddNote(ctx context.Context, wsID, convID, memberID, text string) (Note, error) {
	var e valid.Errors
	text = e.Lines("text", text, 1, 5000)
	if err := e.Err(); err != nil {
		return Note{}, err
	}
	if err := s.exists(ctx, wsID, convID); err != nil {
		return Note{}, err
	}
	n := Note{ID: id.New("nte"), Text: text, CreatedAt: s.db.Now().UTC().Truncate(time.Microsecond)}
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO conversation_notes (id, conversation_id, member_id, text, created_at) VALUES ($1, $2, $3, $4, $5)`,
		n.ID, convID, store.Null(memberID), text, n.CreatedAt.UnixMicro())
	return n, err
}

// Settings returns the workspace's inbox settings.
func (s *Store) Settings(ctx context.Context, wsID string) (Settings, error) {
	var st Settings
	err := s.db.R.QueryRowContext(ctx, `SELECT require_approval, vip_revenue FROM inbox_settings WHERE workspace_id = $1`, wsID).Scan(&st.RequireApproval, &st.VIPRevenue)
	if errors.Is(err, sql.ErrNoRows) {
		return Settings{}, nil
	}
	return st, err
}

// SaveSettings stores the workspace's inbox settings.
func (s *Store) SaveSettings(ctx context.Context, wsID string, st Settings) error {
	if st.VIPRevenue < 0 {
		return valid.New("vip_revenue", "must be zero or more")
	}
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO inbox_settings (workspace_id, require_approval, vip_revenue) VALUES ($1, $2, $3)
		ON CONFLICT (workspace_id) DO UPDATE SET require_approval = excluded.require_approval, vip_revenue = excluded.vip_revenue`, wsID, st.RequireApproval, st.VIPRevenue)
	return err
}

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
	db *store.DB
	// r reads (db.R); a test counts the queries through it.
	r       store.Querier
	hub     *social.Hub
	links   *links.Store
	offers  *offers.Store
	baseURL string
}

// NewStore returns the inbox. Replies go out through hub; saved replies
// that insert an offer's link make tracked links with links.
func NewStore(db *store.DB, hub *social.Hub, ls *links.Store, os *offers.Store, baseURL string) *Store {
	return &Store{db: db, r: db.R, hub: hub, links: ls, offers: os, baseURL: baseURL}
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
	ID         string   `json:"id"`
	AccountID  string   `json:"account_id"`
	Account    string   `json:"account"` // the brand account's @handle
	Network    string   `json:"network"`
	Person     Person   `json:"person"`
	Status     string   `json:"status"`
	AssigneeID string   `json:"assignee_id,omitempty"`
	Assignee   string   `json:"assignee,omitempty"`
	Tags       []string `json:"tags"`
	Preview    string   `json:"preview"`
	Unread     bool     `json:"unread"`
	VIP        bool     `json:"vip"`
	// Direct: the person's latest message was a direct message, and the
	// reply goes back as one.
	Direct          bool       `json:"direct"`
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

// Settings are a workspace's inbox settings. A customer is a VIP, and
// their conversations come first, when either threshold is met.
type Settings struct {
	RequireApproval bool  `json:"require_approval"` // agents' replies wait for a marketer's or admin's approval
	VIPRevenue      int64 `json:"vip_revenue"`      // customers with at least this net revenue (minor units) are VIPs; 0: none
	// VIPFollowers: customers with an identity followed by at least this
	// many people (as the network said with their latest message) are
	// VIPs; 0: none.
	VIPFollowers int64 `json:"vip_followers"`
}

// args numbers a query's parameters as they are added.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return fmt.Sprintf("$%d", len(*a))
}

// customerNetSQL is each customer's net revenue from social in workspace
// ws (a parameter): the orders that used codes their identities claimed,
// and the same shoppers' other orders, each order once per customer.
func customerNetSQL(ws string) string {
	return `claimed AS (SELECT DISTINCT ci.customer_id, cl.order_ref FROM claims cl JOIN customer_identities ci ON ci.workspace_id = cl.workspace_id
		AND ci.network = cl.network AND ci.person_id = cl.account_id WHERE cl.workspace_id = ` + ws + ` AND cl.order_ref <> ''),
	claimed_orders AS (SELECT cd.customer_id, o.id, o.customer FROM orders o JOIN claimed cd ON o.source || ':' || o.external_id = cd.order_ref
		WHERE o.workspace_id = ` + ws + `),
	customer_orders AS (SELECT customer_id, id FROM claimed_orders UNION SELECT d.customer_id, o.id FROM orders o
		JOIN claimed_orders d ON o.customer = d.customer WHERE o.workspace_id = ` + ws + ` AND o.customer <> ''),
	customer_net AS (SELECT co.customer_id, SUM(g.amount) AS net FROM customer_orders co JOIN ledger g ON g.order_id = co.id GROUP BY co.customer_id)`
}

// convQuery is a page of conversations, read in a fixed number of queries
// whatever its length: one for the page, its previews, unread state and
// VIP flags (computed in SQL, so VIPs sort first across the whole list,
// not just within a page), and one for the tags.
type convQuery struct {
	ws, member string
	st         Settings
	where      string // conditions on c, with parameters from a
	a          args
	vipFirst   bool
	limit      int
}

func (s *Store) conversations(ctx context.Context, q convQuery) ([]Conversation, error) {
	a := q.a
	ws := a.add(q.ws)
	// The VIP customers are found once (few, next to the conversations);
	// the page then takes the latest VIP conversations and the latest of
	// the others, each an index walk that stops at the page's length, so
	// a page costs the same however long the list.
	var with []string
	var vips []string
	if q.st.VIPRevenue > 0 {
		with = append(with, customerNetSQL(ws))
		vips = append(vips, `SELECT customer_id FROM customer_net WHERE net >= `+a.add(q.st.VIPRevenue))
	}
	if q.st.VIPFollowers > 0 {
		vips = append(vips, `SELECT customer_id FROM customer_identities WHERE workspace_id = `+ws+` AND followers >= `+a.add(q.st.VIPFollowers))
	}
	if len(vips) > 0 {
		with = append(with, `vips AS (`+strings.Join(vips, " UNION ")+`)`)
	}
	member := a.add(q.member)
	limit := a.add(q.limit)
	cols := `c.id, c.account_id, c.network, c.person_id, c.person_handle, COALESCE(ci.customer_id, '') AS customer_id, c.status,
		c.assignee_id, c.last_message_at, c.created_at, c.first_response_at, c.closed_at, c.direct, c.last_in_at`
	tail := q.where + ` ORDER BY c.last_message_at DESC, c.id DESC LIMIT ` + limit
	everyone := func(vip, cond string) string {
		return `SELECT * FROM (SELECT ` + cols + `, ` + vip + ` AS vip FROM conversations c
			LEFT JOIN customer_identities ci ON ci.workspace_id = c.workspace_id AND ci.network = c.network AND ci.person_id = c.person_id
			WHERE c.workspace_id = ` + ws + cond + tail + `) others`
	}
	pages := everyone("0", "")
	switch {
	case len(vips) > 0 && q.vipFirst:
		// VIPs are few: their conversations are found from them (CROSS
		// JOIN keeps SQLite's join in that order), the others by walking
		// the list from the latest.
		pages = `SELECT * FROM (SELECT ` + cols + `, 1 AS vip FROM vips v JOIN customer_identities ci ON ci.customer_id = v.customer_id
			CROSS JOIN conversations c WHERE ci.workspace_id = ` + ws + ` AND c.workspace_id = ci.workspace_id AND c.network = ci.network
			AND c.person_id = ci.person_id` + tail + `) vip UNION ALL ` +
			everyone("0", ` AND (ci.customer_id IS NULL OR ci.customer_id NOT IN (SELECT customer_id FROM vips))`)
	case len(vips) > 0:
		pages = everyone(`CASE WHEN ci.customer_id IN (SELECT customer_id FROM vips) THEN 1 ELSE 0 END`, "")
	}
	order := `p.last_message_at DESC, p.id DESC`
	if q.vipFirst {
		order = `p.vip DESC, ` + order
	}
	query := `SELECT p.id, p.account_id, '@' || a.handle, p.network, p.person_id, p.person_handle, p.customer_id, p.status,
		COALESCE(p.assignee_id, ''), COALESCE(m.name, ''), p.last_message_at, p.created_at, p.first_response_at, p.closed_at, p.direct, p.vip,
		p.last_in_at, COALESCE(r.read_at, 0),
		COALESCE((SELECT g.text FROM messages g WHERE g.conversation_id = p.id ORDER BY g.at DESC, g.id DESC LIMIT 1), '')
		FROM (` + pages + `) p
		JOIN accounts a ON a.id = p.account_id LEFT JOIN members m ON m.id = p.assignee_id
		LEFT JOIN conversation_reads r ON r.conversation_id = p.id AND r.member_id = ` + member + `
		ORDER BY ` + order + ` LIMIT ` + limit
	if len(with) > 0 {
		query = `WITH ` + strings.Join(with, ", ") + ` ` + query
	}
	rows, err := s.r.QueryContext(ctx, query, a...)
	if err != nil {
		return nil, fmt.Errorf("inbox: conversations: %w", err)
	}
	out := []Conversation{}
	byID := map[string]int{}
	for rows.Next() {
		var c Conversation
		var first, closed, lastIn, read time.Time
		var isVIP int
		if err := rows.Scan(&c.ID, &c.AccountID, &c.Account, &c.Network, &c.Person.AccountID, &c.Person.Handle, &c.Person.CustomerID, &c.Status,
			&c.AssigneeID, &c.Assignee, store.T(&c.LastMessageAt), store.T(&c.CreatedAt), store.T(&first), store.T(&closed), &c.Direct, &isVIP,
			store.T(&lastIn), store.T(&read), &c.Preview); err != nil {
			rows.Close()
			return nil, err
		}
		c.Person.Network = c.Network
		if !first.IsZero() {
			c.FirstResponseAt = &first
		}
		if !closed.IsZero() {
			c.ClosedAt = &closed
		}
		c.Preview = clip(c.Preview, 140)
		c.Unread = q.member != "" && lastIn.After(read)
		c.VIP = isVIP == 1
		c.Tags = []string{}
		byID[c.ID] = len(out)
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return out, nil
	}
	var ta args
	marks := make([]string, len(out))
	for i, c := range out {
		marks[i] = ta.add(c.ID)
	}
	rows, err = s.r.QueryContext(ctx, `SELECT conversation_id, tag FROM conversation_tags WHERE conversation_id IN (`+strings.Join(marks, ", ")+`)
		ORDER BY conversation_id, tag`, ta...)
	if err != nil {
		return nil, fmt.Errorf("inbox: tags: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var cid, tag string
		if err := rows.Scan(&cid, &tag); err != nil {
			return nil, err
		}
		if i, ok := byID[cid]; ok {
			out[i].Tags = append(out[i].Tags, tag)
		}
	}
	return out, rows.Err()
}

// List returns the workspace's conversations for a member: VIPs first,
// then the latest message first.
func (s *Store) List(ctx context.Context, wsID, memberID string, f Filter) ([]Conversation, error) {
	st, err := s.Settings(ctx, wsID)
	if err != nil {
		return nil, err
	}
	q := convQuery{ws: wsID, member: memberID, st: st, vipFirst: true, limit: f.Limit}
	switch f.Status {
	case Open, Pending, Closed:
		q.where += ` AND c.status = ` + q.a.add(f.Status)
	default:
		q.where += ` AND c.status <> 'closed'`
	}
	switch f.Assignee {
	case "":
	case "none":
		q.where += ` AND c.assignee_id IS NULL`
	default:
		q.where += ` AND c.assignee_id = ` + q.a.add(f.Assignee)
	}
	if f.Tag != "" {
		q.where += ` AND EXISTS (SELECT 1 FROM conversation_tags t WHERE t.conversation_id = c.id AND t.tag = ` + q.a.add(f.Tag) + `)`
	}
	if f.Account != "" {
		q.where += ` AND c.account_id = ` + q.a.add(f.Account)
	}
	if q.limit <= 0 || q.limit > 200 {
		q.limit = 100
	}
	return s.conversations(ctx, q)
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
	st, err := s.Settings(ctx, wsID)
	if err != nil {
		return Conversation{}, nil, nil, err
	}
	q := convQuery{ws: wsID, member: memberID, st: st, limit: 1}
	q.where = ` AND c.id = ` + q.a.add(convID)
	cs, err := s.conversations(ctx, q)
	if err != nil {
		return Conversation{}, nil, nil, err
	}
	if len(cs) == 0 {
		return Conversation{}, nil, nil, store.ErrNotFound
	}
	c := cs[0]
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
	err := s.r.QueryRowContext(ctx, `SELECT require_approval, vip_revenue, vip_followers FROM inbox_settings WHERE workspace_id = $1`, wsID).Scan(
		&st.RequireApproval, &st.VIPRevenue, &st.VIPFollowers)
	if errors.Is(err, sql.ErrNoRows) {
		return Settings{}, nil
	}
	return st, err
}

// SaveSettings stores the workspace's inbox settings.
func (s *Store) SaveSettings(ctx context.Context, wsID string, st Settings) error {
	var e valid.Errors
	if st.VIPRevenue < 0 {
		e.Add("vip_revenue", "must be zero or more")
	}
	if st.VIPFollowers < 0 || st.VIPFollowers > 1e12 {
		e.Add("vip_followers", "must be a number of followers, zero or more")
	}
	if err := e.Err(); err != nil {
		return err
	}
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO inbox_settings (workspace_id, require_approval, vip_revenue, vip_followers) VALUES ($1, $2, $3, $4)
		ON CONFLICT (workspace_id) DO UPDATE SET require_approval = excluded.require_approval, vip_revenue = excluded.vip_revenue,
		vip_followers = excluded.vip_followers`, wsID, st.RequireApproval, st.VIPRevenue, st.VIPFollowers)
	return err
}

package inbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// Author is the member replying: their signature ends the reply, and an
// agent's reply waits for approval when the workspace asks for it.
type Author struct {
	MemberID  string
	Signature string
	Approver  bool // a marketer, admin or owner: their replies need no approval
}

// ErrNotSent is a reply the network refused or could not take: it is kept
// (status failed, with the reason) and can be sent again.
type ErrNotSent struct{ Reason string }

func (e *ErrNotSent) Error() string { return "the reply was not sent: " + e.Reason }

// Reply writes a reply in the conversation's thread, signed by its author,
// checked against the network's length rule, and sends it, or keeps it
// for approval. A reply the network refuses is kept with the reason.
func (s *Store) Reply(ctx context.Context, wsID, convID string, by Author, text string) (Message, error) {
	var e valid.Errors
	text = strings.TrimSpace(e.Lines("text", text, 1, 5000))
	if err := e.Err(); err != nil {
		return Message{}, err
	}
	c, _, _, err := s.Get(ctx, wsID, "", convID)
	if err != nil {
		return Message{}, err
	}
	a, err := s.hub.Store.Account(ctx, wsID, c.AccountID)
	if err != nil {
		return Message{}, err
	}
	if a.Network == social.Mastodon {
		text = Addressed(c.Person.Handle, text)
	}
	if by.Signature != "" {
		text += " " + by.Signature
	}
	rule, limit := ReplyRule(a, c)
	if n := rule.Count(text); n > limit {
		return Message{}, valid.New("text", "is %d %s with your signature, over the %d that %s allows", n, rule.Unit, limit, a.Mention())
	}
	st, err := s.Settings(ctx, wsID)
	if err != nil {
		return Message{}, err
	}
	status := "sending"
	if st.RequireApproval && !by.Approver {
		status = "pending_approval"
	}
	// The reply answers the person's latest message in the thread.
	var replyTo string
	err = s.db.R.QueryRowContext(ctx, `SELECT remote_id FROM messages WHERE conversation_id = $1 AND direction = 'in' ORDER BY at DESC, id DESC LIMIT 1`, convID).Scan(&replyTo)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Message{}, err
	}
	now := s.db.Now().UTC().Truncate(time.Microsecond)
	m := Message{ID: id.New("msg"), Direction: "out", MemberID: by.MemberID, Text: text, Status: status, At: now}
	if _, err := s.db.W.ExecContext(ctx, `INSERT INTO messages (id, workspace_id, conversation_id, account_id, direction, reply_to, member_id, text, status, at, created_at)
		VALUES ($1, $2, $3, $4, 'out', $5, $6, $7, $8, $9, $9)`, m.ID, wsID, convID, a.ID, replyTo, store.Null(by.MemberID), text, status, now.UnixMicro()); err != nil {
		return Message{}, fmt.Errorf("inbox: keep reply: %w", err)
	}
	if status == "pending_approval" {
		return m, nil
	}
	return s.send(ctx, wsID, m.ID, "sending")
}

// ReplyRule is how the network measures a reply in the conversation, and
// the most it takes: a direct message on Bluesky or X has the chat's
// limit, anything else the account's post limit.
func ReplyRule(a social.Account, c Conversation) (social.Rule, int) {
	if c.Direct {
		if r, ok := social.DirectRules(a.Network); ok {
			return r, r.Limit
		}
	}
	return social.Rules(a.Network), a.Limit()
}

// Addressed starts a Mastodon reply with the person's handle unless it
// already names them: Mastodon delivers a status, and notifies, only to
// the accounts it mentions, so a direct reply without the handle would
// reach nobody.
func Addressed(handle, text string) string {
	h := strings.TrimSpace(handle)
	if !strings.HasPrefix(h, "@") || len(h) < 2 || strings.Contains(strings.ToLower(text), strings.ToLower(h)) {
		return text
	}
	return h + " " + text
}

// Approve sends a reply that waited for approval.
func (s *Store) Approve(ctx context.Context, wsID, msgID, approverID string) (Message, error) {
	res, err := s.db.W.ExecContext(ctx, `UPDATE messages SET approved_by = $1 WHERE id = $2 AND workspace_id = $3 AND status = 'pending_approval'`, approverID, msgID, wsID)
	if err != nil {
		return Message{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Message{}, store.ErrNotFound
	}
	return s.send(ctx, wsID, msgID, "pending_approval")
}

// Retry sends again a reply that failed. The network's own duplicate
// guard (and a look for the reply first) keeps it from landing twice.
func (s *Store) Retry(ctx context.Context, wsID, msgID string) (Message, error) {
	return s.send(ctx, wsID, msgID, "failed")
}

// send takes the reply from status from (one sender wins the update) and
// publishes it in the thread.
func (s *Store) send(ctx context.Context, wsID, msgID, from string) (Message, error) {
	var m Message
	var convID, accountID, replyTo string
	err := s.db.W.QueryRowContext(ctx, `UPDATE messages SET status = 'sending', error = '' WHERE id = $1 AND workspace_id = $2 AND direction = 'out' AND status = $3
		RETURNING conversation_id, account_id, reply_to, text, at`, msgID, wsID, from).Scan(&convID, &accountID, &replyTo, &m.Text, store.T(&m.At))
	if errors.Is(err, sql.ErrNoRows) {
		return Message{}, store.ErrNotFound // not in that state: another request took it, or it is gone
	}
	if err != nil {
		return Message{}, err
	}
	m.ID, m.Direction = msgID, "out"
	a, err := s.hub.Store.AccountByID(ctx, accountID)
	if err != nil {
		return Message{}, err
	}
	d := social.Draft{Key: msgID, Text: m.Text, ReplyTo: replyTo}
	var thread, person string
	var convDirect bool
	if err := s.db.R.QueryRowContext(ctx, `SELECT thread, person_id, direct FROM conversations WHERE id = $1`, convID).Scan(&thread, &person, &convDirect); err != nil {
		return Message{}, err
	}
	d.Direct = convDirect
	if replyTo != "" {
		// A direct message is answered directly, never in public.
		s.db.R.QueryRowContext(ctx, `SELECT direct FROM messages WHERE account_id = $1 AND remote_id = $2`, accountID, replyTo).Scan(&d.Direct)
	}
	if d.Direct {
		d.Thread, d.To = thread, person
	}
	d.Created, _ = id.Time(msgID)
	var pub social.Published
	callErr := s.hub.Call(ctx, a, func(ctx context.Context, c social.Connector, conn *social.Conn) error {
		// Where direct messages are apart from posts, a reply to one is a
		// direct message in the same conversation.
		dm, direct := c.(social.Messenger)
		direct = direct && d.Direct
		if from == "failed" {
			find := c.FindPublished
			if direct {
				find = dm.FindDirect
			}
			if got, found, err := find(ctx, conn, d); err == nil && found {
				pub = got
				return nil
			}
		}
		var err error
		if direct {
			pub, err = dm.SendDirect(ctx, conn, d)
		} else {
			pub, err = c.Publish(ctx, conn, d)
		}
		return err
	})
	now := s.db.Now().UTC()
	if callErr != nil {
		reason := social.AsError(a.Network, callErr).Reason
		m.Status, m.Error = "failed", reason
		if _, err := s.db.W.ExecContext(ctx, `UPDATE messages SET status = 'failed', error = $1 WHERE id = $2`, clip(reason, 300), msgID); err != nil {
			return m, err
		}
		return m, &ErrNotSent{Reason: reason}
	}
	m.Status, m.RemoteID, m.URL = "sent", pub.RemoteID, pub.URL
	return m, s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET status = 'sent', remote_id = $1, url = $2, at = $3 WHERE id = $4`,
			pub.RemoteID, pub.URL, now.UnixMicro(), msgID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE conversations SET first_response_at = COALESCE(first_response_at, $1),
			status = CASE WHEN status = 'open' THEN 'pending' ELSE status END, last_message_at = $1, updated_at = $1 WHERE id = $2`, now.UnixMicro(), convID)
		return err
	})
}

// Template is a saved reply. Placeholders: {name} is the person's handle,
// {offer:SLUG} a tracked link to the offer's page for this conversation's
// account.
type Template struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Body string `json:"body"`
}

// Templates lists the workspace's saved replies.
func (s *Store) Templates(ctx context.Context, wsID string) ([]Template, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, name, body FROM reply_templates WHERE workspace_id = $1 ORDER BY name`, wsID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Template
	for rows.Next() {
		var t Template
		if err := rows.Scan(&t.ID, &t.Name, &t.Body); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// SaveTemplate adds a saved reply (or replaces the one of that name).
func (s *Store) SaveTemplate(ctx context.Context, wsID, name, body string) (Template, error) {
	var e valid.Errors
	name = e.Text("name", name, 1, 80)
	body = e.Lines("body", body, 1, 5000)
	if err := e.Err(); err != nil {
		return Template{}, err
	}
	t := Template{ID: id.New("tpl"), Name: name, Body: body}
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO reply_templates (id, workspace_id, name, body, created_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (workspace_id, name) DO UPDATE SET body = excluded.body`, t.ID, wsID, name, body, time.Now().UnixMicro())
	return t, err
}

// DeleteTemplate removes a saved reply.
func (s *Store) DeleteTemplate(ctx context.Context, wsID, templateID string) error {
	_, err := s.db.W.ExecContext(ctx, `DELETE FROM reply_templates WHERE workspace_id = $1 AND id = $2`, wsID, templateID)
	return err
}

var offerRE = regexp.MustCompile(`\{offer:([a-z0-9-]{1,64})\}`)

// Expand fills a saved reply's placeholders for a conversation. Each
// {offer:SLUG} becomes a new tracked link to the offer's page, tied to
// the offer and the account, so what the customer buys from it counts.
func (s *Store) Expand(ctx context.Context, wsID, convID, memberID, body string) (string, error) {
	c, _, _, err := s.Get(ctx, wsID, "", convID)
	if err != nil {
		return "", err
	}
	body = strings.ReplaceAll(body, "{name}", c.Person.Handle)
	var failed error
	body = offerRE.ReplaceAllStringFunc(body, func(m string) string {
		slug := offerRE.FindStringSubmatch(m)[1]
		o, err := s.offers.BySlug(ctx, slug)
		if err != nil || o.WorkspaceID != wsID {
			failed = valid.New("body", "no offer %q in this workspace", slug)
			return m
		}
		l, err := s.links.Create(ctx, wsID, links.NewLink{Destination: s.baseURL + "/o/" + o.Slug, Title: "Reply: " + o.Title, OfferID: o.ID,
			AccountID: c.AccountID, UTMSource: c.Network, UTMCampaign: o.Slug, CreatedBy: memberID, OwnPage: true})
		if err != nil {
			failed = err
			return m
		}
		return s.baseURL + "/" + l.Code
	})
	return body, failed
}

// Rule routes incoming messages: any of its words → the tag and/or the
// assignee.
type Rule struct {
	ID         string   `json:"id"`
	Words      []string `json:"words"`
	Tag        string   `json:"tag,omitempty"`
	AssigneeID string   `json:"assignee_id,omitempty"`
}

// Rules lists the workspace's routing rules.
func (s *Store) Rules(ctx context.Context, wsID string) ([]Rule, error) {
	return rules(ctx, s.db.R, wsID)
}

func rules(ctx context.Context, q store.Querier, wsID string) ([]Rule, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, words, tag, COALESCE(assignee_id, '') FROM inbox_rules WHERE workspace_id = $1 ORDER BY created_at`, wsID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Rule
	for rows.Next() {
		var r Rule
		var words string
		if err := rows.Scan(&r.ID, &words, &r.Tag, &r.AssigneeID); err != nil {
			return nil, err
		}
		r.Words = strings.Split(words, "\n")
		out = append(out, r)
	}
	return out, rows.Err()
}

// SaveRule adds a routing rule.
func (s *Store) SaveRule(ctx context.Context, wsID string, r Rule) (Rule, error) {
	var e valid.Errors
	var words []string
	for _, w := range r.Words {
		if w = strings.ToLower(strings.TrimSpace(w)); w != "" {
			words = append(words, w)
		}
	}
	if len(words) == 0 || len(words) > 50 {
		e.Add("words", "give between 1 and 50 words or phrases")
	}
	r.Tag = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(r.Tag), "#"))
	if r.Tag != "" && !tagRE.MatchString(r.Tag) {
		e.Add("tag", "letters, digits, - and _, up to 40")
	}
	if r.Tag == "" && r.AssigneeID == "" {
		e.Add("tag", "give a tag, an assignee, or both")
	}
	if r.AssigneeID != "" {
		var n int
		s.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM members WHERE workspace_id = $1 AND id = $2`, wsID, r.AssigneeID).Scan(&n)
		if n == 0 {
			e.Add("assignee_id", "is not a member of this workspace")
		}
	}
	if err := e.Err(); err != nil {
		return r, err
	}
	r.ID, r.Words = id.New("rul"), words
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO inbox_rules (id, workspace_id, words, tag, assignee_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		r.ID, wsID, strings.Join(words, "\n"), r.Tag, store.Null(r.AssigneeID), time.Now().UnixMicro())
	return r, err
}

// DeleteRule removes a routing rule.
func (s *Store) DeleteRule(ctx context.Context, wsID, ruleID string) error {
	_, err := s.db.W.ExecContext(ctx, `DELETE FROM inbox_rules WHERE workspace_id = $1 AND id = $2`, wsID, ruleID)
	return err
}

// route applies the workspace's rules to a message just stored, inside
// the poll's transaction.
func route(ctx context.Context, tx *sql.Tx, wsID, convID, text string) error {
	rs, err := rules(ctx, tx, wsID)
	if err != nil || len(rs) == 0 {
		return err
	}
	lower := strings.ToLower(text)
	for _, r := range rs {
		hit := false
		for _, w := range r.Words {
			hit = hit || strings.Contains(lower, w)
		}
		if !hit {
			continue
		}
		if r.Tag != "" {
			if _, err := tx.ExecContext(ctx, `INSERT INTO conversation_tags (conversation_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING`, convID, r.Tag); err != nil {
				return err
			}
		}
		if r.AssigneeID != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE conversations SET assignee_id = $1 WHERE id = $2 AND assignee_id IS NULL`, r.AssigneeID, convID); err != nil {
				return err
			}
		}
	}
	return nil
}

package inbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
)

// Bounds on what a network sends, so one odd message cannot bloat a row.
const (
	maxText  = 20000 // runes
	maxField = 500   // bytes, for IDs, handles and URLs
)

// clean makes outside text safe to store: valid UTF-8, no NUL (PostgreSQL
// refuses it in text), and bounded.
func clean(s string, maxRunes int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if utf8.RuneCountInString(s) > maxRunes {
		r := []rune(s)
		s = string(r[:maxRunes])
	}
	return s
}

func field(s string) string {
	s = clean(s, maxField)
	for len(s) > maxField {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}

// storeInbound stores one message read from an account, inside the poll's
// transaction: into its conversation (opened, or reopened), once. Tokens it
// carries are marked in the same transaction, whether it came as a mention
// or a direct message. The author's follower count, when the network gave
// it, is kept on their identity for the VIP threshold. now is when Roost
// read it. It reports whether the message was new.
func storeInbound(ctx context.Context, tx *sql.Tx, a social.Account, m social.Message, now time.Time) (bool, error) {
	m.RemoteID, m.ReplyTo, m.Thread, m.URL = field(m.RemoteID), field(m.ReplyTo), field(m.Thread), field(m.URL)
	m.Author.Network, m.Author.AccountID, m.Author.Handle = a.Network, field(m.Author.AccountID), field(m.Author.Handle)
	m.Text = clean(m.Text, maxText)
	if m.RemoteID == "" || m.Author.AccountID == "" || (a.RemoteID != "" && m.Author.AccountID == a.RemoteID) {
		return false, nil // nothing to key it on, or the brand account's own post
	}
	var seen int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages WHERE account_id = $1 AND remote_id = $2`, a.ID, m.RemoteID).Scan(&seen); err != nil {
		return false, err
	}
	if seen > 0 {
		return false, nil
	}
	at := m.At
	if at.IsZero() || at.After(now.Add(time.Hour)) {
		at = now // a missing or wild remote clock: when Roost saw it
	}
	thread, err := threadOf(ctx, tx, a, m)
	if err != nil {
		return false, err
	}
	convID, err := conversation(ctx, tx, a, m.Author, thread, m.Direct, at, now)
	if err != nil {
		return false, err
	}
	msgID := id.New("msg")
	if _, err := tx.ExecContext(ctx, `INSERT INTO messages (id, workspace_id, conversation_id, account_id, direction, remote_id, reply_to, url,
		author_id, author_handle, text, direct, at, created_at) VALUES ($1, $2, $3, $4, 'in', $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		msgID, a.WorkspaceID, convID, a.ID, m.RemoteID, m.ReplyTo, m.URL, m.Author.AccountID, m.Author.Handle, m.Text, m.Direct,
		at.UnixMicro(), now.UnixMicro()); err != nil {
		return false, fmt.Errorf("store message: %w", err)
	}
	if _, err := offers.MarkMentioned(ctx, tx, a.WorkspaceID, a.ID, msgID, m.Author, m.Text, now); err != nil {
		return false, err
	}
	if err := ensureCustomer(ctx, tx, a.WorkspaceID, m.Author, m.Followers, now); err != nil {
		return false, fmt.Errorf("customer: %w", err)
	}
	if err := route(ctx, tx, a.WorkspaceID, convID, m.Text); err != nil {
		return false, fmt.Errorf("route: %w", err)
	}
	return true, nil
}

// threadOf names the remote thread a message belongs to: the network's own
// root when it says, else the thread of the message it answers when Roost
// has it, else the post it answers, else the message itself (a fresh
// mention starts a thread).
func threadOf(ctx context.Context, q store.Querier, a social.Account, m social.Message) (string, error) {
	if m.Thread != "" {
		return m.Thread, nil
	}
	if m.ReplyTo == "" {
		return m.RemoteID, nil
	}
	var thread string
	err := q.QueryRowContext(ctx, `SELECT c.thread FROM messages m JOIN conversations c ON c.id = m.conversation_id
		WHERE m.account_id = $1 AND m.remote_id = $2`, a.ID, m.ReplyTo).Scan(&thread)
	if errors.Is(err, sql.ErrNoRows) {
		return m.ReplyTo, nil
	}
	return thread, err
}

// conversation finds or opens the person's conversation in the thread. A
// new message reopens a closed one, and makes the conversation direct or
// not as the message was: the reply goes back the way it came.
func conversation(ctx context.Context, tx *sql.Tx, a social.Account, who social.Identity, thread string, direct bool, at, now time.Time) (string, error) {
	var convID string
	err := tx.QueryRowContext(ctx, `SELECT id FROM conversations WHERE account_id = $1 AND network = $2 AND person_id = $3 AND thread = $4`,
		a.ID, who.Network, who.AccountID, thread).Scan(&convID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		convID = id.New("cnv")
		_, err = tx.ExecContext(ctx, `INSERT INTO conversations (id, workspace_id, account_id, network, person_id, person_handle, thread, status,
			direct, last_message_at, last_in_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10, $10, $10)`,
			convID, a.WorkspaceID, a.ID, who.Network, who.AccountID, who.Handle, thread, direct, at.UnixMicro(), now.UnixMicro())
	case err == nil:
		_, err = tx.ExecContext(ctx, `UPDATE conversations SET status = 'open', person_handle = $1, direct = $2, last_in_at = $3,
			last_message_at = CASE WHEN last_message_at > $4 THEN last_message_at ELSE $4 END, updated_at = $3 WHERE id = $5`,
			who.Handle, direct, now.UnixMicro(), at.UnixMicro(), convID)
	}
	if err != nil {
		return "", fmt.Errorf("conversation: %w", err)
	}
	return convID, nil
}

package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// Hook is a store's webhook into a workspace: the secret the store signs
// with (sealed at rest, never shown again) and the unguessable token in
// its address, which names the workspace.
type Hook struct {
	Source    string    `json:"source"`
	Token     string    `json:"-"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Path is where the store sends its webhooks.
func (h Hook) Path() string { return "/hooks/" + h.Source + "/" + h.Token }

// HookSources are the stores that send webhooks.
var HookSources = []string{Shopify, Stripe, WooCommerce}

func hookContext(wsID, source string) string { return "hook:" + wsID + ":" + source }

// SetHook stores a store's signing secret, keeping the webhook's address
// when it exists.
func (s *Store) SetHook(ctx context.Context, wsID, source, secret string) (Hook, error) {
	var e valid.Errors
	known := false
	for _, src := range HookSources {
		known = known || src == source
	}
	if !known {
		e.Add("source", "must be shopify, stripe or woocommerce")
	}
	secret = strings.TrimSpace(secret)
	if len(secret) < 8 || len(secret) > 500 {
		e.Add("secret", "paste the signing secret the store shows (at least 8 characters)")
	}
	if err := e.Err(); err != nil {
		return Hook{}, err
	}
	now := time.Now()
	h := Hook{Source: source, Token: id.Token(20), UpdatedAt: now}
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO store_hooks (workspace_id, source, token, secret, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
		ON CONFLICT (workspace_id, source) DO UPDATE SET secret = excluded.secret, updated_at = excluded.updated_at`,
		wsID, source, h.Token, s.keys.Seal(secret, hookContext(wsID, source)), now.UnixMicro())
	if err != nil {
		return Hook{}, fmt.Errorf("orders: set hook: %w", err)
	}
	err = s.db.W.QueryRowContext(ctx, `SELECT token FROM store_hooks WHERE workspace_id = $1 AND source = $2`, wsID, source).Scan(&h.Token)
	return h, err
}

// Hooks lists the workspace's configured webhooks.
func (s *Store) Hooks(ctx context.Context, wsID string) ([]Hook, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT source, token, updated_at FROM store_hooks WHERE workspace_id = $1 ORDER BY source`, wsID)
	if err != nil {
		return nil, fmt.Errorf("orders: hooks: %w", err)
	}
	defer rows.Close()
	var out []Hook
	for rows.Next() {
		var h Hook
		if err := rows.Scan(&h.Source, &h.Token, store.T(&h.UpdatedAt)); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// OpenHook finds the webhook a request is addressed to and opens its
// secret.
func (s *Store) OpenHook(ctx context.Context, source, token string) (wsID, secret string, err error) {
	if len(token) > 64 {
		return "", "", store.ErrNotFound
	}
	var sealed string
	err = s.db.R.QueryRowContext(ctx, `SELECT workspace_id, secret FROM store_hooks WHERE source = $1 AND token = $2`, source, token).Scan(&wsID, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", store.ErrNotFound
	}
	if err != nil {
		return "", "", err
	}
	secret, err = s.keys.Open(sealed, hookContext(wsID, source))
	return wsID, secret, err
}

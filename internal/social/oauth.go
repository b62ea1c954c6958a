package social

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/valid"
)

// Flow is a sign-in in progress: an admin connecting a brand account, or
// a shopper proving who they are. The state travels through the network;
// the PKCE verifier stays here, sealed.
type Flow struct {
	Purpose     string // "account" or "person"
	WorkspaceID string
	MemberID    string
	Network     string
	Instance    string
	Verifier    string
	ReturnTo    string
}

// FlowLife is how long a person has to approve Roost on the network.
const FlowLife = 15 * time.Minute

// Challenge is the PKCE S256 challenge of a verifier.
func Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// BeginFlow stores a flow and returns its state and PKCE verifier.
func (s *Store) BeginFlow(ctx context.Context, f Flow) (state, verifier string, err error) {
	state = id.Token(24)
	f.Verifier = id.Token(32)
	_, err = s.db.W.ExecContext(ctx, `INSERT INTO oauth_flows (state, purpose, workspace_id, member_id, network, instance, verifier, return_to, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, secret.Hash(state), f.Purpose, f.WorkspaceID, f.MemberID, f.Network, f.Instance,
		s.keys.Seal(f.Verifier, "flow:"+secret.Hash(state)), f.ReturnTo, time.Now().Add(FlowLife).UnixMicro())
	if err != nil {
		return "", "", fmt.Errorf("social: begin sign-in: %w", err)
	}
	return state, f.Verifier, nil
}

// ErrFlow is a callback whose state is unknown, used or expired.
var ErrFlow = errors.New("this sign-in link is unknown, already used or expired: start again")

// TakeFlow returns the flow for a state and deletes it: a state works once.
func (s *Store) TakeFlow(ctx context.Context, state string) (Flow, error) {
	var f Flow
	var sealed string
	var exp int64
	h := secret.Hash(state)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT purpose, workspace_id, member_id, network, instance, verifier, return_to, expires_at FROM oauth_flows WHERE state = $1`, h).
			Scan(&f.Purpose, &f.WorkspaceID, &f.MemberID, &f.Network, &f.Instance, &sealed, &f.ReturnTo, &exp)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM oauth_flows WHERE state = $1 OR expires_at < $2`, h, time.Now().UnixMicro())
		return err
	})
	if errors.Is(err, sql.ErrNoRows) || err == nil && exp < time.Now().UnixMicro() {
		return Flow{}, ErrFlow
	}
	if err != nil {
		return Flow{}, fmt.Errorf("social: finish sign-in: %w", err)
	}
	if f.Verifier, err = s.keys.Open(sealed, "flow:"+h); err != nil {
		return Flow{}, ErrFlow
	}
	return f, nil
}

// App is Roost's registration with a network server.
type App struct{ ClientID, ClientSecret string }

// App returns the app registered with an instance for a callback address.
func (s *Store) App(ctx context.Context, network, instance, redirectURI string) (App, bool, error) {
	var a App
	var sealed string
	err := s.db.R.QueryRowContext(ctx, `SELECT client_id, client_secret FROM network_apps WHERE network = $1 AND instance = $2 AND redirect_uri = $3`,
		network, instance, redirectURI).Scan(&a.ClientID, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return a, false, nil
	}
	if err != nil {
		return a, false, err
	}
	a.ClientSecret, err = s.keys.Open(sealed, "app:"+network+":"+instance)
	return a, err == nil, err
}

// SaveApp keeps an app registration (the first one kept wins).
func (s *Store) SaveApp(ctx context.Context, network, instance, redirectURI string, a App) (App, error) {
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO network_apps (network, instance, redirect_uri, client_id, client_secret, created_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (network, instance, redirect_uri) DO NOTHING`, network, instance, redirectURI, a.ClientID, s.keys.Seal(a.ClientSecret, "app:"+network+":"+instance), time.Now().UnixMicro())
	if err != nil {
		return a, fmt.Errorf("social: save app: %w", err)
	}
	got, _, err := s.App(ctx, network, instance, redirectURI)
	return got, err
}

// InstanceURL checks a server address a person typed ("mastodon.social",
// "https://mastodon.social/") and returns it as https://host. Plain http is
// accepted only for this machine (tests and local servers).
func InstanceURL(e *valid.Errors, field, raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		e.Add(field, "is required, such as mastodon.social")
		return ""
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		e.Add(field, "must be a server address, such as mastodon.social")
		return ""
	}
	host := strings.ToLower(u.Host)
	switch u.Scheme {
	case "https":
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); h != "localhost" && (ip == nil || !ip.IsLoopback()) {
			e.Add(field, "must use https")
			return ""
		}
	default:
		e.Add(field, "must use https")
		return ""
	}
	return u.Scheme + "://" + host
}

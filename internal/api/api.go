// Package api is Roost's REST surface under /api/v1: JSON in and out,
// bearer API keys scoped to one workspace, RFC 9457 problem details for
// errors, Idempotency-Key on every create, cursor pagination, and an
// OpenAPI document that describes all of it.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/roost-hq/roost/internal/auth"
	"github.com/roost-hq/roost/internal/httpx"
	"github.com/roost-hq/roost/internal/inbox"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/posts"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/team"
)

// API serves /api/v1.
type API struct {
	DB      *store.DB
	Team    *team.Store
	Auth    *auth.Store
	Links   *links.Service
	Offers  *offers.Store
	Social  *social.Store
	Hub     *social.Hub
	Posts   *posts.Store
	Orders  *orders.Store
	Inbox   *inbox.Store
	Keys    *secret.Keys
	Log     *slog.Logger
	BaseURL string
}

type keyCtx struct{}

// caller is the API key a request authenticated with.
func caller(ctx context.Context) auth.APIKey {
	k, _ := ctx.Value(keyCtx{}).(auth.APIKey)
	return k
}

// actor is the role API keys act with: they manage the workspace like an
// admin, and cannot create or change owners.
const actor = team.Admin

type handler func(w http.ResponseWriter, r *http.Request) error

// Register adds the API's routes to mux.
func (a *API) Register(mux *httpx.Mux) {
	mux.HandleFunc("GET /api/v1/openapi.json", httpx.Public, serveOpenAPI)
	// Every other path and method under /api/v1/ answers with a problem
	// too: 405 with Allow when the path exists, 404 otherwise.
	mux.Handle("/api/v1/", httpx.Public, a.wrap(func(w http.ResponseWriter, r *http.Request) error {
		if allowed := mux.Allowed(r, "/api/v1/"); len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			return problem(http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here; use "+strings.Join(allowed, " or ")+".")
		}
		return problem(http.StatusNotFound, "not_found", "No such API endpoint; see /api/v1/openapi.json.")
	}, false))

	mux.Handle("GET /api/v1/workspace", httpx.APIKey, a.authed(a.getWorkspace))

	mux.Handle("GET /api/v1/members", httpx.APIKey, a.authed(a.listMembers))
	mux.Handle("POST /api/v1/members", httpx.APIKey, a.authed(a.idempotent(a.createMember)))
	mux.Handle("GET /api/v1/members/{id}", httpx.APIKey, a.authed(a.getMember))
	mux.Handle("PATCH /api/v1/members/{id}", httpx.APIKey, a.authed(a.updateMember))
	mux.Handle("DELETE /api/v1/members/{id}", httpx.APIKey, a.authed(a.deleteMember))

	mux.Handle("GET /api/v1/api-keys", httpx.APIKey, a.authed(a.listKeys))
	mux.Handle("POST /api/v1/api-keys", httpx.APIKey, a.authed(a.idempotent(a.createKey)))
	mux.Handle("GET /api/v1/api-keys/{id}", httpx.APIKey, a.authed(a.getKey))
	mux.Handle("DELETE /api/v1/api-keys/{id}", httpx.APIKey, a.authed(a.revokeKey))

	mux.Handle("GET /api/v1/links", httpx.APIKey, a.authed(a.listLinks))
	mux.Handle("POST /api/v1/links", httpx.APIKey, a.authed(a.idempotent(a.createLink)))
	mux.Handle("GET /api/v1/links/{id}", httpx.APIKey, a.authed(a.getLink))
	mux.Handle("PATCH /api/v1/links/{id}", httpx.APIKey, a.authed(a.updateLink))
	mux.Handle("DELETE /api/v1/links/{id}", httpx.APIKey, a.authed(a.deleteLink))
	mux.Handle("GET /api/v1/links/{id}/stats", httpx.APIKey, a.authed(a.linkStats))
	mux.Handle("GET /api/v1/links/{id}/qr.png", httpx.APIKey, a.authed(a.linkQR))
	mux.Handle("GET /api/v1/links/{id}/qr.svg", httpx.APIKey, a.authed(a.linkQR))
	mux.Handle("GET /api/v1/stats/clicks", httpx.APIKey, a.authed(a.clickStats))
	mux.Handle("GET /api/v1/link-settings", httpx.APIKey, a.authed(a.getLinkSettings))
	mux.Handle("PUT /api/v1/link-settings", httpx.APIKey, a.authed(a.putLinkSettings))

	mux.Handle("GET /api/v1/offers", httpx.APIKey, a.authed(a.listOffers))
	mux.Handle("POST /api/v1/offers", httpx.APIKey, a.authed(a.idempotent(a.createOffer)))
	mux.Handle("GET /api/v1/offers/{id}", httpx.APIKey, a.authed(a.getOffer))
	mux.Handle("PATCH /api/v1/offers/{id}", httpx.APIKey, a.authed(a.updateOffer))
	mux.Handle("GET /api/v1/offers/{id}/codes.csv", httpx.APIKey, a.authed(a.offerCodes))
	mux.Handle("POST /api/v1/offers/{id}/pool", httpx.APIKey, a.authed(a.importPool))
	mux.Handle("GET /api/v1/claims", httpx.APIKey, a.authed(a.listClaims))
	mux.Handle("POST /api/v1/claims/redeem", httpx.APIKey, a.authed(a.redeem(false)))
	mux.Handle("POST /api/v1/claims/release", httpx.APIKey, a.authed(a.redeem(true)))

	mux.Handle("GET /api/v1/accounts", httpx.APIKey, a.authed(a.listAccounts))
	mux.Handle("POST /api/v1/accounts", httpx.APIKey, a.authed(a.idempotent(a.connectAccount)))
	mux.Handle("GET /api/v1/accounts/{id}", httpx.APIKey, a.authed(a.getAccount))
	mux.Handle("DELETE /api/v1/accounts/{id}", httpx.APIKey, a.authed(a.disconnectAccount))
	mux.Handle("POST /api/v1/accounts/{id}/check", httpx.APIKey, a.authed(a.checkAccount))
	mux.Handle("GET /api/v1/accounts/{id}/followers", httpx.APIKey, a.authed(a.accountFollowers))
	mux.Handle("GET /api/v1/posts", httpx.APIKey, a.authed(a.listPosts))
	mux.Handle("POST /api/v1/posts", httpx.APIKey, a.authed(a.idempotent(a.createPost)))
	mux.Handle("GET /api/v1/posts/{id}", httpx.APIKey, a.authed(a.getPost))
	mux.Handle("POST /api/v1/posts/{id}/cancel", httpx.APIKey, a.authed(a.cancelPost))
	mux.Handle("POST /api/v1/posts/{id}/copies/{copy}/retry", httpx.APIKey, a.authed(a.retryCopy))

	mux.Handle("GET /api/v1/orders", httpx.APIKey, a.authed(a.listOrders))
	mux.Handle("POST /api/v1/orders", httpx.APIKey, a.authed(a.idempotent(a.createOrder)))
	mux.Handle("GET /api/v1/orders/{id}", httpx.APIKey, a.authed(a.getOrder))
	mux.Handle("POST /api/v1/orders/{id}/cancel", httpx.APIKey, a.authed(a.cancelOrder))
	mux.Handle("POST /api/v1/refunds", httpx.APIKey, a.authed(a.idempotent(a.createRefund)))
	mux.Handle("GET /api/v1/order-settings", httpx.APIKey, a.authed(a.getOrderSettings))
	mux.Handle("PUT /api/v1/order-settings", httpx.APIKey, a.authed(a.putOrderSettings))
	mux.Handle("GET /api/v1/reports/revenue", httpx.APIKey, a.authed(a.revenueReport))
	mux.Handle("GET /api/v1/reports/funnel", httpx.APIKey, a.authed(a.funnelReport))

	mux.Handle("GET /api/v1/conversations", httpx.APIKey, a.authed(a.listConversations))
	mux.Handle("GET /api/v1/conversations/{id}", httpx.APIKey, a.authed(a.getConversation))
	mux.Handle("PATCH /api/v1/conversations/{id}", httpx.APIKey, a.authed(a.updateConversation))
	mux.Handle("POST /api/v1/conversations/{id}/replies", httpx.APIKey, a.authed(a.idempotent(a.replyConversation)))
	mux.Handle("GET /api/v1/inbox-settings", httpx.APIKey, a.authed(a.getInboxSettings))
	mux.Handle("PUT /api/v1/inbox-settings", httpx.APIKey, a.authed(a.putInboxSettings))
	mux.Handle("GET /api/v1/customers", httpx.APIKey, a.authed(a.listCustomers))
	mux.Handle("GET /api/v1/customers/{id}", httpx.APIKey, a.authed(a.getCustomer))

	// Stores' webhooks: public, authenticated by their signatures.
	mux.Handle("POST /hooks/{source}/{token}", httpx.Public, a.wrap(a.storeHook, false))
}

func (a *API) authed(h handler) http.Handler { return a.wrap(h, true) }

// wrap turns a handler into an http.Handler that authenticates the caller
// (when needed) and writes returned errors as problems.
func (a *API) wrap(h handler, needKey bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if needKey {
			k, err := a.authenticate(r)
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="roost"`)
				writeError(w, r, a.Log, err)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), keyCtx{}, k))
		}
		if err := h(w, r); err != nil {
			writeError(w, r, a.Log, err)
		}
	})
}

func (a *API) authenticate(r *http.Request) (auth.APIKey, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if h == "" {
		return auth.APIKey{}, problem(http.StatusUnauthorized, "unauthorized", "Send an API key as Authorization: Bearer roost_….")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return auth.APIKey{}, problem(http.StatusUnauthorized, "unauthorized", "The Authorization header must use the Bearer scheme.")
	}
	k, err := a.Auth.AuthenticateKey(r.Context(), strings.TrimSpace(tok))
	if err == store.ErrNotFound {
		return auth.APIKey{}, problem(http.StatusUnauthorized, "unauthorized", "The API key is unknown or revoked.")
	}
	return k, err
}

// Page is the shape of every list response.
type Page[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
}

const defaultLimit, maxLimit = 50, 200

// pageParams reads ?limit= and ?cursor=. Cursors are opaque to clients;
// today they are the last ID of the previous page.
func pageParams(r *http.Request) (limit int, cursor string, err error) {
	limit = defaultLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return 0, "", problem(http.StatusBadRequest, "invalid_parameter", "limit must be a number from 1 to 200.")
		}
		limit = n
	}
	cursor = r.URL.Query().Get("cursor")
	if len(cursor) > 100 {
		return 0, "", problem(http.StatusBadRequest, "invalid_parameter", "cursor is not valid.")
	}
	return limit, cursor, nil
}

// page trims a result fetched with limit+1 rows and sets the next cursor.
func page[T any](items []T, limit int, idOf func(T) string) Page[T] {
	p := Page[T]{Data: items}
	if p.Data == nil {
		p.Data = []T{}
	}
	if len(items) > limit {
		p.Data = items[:limit]
		p.NextCursor = idOf(items[limit-1])
	}
	return p
}

func (a *API) getWorkspace(w http.ResponseWriter, r *http.Request) error {
	ws, err := a.Team.Workspace(r.Context(), caller(r.Context()).WorkspaceID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ws)
	return nil
}

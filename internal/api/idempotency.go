package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/roost-hq/roost/internal/httpx"
	"github.com/roost-hq/roost/internal/store"
)

// Idempotency-Key handling, after the IETF draft and Stripe's practice: the
// first request with a key runs and its response is kept for IdempotencyTTL;
// a retry with the same key and the same request gets that response again;
// the same key with a different request is refused. Kept responses are
// encrypted, since some carry secrets shown once (a new API key).
const (
	IdempotencyTTL = 24 * time.Hour
	// abandonAfter is how long an unfinished request holds its key before a
	// retry may take it over: far longer than any request may run, so only a
	// process that died mid-request loses its claim.
	abandonAfter = 10 * time.Minute
)

type createHandler func(w http.ResponseWriter, r *http.Request, body []byte) error

type keptResponse struct {
	Location string          `json:"location,omitempty"`
	Body     json.RawMessage `json:"body"`
}

// idempotent reads the body and runs h at most once per Idempotency-Key.
func (a *API) idempotent(h createHandler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := readBody(w, r)
		if err != nil {
			return err
		}
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			return h(w, r, body)
		}
		if len(key) > 255 || !printable(key) {
			return problem(http.StatusBadRequest, "invalid_idempotency_key", "Idempotency-Key must be 1 to 255 printable ASCII characters.")
		}
		k := caller(r.Context())
		ws := k.WorkspaceID
		// The API key is part of the request: another key of the workspace
		// reusing the same Idempotency-Key is refused, never shown this
		// response (which may hold a secret, such as a new API key).
		sum := sha256.Sum256(fmt.Appendf(nil, "%s\n%s %s\n%s", k.ID, r.Method, r.URL.Path, body))
		reqHash := hex.EncodeToString(sum[:])
		owned, err := a.claimKey(r.Context(), ws, key, reqHash)
		if err != nil {
			return err
		}
		if !owned {
			return a.replay(w, r, ws, key, reqHash)
		}
		rec := &httpx.Recorder{ResponseWriter: w, Body: &bytes.Buffer{}}
		if err := h(rec, r, body); err != nil {
			writeError(rec, r, a.Log, err)
		}
		// Server errors free the key so a retry runs again; anything else
		// (success or the client's own mistake) is kept. If the process dies
		// between the create and this write, the key is freed after
		// abandonAfter and a retry runs again.
		ctx := context.WithoutCancel(r.Context())
		if rec.Status >= 500 || rec.Status == 0 {
			_, err = a.DB.W.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE workspace_id = $1 AND key = $2`, ws, key)
		} else {
			kept, _ := json.Marshal(keptResponse{Location: rec.Header().Get("Location"), Body: bytes.TrimSpace(rec.Body.Bytes())})
			_, err = a.DB.W.ExecContext(ctx, `UPDATE idempotency_keys SET status = $1, response = $2 WHERE workspace_id = $3 AND key = $4`,
				rec.Status, a.Keys.Seal(string(kept), "idempotency:"+ws+":"+key), ws, key)
		}
		if err != nil {
			a.Log.Error("api: cannot record idempotent response", "err", err)
		}
		return nil
	}
}

// claimKey inserts the key as in progress, or takes over an abandoned one,
// and reports whether this request now owns it.
func (a *API) claimKey(ctx context.Context, ws, key, reqHash string) (bool, error) {
	now := time.Now()
	res, err := a.DB.W.ExecContext(ctx, `INSERT INTO idempotency_keys (workspace_id, key, request_hash, status, created_at) VALUES ($1, $2, $3, 0, $4)
		ON CONFLICT (workspace_id, key) DO NOTHING`, ws, key, reqHash, now.UnixMicro())
	if err != nil {
		return false, fmt.Errorf("api: claim idempotency key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, nil
	}
	res, err = a.DB.W.ExecContext(ctx, `UPDATE idempotency_keys SET created_at = $1 WHERE workspace_id = $2 AND key = $3
		AND request_hash = $4 AND status = 0 AND created_at < $5`, now.UnixMicro(), ws, key, reqHash, now.Add(-abandonAfter).UnixMicro())
	if err != nil {
		return false, fmt.Errorf("api: take over idempotency key: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

func (a *API) replay(w http.ResponseWriter, r *http.Request, ws, key, reqHash string) error {
	var storedHash, sealed string
	var status int
	err := a.DB.W.QueryRowContext(r.Context(), `SELECT request_hash, status, response FROM idempotency_keys WHERE workspace_id = $1 AND key = $2`,
		ws, key).Scan(&storedHash, &status, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return problem(http.StatusConflict, "idempotency_in_progress", "A request with this Idempotency-Key just failed; retry it.")
	}
	if err != nil {
		return fmt.Errorf("api: read idempotency key: %w", err)
	}
	if storedHash != reqHash {
		return problem(http.StatusUnprocessableEntity, "idempotency_key_reused", "This Idempotency-Key was used for a different request; use a new key for a new request.")
	}
	if status == 0 {
		w.Header().Set("Retry-After", "1")
		return problem(http.StatusConflict, "idempotency_in_progress", "A request with this Idempotency-Key is still being processed; retry shortly.")
	}
	plain, err := a.Keys.Open(sealed, "idempotency:"+ws+":"+key)
	if err != nil {
		return fmt.Errorf("api: open kept response: %w", err)
	}
	var kept keptResponse
	if err := json.Unmarshal([]byte(plain), &kept); err != nil {
		return fmt.Errorf("api: decode kept response: %w", err)
	}
	if kept.Location != "" {
		w.Header().Set("Location", kept.Location)
	}
	w.Header().Set("Idempotent-Replayed", "true")
	ct := "application/json"
	if status >= 400 {
		ct = "application/problem+json"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(kept.Body, '\n'))
	return nil
}

// ExpireIdempotencyKeys forgets kept responses older than IdempotencyTTL.
func ExpireIdempotencyKeys(ctx context.Context, db *store.DB, now time.Time) error {
	_, err := db.W.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, now.Add(-IdempotencyTTL).UnixMicro())
	return err
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return s != ""
}

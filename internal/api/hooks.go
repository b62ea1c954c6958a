package api

import (
	"errors"
	"io"
	"net/http"

	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/orders/webhooks"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// maxHookBody bounds a webhook's body: store orders are a few KB; a large
// order with hundreds of lines stays well under this.
const maxHookBody = 1 << 20

// storeHook receives a store's webhook at /hooks/{source}/{token}: the
// token names the workspace, the signature over the raw body proves the
// store sent it. The event is committed before the 2xx; processing
// follows (here, and by the background processor if this one fails).
func (a *API) storeHook(w http.ResponseWriter, r *http.Request) error {
	source := r.PathValue("source")
	wsID, secret, err := a.Orders.OpenHook(r.Context(), source, r.PathValue("token"))
	if errors.Is(err, store.ErrNotFound) {
		return problem(http.StatusNotFound, "unknown_hook", "No webhook at this address: copy it again from Roost's Settings → Store.")
	}
	if err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHookBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return problem(http.StatusRequestEntityTooLarge, "body_too_large", "The body is larger than 1 MB.")
	}
	if err != nil {
		return problem(http.StatusBadRequest, "unreadable_body", "The body could not be read: "+err.Error())
	}
	if source == orders.WooCommerce && webhooks.IsWooPing(body) {
		writeJSON(w, http.StatusOK, map[string]any{"received": false, "reason": "ping"})
		return nil
	}
	if err := webhooks.CheckContentType(r.Header); err != nil {
		return hookProblem(err)
	}
	var ev orders.Event
	h := r.Header
	switch source {
	case orders.Shopify:
		if !webhooks.VerifyShopify([]byte(secret), body, h.Get(webhooks.ShopifyHMACHeader)) {
			return problem(http.StatusUnauthorized, "bad_signature", "The "+webhooks.ShopifyHMACHeader+" signature does not match the body and the secret saved in Roost.")
		}
		ev, err = webhooks.ParseShopify(h.Get(webhooks.ShopifyTopicHeader), webhooks.ShopifyDeliveryID(h), body)
	case orders.Stripe:
		ev, err = webhooks.ParseStripe(body, h.Get(webhooks.StripeSignatureHeader), secret, webhooks.StripeTolerance)
	case orders.WooCommerce:
		if !webhooks.VerifyWoo([]byte(secret), body, h.Get(webhooks.WooSignatureHeader)) {
			return problem(http.StatusUnauthorized, "bad_signature", "The "+webhooks.WooSignatureHeader+" signature does not match the body and the secret saved in Roost.")
		}
		ev, err = webhooks.ParseWoo(h.Get(webhooks.WooTopicHeader), h.Get(webhooks.WooDeliveryIDHeader), body)
	}
	if errors.Is(err, webhooks.ErrIgnored) {
		writeJSON(w, http.StatusOK, map[string]any{"received": false, "reason": err.Error()})
		return nil
	}
	if err != nil {
		return hookProblem(err)
	}
	ev.Source = source
	rc, err := a.Orders.Receive(r.Context(), wsID, ev)
	if ve, ok := valid.As(err); ok {
		return problem(http.StatusUnprocessableEntity, "invalid_event", "The event cannot be used: "+ve.Error())
	}
	if err != nil {
		return err
	}
	if _, err := a.Orders.Process(r.Context(), rc.EventID); err != nil {
		a.Log.Warn("api: webhook event kept for later processing", "event", rc.EventID, "err", err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"received": true, "duplicate": rc.Duplicate, "event_id": rc.EventID})
	return nil
}

func hookProblem(err error) error {
	var we *webhooks.Error
	if errors.As(err, &we) {
		code := map[int]string{400: "bad_event", 401: "bad_signature", 415: "unsupported_media_type", 422: "invalid_event"}[we.Status]
		if code == "" {
			code = "bad_event"
		}
		return problem(we.Status, code, we.Reason)
	}
	return err
}

package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/bluesky"
	"github.com/roost-hq/roost/internal/social/mastodon"
	"github.com/roost-hq/roost/internal/social/netclient"
	"github.com/roost-hq/roost/internal/social/x"
	"github.com/roost-hq/roost/internal/team"
	"github.com/roost-hq/roost/internal/valid"
)

// Shoppers sign in with their network on a followers offer's page, so
// Roost learns who they are (and can ask whether they follow): Mastodon
// on the person's own server, found from their handle, with the smallest
// scope that proves identity; X with the brand's X app; Bluesky with AT
// Protocol OAuth (PAR, PKCE and DPoP), scope "atproto", which proves the
// person's DID. The token is used once and given back.

// personMastodon is the Mastodon client for servers named by shoppers:
// it reaches public addresses only, unless the server was configured
// otherwise (tests, with fakes on loopback).
func (s *Web) personMastodon() *mastodon.Connector {
	c := s.PersonHTTP
	if c == nil {
		c = netclient.PublicOnly(15 * time.Second)
	}
	return &mastodon.Connector{HTTP: c}
}

func (s *Web) personCallbackURL(network string) string {
	return s.BaseURL + "/signin/" + network + "/callback"
}

// personMastodonApp finds or registers Roost's sign-in app on a person's
// server. The scope is part of the app's key: a server that gains the
// "profile" scope keeps working with the app it has.
func (s *Web) personMastodonApp(ctx context.Context, instance string) (social.App, string, error) {
	cb := s.personCallbackURL(social.Mastodon)
	for _, scope := range []string{mastodon.ProfileScope, mastodon.ReadAccountScope} {
		app, ok, err := s.Social.App(ctx, "mastodon-person:"+scope, instance, cb)
		if err != nil || ok {
			return app, scope, err
		}
	}
	m := s.personMastodon()
	scope := m.PersonScope(ctx, instance)
	app, err := m.RegisterApp(ctx, instance, cb, s.BaseURL, scope)
	if err != nil {
		return app, scope, err
	}
	app, err = s.Social.SaveApp(ctx, "mastodon-person:"+scope, instance, cb, app)
	return app, scope, err
}

func (s *Web) signInMastodon(w http.ResponseWriter, r *http.Request, o offers.Offer, ws team.Workspace) {
	handle := strings.TrimPrefix(strings.TrimSpace(r.PostFormValue("mastodon_handle")), "@")
	_, server, ok := strings.Cut(handle, "@")
	var e valid.Errors
	instance := ""
	if ok && server != "" {
		instance = social.InstanceURL(&e, "mastodon_handle", server)
	}
	if !ok || server == "" || e.Err() != nil {
		s.renderClaim(w, r, http.StatusUnprocessableEntity, o, ws, "Type your full Mastodon handle, with your server: @you@mastodon.social.")
		return
	}
	app, scope, err := s.personMastodonApp(r.Context(), instance)
	if err != nil {
		var ne *social.Error
		if errors.As(err, &ne) {
			s.renderClaim(w, r, http.StatusBadGateway, o, ws, "Your server "+server+" did not answer as Mastodon does: "+ne.Reason+". Try the post option below.")
			return
		}
		s.fail(w, r, err)
		return
	}
	state, verifier, err := s.Social.BeginFlow(r.Context(), social.Flow{Purpose: "person", WorkspaceID: o.WorkspaceID, Network: social.Mastodon,
		Instance: instance, ReturnTo: "/o/" + o.Slug})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, mastodon.AuthorizeURL(instance, app, s.personCallbackURL(social.Mastodon), scope, state, verifier), http.StatusSeeOther)
}

// blueskyAuth signs shoppers in with Bluesky: its client is Roost's own
// address (the metadata served at bluesky.ClientMetadataPath).
func (s *Web) blueskyAuth() *bluesky.PersonAuth {
	return &bluesky.PersonAuth{HTTP: s.PersonHTTP, ClientID: bluesky.ClientID(s.BaseURL), RedirectURI: bluesky.RedirectURI(s.BaseURL),
		Resolver: s.BlueskyResolver, PLC: s.BlueskyPLC, Log: s.Log}
}

// blueskyFlowCookie holds a Bluesky sign-in's session (its DPoP key,
// sealed) between the redirect and the callback; its name carries part
// of the state, so two sign-ins in two tabs do not collide.
func blueskyFlowCookie(state string) string { return "roost_bsky_" + secret.Hash(state)[:12] }

func (s *Web) signInBluesky(w http.ResponseWriter, r *http.Request, o offers.Offer, ws team.Workspace) {
	handle := strings.TrimPrefix(strings.TrimSpace(r.PostFormValue("bluesky_handle")), "@")
	if handle == "" || len(handle) > 253 {
		s.renderClaim(w, r, http.StatusUnprocessableEntity, o, ws, "Type your Bluesky handle, such as you.bsky.social.")
		return
	}
	state, verifier, err := s.Social.BeginFlow(r.Context(), social.Flow{Purpose: "person", WorkspaceID: o.WorkspaceID, Network: social.Bluesky, ReturnTo: "/o/" + o.Slug})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	to, session, err := s.blueskyAuth().Begin(r.Context(), handle, state, verifier)
	if err != nil {
		var ne *social.Error
		if errors.As(err, &ne) {
			s.renderClaim(w, r, http.StatusBadGateway, o, ws, "Bluesky sign-in did not start: "+ne.Reason+". You can also prove it with a post below.")
			return
		}
		s.fail(w, r, err)
		return
	}
	s.setCookie(w, blueskyFlowCookie(state), s.Keys.Seal(string(session), "bluesky-flow:"+state), social.FlowLife)
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// blueskyClientMetadata is the document Bluesky reads to know Roost as an
// OAuth client.
func (s *Web) blueskyClientMetadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=600")
	w.Write(bluesky.ClientMetadata(s.BaseURL))
}

func (s *Web) blueskyPerson(w http.ResponseWriter, r *http.Request, state string) (social.Identity, error) {
	name := blueskyFlowCookie(state)
	c, err := r.Cookie(name)
	if err != nil {
		return social.Identity{}, &social.Error{Network: social.Bluesky, Kind: social.Rejected, Reason: "this browser did not start the sign-in (or took too long)"}
	}
	s.setCookie(w, name, "", -1)
	plain, err := s.Keys.Open(c.Value, "bluesky-flow:"+state)
	if err != nil {
		return social.Identity{}, &social.Error{Network: social.Bluesky, Kind: social.Rejected, Reason: "the sign-in could not be read back"}
	}
	q := r.URL.Query()
	return s.blueskyAuth().Finish(r.Context(), []byte(plain), q.Get("code"), q.Get("iss"))
}

func (s *Web) signInX(w http.ResponseWriter, r *http.Request, o offers.Offer, ws team.Workspace) {
	c := s.x()
	if c == nil {
		s.renderClaim(w, r, http.StatusServiceUnavailable, o, ws, "Signing in with X is not set up here. Use the post option below.")
		return
	}
	state, verifier, err := s.Social.BeginFlow(r.Context(), social.Flow{Purpose: "person", WorkspaceID: o.WorkspaceID, Network: social.X, ReturnTo: "/o/" + o.Slug})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, c.AuthorizeURL(s.personCallbackURL(social.X), state, verifier, x.PersonScopes), http.StatusSeeOther)
}

// personCallback finishes a shopper's sign-in and sends them back to the
// offer, signed in (or with the reason they are not).
func (s *Web) personCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	network := r.PathValue("network")
	f, err := s.Social.TakeFlow(r.Context(), q.Get("state"))
	if err != nil || f.Purpose != "person" || f.Network != network || !strings.HasPrefix(f.ReturnTo, "/o/") {
		s.message(w, r, http.StatusBadRequest, "Sign-in expired", "This sign-in was already used or took too long. Go back to the offer and sign in again.")
		return
	}
	back := f.ReturnTo
	if q.Get("error") != "" || q.Get("code") == "" {
		s.setFlash(w, "error", "You did not sign in: "+firstNonEmpty(q.Get("error_description"), q.Get("error"), "no code came back")+".")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	var who social.Identity
	var follows []string
	switch network {
	case social.Mastodon:
		who, err = s.mastodonPerson(r.Context(), f, q.Get("code"))
	case social.X:
		who, follows, err = s.xPerson(r.Context(), f, q.Get("code"))
	case social.Bluesky:
		who, err = s.blueskyPerson(w, r, q.Get("state"))
	default:
		err = errors.New("no sign-in for " + network)
	}
	if err != nil {
		var ne *social.Error
		if !errors.As(err, &ne) {
			s.fail(w, r, err)
			return
		}
		s.setFlash(w, "error", "Signing in failed: "+ne.Reason+".")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	s.signIn(w, r, who, follows...)
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func (s *Web) mastodonPerson(ctx context.Context, f social.Flow, code string) (social.Identity, error) {
	app, scope, err := s.personMastodonApp(ctx, f.Instance)
	if err != nil {
		return social.Identity{}, err
	}
	m := s.personMastodon()
	creds, err := m.Exchange(ctx, f.Instance, app, s.personCallbackURL(social.Mastodon), scope, code, f.Verifier)
	if err != nil {
		return social.Identity{}, err
	}
	token := mastodon.Token(creds)
	who, err := m.Me(ctx, f.Instance, token)
	if rerr := m.Revoke(context.WithoutCancel(ctx), f.Instance, app, token); rerr != nil {
		s.Log.Info("web: a shopper's Mastodon token was not revoked", "instance", f.Instance, "err", rerr)
	}
	return who, err
}

// xPerson learns who signed in with X and, with their own token, which of
// the offer's X accounts they follow (connection_status): one read per
// account, where listing an account's followers would be billed per
// follower.
func (s *Web) xPerson(ctx context.Context, f social.Flow, code string) (social.Identity, []string, error) {
	c := s.x()
	if c == nil {
		return social.Identity{}, nil, &social.Error{Network: social.X, Kind: social.Unavailable, Reason: "X sign-in is not set up"}
	}
	tok, err := c.ExchangeToken(ctx, s.personCallbackURL(social.X), code, f.Verifier)
	if err != nil {
		return social.Identity{}, nil, err
	}
	defer c.Revoke(context.WithoutCancel(ctx), tok.AccessToken)
	who, err := c.Me(ctx, tok.AccessToken)
	if err != nil {
		return who, nil, err
	}
	var follows []string
	if o, err := s.Offers.BySlug(ctx, strings.TrimPrefix(f.ReturnTo, "/o/")); err == nil {
		for _, aid := range o.Accounts {
			a, err := s.Social.Account(ctx, o.WorkspaceID, aid)
			if err != nil || a.Network != social.X || a.Disconnected {
				continue
			}
			if ok, err := c.PersonFollows(ctx, tok.AccessToken, a.RemoteID); err == nil && ok {
				follows = append(follows, a.ID)
			}
		}
	}
	return who, follows, nil
}

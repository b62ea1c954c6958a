package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/mastodon"
	"github.com/roost-hq/roost/internal/social/netclient"
	"github.com/roost-hq/roost/internal/social/x"
	"github.com/roost-hq/roost/internal/team"
	"github.com/roost-hq/roost/internal/valid"
)

// Shoppers sign in with their network on a followers offer's page, so
// Roost learns who they are (and can ask whether they follow): Mastodon
// on the person's own server, found from their handle, with the smallest
// scope that proves identity; X with the brand's X app. The token is used
// once and given back. Bluesky has no sign-in here: its OAuth needs
// DPoP-bound tokens Roost does not implement yet, and the claim token
// (a post with a one-time code) serves Bluesky people instead.

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

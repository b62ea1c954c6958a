package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/httpx"
	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/money"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/team"
)

// The public claim page, /o/{slug}: what a shopper on a phone sees. It
// knows people three ways: a first-party visitor cookie (public and link
// audiences), the click ID they arrived with (kept in a cookie), and, for
// followers, who they signed in as on a network (a sealed cookie).
const (
	visitorCookie = "roost_visitor"
	clickCookie   = "roost_cid"
	personCookie  = "roost_person"
	cookieLife    = 30 * 24 * time.Hour
)

type productLine struct{ Name, Regular, Deal string }

type claimData struct {
	Offer        offers.Offer
	Brand        string
	Products     []productLine
	TimeLeft     string
	TimeLabel    string
	Claims       []offers.Claim
	ShopURL      string
	CanClaim     bool
	Refusal      string
	Person       *social.Identity
	AccountsText string
	Nonce        string // one per page: a claim form sent twice claims once
	// Networks of the offer's accounts, for the sign-in buttons; XReady
	// when the brand's X app is configured.
	Networks map[string]bool
	XReady   bool
	// The claim token (mention fallback) the browser holds, if any, and
	// what to post with it.
	Token       *offers.Token
	TokenText   string
	TokenLinks  []tokenLink
	TokenExpiry string
}

// tokenLink opens a network's composer with the token's mention filled in.
type tokenLink struct{ Network, URL string }

func (s *Web) claimOffer(r *http.Request) (offers.Offer, team.Workspace, error) {
	o, err := s.Offers.BySlug(r.Context(), r.PathValue("slug"))
	if err != nil {
		return o, team.Workspace{}, err
	}
	if !o.Published {
		return o, team.Workspace{}, store.ErrNotFound // a draft has no public page
	}
	w, err := s.Team.Workspace(r.Context(), o.WorkspaceID)
	return o, w, err
}

// visitor returns the browser's visitor ID, setting the cookie if needed.
func (s *Web) visitor(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(visitorCookie); err == nil && len(c.Value) == 32 {
		return c.Value
	}
	v := id.Token(20)
	s.setCookie(w, visitorCookie, v, cookieLife)
	r.AddCookie(&http.Cookie{Name: visitorCookie, Value: v})
	return v
}

// person returns who the browser signed in as on a network, if anyone.
func (s *Web) person(r *http.Request) *social.Identity {
	p, _ := s.signedIn(r)
	return p
}

// signedIn reads the sealed person cookie: who the browser proved to be,
// and the brand accounts their own token said they follow when they signed
// in (X checks it that way).
func (s *Web) signedIn(r *http.Request) (*social.Identity, []string) {
	c, err := r.Cookie(personCookie)
	if err != nil {
		return nil, nil
	}
	plain, err := s.Keys.Open(c.Value, "person")
	if err != nil {
		return nil, nil
	}
	parts := strings.SplitN(plain, "\n", 4)
	if len(parts) < 3 {
		return nil, nil
	}
	var follows []string
	if len(parts) == 4 {
		follows = strings.Fields(parts[3])
	}
	return &social.Identity{Network: parts[0], AccountID: parts[1], Handle: parts[2]}, follows
}

// identity is who claims: the signed-in network person for followers
// offers, the browser for the others.
func (s *Web) identity(w http.ResponseWriter, r *http.Request, o offers.Offer) *social.Identity {
	if o.Audience == offers.Followers {
		return s.person(r)
	}
	return &social.Identity{Network: "web", AccountID: s.visitor(w, r)}
}

func (s *Web) claimPage(w http.ResponseWriter, r *http.Request) {
	o, ws, err := s.claimOffer(r)
	if err != nil {
		s.offerMissing(w, r, err)
		return
	}
	// Arriving from a tracked link: keep the click for the claim and the
	// store. The link added it under the workspace's click parameter.
	st, err := s.Links.Settings(r.Context(), o.WorkspaceID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if cid := r.URL.Query().Get(st.ClickParam); cid != "" && len(cid) <= 40 {
		s.setCookie(w, clickCookie, cid, cookieLife)
		r.AddCookie(&http.Cookie{Name: clickCookie, Value: cid})
	}
	if err := s.signInByToken(w, r, o); err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderClaim(w, r, http.StatusOK, o, ws, "")
}

// signInByToken signs the browser in as the author of the mention that
// carried its claim token, once the claim is made.
func (s *Web) signInByToken(w http.ResponseWriter, r *http.Request, o offers.Offer) error {
	if o.Audience != offers.Followers || s.person(r) != nil {
		return nil
	}
	c, err := r.Cookie(visitorCookie)
	if err != nil {
		return nil
	}
	t, err := s.Offers.TokenFor(r.Context(), o.ID, c.Value)
	if errors.Is(err, store.ErrNotFound) || (err == nil && t.Status != offers.TokenClaimed) {
		return nil
	}
	if err != nil {
		return err
	}
	ok, err := s.Offers.TakeSignIn(r.Context(), t.Token)
	if err != nil || !ok {
		return err
	}
	s.signIn(w, r, t.Person)
	return nil
}

// signIn remembers, in a sealed cookie, who the browser proved to be (and
// which brand accounts they were seen to follow, when known).
func (s *Web) signIn(w http.ResponseWriter, r *http.Request, p social.Identity, follows ...string) {
	v := s.Keys.Seal(p.Network+"\n"+p.AccountID+"\n"+p.Handle+"\n"+strings.Join(follows, " "), "person")
	s.setCookie(w, personCookie, v, cookieLife)
	r.AddCookie(&http.Cookie{Name: personCookie, Value: v})
}

// tokenStatus answers the claim page's script, which waits for the
// token's mention: the status, and whether the page should reload.
func (s *Web) tokenStatus(w http.ResponseWriter, r *http.Request) {
	o, _, err := s.claimOffer(r)
	if err != nil {
		s.offerMissing(w, r, err)
		return
	}
	var status offers.TokenStatus
	if c, err := r.Cookie(visitorCookie); err == nil {
		if t, err := s.Offers.TokenFor(r.Context(), o.ID, c.Value); err == nil {
			status = t.Status
			if t.Expired(time.Now()) {
				status = "expired"
			}
		}
	}
	writeJSON(w, map[string]any{"status": status})
}

func (s *Web) offerMissing(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) {
		s.render(w, r, http.StatusNotFound, "message", view{Title: "Offer not found", Layout: "auth", Data: messageData{Code: 404,
			Heading: "Offer not found", Text: "This offer does not exist, or is not open. Check the link in the brand's post.", Link: "/", LinkText: "OK"}})
		return
	}
	s.fail(w, r, err)
}

func (s *Web) renderClaim(w http.ResponseWriter, r *http.Request, status int, o offers.Offer, ws team.Workspace, refusal string) {
	now := time.Now()
	d := claimData{Offer: o, Brand: ws.Name, Refusal: refusal, Person: s.person(r), Nonce: id.Token(10)}
	for _, p := range o.Products {
		d.Products = append(d.Products, productLine{p.Name, money.Display(p.RegularPrice, o.Currency), money.Display(p.DealPrice, o.Currency)})
	}
	switch st := o.State(now); st {
	case offers.Scheduled:
		d.TimeLeft, d.TimeLabel, d.Refusal = until(o.StartsAt.Sub(now)), "until it starts", offers.ErrNotStarted.Message
	case offers.Ended:
		d.TimeLeft, d.TimeLabel, d.Refusal = "Ended", o.EndsAt.UTC().Format("2 Jan 15:04 UTC"), offers.ErrEnded.Message
	default:
		d.TimeLeft, d.TimeLabel = "No end", "while stock lasts"
		if o.EndsAt != nil {
			d.TimeLeft, d.TimeLabel = until(o.EndsAt.Sub(now)), "left"
		}
		d.CanClaim = st == offers.Live
		if st == offers.SoldOut && refusal == "" {
			d.Refusal = offers.ErrSoldOut.Message
		}
	}
	if who := s.identity(w, r, o); who != nil {
		cs, err := s.Offers.ClaimsFor(r.Context(), o.ID, *who)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, c := range cs {
			if c.Status != offers.Expired {
				d.Claims = append(d.Claims, c)
			}
		}
		if len(d.Claims) >= o.PerPerson {
			d.CanClaim = false
		}
	}
	d.ShopURL = o.LandingURL
	if c, err := r.Cookie(clickCookie); err == nil {
		if st, err := s.Links.Settings(r.Context(), o.WorkspaceID); err == nil {
			if tpl, err := links.Prepare(o.LandingURL, links.Tracking{ClickParam: st.ClickParam}); err == nil {
				d.ShopURL = tpl.URL(c.Value)
			}
		}
	}
	var names []string
	var first *social.Account
	for _, aid := range o.Accounts {
		if a, err := s.Social.Account(r.Context(), o.WorkspaceID, aid); err == nil && !a.Disconnected {
			names = append(names, a.Mention())
			if d.Networks == nil {
				d.Networks = map[string]bool{}
			}
			d.Networks[a.Network] = true
			if first == nil {
				first = &a
			}
		}
	}
	if o.Audience == offers.Followers && d.Person == nil && first != nil {
		if c, err := r.Cookie(visitorCookie); err == nil {
			if t, err := s.Offers.TokenFor(r.Context(), o.ID, c.Value); err == nil {
				d.Token = &t
				d.TokenText = first.Mention() + " " + t.Token
				d.TokenLinks = composeLinks(first.Network, d.TokenText)
				d.TokenExpiry = until(time.Until(t.ExpiresAt))
				if t.Expired(now) {
					d.Token.Status = "expired"
				}
			}
		}
	}
	d.XReady = s.x() != nil
	d.AccountsText = strings.Join(names, " or ")
	if d.AccountsText == "" {
		d.AccountsText = ws.Name
	}
	s.render(w, r, status, "claim", view{Title: o.Title + " · " + ws.Name, Layout: "public", Data: d, Form: formValues(r, "handle")})
}

// composeLinks opens the network's composer with text filled in, where the
// network has a public address for it (a Mastodon user's instance is
// theirs alone, so it gets none: they copy the text).
func composeLinks(network, text string) []tokenLink {
	q := url.QueryEscape(text)
	switch network {
	case social.X:
		return []tokenLink{{"X", "https://x.com/intent/post?text=" + q}}
	case social.Bluesky:
		return []tokenLink{{"Bluesky", "https://bsky.app/intent/compose?text=" + q}}
	}
	return nil
}

func until(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	case d >= time.Minute:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return "Moments"
}

func (s *Web) claimPost(w http.ResponseWriter, r *http.Request) {
	o, ws, err := s.claimOffer(r)
	if err != nil {
		s.offerMissing(w, r, err)
		return
	}
	if !s.claimsByIP.Allow(secret.Hash("claim:" + httpx.ClientIP(r))) {
		w.Header().Set("Retry-After", "10")
		s.renderClaim(w, r, http.StatusTooManyRequests, o, ws, "Too many tries from here. Wait a few seconds and try again.")
		return
	}
	back := "/o/" + o.Slug
	switch r.PostFormValue("action") {
	case "signout":
		s.setCookie(w, personCookie, "", -1)
		http.Redirect(w, r, back, http.StatusSeeOther)
	case "token":
		if !s.tokensByIP.Allow(secret.Hash("token:" + httpx.ClientIP(r))) {
			w.Header().Set("Retry-After", "30")
			s.renderClaim(w, r, http.StatusTooManyRequests, o, ws, "Too many tokens asked from here. Wait half a minute and try again.")
			return
		}
		click := ""
		if c, err := r.Cookie(clickCookie); err == nil {
			click = c.Value
		}
		_, err := s.Offers.NewToken(r.Context(), o, s.visitor(w, r), click)
		var ref *offers.Refusal
		if errors.As(err, &ref) {
			s.renderClaim(w, r, http.StatusConflict, o, ws, ref.Message)
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		http.Redirect(w, r, back+"#token", http.StatusSeeOther)
	case "signin-mastodon":
		s.signInMastodon(w, r, o, ws)
	case "signin-x":
		s.signInX(w, r, o, ws)
	case "signin-bluesky":
		s.signInBluesky(w, r, o, ws)
	case "signin":
		p, err := s.Hub.Connector(social.Sandbox).Lookup(r.Context(), nil, r.PostFormValue("handle"))
		if err != nil {
			s.renderClaim(w, r, http.StatusUnprocessableEntity, o, ws, "That is not a handle on this network, such as @you.")
			return
		}
		s.signIn(w, r, p)
		http.Redirect(w, r, back, http.StatusSeeOther)
	case "claim":
		who := s.identity(w, r, o)
		if who == nil {
			s.renderClaim(w, r, http.StatusUnprocessableEntity, o, ws, "Sign in first, so Roost can check that you follow.")
			return
		}
		req := offers.ClaimRequest{Identity: *who}
		if o.PerPerson > 1 {
			req.RequestKey = r.PostFormValue("nonce")
		}
		if c, err := r.Cookie(clickCookie); err == nil {
			req.ClickID = c.Value
		}
		if o.Audience == offers.Followers {
			if req.FollowerOf, err = s.followerOf(r, o, *who); err != nil {
				var ne *social.Error
				if errors.As(err, &ne) {
					// The brand's network could not answer: say so, keep
					// nothing, and let the person try again.
					w.Header().Set("Retry-After", "60")
					s.renderClaim(w, r, http.StatusServiceUnavailable, o, ws, social.Rules(ne.Network).Name+" could not confirm that you follow just now. Try again in a minute, or prove it with a post below.")
					return
				}
				s.fail(w, r, err)
				return
			}
		}
		_, err := s.Offers.Claim(r.Context(), o, req)
		var ref *offers.Refusal
		if errors.As(err, &ref) {
			o, _ = s.Offers.BySlug(r.Context(), o.Slug)
			s.renderClaim(w, r, http.StatusConflict, o, ws, ref.Message)
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		http.Redirect(w, r, back, http.StatusSeeOther)
	default:
		http.Redirect(w, r, back, http.StatusSeeOther)
	}
}

// followerOf returns the first of the offer's accounts the person follows,
// asking each account's network, or "".
func (s *Web) followerOf(r *http.Request, o offers.Offer, who social.Identity) (string, error) {
	_, followed := s.signedIn(r)
	for _, aid := range o.Accounts {
		a, err := s.Social.Account(r.Context(), o.WorkspaceID, aid)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		if a.Network != who.Network || a.Disconnected {
			continue
		}
		if slices.Contains(followed, a.ID) {
			return a.ID, nil
		}
		var ok bool
		err = s.Hub.Call(r.Context(), a, func(ctx context.Context, c social.Connector, conn *social.Conn) error {
			ok, err = c.Follows(ctx, conn, who)
			return err
		})
		if err != nil {
			return "", err
		}
		if ok {
			return a.ID, nil
		}
	}
	return "", nil
}

// Package bluesky connects Roost to Bluesky (the AT Protocol) with a thin
// typed client of our own over XRPC, rather than indigo, the protocol's Go
// SDK. Roost needs about ten calls; it needs exact deadlines from the
// caller's context, no hidden retries and no background token refresh (a
// session is renewed at most once per call, and the new tokens go back to
// the caller through social.Conn); and it sorts every failure into the
// shared netclient's social.Error kinds. indigo is a very large dependency
// (repositories, CAR files, the firehose, generated code for every
// lexicon) for a handful of JSON calls.
//
// Signing in goes to the service the account signs in at (its Instance,
// e.g. https://bsky.social); every other call goes to the account's PDS,
// read from the session's DID document. The PDS serves com.atproto.*
// itself and proxies app.bsky.* (profiles, posts, notifications,
// relationships) to the AppView for the account, so one host and one
// token do for everything.
//
// Brand accounts sign in with a handle and an app password (Login). A
// post's record key is derived from its copy (RecordKey), so that every
// attempt writes the same record and a retry cannot post twice; a post's
// remote ID is its at:// URI, which is what a reply needs.
package bluesky

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rivo/uniseg"

	"github.com/roost-hq/roost/internal/social"
)

// Connector implements social.Connector for Bluesky.
type Connector struct {
	HTTP *http.Client // nil: a default with a 30 s timeout
}

// Network is "bluesky".
func (c *Connector) Network() string { return social.Bluesky }

// postNSID is the collection (and record type) of posts.
const postNSID = "app.bsky.feed.post"

// app.bsky.feed.post's limits on text.
const (
	maxBytes     = 3000
	maxGraphemes = 300
)

// ServiceURL checks and normalises the address an account signs in at:
// DefaultService when empty, https:// when no scheme is given, no path.
func ServiceURL(s string) (string, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "/")
	if s == "" {
		return DefaultService, nil
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return "", rejected(fmt.Sprintf("%q is not a Bluesky server address (like %s)", s, DefaultService))
	}
	return u.Scheme + "://" + u.Host, nil
}

// Login signs a brand account in with its handle (or email) and an app
// password at service ("" is DefaultService; see ServiceURL), through
// com.atproto.server.createSession, and reads its profile. It returns the
// account's credentials (Creds as JSON, to keep sealed); the account's
// Instance is ServiceURL(service).
//
// It refuses the account's main password, which could change the
// account's email and password or delete it: Roost asks for an app
// password, which cannot, and which the owner can revoke.
func (c *Connector) Login(ctx context.Context, service, identifier, appPassword string) ([]byte, social.Profile, error) {
	svc, err := ServiceURL(service)
	if err != nil {
		return nil, social.Profile{}, err
	}
	ident := strings.TrimPrefix(strings.TrimSpace(identifier), "@")
	if ident == "" || appPassword == "" {
		return nil, social.Profile{}, rejected("a handle and an app password are needed")
	}
	var out sessionOut
	body := map[string]string{"identifier": ident, "password": appPassword}
	name, err := c.xrpc(ctx, xrpcReq{method: http.MethodPost, host: svc, nsid: "com.atproto.server.createSession", body: body, out: &out})
	if name == "AuthFactorTokenRequired" {
		return nil, social.Profile{}, rejected("the account asks for a sign-in code by email: use an app password, which does not")
	}
	if err != nil {
		return nil, social.Profile{}, err
	}
	if cl, ok := jwtClaims(out.AccessJWT); ok && cl.Scope == "com.atproto.access" {
		// End the session just made with the main password; a failure
		// leaves it to expire.
		c.xrpc(ctx, xrpcReq{method: http.MethodPost, host: svc, nsid: "com.atproto.server.deleteSession", token: out.RefreshJWT})
		return nil, social.Profile{}, rejected("that is the account's own password: create an app password in Bluesky (Settings → Privacy and security → App passwords) and use it here")
	}
	if out.Active != nil && !*out.Active {
		return nil, social.Profile{}, rejected("the Bluesky account is not active (" + out.Status + ")")
	}
	if !validDID(out.DID) {
		return nil, social.Profile{}, unavailable("the server signed in an account without a valid DID")
	}
	conn := &social.Conn{Account: social.Account{Network: social.Bluesky, Instance: svc, RemoteID: out.DID, Handle: out.Handle}}
	s := &session{conn: conn, creds: Creds{Identifier: ident, AppPassword: appPassword}, renewed: true}
	if err := s.keep(out); err != nil {
		return nil, social.Profile{}, err
	}
	p, err := c.verify(ctx, s)
	if err != nil {
		return nil, social.Profile{}, err
	}
	return conn.Creds, p, nil
}

// profile is app.bsky.actor.defs#profileViewDetailed, as far as Roost reads it.
type profile struct {
	DID            string `json:"did"`
	Handle         string `json:"handle"`
	DisplayName    string `json:"displayName"`
	FollowersCount int64  `json:"followersCount"`
}

// Verify reads the account's profile (app.bsky.actor.getProfile), which
// also proves the session works. Bluesky's length rule is fixed, so the
// profile carries no limit of its own.
func (c *Connector) Verify(ctx context.Context, conn *social.Conn) (social.Profile, error) {
	s, err := open(conn)
	if err != nil {
		return social.Profile{}, err
	}
	return c.verify(ctx, s)
}

func (c *Connector) verify(ctx context.Context, s *session) (social.Profile, error) {
	var p profile
	if _, err := c.call(ctx, s, xrpcReq{method: http.MethodGet, nsid: "app.bsky.actor.getProfile", query: url.Values{"actor": {s.creds.DID}}, out: &p}); err != nil {
		return social.Profile{}, err
	}
	if p.DID == "" || p.Handle == "" {
		return social.Profile{}, unavailable("the profile came back without a DID or handle")
	}
	return social.Profile{RemoteID: p.DID, Handle: p.Handle, DisplayName: p.DisplayName, Followers: p.FollowersCount}, nil
}

// strongRef is com.atproto.repo.strongRef: a record at a version.
type strongRef struct {
	URI string `json:"uri"`
	CID string `json:"cid"`
}

// replyRef is app.bsky.feed.post#replyRef: the thread's first post and
// the post answered.
type replyRef struct {
	Root   strongRef `json:"root"`
	Parent strongRef `json:"parent"`
}

// post is app.bsky.feed.post as Roost writes it.
type post struct {
	Type      string    `json:"$type"`
	Text      string    `json:"text"`
	Facets    []facet   `json:"facets,omitempty"`
	Reply     *replyRef `json:"reply,omitempty"`
	CreatedAt string    `json:"createdAt"`
}

// Publish writes the post (com.atproto.repo.createRecord) under the
// draft's record key, with its links, mentions and hashtags marked up.
//
// If the PDS says the record could not be created in a way that may mean
// it exists — the reference PDS answers a record key already taken with a
// 500, a newer one with an explicit error — Publish reads the record back
// (com.atproto.repo.getRecord): when it is there, this copy was posted by
// an earlier attempt, and that is success.
func (c *Connector) Publish(ctx context.Context, conn *social.Conn, d social.Draft) (social.Published, error) {
	switch {
	case !utf8.ValidString(d.Text):
		return social.Published{}, rejected("the text is not valid UTF-8")
	case strings.TrimSpace(d.Text) == "":
		return social.Published{}, rejected("the text is empty")
	case len(d.Text) > maxBytes:
		return social.Published{}, rejected(fmt.Sprintf("the text is %d bytes long; Bluesky takes %d at most", len(d.Text), maxBytes))
	case uniseg.GraphemeClusterCount(d.Text) > maxGraphemes:
		return social.Published{}, rejected(fmt.Sprintf("the text is %d graphemes long; Bluesky takes %d at most", uniseg.GraphemeClusterCount(d.Text), maxGraphemes))
	}
	s, err := open(conn)
	if err != nil {
		return social.Published{}, err
	}
	rec := post{Type: postNSID, Text: d.Text, CreatedAt: time.Now().UTC().Format("2006-01-02T15:04:05.000Z")}
	if rec.Facets, err = c.facets(ctx, s, d); err != nil {
		return social.Published{}, err
	}
	if d.ReplyTo != "" {
		if rec.Reply, err = c.replyRef(ctx, s, d.ReplyTo); err != nil {
			return social.Published{}, err
		}
	}
	rkey := RecordKey(d)
	body := map[string]any{"repo": s.creds.DID, "collection": postNSID, "rkey": rkey, "record": rec}
	var out strongRef
	name, err := c.call(ctx, s, xrpcReq{method: http.MethodPost, nsid: "com.atproto.repo.createRecord", body: body, out: &out})
	if err != nil {
		if mayExist(err, name) {
			if pub, ok, ferr := c.find(ctx, s, rkey); ferr == nil && ok {
				return pub, nil
			}
		}
		return social.Published{}, err
	}
	if out.URI == "" {
		return social.Published{}, &social.Error{Network: social.Bluesky, Kind: social.Unavailable, Reason: "the PDS answered without the post's URI", Sent: true}
	}
	return social.Published{RemoteID: out.URI, URL: webURL(s.creds.Handle, s.creds.DID, rkey)}, nil
}

// mayExist reports whether a failed createRecord may have left the record
// behind. The reference PDS answers a record key already taken with a 500
// InternalServerError (atproto issue #3718, indigo #873); a change under
// way (atproto PR #4728) gives it a named error, and other PDSes answer a
// 409 or a 400 that says the record exists. Any 5xx may also come after
// the write.
func mayExist(err error, name string) bool {
	e := asError(err)
	if e == nil || e.Status == 0 {
		return false
	}
	words := strings.ToLower(name + " " + e.Reason)
	return e.Status >= 500 || e.Status == http.StatusConflict ||
		e.Status == http.StatusBadRequest && (strings.Contains(words, "exist") || strings.Contains(words, "duplicate"))
}

// FindPublished looks for the record the draft's key names: after an
// attempt whose outcome is unknown (a timeout), it is there or it is not.
func (c *Connector) FindPublished(ctx context.Context, conn *social.Conn, d social.Draft) (social.Published, bool, error) {
	s, err := open(conn)
	if err != nil {
		return social.Published{}, false, err
	}
	return c.find(ctx, s, RecordKey(d))
}

// find reads a post of the account by record key. A PDS answers a record
// it does not have with a 400 RecordNotFound (older ones: InvalidRequest,
// "Could not locate record").
func (c *Connector) find(ctx context.Context, s *session, rkey string) (social.Published, bool, error) {
	var out strongRef
	q := url.Values{"repo": {s.creds.DID}, "collection": {postNSID}, "rkey": {rkey}}
	name, err := c.call(ctx, s, xrpcReq{method: http.MethodGet, nsid: "com.atproto.repo.getRecord", query: q, out: &out})
	if e := asError(err); e != nil && (e.Status == http.StatusNotFound ||
		e.Status == http.StatusBadRequest && (name == "RecordNotFound" || strings.Contains(e.Reason, "Could not locate record"))) {
		return social.Published{}, false, nil
	}
	if err != nil {
		return social.Published{}, false, err
	}
	if out.URI == "" {
		return social.Published{}, false, unavailable("the PDS answered without the record's URI")
	}
	return social.Published{RemoteID: out.URI, URL: webURL(s.creds.Handle, s.creds.DID, rkey)}, true, nil
}

// replyRef builds the reply reference for the post at uri: the AppView
// (app.bsky.feed.getPosts) gives its version (CID) and, if it is itself a
// reply, its thread's root.
func (c *Connector) replyRef(ctx context.Context, s *session, uri string) (*replyRef, error) {
	if _, _, ok := parseAtURI(uri); !ok {
		return nil, rejected("a reply needs the at:// URI of the post answered")
	}
	var out struct {
		Posts []struct {
			URI    string `json:"uri"`
			CID    string `json:"cid"`
			Record struct {
				Reply *replyRef `json:"reply"`
			} `json:"record"`
		} `json:"posts"`
	}
	if _, err := c.call(ctx, s, xrpcReq{method: http.MethodGet, nsid: "app.bsky.feed.getPosts", query: url.Values{"uris": {uri}}, out: &out}); err != nil {
		return nil, err
	}
	// One URI asked, so any post returned is that one (the AppView may
	// spell its URI with the DID where the question had a handle).
	for _, p := range out.Posts {
		if p.URI == "" || p.CID == "" {
			continue
		}
		parent := strongRef{URI: p.URI, CID: p.CID}
		root := parent
		if r := p.Record.Reply; r != nil && r.Root.URI != "" && r.Root.CID != "" {
			root = r.Root
		}
		return &replyRef{Root: root, Parent: parent}, nil
	}
	return nil, rejected("the post answered is not there any more (deleted, or hidden from the account)")
}

// parseAtURI splits at://authority/collection/rkey.
func parseAtURI(s string) (authority, rkey string, ok bool) {
	rest, found := strings.CutPrefix(s, "at://")
	if !found {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", false
	}
	return parts[0], parts[2], true
}

// webURL is where people see a post on bsky.app: under the author's handle
// when it has a valid one, else under its DID.
func webURL(handle, did, rkey string) string {
	actor := handle
	if actor == "" || actor == "handle.invalid" || !validHandle(actor) {
		actor = did
	}
	return "https://bsky.app/profile/" + url.PathEscape(actor) + "/post/" + url.PathEscape(rkey)
}

// Lookup finds a person by handle ("@alice.bsky.social",
// "alice.bsky.social") or DID, through app.bsky.actor.getProfile. The
// AppView answers an unknown (or taken down, or deactivated) account with
// a 400 (InvalidRequest "Profile not found", AccountTakedown, …): no such
// person.
func (c *Connector) Lookup(ctx context.Context, conn *social.Conn, handle string) (social.Identity, error) {
	h := strings.TrimPrefix(strings.TrimSpace(handle), "@")
	switch {
	case validDID(h):
	case validHandle(h):
		h = strings.ToLower(h)
	default:
		return social.Identity{}, social.ErrNoSuchPerson
	}
	s, err := open(conn)
	if err != nil {
		return social.Identity{}, err
	}
	var p profile
	_, err = c.call(ctx, s, xrpcReq{method: http.MethodGet, nsid: "app.bsky.actor.getProfile", query: url.Values{"actor": {h}}, out: &p})
	if e := asError(err); e != nil && e.Kind == social.Rejected && (e.Status == http.StatusBadRequest || e.Status == http.StatusNotFound) {
		return social.Identity{}, social.ErrNoSuchPerson
	}
	if err != nil {
		return social.Identity{}, err
	}
	if !validDID(p.DID) {
		return social.Identity{}, unavailable("the profile came back without a DID")
	}
	return identity(p.DID, p.Handle), nil
}

// identity is a person as Roost keeps them: the DID is stable, the handle
// (which its owner can change) is for people to read.
func identity(did, handle string) social.Identity {
	h := "@" + handle
	if handle == "" || handle == "handle.invalid" {
		h = did
	}
	return social.Identity{Network: social.Bluesky, AccountID: did, Handle: h}
}

// Follows asks app.bsky.graph.getRelationships about the brand account
// (actor) and the person (others). In the answer's relationship,
// "following" is set when the actor follows the other and "followedBy"
// (the follow record's URI) when the other follows the actor: the person
// follows the brand.
func (c *Connector) Follows(ctx context.Context, conn *social.Conn, person social.Identity) (bool, error) {
	if person.Network != social.Bluesky || person.AccountID == "" {
		return false, nil
	}
	s, err := open(conn)
	if err != nil {
		return false, err
	}
	var out struct {
		Relationships []struct {
			Type       string `json:"$type"`
			DID        string `json:"did"`
			FollowedBy string `json:"followedBy"`
			NotFound   bool   `json:"notFound"`
		} `json:"relationships"`
	}
	q := url.Values{"actor": {s.creds.DID}, "others": {person.AccountID}}
	if _, err := c.call(ctx, s, xrpcReq{method: http.MethodGet, nsid: "app.bsky.graph.getRelationships", query: q, out: &out}); err != nil {
		return false, err
	}
	for _, r := range out.Relationships {
		if r.NotFound || r.Type == "app.bsky.graph.defs#notFoundActor" {
			continue
		}
		if r.DID == person.AccountID || !validDID(person.AccountID) {
			return r.FollowedBy != "", nil
		}
	}
	return false, nil
}

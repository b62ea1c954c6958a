package bluesky_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/posts"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/social"
	"github.com/roost-hq/roost/internal/social/bluesky"
	"github.com/roost-hq/roost/internal/social/bluesky/blueskytest"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/store/storetest"
	"github.com/roost-hq/roost/internal/team"
)

// TestPublisher publishes through Roost's publisher and hub, as in
// production: the access token has expired (the refreshed session must be
// kept, sealed), and the PDS answers after the client has given up. The
// retry finds the post instead of posting again.
func TestPublisher(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := blueskytest.New(t)
		c := &bluesky.Connector{}
		creds, p, err := c.Login(ctx, f.URL, blueskytest.Handle, blueskytest.AppPassword)
		if err != nil {
			t.Fatal(err)
		}
		keys, _ := secret.New(secret.Generate())
		w, _, err := team.New(db).CreateOwner(ctx, team.NewOwner{Workspace: "Acme", Email: "o@example.com", Name: "O", Password: "long enough password"})
		if err != nil {
			t.Fatal(err)
		}
		so := social.NewStore(db, keys)
		acct, err := so.Connect(ctx, w.ID, social.Connection{Network: social.Bluesky, Instance: f.URL, Creds: creds, Profile: p})
		if err != nil {
			t.Fatal(err)
		}
		ls := links.NewStore(db)
		ps := posts.NewStore(db, ls, offers.NewStore(db), so, "https://go.example")
		post, err := ps.Compose(ctx, w.ID, posts.Author{Signature: "^LB"}, posts.Compose{Body: "🎉 Outlet deal, Zürich only", AccountIDs: []string{acct.ID}, Destination: "https://shop.example.com/xps"})
		if err != nil {
			t.Fatal(err)
		}
		f.ExpireAccess()
		f.Lock()
		f.SlowAfterPost = 300 * time.Millisecond
		f.Unlock()
		// The first attempt gives up after 100 ms.
		hub := &social.Hub{Store: so, Connectors: map[string]social.Connector{social.Bluesky: &bluesky.Connector{HTTP: &http.Client{Timeout: 100 * time.Millisecond}}}}
		pub := &posts.Publisher{DB: db, Hub: hub, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		pub.RunOnce(ctx)
		got, _ := ps.Get(ctx, w.ID, post.ID)
		if cp := got.Copies[0]; cp.Status != posts.Scheduled || !strings.Contains(cp.Error, "no answer in time") {
			t.Fatalf("after the timeout: %+v", cp)
		}
		// The refreshed session was kept, sealed.
		a, _ := so.AccountByID(ctx, acct.ID)
		conn, err := so.Open(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		var before, after bluesky.Creds
		json.Unmarshal(creds, &before)
		json.Unmarshal(conn.Creds, &after)
		if after.AccessJWT == before.AccessJWT || after.RefreshJWT == before.RefreshJWT || a.ExpiresAt == nil {
			t.Fatalf("the refreshed session was not kept (expires %v)", a.ExpiresAt)
		}
		var raw string
		db.R.QueryRow(`SELECT credentials FROM accounts WHERE id = $1`, acct.ID).Scan(&raw)
		if raw == "" || strings.Contains(raw, after.RefreshJWT) || strings.Contains(raw, blueskytest.AppPassword) {
			t.Fatal("credentials are not sealed at rest")
		}

		time.Sleep(300 * time.Millisecond) // the server finishes its answer
		f.Lock()
		f.SlowAfterPost = 0
		f.Unlock()
		db.W.Exec(`UPDATE post_copies SET due_at = 0`)
		hub.Connectors[social.Bluesky] = c
		pub.RunOnce(ctx)
		got, _ = ps.Get(ctx, w.ID, post.ID)
		cp := got.Copies[0]
		if cp.Status != posts.Published || !strings.HasPrefix(cp.RemoteID, "at://"+blueskytest.DID+"/app.bsky.feed.post/") {
			t.Fatalf("after the retry: %+v", cp)
		}
		f.Lock()
		defer f.Unlock()
		if len(f.Posts) != 1 || f.CreateCalls != 1 || f.RefreshCalls != 1 || f.SessionCalls != 1 {
			t.Fatalf("%d posts from %d createRecord calls; %d refreshes, %d sessions", len(f.Posts), f.CreateCalls, f.RefreshCalls, f.SessionCalls)
		}
		for _, fp := range f.Posts {
			if len(fp.Facets) != 1 || fp.Facets[0].Type != "link" || fp.Text[fp.Facets[0].ByteStart:fp.Facets[0].ByteEnd] != fp.Facets[0].URI ||
				!strings.HasPrefix(fp.Facets[0].URI, "https://go.example/") {
				t.Fatalf("posted %q with facets %+v", fp.Text, fp.Facets)
			}
		}
	})
}

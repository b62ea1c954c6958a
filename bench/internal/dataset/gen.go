package dataset

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/id"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/secret"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/team"
)

const (
	day    = int64(86_400_000_000) // microseconds
	hour   = day / 24
	minute = hour / 60
	window = 30 * day // the workspace's attribution window (the default)
)

type gen struct {
	ctx    context.Context
	db     *store.DB
	sc     Scale
	w      io.Writer
	r      *rand.Rand
	keys   *secret.Keys
	orders *orders.Store
	counts []Count
	phase  time.Time

	ws         string
	start, end int64 // the history, in microseconds
	members    []member
	accounts   []account
	catalog    []product
	offers     []offer
	offerSKUs  map[string][]string
	offerByID  map[string]int
	posts      []post
	links      []link
	clicks     []click
	clickIDs   map[int32]string
	claims     []claim
	liveClicks []int32 // recent human clicks live orders carry

	// Customers: the recent ones (returning customers are drawn from
	// them) and, per customer, the touches of their orders so far.
	customers int
	recent    []int
	history   map[int][]orders.Touch
	claimant  map[int]int // person → customer
}

type member struct{ id, name, sig string }

type account struct {
	id, network, handle string
	reach               float64
}

type product struct {
	sku, name string
	price     int64
}

type offer struct {
	id, slug, title, prefix string
	start, end              int64
	products                []int // catalog indexes; none: a store-wide deal on its code
	deal                    []int64
	claimed                 int
	member                  int
}

type post struct {
	id     string
	member int
	offer  int // -1: none
	at     int64
	body   string
}

type link struct {
	id, code string
	post     int
	account  int
	offer    int
	weight   float64
	at       int64
}

// click is a click being generated: 24 bytes, for there are millions.
type click struct {
	at      int64
	link    int32
	visitor int32
	bot     bool
	unique  bool
	use     uint8
}

const (
	useClaim uint8 = 1 << iota // a claim came from it
	useOrder                   // an order carried its ID
	useLive                    // a live order may carry its ID
)

type claim struct {
	id, code, network string
	offer             int
	click             int32 // -1: claimed without a click (a mention's token)
	at                int64
	person            int
	status            string
	redeemedAt        int64
	orderRef          string
}

func newGen(ctx context.Context, db *store.DB, sc Scale, w io.Writer) *gen {
	keys := Keys()
	return &gen{ctx: ctx, db: db, sc: sc, w: w, r: rand.New(rand.NewPCG(2009, uint64(sc.Clicks))), keys: keys, orders: orders.NewStore(db, keys),
		clickIDs: map[int32]string{}, history: map[int][]orders.Touch{}, claimant: map[int]int{}, offerSKUs: map[string][]string{}, offerByID: map[string]int{}}
}

func (g *gen) say(format string, args ...any) {
	fmt.Fprintf(g.w, "dataset: %s (%.1fs)\n", fmt.Sprintf(format, args...), time.Since(g.phase).Seconds())
	g.phase = time.Now()
}

func (g *gen) count(what string, n int64) { g.counts = append(g.counts, Count{what, n}) }

func (g *gen) run() error {
	g.phase = time.Now()
	g.end = time.Now().UTC().Truncate(time.Microsecond).UnixMicro()
	g.start = g.end - int64(g.sc.Days)*day
	if g.db.Dialect == store.SQLite {
		// A load tool's settings, on the writer's only connection: undone
		// below.
		if _, err := g.db.W.ExecContext(g.ctx, `PRAGMA synchronous = OFF`); err != nil {
			return err
		}
		g.db.W.ExecContext(g.ctx, `PRAGMA cache_size = -262144`)
		defer func() {
			g.db.W.ExecContext(g.ctx, `PRAGMA synchronous = NORMAL`)
			g.db.W.ExecContext(g.ctx, `PRAGMA cache_size = -2000`)
		}()
	}
	steps := []func() error{g.team, g.model, g.writeStatic, g.writeClicks, g.writeOrders, g.writeClaims, g.rollUp, g.live, g.finish}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// between is a uniform time in [a, b).
func (g *gen) between(a, b int64) int64 { return a + g.r.Int64N(max(b-a, 1)) }

// exp is an exponential duration of the given mean.
func (g *gen) exp(mean int64) int64 { return int64(g.r.ExpFloat64() * float64(mean)) }

// lognormal is a duration with the given median.
func (g *gen) lognormal(median int64, sigma float64) int64 {
	return int64(float64(median) * math.Exp(g.r.NormFloat64()*sigma))
}

func at(micros int64) time.Time { return time.UnixMicro(micros).UTC() }

var (
	memberNames = []string{"Lionel B", "Richard B", "Stefanie N", "Maria S", "Kevin O", "Aisha K", "Tom H", "Yuki T"}
	firstWords  = []string{"Outlet deal", "Today only", "For our followers", "Back in stock", "Weekend price", "Last units", "Staff pick", "Flash sale"}
)

// team makes the workspace and its owner as Roost does, then the rest of
// the team, the brand accounts and the order settings.
func (g *gen) team() error {
	w, m, err := team.New(g.db).CreateOwner(g.ctx, team.NewOwner{Workspace: "Outlet", Email: "lionel@outlet.example", Name: memberNames[0], Password: "a long benchmark password"})
	if err != nil {
		return err
	}
	g.ws = w.ID
	g.members = append(g.members, member{m.ID, memberNames[0], "^LB"})
	ld := newLoader(g.ctx, g.db)
	users := ld.table(`INSERT INTO users (id, email, name, password_hash, created_at) VALUES `, 5)
	members := ld.table(`INSERT INTO members (id, workspace_id, user_id, name, role, signature, created_at, accepted_at) VALUES `, 8)
	accounts := ld.table(`INSERT INTO accounts (id, workspace_id, network, handle, remote_id, display_name, created_at, instance, followers, followers_sampled_at, connected_by) VALUES `, 11)
	settings := ld.table(`INSERT INTO order_settings (workspace_id, currency, window_days) VALUES `, 3)
	created := g.start - 10*day
	for i, name := range memberNames[1:] {
		u, mid := id.NewAt("usr", at(created)), id.NewAt("mem", at(created))
		parts := strings.Fields(name)
		sig := "^" + parts[0][:1] + parts[1][:1]
		users.add(u, fmt.Sprintf("%s@outlet.example", strings.ToLower(parts[0])), name, "", created)
		members.add(mid, g.ws, u, name, []string{"admin", "marketer", "agent"}[i%3], sig, created, created)
		g.members = append(g.members, member{mid, name, sig})
	}
	for _, a := range []struct {
		network, handle, instance string
		reach                     float64
	}{
		{"mastodon", "outlet", "mastodon.social", 1.0}, {"mastodon", "deals", "fosstodon.org", 0.45}, {"bluesky", "outlet.bsky.social", "", 0.9},
		{"bluesky", "deals.bsky.social", "", 0.35}, {"x", "OutletDeals", "", 1.2}, {"x", "OutletHelp", "", 0.25},
	} {
		aid := id.NewAt("acc", at(created))
		followers := int64(a.reach * 60_000)
		accounts.add(aid, g.ws, a.network, a.handle, "remote-"+a.handle, "Outlet ("+a.handle+")", created, a.instance, followers, g.end, g.members[0].id)
		g.accounts = append(g.accounts, account{aid, a.network, a.handle, a.reach})
	}
	settings.add(g.ws, "USD", int(window/day))
	return ld.close()
}

// model draws everything but the orders: catalog, offers, posts and
// links, clicks, claims.
func (g *gen) model() error {
	for i := range 400 {
		price := int64(math.Round(math.Exp(g.r.NormFloat64()*1.0+math.Log(6000)))) + 99
		g.catalog = append(g.catalog, product{fmt.Sprintf("SKU-%04d", i+1), fmt.Sprintf("Product %d", i+1), min(price, 400_000)})
	}
	// An offer every other day, each running one to three weeks.
	for i := range g.sc.Days / 2 {
		s := g.start + int64(i)*2*day + g.between(0, day)
		o := offer{id: id.NewAt("off", at(s)), slug: fmt.Sprintf("deal-%d", i+1), prefix: fmt.Sprintf("D%d-", i+1), start: s, end: s + 7*day + g.between(0, 14*day),
			member: g.r.IntN(len(g.members))}
		if g.r.IntN(10) > 0 {
			n := 1 + g.r.IntN(3)
			for _, p := range g.r.Perm(len(g.catalog))[:n] {
				o.products = append(o.products, p)
				o.deal = append(o.deal, g.catalog[p].price*int64(70+g.r.IntN(21))/100)
				g.offerSKUs[o.id] = append(g.offerSKUs[o.id], g.catalog[p].sku)
			}
			o.title = fmt.Sprintf("%s: %s", firstWords[g.r.IntN(len(firstWords))], g.catalog[o.products[0]].name)
		} else {
			o.title = fmt.Sprintf("%s: 15%% off everything", firstWords[g.r.IntN(len(firstWords))])
		}
		g.offerByID[o.id] = len(g.offers)
		g.offers = append(g.offers, o)
	}
	// Three posts a day, most announcing the offer running then, each
	// published on one to three accounts with a link per copy.
	n := g.sc.Days * 3
	times := make([]int64, n)
	for i := range times {
		times[i] = g.between(g.start, g.end-hour)
	}
	slices.Sort(times)
	current := 0
	for _, t := range times {
		for current+1 < len(g.offers) && g.offers[current+1].start <= t {
			current++
		}
		p := post{id: id.NewAt("pst", at(t)), member: g.r.IntN(len(g.members)), offer: -1, at: t}
		if o := g.offers[current]; o.start <= t && t < o.end && g.r.IntN(4) > 0 {
			p.offer = current
			p.body = fmt.Sprintf("%s — for the people who follow us. %s", o.title, g.members[p.member].sig)
		} else {
			p.body = fmt.Sprintf("Tip #%d from the outlet team: what to look for in a refurbished laptop. %s", len(g.posts)+1, g.members[p.member].sig)
		}
		g.posts = append(g.posts, p)
		for _, a := range g.r.Perm(len(g.accounts))[:1+g.r.IntN(3)] {
			l := link{id: id.NewAt("lnk", at(t)), code: strings.ToLower(id.Token(5))[:7], post: len(g.posts) - 1, account: a, offer: p.offer, at: t,
				weight: math.Exp(g.r.NormFloat64()*1.1) * g.accounts[a].reach}
			if p.offer >= 0 {
				l.weight *= 1.3
			}
			g.links = append(g.links, l)
		}
	}
	g.say("%d members, %d accounts, %d offers, %d posts, %d links", len(g.members), len(g.accounts), len(g.offers), len(g.posts), len(g.links))
	g.drawClicks()
	g.say("%d clicks drawn", len(g.clicks))
	return nil
}

// drawClicks draws the clicks: each on a link in proportion to its
// weight, after its post (bots within minutes, people within hours or
// days); then which of them brought claims and orders.
func (g *gen) drawClicks() {
	cum := make([]float64, len(g.links))
	var sum float64
	for i, l := range g.links {
		sum += l.weight
		cum[i] = sum
	}
	humans := max(g.sc.Clicks*4/5, 1)
	g.clicks = make([]click, g.sc.Clicks)
	for i := range g.clicks {
		c := &g.clicks[i]
		c.bot = g.r.IntN(5) == 0
		for {
			li, _ := slices.BinarySearch(cum, g.r.Float64()*sum)
			li = min(li, len(g.links)-1)
			l := g.links[li]
			var delay int64
			switch {
			case c.bot:
				delay = g.exp(3 * minute)
			case g.r.IntN(4) > 0:
				delay = g.exp(8 * hour)
			default:
				delay = g.exp(4 * day)
			}
			if l.at+delay < g.end {
				c.at, c.link = l.at+delay, int32(li)
				break
			}
		}
		if c.bot {
			c.visitor = -1
		} else {
			c.visitor = int32(g.r.IntN(max(humans/3, 1)))
		}
	}
	slices.SortFunc(g.clicks, func(a, b click) int { return cmp.Compare(a.at, b.at) })
	// A person's first click on a link each day is unique.
	type lv struct{ link, visitor int32 }
	seen := map[lv]bool{}
	today := int64(-1)
	for i := range g.clicks {
		c := &g.clicks[i]
		if d := c.at / day; d != today {
			clear(seen)
			today = d
		}
		if !c.bot && !seen[lv{c.link, c.visitor}] {
			seen[lv{c.link, c.visitor}] = true
			c.unique = true
		}
	}
	// Claims come from people's clicks on the links of offers still open;
	// orders carry the IDs of other clicks.
	var claimable, human, recent int
	for _, c := range g.clicks {
		if c.bot {
			continue
		}
		human++
		if o := g.links[c.link].offer; o >= 0 && c.at < g.offers[o].end-hour {
			claimable++
		}
		if c.at >= g.end-3*day {
			recent++
		}
	}
	bulk := g.sc.Orders - g.sc.Live
	g.selectClicks(claimable, g.sc.Claims, useClaim, func(c click) bool {
		o := g.links[c.link].offer
		return !c.bot && o >= 0 && c.at < g.offers[o].end-hour
	})
	g.selectClicks(human, bulk*28/100, useOrder, func(c click) bool { return !c.bot })
	g.selectClicks(recent, min(recent, g.sc.Live), useLive, func(c click) bool { return !c.bot && c.at >= g.end-3*day })
	for i, c := range g.clicks {
		if c.use != 0 {
			g.clickIDs[int32(i)] = id.NewAt("", at(c.at))
		}
		if c.use&useLive != 0 {
			g.liveClicks = append(g.liveClicks, int32(i))
		}
	}
	// The claims: one person each, within minutes of the click; a tenth
	// made through a mention's token rather than the link.
	for i, c := range g.clicks {
		if c.use&useClaim == 0 {
			continue
		}
		l := g.links[c.link]
		cl := claim{offer: l.offer, click: int32(i), at: min(c.at+g.exp(20*minute), g.end-1), person: len(g.claims) + 1, network: g.accounts[l.account].network, status: "active"}
		if g.r.IntN(10) == 0 {
			cl.click = -1
		}
		cl.id = id.NewAt("clm", at(cl.at))
		g.offers[cl.offer].claimed++
		g.claims = append(g.claims, cl)
	}
	codes := map[string]bool{}
	for i := range g.claims {
		for {
			code := offers.NewCode(g.offers[g.claims[i].offer].prefix, 8)
			if !codes[code] {
				codes[code] = true
				g.claims[i].code = code
				break
			}
		}
	}
}

// selectClicks marks exactly k of the n clicks that match (or all, if
// fewer), each as likely as the others (selection sampling).
func (g *gen) selectClicks(n, k int, use uint8, match func(click) bool) {
	for i := range g.clicks {
		if k <= 0 || n <= 0 {
			return
		}
		if !match(g.clicks[i]) {
			continue
		}
		if g.r.IntN(n) < k {
			g.clicks[i].use |= use
			k--
		}
		n--
	}
}

// writeStatic writes offers, posts, copies and links.
func (g *gen) writeStatic() error {
	ld := newLoader(g.ctx, g.db)
	offersT := ld.table(`INSERT INTO offers (id, workspace_id, slug, title, description, landing_url, currency, starts_at, ends_at, cap, per_person, audience,
		code_mode, code_prefix, code_length, published, claimed, created_by, created_at, updated_at) VALUES `, 20)
	products := ld.table(`INSERT INTO offer_products (offer_id, position, sku, name, regular_price, deal_price) VALUES `, 6)
	postsT := ld.table(`INSERT INTO posts (id, workspace_id, member_id, offer_id, body, destination, scheduled_at, created_at) VALUES `, 8)
	copies := ld.table(`INSERT INTO post_copies (id, post_id, workspace_id, account_id, link_id, text, status, due_at, attempts, remote_id, remote_url, published_at, updated_at) VALUES `, 13)
	linksT := ld.table(`INSERT INTO links (id, workspace_id, code, destination, title, offer_id, post_id, account_id, utm_source, utm_campaign, utm_content, created_by, created_at, updated_at) VALUES `, 14)
	audiences := []string{"public", "link", "followers"}
	for _, o := range g.offers {
		offersT.add(o.id, g.ws, o.slug, o.title, "", "https://shop.example.com/"+o.slug, "USD", o.start, o.end, int64(o.claimed+100+g.r.IntN(400)), 1,
			audiences[g.r.IntN(3)], "unique", o.prefix, 8, true, int64(o.claimed), g.members[o.member].id, o.start-day, o.start-day)
		for i, p := range o.products {
			products.add(o.id, i, g.catalog[p].sku, g.catalog[p].name, g.catalog[p].price, o.deal[i])
		}
	}
	for _, p := range g.posts {
		dest := "https://shop.example.com/"
		var offerID any
		if p.offer >= 0 {
			dest += g.offers[p.offer].slug
			offerID = g.offers[p.offer].id
		}
		postsT.add(p.id, g.ws, g.members[p.member].id, offerID, p.body, dest, p.at, p.at-hour)
	}
	for _, l := range g.links {
		p := g.posts[l.post]
		a := g.accounts[l.account]
		var offerID any
		if l.offer >= 0 {
			offerID = g.offers[l.offer].id
		}
		remote := id.Token(6)
		copies.add(id.NewAt("cpy", at(p.at)), p.id, g.ws, a.id, l.id, p.body+" https://go.example/"+l.code, "published", p.at, 1, remote,
			"https://"+a.network+".example/@"+a.handle+"/"+remote, p.at, p.at)
		linksT.add(l.id, g.ws, l.code, "https://shop.example.com/", "", offerID, p.id, a.id, a.network, "outlet", p.id, g.members[p.member].id, p.at, p.at)
	}
	if err := ld.close(); err != nil {
		return err
	}
	g.count("offers", int64(len(g.offers)))
	g.count("posts", int64(len(g.posts)))
	g.count("links", int64(len(g.links)))
	g.say("offers, posts and links written")
	return nil
}

var (
	referrers = []string{"mastodon.social", "fosstodon.org", "bsky.app", "t.co", "", "", "news.ycombinator.com"}
	countries = []string{"US", "US", "US", "GB", "DE", "FR", "CA", "NL", "AU", "JP"}
	previews  = []string{"link preview: Mastodon", "link preview: Bluesky", "link preview: X", "crawler: Googlebot", "automated client: curl", "no user agent"}
)

// visitor is a person's visitor key of a day, shaped like the redirect's.
func visitor(v int32, d int64) uint64 {
	h := fnv.New64a()
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(v))
	binary.BigEndian.PutUint64(b[4:], uint64(d))
	h.Write(b[:])
	return h.Sum64()
}

// visitorKey is a visitor's key as stored: 32 hex digits.
func visitorKey(v uint64) string { return fmt.Sprintf("%016x%016x", v, v*0x9e3779b97f4a7c15) }

// writeClicks writes the clicks, their unique visitors and the hourly and
// daily rollups the click writer keeps.
func (g *gen) writeClicks() error {
	ld := newLoader(g.ctx, g.db)
	// Profiles are numbered here, as the click writer would have found
	// them: each click points to its own.
	profilesT := ld.table(`INSERT INTO click_profiles (id, workspace_id, link_id, referrer_host, device, os, browser, country, bot, bot_reason) VALUES `, 10)
	clicks := ld.table(`INSERT INTO click_log (id, profile_id, at, visitor, is_unique) VALUES `, 5)
	type pk struct {
		link                                 int32
		ref, device, os, browser, cc, reason string
		bot                                  bool
	}
	profiles := map[pk]int64{}
	type hk struct {
		link int32
		hour int64
	}
	type dk struct {
		link     int32
		day      int64
		dim, val string
	}
	type uk struct {
		link    int32
		day     int64
		visitor uint64
	}
	counts := map[hk]*[3]int64{}
	dims := map[dk]*[2]int64{}
	var uniques []uk
	var bots int64
	for i, c := range g.clicks {
		cid, ok := g.clickIDs[int32(i)]
		if !ok {
			cid = id.NewAt("", at(c.at))
		}
		d := c.at / day
		var vis uint64
		var device, os, browser, reason string
		ref, country := referrers[g.r.IntN(len(referrers))], countries[g.r.IntN(len(countries))]
		if c.bot {
			bots++
			vis = g.r.Uint64()
			device, reason = "bot", previews[g.r.IntN(len(previews))]
		} else {
			vis = visitor(c.visitor, d)
			switch g.r.IntN(10) {
			case 0, 1, 2, 3, 4, 5:
				device, os, browser = "mobile", []string{"iOS", "Android"}[g.r.IntN(2)], []string{"Safari", "Chrome"}[g.r.IntN(2)]
			case 6:
				device, os, browser = "tablet", "iOS", "Safari"
			default:
				device, os, browser = "desktop", []string{"Windows", "macOS", "Linux"}[g.r.IntN(3)], []string{"Chrome", "Firefox", "Safari", "Edge"}[g.r.IntN(4)]
			}
		}
		k := pk{c.link, ref, device, os, browser, country, reason, c.bot}
		pid, ok := profiles[k]
		if !ok {
			pid = int64(len(profiles) + 1)
			profiles[k] = pid
			profilesT.add(pid, g.ws, g.links[c.link].id, ref, device, os, browser, country, c.bot, reason)
		}
		clicks.add(cid, pid, c.at, visitorKey(vis), c.unique)
		if c.unique {
			uniques = append(uniques, uk{c.link, d, vis})
		}
		h := hk{c.link, c.at / hour * hour}
		n := counts[h]
		if n == nil {
			n = new([3]int64)
			counts[h] = n
		}
		n[0]++
		if !c.bot {
			n[1]++
		}
		if c.unique {
			n[2]++
		}
		for _, dv := range [4][2]string{{"referrer", ref}, {"device", device}, {"country", country}, {"bot", reason}} {
			if dv[0] == "bot" && !c.bot {
				continue
			}
			k := dk{c.link, d, dv[0], dv[1]}
			m := dims[k]
			if m == nil {
				m = new([2]int64)
				dims[k] = m
			}
			m[0]++
			if !c.bot {
				m[1]++
			}
		}
		if (i+1)%1_000_000 == 0 {
			fmt.Fprintf(g.w, "dataset: %d clicks…\n", i+1)
		}
	}
	if err := ld.close(); err != nil {
		return err
	}
	if g.db.Dialect == store.Postgres {
		// Profiles the click writer adds later are numbered after these.
		if _, err := g.db.W.ExecContext(g.ctx, `SELECT setval(pg_get_serial_sequence('click_profiles', 'id'), (SELECT MAX(id) FROM click_profiles))`); err != nil {
			return fmt.Errorf("dataset: click profile numbers: %w", err)
		}
	}
	g.say("%d clicks written (%d profiles)", len(g.clicks), len(profiles))
	// The rollups in key order, as the tables keep them.
	ld = newLoader(g.ctx, g.db)
	uniquesT := ld.table(`INSERT INTO click_uniques (link_id, day, visitor) VALUES `, 3)
	countsT := ld.table(`INSERT INTO click_counts (link_id, hour, workspace_id, total, human, uniques) VALUES `, 6)
	dimsT := ld.table(`INSERT INTO click_dims (link_id, day, dim, value, workspace_id, clicks, human) VALUES `, 7)
	order := make([]int32, len(g.links)) // links in the order of their IDs
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(g.links[a].id, g.links[b].id) })
	rank := make([]int32, len(g.links))
	for r, i := range order {
		rank[i] = int32(r)
	}
	byID := func(a, b int32) int { return cmp.Compare(rank[a], rank[b]) }
	slices.SortFunc(uniques, func(a, b uk) int {
		return cmp.Or(byID(a.link, b.link), cmp.Compare(a.day, b.day), cmp.Compare(a.visitor, b.visitor))
	})
	for _, u := range uniques {
		uniquesT.add(g.links[u.link].id, u.day, visitorKey(u.visitor))
	}
	for _, k := range slices.SortedFunc(func(yield func(hk) bool) {
		for k := range counts {
			if !yield(k) {
				return
			}
		}
	}, func(a, b hk) int { return cmp.Or(byID(a.link, b.link), cmp.Compare(a.hour, b.hour)) }) {
		n := counts[k]
		countsT.add(g.links[k.link].id, k.hour, g.ws, n[0], n[1], n[2])
	}
	for k, m := range dims {
		dimsT.add(g.links[k.link].id, k.day, k.dim, k.val, g.ws, m[0], m[1])
	}
	if err := ld.close(); err != nil {
		return err
	}
	g.count("clicks", int64(len(g.clicks)))
	g.count("bot clicks", bots)
	g.count("unique visits", int64(len(uniques)))
	g.count("hourly click counts", int64(len(counts)))
	g.say("%d unique visits, %d hourly and %d daily click rollups written", len(uniques), len(counts), len(dims))
	return nil
}

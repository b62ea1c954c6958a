package demo

import (
	"fmt"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/inbox"
	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/orders"
	"github.com/roost-hq/roost/internal/team"
)

// The brand's team: the owner signs in; the others run accounts and the
// inbox under their own signatures.
var crew = []struct {
	first, name, email, signature string
	role                          team.Role
}{
	{"Lena", "Lena Brooks", Email, "^LB", team.Owner},
	{"Marco", "Marco Diaz", "marco@example.com", "^MD", team.Marketer},
	{"Priya", "Priya Shah", "priya@example.com", "^PS", team.Agent},
	{"Sam", "Sam Okafor", "sam@example.com", "^SO", team.Admin},
}

// The brand's accounts on the sandbox network.
var accountSpecs = []struct {
	handle, name, runner string
	followers            [2]int
	appeal               float64
}{
	{"lumenoutlet", "Lumen Outlet", "Lena", [2]int{1900, 3400}, 95},
	{"lumenlabs", "Lumen Labs", "Marco", [2]int{800, 1500}, 55},
	{"lumenhelp", "Lumen Help", "Priya", [2]int{450, 700}, 40},
}

type product struct {
	sku, name   string
	price, deal int64 // US cents
}

var catalogue = map[string]product{
	"LX-13-R":  {"LX-13-R", "Lumen X13 laptop, refurbished", 89900, 64900},
	"LX-15-R":  {"LX-15-R", "Lumen X15 laptop, refurbished", 119900, 87900},
	"LX-13P":   {"LX-13P", "Lumen X13 Pro laptop", 139900, 119900},
	"LB-14":    {"LB-14", "Lumen Book 14", 74900, 54900},
	"LM-27-4K": {"LM-27-4K", "27-inch 4K monitor", 42900, 29900},
	"LM-24":    {"LM-24", "24-inch monitor", 22900, 15900},
	"LD-USB4":  {"LD-USB4", "USB4 dock", 24900, 17900},
	"LHD-1":    {"LHD-1", "Wireless headset", 12900, 8900},
	"LSL-13":   {"LSL-13", "13-inch laptop sleeve", 2900, 1900},
	"LBG-15":   {"LBG-15", "15-inch backpack", 6900, 4900},
	"LK-MX":    {"LK-MX", "Mechanical keyboard", 8900, 8900},
	"LMS-2":    {"LMS-2", "Wireless mouse", 3900, 3900},
	"LCH-100":  {"LCH-100", "100 W USB-C charger", 5900, 5900},
	"LWC-4K":   {"LWC-4K", "4K webcam", 7900, 7900},
}

// extras are what people add to a cart or come back for: halo revenue.
var extras = []string{"LK-MX", "LMS-2", "LCH-100", "LWC-4K", "LBG-15", "LSL-13", "LM-24", "LHD-1"}

type offerSpec struct {
	slug, title, description string
	audience                 offers.Audience
	accounts                 []string // handles whose followers may claim
	mode                     offers.CodeMode
	code                     string // the shared code, or the prefix of unique ones
	cap                      float64
	start, end               int // days from the first day; end 0: open-ended
	skus                     []string
	draft                    bool
	appeal                   float64 // how strongly its posts pull
	ttl                      int
	by                       string
}

// The offers, across audiences and code modes; days count from the first
// day of the history (Days is today).
var offerSpecs = []offerSpec{
	{"x13-outlet", "Lumen X13, refurbished: $250 off", "Our best-selling laptop, refurbished and tested, with the full two-year warranty.",
		offers.Followers, []string{"lumenoutlet"}, offers.Unique, "X13", 260, 2, 0, []string{"LX-13-R"}, false, 1.3, 72, "Lena"},
	{"monitor-monday", "27-inch 4K monitor, $130 off", "Every Monday, for anyone who follows along.",
		offers.Public, nil, offers.Shared, "MONDAY4K", 500, 6, 0, []string{"LM-27-4K"}, false, 1.0, 0, "Marco"},
	{"x15-creator", "Lumen X15 for creators", "The 15-inch workhorse, refurbished, for the people who read our posts.",
		offers.Link, nil, offers.Unique, "X15", 120, 12, 60, []string{"LX-15-R"}, false, 1.1, 72, "Marco"},
	{"book14-student", "Book 14 for students: $200 off", "Light, quiet, all-day battery. For the new term.",
		offers.Link, nil, offers.Unique, "B14", 300, 25, 0, []string{"LB-14"}, false, 1.2, 0, "Lena"},
	{"dock-drop", "USB4 dock drop", "One dock, every port. For the people who follow Lumen Labs.",
		offers.Followers, []string{"lumenlabs"}, offers.Pool, "", 120, 40, 0, []string{"LD-USB4"}, false, 1.0, 0, "Marco"},
	{"flash-24", "24-inch monitor flash sale", "Three days only.",
		offers.Public, nil, offers.Unique, "F24", 150, 44, 47, []string{"LM-24"}, false, 1.6, 0, "Lena"},
	{"headset-help", "A headset for Help followers", "Thanks for sticking with us: $40 off our wireless headset.",
		offers.Followers, []string{"lumenhelp"}, offers.Unique, "HS", 100, 50, 0, []string{"LHD-1"}, false, 0.9, 0, "Priya"},
	{"desk-bundle", "Desk bundle: X13 and USB4 dock", "The laptop and the dock together, $320 off.",
		offers.Public, nil, offers.Unique, "BND", 90, 55, 0, []string{"LX-13-R", "LD-USB4"}, false, 1.1, 72, "Lena"},
	{"sleeve-clearance", "Laptop sleeves, clearance", "The last of the 13-inch sleeves.",
		offers.Public, nil, offers.Shared, "SLEEVE10", 40, 70, 0, []string{"LSL-13"}, false, 2.2, 0, "Marco"},
	{"labs-preview", "Labs preview: X13 Pro", "Early access to the X13 Pro for the people who click through.",
		offers.Link, nil, offers.Unique, "LAB", 60, Days + 5, 0, []string{"LX-13P"}, false, 1.0, 0, "Marco"},
	{"black-friday", "Black Friday at the outlet", "Our best refurbished laptops and monitors, for followers first.",
		offers.Followers, []string{"lumenoutlet", "lumenlabs"}, offers.Unique, "BF", 500, Days + 4, Days + 8, []string{"LX-13-R", "LX-15-R", "LM-27-4K"}, false, 1.0, 0, "Lena"},
	{"backpack-gift", "A backpack with any laptop", "Being prepared for the holidays.",
		offers.Public, nil, offers.Unique, "BAG", 200, Days + 10, 0, []string{"LBG-15"}, true, 1.0, 0, "Marco"},
}

// setUp makes the team, the accounts, the settings and the shoppers, and
// queues the offers' creation.
func (s *sim) setUp() error {
	ctx, srv := s.ctx, s.srv
	lena := crew[0]
	w, owner, err := srv.Team.CreateOwner(ctx, team.NewOwner{Workspace: WorkspaceName, Email: lena.email, Name: lena.name, Password: s.o.Password, Signature: lena.signature})
	if err != nil {
		return fmt.Errorf("demo: owner: %w", err)
	}
	s.ws, s.res.Workspace = w.ID, w
	s.members = map[string]team.Member{lena.first: owner}
	for _, c := range crew[1:] {
		m, tok, err := srv.Team.AddMember(ctx, team.Owner, w.ID, team.NewMember{Email: c.email, Name: c.name, Role: c.role, Signature: c.signature})
		if err != nil {
			return fmt.Errorf("demo: member %s: %w", c.name, err)
		}
		if _, err := srv.Team.AcceptInvitation(ctx, tok, "", s.o.Password); err != nil {
			return fmt.Errorf("demo: member %s joins: %w", c.name, err)
		}
		m.Pending = false
		s.members[c.first] = m
	}
	if _, err := srv.Orders.SaveSettings(ctx, w.ID, orders.Settings{Currency: "USD", WindowDays: 30}); err != nil {
		return err
	}
	if err := srv.Inbox.SaveSettings(ctx, w.ID, inbox.Settings{VIPRevenue: 150000}); err != nil {
		return err
	}
	if _, err := srv.Inbox.SaveRule(ctx, w.ID, inbox.Rule{Words: []string{"broken", "damaged", "return", "refund"}, Tag: "returns", AssigneeID: s.members["Priya"].ID}); err != nil {
		return err
	}
	for _, spec := range accountSpecs {
		a, err := srv.Social.CreateSandboxAccount(ctx, w.ID, s.members[spec.runner].ID, spec.handle, spec.name)
		if err != nil {
			return fmt.Errorf("demo: account @%s: %w", spec.handle, err)
		}
		s.accounts = append(s.accounts, &account{Account: a, runner: spec.runner, followers: spec.followers, appeal: spec.appeal})
	}
	s.makePeople()
	s.at(s.start.AddDate(0, 0, 7), s.saveTemplates) // once the offer they name exists
	for d := 0; d <= Days; d += 7 {
		day := d
		s.at(s.start.AddDate(0, 0, day).Add(23*time.Hour), func() error { return s.sampleFollowers(day) })
	}
	s.at(s.now.Add(-time.Minute), func() error { return s.sampleFollowers(Days) })
	for i := range offerSpecs {
		spec := offerSpecs[i]
		created := min(spec.start, Days-3)
		if spec.draft {
			created = Days - 1
		}
		s.at(s.start.AddDate(0, 0, created).Add(8*time.Hour+time.Duration(i)*time.Minute), func() error { return s.createOffer(spec) })
	}
	return nil
}

// saveTemplates saves the replies the team reuses.
func (s *sim) saveTemplates() error {
	for _, t := range [][2]string{
		{"thanks", "Thank you {name}! Glad it arrived safely. Tell us how you get on with it."},
		{"code-help", "Sorry about that, {name}: codes are case-sensitive and work once. Send us the code in a DM if it still fails."},
		{"monitor-deal", "Hi {name}, yes: one code per person, so order one each. The deal is here: {offer:monitor-monday}"},
	} {
		if _, err := s.srv.Inbox.SaveTemplate(s.ctx, s.ws, t[0], t[1]); err != nil {
			return fmt.Errorf("demo: template %s: %w", t[0], err)
		}
	}
	return nil
}

func (s *sim) accountNamed(handle string) *account {
	for _, a := range s.accounts {
		if a.Handle == handle {
			return a
		}
	}
	panic("demo: no account @" + handle)
}

// createOffer creates an offer as a marketer does in the dashboard, and
// stocks a pool offer with codes from the "store".
func (s *sim) createOffer(spec offerSpec) error {
	in := offers.Input{Slug: spec.slug, Title: spec.title, Description: spec.description, Currency: "USD",
		LandingURL: "https://shop.lumen-outlet.example/" + spec.slug, StartsAt: s.start.AddDate(0, 0, spec.start).Add(9 * time.Hour),
		Cap: int64(s.n(spec.cap, 5)), PerPerson: 1, Audience: spec.audience, CodeMode: spec.mode, ClaimTTLHours: spec.ttl, Published: !spec.draft}
	if spec.end != 0 {
		end := s.start.AddDate(0, 0, spec.end).Add(23 * time.Hour)
		in.EndsAt = &end
	}
	switch spec.mode {
	case offers.Shared:
		in.SharedCode = spec.code
	case offers.Unique:
		in.CodePrefix, in.CodeLength = spec.code+"-", 6
	}
	for _, h := range spec.accounts {
		in.Accounts = append(in.Accounts, s.accountNamed(h).ID)
	}
	for _, sku := range spec.skus {
		p := catalogue[sku]
		in.Products = append(in.Products, offers.Product{SKU: p.sku, Name: p.name, RegularPrice: p.price, DealPrice: p.deal})
	}
	o, err := s.srv.Offers.Create(s.ctx, s.ws, s.members[spec.by].ID, in)
	if err != nil {
		return fmt.Errorf("demo: offer %s: %w", spec.slug, err)
	}
	if spec.mode == offers.Pool {
		var csv strings.Builder
		csv.WriteString("code\n")
		for i := range o.Cap {
			fmt.Fprintf(&csv, "DOCK-%04d-%03X\n", i+1, s.r.IntN(4096))
		}
		if _, err := s.srv.Offers.ImportPool(s.ctx, s.ws, o.ID, strings.NewReader(csv.String())); err != nil {
			return fmt.Errorf("demo: pool of %s: %w", spec.slug, err)
		}
	}
	s.offers = append(s.offers, &offer{Offer: o, spec: spec})
	return nil
}

var firstNames = []string{"maya", "jonas", "aiko", "omar", "sofia", "liam", "zoe", "mateo", "nina", "kofi", "ines", "arjun", "elena", "tomas",
	"yara", "felix", "amara", "leo", "hana", "diego", "freya", "ravi", "lucia", "noah", "mei", "emil", "sara", "ivan", "chloe", "malik"}
var lastNames = []string{"chen", "berg", "tanaka", "haddad", "rossi", "murphy", "novak", "garcia", "petrov", "mensah", "silva", "patel",
	"ivanova", "costa", "nasser", "weber", "okoye", "moreau", "kim", "lopez", "larsen", "iyer", "ferrari", "cohen", "wong", "lind"}

var browsers = []struct {
	ua     string
	weight int
}{
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1", 34},
	{"Mozilla/5.0 (Linux; Android 15; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Mobile Safari/537.36", 24},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Safari/605.1.15", 14},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36", 16},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:144.0) Gecko/20100101 Firefox/144.0", 5},
	{"Mozilla/5.0 (iPad; CPU OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1", 5},
	{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36", 2},
}

var referrers = []string{"https://mastodon.social/", "https://bsky.app/", "https://t.co/", "", "https://hachyderm.io/", "https://www.google.com/"}

// makePeople makes the shoppers: each has a handle on the sandbox network,
// an email address for the store, one browser and one address, and
// follows some of the brand's accounts.
func (s *sim) makePeople() {
	total := 0
	for _, b := range browsers {
		total += b.weight
	}
	n := s.n(900, 40)
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		h := firstNames[s.pick(len(firstNames))] + []string{".", "_", ""}[s.pick(3)] + lastNames[s.pick(len(lastNames))]
		for seen[h] {
			h += fmt.Sprint(s.pick(10))
		}
		seen[h] = true
		p := &person{handle: h, email: strings.ReplaceAll(h, "_", ".") + "@mail.example", ip: fmt.Sprintf("[2001:db8:%x::%x]", i/250, i%250+1),
			referrer: referrers[s.pick(len(referrers))], follows: map[string]bool{}}
		for w, k := s.pick(total), 0; k < len(browsers); k++ {
			if w -= browsers[k].weight; w < 0 {
				p.ua = browsers[k].ua
				break
			}
		}
		for j, a := range s.accounts {
			if s.chance([]float64{0.55, 0.3, 0.2}[j]) {
				p.follows[a.ID] = true
				a.fans = append(a.fans, p)
			}
		}
		s.people = append(s.people, p)
	}
}

// sampleFollowers grows each account's followers on the sandbox network
// to the day's count, then has Roost read it, as its sampler does.
func (s *sim) sampleFollowers(day int) error {
	for _, a := range s.accounts {
		f := float64(day) / Days
		want := s.n(float64(a.followers[0])+(float64(a.followers[1]-a.followers[0]))*f*(0.9+0.2*s.r.Float64()), len(a.fans))
		handles := make([]string, 0, want)
		for _, p := range a.fans {
			handles = append(handles, p.handle)
		}
		for i := len(handles); i < want; i++ {
			handles = append(handles, fmt.Sprintf("reader%05d", i))
		}
		if _, err := s.srv.Sandbox.SetFollowers(s.ctx, a.Account, handles); err != nil {
			return fmt.Errorf("demo: followers of @%s: %w", a.Handle, err)
		}
		if _, err := s.srv.Hub.Refresh(s.ctx, a.Account); err != nil {
			return fmt.Errorf("demo: sample followers of @%s: %w", a.Handle, err)
		}
	}
	return nil
}

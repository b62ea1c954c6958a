package x

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/roost-hq/roost/internal/social"
)

// Cost is an amount of US dollars in millionths: X prices calls in
// fractions of a cent, which Roost's money (minor units) cannot hold.
type Cost int64

// String writes a cost as dollars with at least two decimals: "$0.015",
// "$0.20".
func (c Cost) String() string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	frac := strings.TrimRight(strconv.FormatInt(int64(c%1_000_000)+1_000_000, 10)[1:], "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return sign + "$" + strconv.FormatInt(int64(c/1_000_000), 10) + "." + frac
}

// What X charges an app on pay-per-use pricing, per the rate table of
// "X API pay-per-usage pricing and credits"
// (https://docs.x.com/x-api/getting-started/pricing, as published after
// the April 2026 update that made posts with a URL dearer and owned reads
// cheaper). X says prices may change and the Developer Console
// (https://console.x.com) has the current rates.
const (
	// CreatePost is "Content: Create", per request: a post without a URL.
	CreatePost Cost = 15_000 // $0.015
	// CreatePostWithURL is "Content: Create (with URL)", per request.
	CreatePostWithURL Cost = 200_000 // $0.200
	// ReadPost is "Posts: Read", per post returned (deduplicated within a
	// UTC day).
	ReadPost Cost = 5_000 // $0.005
	// ReadUser is "User: Read", per user returned: a Lookup, a Follows
	// or PersonFollows check, a Verify.
	ReadUser Cost = 10_000 // $0.010
	// OwnedRead is "Owned Reads", per resource: an account reading its
	// own data, such as its posts (FindPublished) and its mentions
	// (Mentions).
	OwnedRead Cost = 1_000 // $0.001
	// ReadDMEvent is "DM Event: Read", per event returned: each read of
	// the account's direct messages (Roost's first page is 10 events).
	ReadDMEvent Cost = 10_000 // $0.010
	// CreateDM is "DM Interaction: Create", per request: a reply sent as
	// a direct message.
	CreateDM Cost = 15_000 // $0.015
)

// PostCost is what X charges to create a post with this text: creating
// one with a URL costs more than ten times as much as one without, so the
// composer can say "this post is a paid X API call: $0.20".
//
// It is an estimate made before posting: X decides what counts as a URL.
// Links with a scheme count, and so do bare domains X would link
// ("example.com/deal"); when in doubt it says the higher price.
func PostCost(text string) Cost {
	if HasURL(text) {
		return CreatePostWithURL
	}
	return CreatePost
}

// bareDomainRE finds domains X links without a scheme: a common top-level
// domain, or any with a path after it.
var bareDomainRE = regexp.MustCompile(`(?i)(?:^|[^\w@.\-/:])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+` +
	`(?:(?:com|net|org|io|co|ly|me|ai|app|dev|shop|store|info|biz|xyz|link|site|online|page|us|uk|de|fr|ca|au|eu)\b|[a-z]{2,24}/)`)

// HasURL reports whether X would see a URL in text.
func HasURL(text string) bool {
	return len(social.URLs(text)) > 0 || bareDomainRE.MatchString(text)
}

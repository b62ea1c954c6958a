package server_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/roost-hq/roost/internal/links"
	"github.com/roost-hq/roost/internal/server/servertest"
	"github.com/roost-hq/roost/internal/store"
)

// TestShortLinksCannotShadowRoutes checks that every fixed first path
// segment of Roost's own routes is reserved, so no custom code takes it.
func TestShortLinksCannotShadowRoutes(t *testing.T) {
	t.Parallel()
	e := servertest.New(t, store.SQLite)
	for _, rt := range e.Mux.Routes() {
		first := strings.Split(strings.TrimPrefix(rt.Path, "/"), "/")[0]
		if first == "" || strings.HasPrefix(first, "{") {
			continue
		}
		if !slices.Contains(links.Reserved, first) {
			t.Errorf("route %s %s starts with %q, which links.Reserved does not hold: a custom code could shadow it", rt.Method, rt.Path, first)
		}
	}
}

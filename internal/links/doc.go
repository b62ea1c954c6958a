// Package links is Roost's tracked short links: their storage, the redirect
// hot path (an in-process cache in front of the database, invalidated
// across nodes), the click buffer that records every click without making
// the redirect wait, and the statistics read back from it.
package links

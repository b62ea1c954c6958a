package api

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the API's description, kept by hand next to the handlers; a
// test holds it and the registered routes to each other.
//
//go:embed openapi.json
var OpenAPI []byte

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Write(OpenAPI)
}

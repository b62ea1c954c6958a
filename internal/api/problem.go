package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/offers"
	"github.com/roost-hq/roost/internal/store"
	"github.com/roost-hq/roost/internal/valid"
)

// MaxBody caps request bodies; larger ones are refused before parsing.
const MaxBody = 1 << 20

// Problem is an RFC 9457 problem detail. Code is a stable, machine-readable
// name for the kind of problem; Errors lists problems with input fields.
type Problem struct {
	Type   string        `json:"type"`
	Title  string        `json:"title"`
	Status int           `json:"status"`
	Detail string        `json:"detail,omitempty"`
	Code   string        `json:"code"`
	Errors []valid.Field `json:"errors,omitempty"`
}

func (p *Problem) Error() string { return p.Detail }

func problem(status int, code, detail string) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Code: code, Detail: detail}
}

func writeProblem(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

// writeError maps an error from a handler to a problem response. Errors
// that are not the caller's fault are logged and answered without detail.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var p *Problem
	if errors.As(err, &p) {
		writeProblem(w, p)
		return
	}
	if ve, ok := valid.As(err); ok {
		p := problem(http.StatusUnprocessableEntity, "validation_failed", "The request has invalid fields: "+ve.Error())
		if ve.Conflict {
			p = problem(http.StatusConflict, "conflict", ve.Error())
		}
		p.Errors = ve.Fields
		writeProblem(w, p)
		return
	}
	var ref *offers.Refusal
	if errors.As(err, &ref) {
		writeProblem(w, problem(http.StatusConflict, ref.Code, ref.Message))
		return
	}
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(w, problem(http.StatusNotFound, "not_found", "No such object in this workspace."))
		return
	}
	log.Error("api error", "method", r.Method, "route", r.Pattern, "err", err)
	writeProblem(w, problem(http.StatusInternalServerError, "internal", "Something went wrong on our side; the request may be retried."))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// readBody reads a capped request body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, problem(http.StatusUnsupportedMediaType, "unsupported_media_type", "Send the body as application/json.")
		}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, problem(http.StatusBadRequest, "body_too_large", fmt.Sprintf("The request body is larger than %d bytes.", MaxBody))
	}
	if err != nil {
		return nil, problem(http.StatusBadRequest, "invalid_body", "The request body could not be read.")
	}
	return b, nil
}

// decode parses a JSON object into dst, refusing unknown fields, wrong
// types and trailing data with a message that names the field.
func decode(body []byte, dst any) error {
	if len(strings.TrimSpace(string(body))) == 0 {
		return problem(http.StatusBadRequest, "invalid_json", "The request body must be a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("trailing data")
		}
	}
	if err == nil {
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tim *time.ParseError
	detail := "The request body is not valid JSON."
	switch {
	case errors.As(err, &tim):
		detail = fmt.Sprintf("%s is not a time: times are RFC 3339, such as \"2026-01-31T09:00:00Z\".", tim.Value)
	case errors.As(err, &syn):
		detail = fmt.Sprintf("The request body is not valid JSON (at byte %d).", syn.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		detail = fmt.Sprintf("Field %q must be %s, not %s.", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.As(err, &typ):
		detail = fmt.Sprintf("The request body must be a JSON object, not %s.", typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		detail = fmt.Sprintf("Unknown field %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
	case err.Error() == "trailing data":
		detail = "The request body has data after the JSON object."
	case errors.Is(err, io.ErrUnexpectedEOF):
		detail = "The request body is truncated JSON."
	}
	return problem(http.StatusBadRequest, "invalid_json", detail)
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "ptr":
		return "a value of another type"
	}
	return "a number"
}

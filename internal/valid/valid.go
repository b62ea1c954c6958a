// Package valid carries input errors from the domain packages to whoever
// shows them: the API turns them into problem JSON, the dashboard into
// messages beside the fields, the CLI into one line.
package valid

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Field is one problem with one input field.
type Field struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Errors is a list of field problems. Conflict marks problems that come
// from the state of stored data (a duplicate), not from the input alone.
type Errors struct {
	Fields   []Field
	Conflict bool
}

func (e *Errors) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return strings.Join(parts, "; ")
}

// Add records a problem with field.
func (e *Errors) Add(field, format string, args ...any) {
	e.Fields = append(e.Fields, Field{field, fmt.Sprintf(format, args...)})
}

// Err returns e as an error, or nil when it holds no problem.
func (e *Errors) Err() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// For returns the message for field, or "".
func (e *Errors) For(field string) string {
	for _, f := range e.Fields {
		if f.Field == field {
			return f.Message
		}
	}
	return ""
}

// New returns an error about one field.
func New(field, format string, args ...any) error {
	e := &Errors{}
	e.Add(field, format, args...)
	return e
}

// Conflict returns an error about one field that clashes with stored data.
func Conflict(field, format string, args ...any) error {
	e := &Errors{Conflict: true}
	e.Add(field, format, args...)
	return e
}

// As returns the *Errors inside err, if any.
func As(err error) (*Errors, bool) {
	var e *Errors
	ok := errors.As(err, &e)
	return e, ok
}

// Lines checks a text that may run over several lines, such as a post or
// a reply: like Text, but line breaks (and tabs) are allowed, and Windows
// line endings become plain ones.
func (e *Errors) Lines(field, s string, min, max int) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return e.text(field, s, min, max, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' })
}

// Text checks a short single-line text: trimmed, between min and max
// characters, no control characters. It returns the trimmed text.
func (e *Errors) Text(field, s string, min, max int) string {
	return e.text(field, s, min, max, unicode.IsControl)
}

func (e *Errors) text(field, s string, min, max int, bad func(rune) bool) string {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s):
		e.Add(field, "must be valid UTF-8")
	case n < min && min == 1:
		e.Add(field, "is required")
	case n < min:
		e.Add(field, "must be at least %d characters", min)
	case n > max:
		e.Add(field, "must be at most %d characters", max)
	case strings.IndexFunc(s, bad) >= 0:
		e.Add(field, "must not contain control characters")
	}
	return s
}

// Email checks an email address and returns it in the form Roost stores:
// trimmed and lower-cased.
func (e *Errors) Email(field, s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		e.Add(field, "is required")
		return s
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 || !strings.Contains(s[strings.IndexByte(s, '@'):], ".") {
		e.Add(field, "must be an email address such as name@example.com")
	}
	return s
}

var slugRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$`)

// Slug checks a URL-safe identifier: lower-case letters, digits and inner
// hyphens, at most 48 characters.
func (e *Errors) Slug(field, s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		e.Add(field, "is required")
	} else if !slugRE.MatchString(s) {
		e.Add(field, "may contain only lower-case letters, digits and hyphens (not at either end), at most 48 characters")
	}
	return s
}

// Slugify turns a name into a slug candidate: "Dell Outlet!" → "dell-outlet".
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 48 {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}

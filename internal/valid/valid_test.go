package valid

import "testing"

func TestEmail(t *testing.T) {
	t.Parallel()
	for in, ok := range map[string]bool{
		"a@example.com":         true,
		" Ann@Example.COM ":     true,
		"a@localhost":           false,
		"Ann <a@example.com>":   false,
		"nobody":                false,
		"":                      false,
		"a@b.c\n":               true,
		"a@@example.com":        false,
		"a b@example.com":       false,
		"a@example.com, b@c.de": false,
	} {
		var e Errors
		e.Email("email", in)
		if (e.Err() == nil) != ok {
			t.Errorf("Email(%q) valid = %v, want %v", in, e.Err() == nil, ok)
		}
	}
}

func TestTextAndSlug(t *testing.T) {
	t.Parallel()
	var e Errors
	if got := e.Text("name", "  Lena Berg ", 1, 10); got != "Lena Berg" || e.Err() != nil {
		t.Fatalf("Text = %q, %v", got, e.Err())
	}
	for _, bad := range []string{"", "   ", "a\x00b", "\xff", "elevenchars"} {
		var e Errors
		e.Text("name", bad, 1, 10)
		if e.Err() == nil {
			t.Errorf("Text(%q) accepted", bad)
		}
	}
	if got := e.Lines("body", " Line one\r\n\n\tLine two ", 1, 40); got != "Line one\n\n\tLine two" || e.Err() != nil {
		t.Fatalf("Lines = %q, %v", got, e.Err())
	}
	for _, bad := range []string{"", "a\x00b", "a\rb", "a\x1bb", "\xff"} {
		var e Errors
		e.Lines("body", bad, 1, 10)
		if e.Err() == nil {
			t.Errorf("Lines(%q) accepted", bad)
		}
	}
	var one Errors
	one.Text("name", "two\nlines", 1, 20)
	if one.Err() == nil {
		t.Error("Text accepted a line break")
	}
	for in, ok := range map[string]bool{"dell-outlet": true, "a": true, "-a": false, "A": false, "a_b": false, "": false} {
		var e Errors
		e.Slug("slug", in)
		if (e.Err() == nil) != ok {
			t.Errorf("Slug(%q) valid = %v", in, e.Err() == nil)
		}
	}
	if got := Slugify("  Dell Outlet! (EU) "); got != "dell-outlet-eu" {
		t.Errorf("Slugify = %q", got)
	}
	if got := Slugify("Ünïcode ✓"); got != "n-code" {
		t.Errorf("Slugify = %q", got)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	err := Conflict("email", "is taken")
	e, ok := As(err)
	if !ok || !e.Conflict || e.For("email") != "is taken" || e.Error() != "email: is taken" {
		t.Fatalf("Conflict error = %#v", err)
	}
}

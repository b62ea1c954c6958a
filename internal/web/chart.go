package web

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"
)

// Charts are drawn on the server as SVG: no script, crisp at any size, and
// readable by screen readers through their <title> elements.

// series is one line of a chart.
type series struct {
	Name   string
	Class  string // CSS class that colours it
	Values []float64
}

// lineChart draws series over shared x labels (times). It returns the SVG,
// safe to put in a template.
func lineChart(title string, times []time.Time, layout string, ss ...series) template.HTML {
	const w, h, left, right, top, bottom = 760.0, 240.0, 44.0, 12.0, 12.0, 28.0
	n := len(times)
	if n == 0 {
		return ""
	}
	maxV := 0.0
	for _, s := range ss {
		for _, v := range s.Values {
			maxV = math.Max(maxV, v)
		}
	}
	top5 := niceMax(maxV)
	x := func(i int) float64 {
		if n == 1 {
			return left + (w-left-right)/2
		}
		return left + float64(i)*(w-left-right)/float64(n-1)
	}
	y := func(v float64) float64 { return top + (h-top-bottom)*(1-v/top5) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" preserveAspectRatio="none">`, w, h, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<title>%s</title>`, template.HTMLEscapeString(title))
	for i := 0; i <= 4; i++ {
		v := top5 * float64(i) / 4
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, left, w-right, y(v), y(v))
		fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, left-6, y(v)+4, short(v))
	}
	step := max(1, n/6)
	for i := 0; i < n; i += step {
		fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x(i), h-8, times[i].Format(layout))
	}
	for _, s := range ss {
		var line strings.Builder
		for i, v := range s.Values {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&line, "%s%.1f %.1f", cmd, x(i), y(v))
		}
		fmt.Fprintf(&b, `<path class="area %s" d="%sL%.1f %.1fL%.1f %.1fZ"/>`, s.Class, line.String(), x(n-1), y(0), x(0), y(0))
		fmt.Fprintf(&b, `<path class="line %s" d="%s"/>`, s.Class, line.String())
	}
	// One invisible column per point carries a tooltip with every series.
	colW := (w - left - right) / float64(max(1, n-1))
	for i, t := range times {
		var tip []string
		for _, s := range ss {
			tip = append(tip, fmt.Sprintf("%s %s", short(s.Values[i]), s.Name))
		}
		fmt.Fprintf(&b, `<rect class="hit" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %s</title></rect>`,
			x(i)-colW/2, top, colW, h-top-bottom, t.Format(layout), strings.Join(tip, ", "))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceMax rounds a maximum up to 1, 2 or 5 times a power of ten, so the
// grid lines fall on round numbers.
func niceMax(v float64) float64 {
	if v <= 4 {
		return 4
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// short writes a count compactly: 950, 1.2k, 3.4M.
func short(v float64) string {
	switch {
	case v >= 1e6:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v/1e6), ".0") + "M"
	case v >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 1e3:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v/1e3), ".0") + "k"
	}
	return fmt.Sprintf("%.0f", v)
}

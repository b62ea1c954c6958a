package links

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/roost-hq/roost/internal/valid"
)

// Interval is the size of a time-series bucket.
type Interval string

const (
	Hour Interval = "hour"
	Day  Interval = "day"
)

// Range is a period of stats: [From, To) in UTC, bucketed by Interval.
type Range struct {
	From, To time.Time
	Interval Interval
}

// maxBuckets bounds a series so a request cannot ask for millions of points.
const maxBuckets = 24 * 400

// CheckRange validates a range, filling the defaults (the last 30 days by
// day) and aligning it to whole buckets.
func CheckRange(r Range, now time.Time) (Range, error) {
	var e valid.Errors
	if r.Interval == "" {
		r.Interval = Day
	}
	if r.Interval != Hour && r.Interval != Day {
		e.Add("interval", "must be hour or day")
		return r, e.Err()
	}
	step := r.step()
	if r.To.IsZero() {
		r.To = now
	}
	if r.From.IsZero() {
		r.From = r.To.Add(-30 * 24 * time.Hour)
	}
	r.From = r.From.UTC().Truncate(step)
	r.To = r.To.UTC().Truncate(step).Add(step)
	switch {
	case !r.From.Before(r.To):
		e.Add("from", "must be before to")
	case r.To.Sub(r.From)/step > maxBuckets:
		e.Add("from", "the range has more than %d %ss; choose a shorter range or a day interval", maxBuckets, r.Interval)
	}
	return r, e.Err()
}

func (r Range) step() time.Duration {
	if r.Interval == Hour {
		return time.Hour
	}
	return 24 * time.Hour
}

// Counts are the three ways Roost counts clicks: every request, those from
// people (no bots or link previews), and each person's first click on a
// link each day.
type Counts struct {
	Clicks int64 `json:"clicks"`
	Human  int64 `json:"human"`
	Unique int64 `json:"unique"`
}

// Point is one bucket of a time series.
type Point struct {
	Time time.Time `json:"time"`
	Counts
}

// Slice is clicks by one value of a dimension (a referrer, a device…).
type Slice struct {
	Name   string `json:"name"`
	Clicks int64  `json:"clicks"`
	Human  int64  `json:"human"`
}

// Stats are the clicks of one link, or of a whole workspace, over a range.
type Stats struct {
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Interval  Interval  `json:"interval"`
	Total     Counts    `json:"total"`
	Series    []Point   `json:"series"`
	Referrers []Slice   `json:"referrers"`
	Devices   []Slice   `json:"devices"`
	Countries []Slice   `json:"countries"`
	Bots      []Slice   `json:"bots"`
}

// Stats returns the clicks of one link (linkID) or of the workspace
// (linkID ""), over r.
func (s *Store) Stats(ctx context.Context, wsID, linkID string, r Range) (Stats, error) {
	st := Stats{From: r.From, To: r.To, Interval: r.Interval}
	step := r.step()
	scope, args := `workspace_id = $1`, []any{wsID, r.From.UnixMicro(), r.To.UnixMicro()}
	if linkID != "" {
		scope, args = `workspace_id = $1 AND link_id = $4`, append(args, linkID)
	}
	// The series comes from the hourly counters, never from raw clicks.
	byBucket := map[int64]*Counts{}
	rows, err := s.db.R.QueryContext(ctx, fmt.Sprintf(`SELECT hour / %[1]d * %[1]d, CAST(SUM(total) AS BIGINT), CAST(SUM(human) AS BIGINT), CAST(SUM(uniques) AS BIGINT) FROM click_counts
		WHERE %s AND hour >= $2 AND hour < $3 GROUP BY 1`, step.Microseconds(), scope), args...)
	if err != nil {
		return st, fmt.Errorf("links: stats series: %w", err)
	}
	for rows.Next() {
		var b int64
		var c Counts
		if err := rows.Scan(&b, &c.Clicks, &c.Human, &c.Unique); err != nil {
			rows.Close()
			return st, err
		}
		byBucket[b] = &c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, err
	}
	for t := r.From; t.Before(r.To); t = t.Add(step) {
		p := Point{Time: t}
		if c := byBucket[t.UnixMicro()]; c != nil {
			p.Counts = *c
		}
		st.Total.Clicks += p.Clicks
		st.Total.Human += p.Human
		st.Total.Unique += p.Unique
		st.Series = append(st.Series, p)
	}
	// Breakdowns come from the daily rollups: for an hourly range they
	// cover the whole days it touches.
	dayArgs := slices.Clone(args)
	dayArgs[1], dayArgs[2] = day(r.From), day(r.To.Add(-time.Microsecond))+1
	for _, d := range []struct {
		dim string
		out *[]Slice
	}{{"referrer", &st.Referrers}, {"device", &st.Devices}, {"country", &st.Countries}, {"bot", &st.Bots}} {
		rows, err := s.db.R.QueryContext(ctx, `SELECT value, CAST(SUM(clicks) AS BIGINT), CAST(SUM(human) AS BIGINT) FROM click_dims
			WHERE `+scope+` AND day >= $2 AND day < $3 AND dim = '`+d.dim+`' GROUP BY value ORDER BY 2 DESC, value LIMIT 20`, dayArgs...)
		if err != nil {
			return st, fmt.Errorf("links: stats by %s: %w", d.dim, err)
		}
		*d.out = []Slice{}
		for rows.Next() {
			var sl Slice
			if err := rows.Scan(&sl.Name, &sl.Clicks, &sl.Human); err != nil {
				rows.Close()
				return st, err
			}
			*d.out = append(*d.out, sl)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return st, err
		}
	}
	return st, nil
}

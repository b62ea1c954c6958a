package inbox

import (
	"context"
	"slices"
	"time"

	"github.com/roost-hq/roost/internal/store"
)

// ResponseStat is how fast a member or an account answers.
type ResponseStat struct {
	Name          string        `json:"name"`
	Conversations int           `json:"conversations"`
	Answered      int           `json:"answered"`
	FirstResponse time.Duration `json:"first_response_median_ns"` // median, among those answered
	Resolution    time.Duration `json:"resolution_median_ns"`     // median, among those closed
}

// Metrics are the inbox's pulse over the last 30 days.
type Metrics struct {
	ByMember  []ResponseStat `json:"by_member"`
	ByAccount []ResponseStat `json:"by_account"`
	// Open conversations by the age of their latest message.
	OpenUnderHour, OpenUnderDay, OpenUnderWeek, OpenOlder int
}

// Metrics computes first-response and resolution times per member (the
// assignee) and per account, and the open conversations by age.
func (s *Store) Metrics(ctx context.Context, wsID string, now time.Time) (Metrics, error) {
	var m Metrics
	rows, err := s.db.R.QueryContext(ctx, `SELECT COALESCE(mb.name, ''), '@' || a.handle, c.status, c.created_at, c.first_response_at, c.closed_at, c.last_message_at
		FROM conversations c JOIN accounts a ON a.id = c.account_id LEFT JOIN members mb ON mb.id = c.assignee_id
		WHERE c.workspace_id = $1 AND (c.created_at >= $2 OR c.status <> 'closed')`, wsID, now.AddDate(0, 0, -30).UnixMicro())
	if err != nil {
		return m, err
	}
	defer rows.Close()
	type acc struct {
		n, answered int
		first, res  []time.Duration
	}
	members, accounts := map[string]*acc{}, map[string]*acc{}
	add := func(into map[string]*acc, key string, first, res time.Duration, answered, closed bool) {
		a := into[key]
		if a == nil {
			a = &acc{}
			into[key] = a
		}
		a.n++
		if answered {
			a.answered++
			a.first = append(a.first, first)
		}
		if closed {
			a.res = append(a.res, res)
		}
	}
	for rows.Next() {
		var member, account, status string
		var created, first, closed, last time.Time
		if err := rows.Scan(&member, &account, &status, store.T(&created), store.T(&first), store.T(&closed), store.T(&last)); err != nil {
			return m, err
		}
		if status != Closed {
			switch age := now.Sub(last); {
			case age < time.Hour:
				m.OpenUnderHour++
			case age < 24*time.Hour:
				m.OpenUnderDay++
			case age < 7*24*time.Hour:
				m.OpenUnderWeek++
			default:
				m.OpenOlder++
			}
		}
		answered, isClosed := !first.IsZero(), status == Closed && !closed.IsZero()
		if member == "" {
			member = "Unassigned"
		}
		add(members, member, first.Sub(created), closed.Sub(created), answered, isClosed)
		add(accounts, account, first.Sub(created), closed.Sub(created), answered, isClosed)
	}
	if err := rows.Err(); err != nil {
		return m, err
	}
	out := func(in map[string]*acc) []ResponseStat {
		var stats []ResponseStat
		for name, a := range in {
			stats = append(stats, ResponseStat{Name: name, Conversations: a.n, Answered: a.answered, FirstResponse: median(a.first), Resolution: median(a.res)})
		}
		slices.SortFunc(stats, func(x, y ResponseStat) int { return y.Conversations - x.Conversations })
		return stats
	}
	m.ByMember, m.ByAccount = out(members), out(accounts)
	return m, nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

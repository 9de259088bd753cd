package sqlstore

import (
	"fmt"
	"strings"

	"github.com/spooljobs/spool/queue"
)

// ListSQL holds a store's fragments of the job list queries, assembled by
// Query, one fragment per filter the caller set, every value a bound
// parameter: a condition written as "(param = ” OR col = param)" would
// keep the planner from using an index, so a deep page would scan every
// newer row. Keyset paging on id keeps every page as cheap as the first.
//
// In a fragment, "$?" stands for a new parameter and "$=" for the last one
// again; Placeholder spells the nth parameter in the store's dialect.
type ListSQL struct {
	// JobsFrom and DeadFrom select the columns a job scan reads from the
	// jobs and the dead table, with a WHERE clause that holds for every row;
	// the NoPayload twins read no payload (queue.ListFilter.OmitPayload).
	JobsFrom, DeadFrom, JobsFromNoPayload, DeadFromNoPayload string
	// ByQueue, ByKind, ByState and BeforeID each add a condition on one
	// parameter.
	ByQueue, ByKind, ByState, BeforeID string
	// Search and SearchDead add the search of the jobs and of the dead
	// table; every parameter they name is the search text.
	Search, SearchDead string
	// Order orders newest first and limits to its parameter.
	Order string
	// Placeholder spells the nth parameter, from 1.
	Placeholder func(n int) string
}

// Query returns the list query of f for the live jobs (of the state code
// state, or any when negative) or the dead ones, at most limit, and its
// arguments.
func (l *ListSQL) Query(dead bool, f queue.ListFilter, state int, limit int) (string, []any) {
	var b strings.Builder
	var args []any
	add := func(fragment string, arg any) {
		args = append(args, arg)
		p := l.Placeholder(len(args))
		b.WriteString(strings.NewReplacer("$?", p, "$=", p).Replace(fragment))
	}
	switch {
	case dead && f.OmitPayload:
		b.WriteString(l.DeadFromNoPayload)
	case dead:
		b.WriteString(l.DeadFrom)
	case f.OmitPayload:
		b.WriteString(l.JobsFromNoPayload)
	default:
		b.WriteString(l.JobsFrom)
	}
	if f.Queue != "" {
		add(l.ByQueue, f.Queue)
	}
	if f.Kind != "" {
		add(l.ByKind, f.Kind)
	}
	if !dead && state >= 0 {
		add(l.ByState, state)
	}
	if f.BeforeID > 0 {
		add(l.BeforeID, f.BeforeID)
	}
	if f.Search != "" {
		if dead {
			add(l.SearchDead, f.Search)
		} else {
			add(l.Search, f.Search)
		}
	}
	add(l.Order, limit)
	return b.String(), args
}

// List answers queue.Store.List for f. run lists f's jobs from the jobs
// table (dead: the dead table), of the state code state (any when
// negative), at most limit, newest first: a store runs the query
// ListSQL.Query builds. Without a state filter List lists both tables and
// merges them; Limit defaults to 50.
func List(f queue.ListFilter, run func(dead bool, state, limit int) ([]*queue.Job, error)) ([]*queue.Job, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	switch f.State {
	case queue.StateDead:
		return run(true, -1, limit)
	case "":
		// Live jobs first, then dead ones, merged newest first.
		live, err := run(false, -1, limit)
		if err != nil {
			return nil, err
		}
		dead, err := run(true, -1, limit)
		if err != nil {
			return nil, err
		}
		return MergeNewestFirst(live, dead, limit), nil
	default:
		code := StateCode(f.State)
		if code < 0 {
			return nil, fmt.Errorf("%w: unknown state %q", queue.ErrInvalidArgument, f.State)
		}
		return run(false, code, limit)
	}
}

// MergeNewestFirst merges two lists of jobs sorted newest first (by
// descending ID) into one, up to limit long.
func MergeNewestFirst(a, b []*queue.Job, limit int) []*queue.Job {
	out := make([]*queue.Job, 0, min(limit, len(a)+len(b)))
	for len(out) < limit && (len(a) > 0 || len(b) > 0) {
		if len(b) == 0 || (len(a) > 0 && a[0].ID > b[0].ID) {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return out
}

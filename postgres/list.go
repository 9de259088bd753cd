package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spooljobs/spool/queue"
)

// The list queries are assembled from fixed fragments, one per filter the
// caller set, every value a bound parameter ("$?" in a fragment stands for
// the next parameter's number): a condition written as "($1 = ” OR col =
// $1)" would keep the planner from using an index, so a deep page would
// scan every newer row. Keyset paging on id keeps every page as cheap as
// the first.
const (
	listJobsFrom = `SELECT ` + jobColumns + ` FROM spool.jobs WHERE true`
	listDeadFrom = `SELECT ` + deadColumns + ` FROM spool.dead WHERE true`
	// The same without the payload (ListFilter.OmitPayload).
	listJobsFromNoPayload = `SELECT ` + jobColumnsNoPayload + ` FROM spool.jobs WHERE true`
	listDeadFromNoPayload = `SELECT ` + deadColumnsNoPayload + ` FROM spool.dead WHERE true`
	listByQueue           = ` AND queue = $?`
	listByKind            = ` AND kind = $?`
	listByState           = ` AND state = $?`
	listBeforeID          = ` AND id < $?`
	// Search looks at the payload's bytes and at each attempt's decoded
	// error message, not at the errors column's JSON (whose keys and
	// timestamps would match "error" or a year in every failed job, and
	// whose escapes hide "<"). All three name the same parameter.
	listSearch = ` AND (position(convert_to($?, 'UTF8') in payload) > 0
  OR EXISTS (SELECT 1 FROM jsonb_array_elements(errors::jsonb) e WHERE strpos(e->>'error', $=) > 0))`
	listSearchDead = ` AND (position(convert_to($?, 'UTF8') in payload) > 0
  OR EXISTS (SELECT 1 FROM jsonb_array_elements(errors::jsonb) e WHERE strpos(e->>'error', $=) > 0)
  OR strpos(reason, $=) > 0)`
	listOrder = ` ORDER BY id DESC LIMIT $?`
)

// listQuery returns a list query of f for the live jobs (of the state
// code state, or any when negative) or the dead ones, and its arguments.
func listQuery(dead bool, f queue.ListFilter, state int, limit int) (string, []any) {
	var b strings.Builder
	var args []any
	// add writes a fragment, numbering its parameters: "$?" is a new one
	// (arg), "$=" the last one again.
	add := func(fragment string, arg any) {
		args = append(args, arg)
		n := "$" + strconv.Itoa(len(args))
		b.WriteString(strings.NewReplacer("$?", n, "$=", n).Replace(fragment))
	}
	switch {
	case dead && f.OmitPayload:
		b.WriteString(listDeadFromNoPayload)
	case dead:
		b.WriteString(listDeadFrom)
	case f.OmitPayload:
		b.WriteString(listJobsFromNoPayload)
	default:
		b.WriteString(listJobsFrom)
	}
	if f.Queue != "" {
		add(listByQueue, f.Queue)
	}
	if f.Kind != "" {
		add(listByKind, f.Kind)
	}
	if !dead && state >= 0 {
		add(listByState, state)
	}
	if f.BeforeID > 0 {
		add(listBeforeID, f.BeforeID)
	}
	if f.Search != "" {
		if dead {
			add(listSearchDead, f.Search)
		} else {
			add(listSearch, f.Search)
		}
	}
	add(listOrder, limit)
	return b.String(), args
}

// List implements queue.Store.
func (s *Store) List(ctx context.Context, f queue.ListFilter) ([]*queue.Job, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	switch f.State {
	case queue.StateDead:
		q, args := listQuery(true, f, -1, limit)
		return s.queryJobs(ctx, true, q, args...)
	case "":
		// Live jobs first, then dead ones, merged newest first.
		q, args := listQuery(false, f, -1, limit)
		live, err := s.queryJobs(ctx, false, q, args...)
		if err != nil {
			return nil, err
		}
		q, args = listQuery(true, f, -1, limit)
		dead, err := s.queryJobs(ctx, true, q, args...)
		if err != nil {
			return nil, err
		}
		return mergeByID(live, dead, limit), nil
	default:
		code := stateCode(f.State)
		if code < 0 {
			return nil, fmt.Errorf("%w: unknown state %q", queue.ErrInvalidArgument, f.State)
		}
		q, args := listQuery(false, f, code, limit)
		return s.queryJobs(ctx, false, q, args...)
	}
}

// mergeByID merges two lists of jobs sorted newest first into one, up to
// limit long.
func mergeByID(a, b []*queue.Job, limit int) []*queue.Job {
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

// queryJobs runs query, which selects jobColumns (deadColumns when dead),
// outside any write.
func (s *Store) queryJobs(ctx context.Context, dead bool, query string, args ...any) ([]*queue.Job, error) {
	rows, err := s.db.QueryContext(ctx, s.sql(query), args...)
	if err != nil {
		return nil, mapErr(err)
	}
	f := s.clock.frame()
	jobs, err := collect(rows, func(r scanner) (*queue.Job, error) { return f.scanJob(r, dead) })
	return jobs, mapErr(err)
}

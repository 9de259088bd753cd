package postgres

import (
	"context"
	"strconv"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// listSQL holds the job list queries' fragments (sqlstore.ListSQL): "$?"
// is a new parameter, "$=" the last one again.
var listSQL = sqlstore.ListSQL{
	JobsFrom:          `SELECT ` + jobColumns + ` FROM spool.jobs WHERE true`,
	DeadFrom:          `SELECT ` + deadColumns + ` FROM spool.dead WHERE true`,
	JobsFromNoPayload: `SELECT ` + jobColumnsNoPayload + ` FROM spool.jobs WHERE true`,
	DeadFromNoPayload: `SELECT ` + deadColumnsNoPayload + ` FROM spool.dead WHERE true`,
	ByQueue:           ` AND queue = $?`,
	ByKind:            ` AND kind = $?`,
	ByState:           ` AND state = $?`,
	BeforeID:          ` AND id < $?`,
	// Search looks at the payload's bytes and at each attempt's decoded
	// error message, not at the errors column's JSON (whose keys and
	// timestamps would match "error" or a year in every failed job, and
	// whose escapes hide "<").
	Search: ` AND (position(convert_to($?, 'UTF8') in payload) > 0
  OR EXISTS (SELECT 1 FROM jsonb_array_elements(errors::jsonb) e WHERE strpos(e->>'error', $=) > 0))`,
	SearchDead: ` AND (position(convert_to($?, 'UTF8') in payload) > 0
  OR EXISTS (SELECT 1 FROM jsonb_array_elements(errors::jsonb) e WHERE strpos(e->>'error', $=) > 0)
  OR strpos(reason, $=) > 0)`,
	Order:       ` ORDER BY id DESC LIMIT $?`,
	Placeholder: func(n int) string { return "$" + strconv.Itoa(n) },
}

// List implements queue.Store.
func (s *Store) List(ctx context.Context, f queue.ListFilter) ([]*queue.Job, error) {
	return sqlstore.List(f, func(dead bool, state, limit int) ([]*queue.Job, error) {
		q, args := listSQL.Query(dead, f, state, limit)
		return s.queryJobs(ctx, dead, q, args...)
	})
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

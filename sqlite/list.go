package sqlite

import (
	"context"
	"strconv"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// listSQL holds the job list queries' fragments (sqlstore.ListSQL): "$?"
// is a new parameter, "$=" the last one again, both written as numbered
// parameters ("?3").
var listSQL = sqlstore.ListSQL{
	JobsFrom:          `SELECT ` + jobColumns + ` FROM spool_jobs WHERE 1`,
	DeadFrom:          `SELECT ` + deadColumns + ` FROM spool_dead WHERE 1`,
	JobsFromNoPayload: `SELECT ` + jobColumnsNoPayload + ` FROM spool_jobs WHERE 1`,
	DeadFromNoPayload: `SELECT ` + deadColumnsNoPayload + ` FROM spool_dead WHERE 1`,
	ByQueue:           ` AND queue = $?`,
	ByKind:            ` AND kind = $?`,
	ByState:           ` AND state = $?`,
	BeforeID:          ` AND id < $?`,
	// Search looks at the payload's text and at each attempt's decoded
	// error message, not at the errors column's JSON (whose keys and
	// timestamps would match "error" or a year in every failed job, and
	// whose escapes hide "<").
	Search: ` AND (instr(CAST(payload AS TEXT), $?) > 0
  OR EXISTS (SELECT 1 FROM json_each(errors) WHERE instr(json_extract(value, '$.error'), $=) > 0))`,
	SearchDead: ` AND (instr(CAST(payload AS TEXT), $?) > 0
  OR EXISTS (SELECT 1 FROM json_each(errors) WHERE instr(json_extract(value, '$.error'), $=) > 0)
  OR instr(reason, $=) > 0)`,
	Order:       ` ORDER BY id DESC LIMIT $?`,
	Placeholder: func(n int) string { return "?" + strconv.Itoa(n) },
}

// List implements queue.Store.
func (s *Store) List(ctx context.Context, f queue.ListFilter) ([]*queue.Job, error) {
	return sqlstore.List(f, func(dead bool, state, limit int) ([]*queue.Job, error) {
		q, args := listSQL.Query(dead, f, state, limit)
		return s.queryJobs(ctx, dead, q, args...)
	})
}

// queryJobs runs query, which selects jobColumns (deadColumns when dead),
// on the readers.
func (s *Store) queryJobs(ctx context.Context, dead bool, query string, args ...any) ([]*queue.Job, error) {
	rows, err := s.readDB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	jobs, err := collect(rows, func(r scanner) (*queue.Job, error) { return scanJob(r, dead) })
	return jobs, mapErr(err)
}

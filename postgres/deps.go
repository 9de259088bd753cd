package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Job dependencies (queue.NewJob.DependsOn; the rules are in queue's
// deps.go), as in the SQLite store: a child waits in state blocked with
// one spool.job_deps row per parent, and the transaction that ends
// parents records their outcome on those rows (one statement per settle
// batch) and moves their children on.
//
// Several hosts write at once, so two locks order the writes that meet on
// a dependency. The enqueue of a child locks its parents' rows (and marks
// them tracked) before it reads their states: a parent that ends at
// the same time either committed before (the child sees how it ended) or
// waits for the child's commit (and then resolves its row). And the
// resolution locks the children's rows (in id order, after the parents',
// whose ids are lower) before it decides whether they are ready: of two
// parents of one child ending at once, the later sees the earlier's
// outcome.

const (
	sqlDepsMissing = `SELECT p FROM unnest($1::bigint[]) AS p
  WHERE NOT EXISTS (SELECT 1 FROM spool.jobs WHERE id = p)
    AND NOT EXISTS (SELECT 1 FROM spool.dead WHERE id = p) LIMIT 1`
	// sqlDepsMark marks the locked parents $1 as having children.
	sqlDepsMark = `UPDATE spool.jobs SET tracked = true WHERE id = ANY($1) AND NOT tracked`
	// sqlDepsInsert records child $1's parents $3 with its policy $2, and
	// the outcome of parents that already ended.
	sqlDepsInsert = `INSERT INTO spool.job_deps (child_id, parent_id, run_anyway, outcome, output)
  SELECT $1, p, $2,
    CASE WHEN d.id IS NOT NULL THEN ` + depDeadSQL + ` WHEN j.state IN ` + finishedSQL + ` THEN j.state END,
    CASE WHEN j.state = ` + completedSQL + ` THEN (SELECT output FROM spool.job_output WHERE job_id = p) END
  FROM unnest($3::bigint[]) AS p LEFT JOIN spool.jobs j ON j.id = p LEFT JOIN spool.dead d ON d.id = p`
	// sqlDepsComplete records parents $1 that completed with outputs $2.
	sqlDepsComplete = `UPDATE spool.job_deps d SET outcome = ` + completedSQL + `, output = c.out
  FROM unnest($1::bigint[], $2::bytea[]) AS c(id, out)
  WHERE d.parent_id = c.id AND d.outcome IS NULL
  RETURNING d.child_id`
	sqlDepsEnd = `UPDATE spool.job_deps SET outcome = $1
  WHERE parent_id = ANY($2) AND outcome IS NULL
  RETURNING child_id`
	sqlDepsEndCancelled = `UPDATE spool.job_deps SET outcome = ` + cancelledSQL + `
  WHERE parent_id IN (SELECT id FROM spool.jobs WHERE id = ANY($1) AND state = ` + cancelledSQL + `)
    AND outcome IS NULL
  RETURNING child_id`
	sqlDepsCancelChildren = `UPDATE spool.jobs j SET state = ` + cancelledSQL + `, finished_at = $1
  WHERE j.id = ANY($2) AND j.state = ` + blockedSQL + `
    AND EXISTS (SELECT 1 FROM spool.job_deps d WHERE d.child_id = j.id AND NOT d.run_anyway
      AND d.outcome IN (` + cancelledSQL + `, ` + depDeadSQL + `, ` + depDeletedSQL + `))
  RETURNING j.id`
	// sqlDepsReady makes children $2 ready whose parents all ended, due
	// now or at their own later run time (as in the SQLite store).
	sqlDepsReady = `UPDATE spool.jobs j SET state = CASE WHEN j.run_at <= $1 THEN ` + pendingSQL + ` ELSE ` + scheduledSQL + ` END,
    run_at = greatest(j.run_at, $1)
  WHERE j.id = ANY($2) AND j.state = ` + blockedSQL + `
    AND NOT EXISTS (SELECT 1 FROM spool.job_deps d WHERE d.child_id = j.id AND d.outcome IS NULL)
  RETURNING j.queue`

	sqlDepsUnended = `SELECT parent_id FROM spool.job_deps WHERE child_id = $1 AND outcome IS NULL`
	// sqlDepsWaitAgain: a child retried from the dead table (it died
	// waiting, by expiry) waits again for the parents that have not ended.
	sqlDepsWaitAgain = `UPDATE spool.jobs SET state = ` + blockedSQL + `
  WHERE id = $1 AND state IN (` + pendingSQL + `, ` + scheduledSQL + `)
    AND EXISTS (SELECT 1 FROM spool.job_deps WHERE child_id = $1 AND outcome IS NULL)`

	depDeadSQL    = "6" // sqlstore.DepDead
	depDeletedSQL = "7" // sqlstore.DepDeleted
)

// insertDeps records the parents of the new job id and resolves it at once
// against parents that already ended.
func insertDeps(ctx context.Context, x *xtx, id int64, j queue.NewJob, now time.Time) error {
	if err := lockJobs(ctx, x, j.DependsOn); err != nil {
		return err
	}
	var missing int64
	switch err := x.queryRow(ctx, sqlDepsMissing, j.DependsOn).Scan(&missing); err {
	case sql.ErrNoRows:
	case nil:
		return fmt.Errorf("%w: job %d", queue.ErrParentNotFound, missing)
	default:
		return err
	}
	if _, err := x.exec(ctx, sqlDepsMark, j.DependsOn); err != nil {
		return err
	}
	if _, err := x.exec(ctx, sqlDepsInsert, id, j.OnParentFailure == queue.ParentFailureRun, j.DependsOn); err != nil {
		return err
	}
	counts := sqlstore.BatchCounts{} // the job may be cancelled at once
	if err := moveChildren(ctx, x, []int64{id}, now, counts); err != nil {
		return err
	}
	return countBatches(ctx, x, counts, now)
}

// parentsEnded is what a write ended, as parents: jobs that completed
// (with their outputs), jobs that ended with another outcome, and jobs that
// may have ended cancelled.
type parentsEnded struct {
	completed []int64
	outputs   [][]byte
	failed    map[int][]int64 // outcome → ids
	maybe     []int64
}

func (p *parentsEnded) fail(outcome int, id int64) {
	if p.failed == nil {
		p.failed = map[int][]int64{}
	}
	p.failed[outcome] = append(p.failed[outcome], id)
}

// settlement adds the job of a settlement that took effect.
func (p *parentsEnded) settlement(st queue.Settlement) {
	switch st.Outcome {
	case queue.OutcomeComplete:
		p.completed = append(p.completed, st.JobID)
		p.outputs = append(p.outputs, st.Output)
	case queue.OutcomeDead:
		p.fail(sqlstore.DepDead, st.JobID)
	case queue.OutcomeCancel:
		p.fail(sqlstore.DepCancelled, st.JobID)
	default:
		p.maybe = append(p.maybe, st.JobID)
	}
}

// resolve records the ended jobs on their children's rows and moves the
// children on, then counts the jobs (and children it cancelled) toward
// their batches (batches.go).
func (p *parentsEnded) resolve(ctx context.Context, x *xtx, now time.Time) error {
	counts := sqlstore.BatchCounts{}
	step := func(query string, args ...any) error {
		children, err := queryIDs(ctx, x, query, args...)
		if err != nil || len(children) == 0 {
			return err
		}
		return moveChildren(ctx, x, children, now, counts)
	}
	if len(p.completed) > 0 {
		if err := step(sqlDepsComplete, p.completed, p.outputs); err != nil {
			return err
		}
		if err := endMembers(ctx, x, counts, sqlstore.DepCompleted, sqlBatchMembEnd, sqlstore.DepCompleted, p.completed); err != nil {
			return err
		}
	}
	outcomes := make([]int, 0, len(p.failed))
	for o := range p.failed {
		outcomes = append(outcomes, o)
	}
	slices.Sort(outcomes)
	for _, o := range outcomes {
		if err := step(sqlDepsEnd, o, p.failed[o]); err != nil {
			return err
		}
		if err := endMembers(ctx, x, counts, o, sqlBatchMembEnd, o, p.failed[o]); err != nil {
			return err
		}
	}
	if len(p.maybe) > 0 {
		if err := step(sqlDepsEndCancelled, p.maybe); err != nil {
			return err
		}
		if err := endMembers(ctx, x, counts, sqlstore.DepCancelled, sqlBatchMembCanc, p.maybe); err != nil {
			return err
		}
	}
	return countBatches(ctx, x, counts, now)
}

// moveChildren locks waiting children after some of their parents ended,
// cancels those a failed parent cancels (ending their own children in
// turn, generation by generation) and makes ready those whose parents all
// ended, waking their queues. The children it cancels are added to
// counts, for their batches.
func moveChildren(ctx context.Context, x *xtx, children []int64, now time.Time, counts sqlstore.BatchCounts) error {
	for len(children) > 0 {
		slices.Sort(children)
		children = slices.Compact(children)
		if err := lockJobs(ctx, x, children); err != nil {
			return err
		}
		cancelled, err := queryIDs(ctx, x, sqlDepsCancelChildren, x.f.us(now), children)
		if err != nil {
			return err
		}
		rows, err := x.query(ctx, sqlDepsReady, x.f.us(now), children)
		if err != nil {
			return err
		}
		queues, err := collect(rows, func(r scanner) (q string, err error) { err = r.Scan(&q); return q, err })
		if err != nil {
			return err
		}
		for _, q := range queues {
			x.wake(q)
		}
		children = nil
		if len(cancelled) > 0 {
			if err := endMembers(ctx, x, counts, sqlstore.DepCancelled, sqlBatchMembEnd, sqlstore.DepCancelled, cancelled); err != nil {
				return err
			}
			if children, err = queryIDs(ctx, x, sqlDepsEnd, sqlstore.DepCancelled, cancelled); err != nil {
				return err
			}
		}
	}
	return nil
}

// endParent records that job id ended with outcome (not completed) and
// moves its children on.
func endParent(ctx context.Context, x *xtx, id int64, outcome int, now time.Time) error {
	var p parentsEnded
	p.fail(outcome, id)
	return p.resolve(ctx, x, now)
}

// queryIDs runs a query that returns one id per row.
func queryIDs(ctx context.Context, x *xtx, query string, args ...any) ([]int64, error) {
	rows, err := x.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanID)
}

const (
	sqlDepsParents = `SELECT d.parent_id, d.outcome, coalesce(d.output, o.output), coalesce(j.kind, k.kind, ''), j.state, k.id IS NOT NULL
  FROM spool.job_deps d LEFT JOIN spool.jobs j ON j.id = d.parent_id LEFT JOIN spool.dead k ON k.id = d.parent_id
  LEFT JOIN spool.job_output o ON o.job_id = d.parent_id
  WHERE d.child_id = $1 ORDER BY d.parent_id`
	sqlDepsChildren = `SELECT d.child_id, NULL::smallint, NULL::bytea, coalesce(j.kind, k.kind, ''), j.state, k.id IS NOT NULL
  FROM spool.job_deps d LEFT JOIN spool.jobs j ON j.id = d.child_id LEFT JOIN spool.dead k ON k.id = d.child_id
  WHERE d.parent_id = $1 ORDER BY d.child_id LIMIT 1000`
)

// Dependencies implements queue.DependencyStore. It lists at most 1000
// children.
func (s *Store) Dependencies(ctx context.Context, id int64) (*queue.Dependencies, error) {
	var d queue.Dependencies
	var err error
	if d.Parents, err = s.deps(ctx, sqlDepsParents, id); err != nil {
		return nil, err
	}
	if d.Children, err = s.deps(ctx, sqlDepsChildren, id); err != nil {
		return nil, err
	}
	return &d, nil
}

func (s *Store) deps(ctx context.Context, query string, id int64) ([]queue.Dependency, error) {
	rows, err := s.db.QueryContext(ctx, s.sql(query), id)
	if err != nil {
		return nil, mapErr(err)
	}
	list, err := collect(rows, func(r scanner) (queue.Dependency, error) {
		var d queue.Dependency
		var outcome, state sql.NullInt64
		var dead bool
		if err := r.Scan(&d.ID, &outcome, &d.Output, &d.Kind, &state, &dead); err != nil {
			return d, err
		}
		switch {
		case dead:
			d.State = queue.StateDead
		case state.Valid:
			d.State, _ = sqlstore.StateName(state.Int64)
		default:
			d.Gone, d.State = true, sqlstore.DepState(outcome.Int64)
		}
		return d, nil
	})
	return list, mapErr(err)
}

// waitAgain makes job id, just retried from the dead table, wait again
// for its parents that have not ended. It locks them first: a parent
// ending at once either committed (and the child sees it) or waits, and
// then finds the child blocked.
func waitAgain(ctx context.Context, x *xtx, id int64) error {
	parents, err := queryIDs(ctx, x, sqlDepsUnended, id)
	if err != nil || len(parents) == 0 {
		return err
	}
	slices.Sort(parents)
	if err := lockJobs(ctx, x, parents); err != nil {
		return err
	}
	_, err = x.exec(ctx, sqlDepsWaitAgain, id)
	return err
}

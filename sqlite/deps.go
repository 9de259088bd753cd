package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Job dependencies (queue.NewJob.DependsOn; the rules are in queue's
// deps.go). A child waits in state blocked with one spool_job_deps row
// per parent. When parents end, the transaction that ends them records
// the outcome on their rows, one statement for every parent of a settle
// batch, and then moves their children on: a child with a failed parent
// that did not choose to run anyway is cancelled (and that ends it as a
// parent in turn), a child with no unresolved row left becomes ready.

const (
	// sqlDepsMissing finds a parent of ?1 (a JSON array of ids) that is in
	// neither table.
	sqlDepsMissing = `SELECT p.value FROM json_each(?1) p
  WHERE NOT EXISTS (SELECT 1 FROM spool_jobs WHERE id = p.value)
    AND NOT EXISTS (SELECT 1 FROM spool_dead WHERE id = p.value) LIMIT 1`
	// sqlDepsInsert records child ?1's parents ?3 with its policy ?2, and
	// the outcome of parents that already ended.
	sqlDepsInsert = `INSERT INTO spool_job_deps (child_id, parent_id, run_anyway, outcome, output)
  SELECT ?1, p.value, ?2,
    CASE WHEN d.id IS NOT NULL THEN ` + depDeadSQL + ` WHEN j.state IN ` + finishedSQL + ` THEN j.state END,
    CASE WHEN j.state = ` + completedSQL + ` THEN (SELECT output FROM spool_job_output WHERE job_id = p.value) END
  FROM json_each(?3) p LEFT JOIN spool_jobs j ON j.id = p.value LEFT JOIN spool_dead d ON d.id = p.value`
	// sqlDepsComplete records parents that completed, ?1 as
	// sqlstore.Completions encodes them, and returns their children.
	sqlDepsComplete = `UPDATE spool_job_deps SET outcome = ` + completedSQL + `, output = p.out
  FROM (SELECT value ->> '$.id' AS id, value -> '$.out' AS out FROM json_each(?1)) AS p
  WHERE spool_job_deps.parent_id = p.id AND spool_job_deps.outcome IS NULL
  RETURNING spool_job_deps.child_id`
	// sqlDepsEnd records outcome ?1 for parents ?2 and returns their
	// children.
	sqlDepsEnd = `UPDATE spool_job_deps SET outcome = ?1
  WHERE parent_id IN (SELECT value FROM json_each(?2)) AND outcome IS NULL
  RETURNING child_id`
	// sqlDepsEndCancelled is sqlDepsEnd for those of jobs ?1 that ended
	// cancelled (a retry or snooze of a job an operator cancelled).
	// sqlResolveOpen asks whether any dependency is unresolved and any
	// batch member still to end (spool_job_deps_open, spool_batch_jobs_open).
	sqlResolveOpen = `SELECT EXISTS (SELECT 1 FROM spool_job_deps WHERE outcome IS NULL),
  EXISTS (SELECT 1 FROM spool_batch_jobs WHERE outcome IS NULL)`
	sqlDepsEndCancelled = `UPDATE spool_job_deps SET outcome = ` + cancelledSQL + `
  WHERE parent_id IN (SELECT id FROM spool_jobs WHERE id IN (SELECT value FROM json_each(?1)) AND state = ` + cancelledSQL + `)
    AND outcome IS NULL
  RETURNING child_id`
	// sqlDepsCancelChildren cancels children ?2 that wait and have a
	// failed parent they do not run after.
	sqlDepsCancelChildren = `UPDATE spool_jobs SET state = ` + cancelledSQL + `, finished_at = ?1
  WHERE id IN (SELECT value FROM json_each(?2)) AND state = ` + blockedSQL + `
    AND EXISTS (SELECT 1 FROM spool_job_deps WHERE child_id = spool_jobs.id AND NOT run_anyway
      AND outcome IN (` + cancelledSQL + `, ` + depDeadSQL + `, ` + depDeletedSQL + `))
  RETURNING id`
	// sqlDepsReady makes children ?2 ready whose parents all ended: due
	// now, or at their own run time if it lies ahead (their wait to start
	// counts from then, not from their enqueue).
	sqlDepsReady = `UPDATE spool_jobs SET state = CASE WHEN run_at <= ?1 THEN ` + pendingSQL + ` ELSE ` + scheduledSQL + ` END,
    run_at = max(run_at, ?1)
  WHERE id IN (SELECT value FROM json_each(?2)) AND state = ` + blockedSQL + `
    AND NOT EXISTS (SELECT 1 FROM spool_job_deps WHERE child_id = spool_jobs.id AND outcome IS NULL)`

	// sqlDepsWaitAgain: a child retried from the dead table (it died
	// waiting, by expiry) waits again for the parents that have not ended.
	sqlDepsWaitAgain = `UPDATE spool_jobs SET state = ` + blockedSQL + `
  WHERE id = ?1 AND state IN (` + pendingSQL + `, ` + scheduledSQL + `)
    AND EXISTS (SELECT 1 FROM spool_job_deps WHERE child_id = ?1 AND outcome IS NULL)`

	depDeadSQL    = "6" // sqlstore.DepDead
	depDeletedSQL = "7" // sqlstore.DepDeleted
)

// insertDeps records the parents of the new job id and resolves it at once
// against parents that already ended.
func insertDeps(ctx context.Context, x *xtx, id int64, j queue.NewJob, now time.Time) error {
	parents := sqlstore.IDList(j.DependsOn)
	var missing int64
	switch err := x.queryRow(ctx, sqlDepsMissing, parents).Scan(&missing); err {
	case sql.ErrNoRows:
	case nil:
		return fmt.Errorf("%w: job %d", queue.ErrParentNotFound, missing)
	default:
		return err
	}
	if _, err := x.exec(ctx, sqlDepsInsert, id, j.OnParentFailure == queue.ParentFailureRun, parents); err != nil {
		return err
	}
	if err := track(ctx, x, id); err != nil {
		return err
	}
	counts := sqlstore.BatchCounts{} // the job may be cancelled at once
	if _, err := moveChildren(ctx, x, []int64{id}, now, counts); err != nil {
		return err
	}
	_, err := countBatches(ctx, x, counts, now)
	return err
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

func (p *parentsEnded) complete(id int64, output []byte) {
	p.completed = append(p.completed, id)
	p.outputs = append(p.outputs, output)
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
		p.complete(st.JobID, st.Output)
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
// their batches (batches.go). It reports whether a child became ready or
// a batch callback was enqueued.
func (p *parentsEnded) resolve(ctx context.Context, x *xtx, now time.Time) (bool, error) {
	// Most stores have no waiting child and no open batch most of the
	// time: one lookup then spares the statements below (they cost a plain
	// settle ~70 % more). The write lock holds the answer until commit.
	var depsOpen, batchOpen bool
	if err := x.queryRow(ctx, sqlResolveOpen).Scan(&depsOpen, &batchOpen); err != nil {
		return false, err
	}
	if !depsOpen && !batchOpen {
		return false, nil
	}
	ready := false
	counts := sqlstore.BatchCounts{}
	step := func(query string, args ...any) error {
		if !depsOpen {
			return nil
		}
		children, err := queryIDs(ctx, x, query, args...)
		if err != nil || len(children) == 0 {
			return err
		}
		r, err := moveChildren(ctx, x, children, now, counts)
		ready = ready || r
		return err
	}
	if len(p.completed) > 0 {
		if err := step(sqlDepsComplete, sqlstore.Completions(p.completed, p.outputs)); err != nil {
			return false, err
		}
		if err := endMembersIf(ctx, batchOpen, x, counts, sqlstore.DepCompleted, sqlBatchMembEnd, sqlstore.DepCompleted, sqlstore.IDList(p.completed)); err != nil {
			return false, err
		}
	}
	for outcome, ids := range p.failed {
		if err := step(sqlDepsEnd, outcome, sqlstore.IDList(ids)); err != nil {
			return false, err
		}
		if err := endMembersIf(ctx, batchOpen, x, counts, outcome, sqlBatchMembEnd, outcome, sqlstore.IDList(ids)); err != nil {
			return false, err
		}
	}
	if len(p.maybe) > 0 {
		if err := step(sqlDepsEndCancelled, sqlstore.IDList(p.maybe)); err != nil {
			return false, err
		}
		if err := endMembersIf(ctx, batchOpen, x, counts, sqlstore.DepCancelled, sqlBatchMembCanc, sqlstore.IDList(p.maybe)); err != nil {
			return false, err
		}
	}
	fired, err := countBatches(ctx, x, counts, now)
	return ready || fired, err
}

// endMembersIf counts ended jobs toward their batches (endMembers) when
// any batch member is still to end.
func endMembersIf(ctx context.Context, open bool, x *xtx, counts sqlstore.BatchCounts, outcome int, query string, args ...any) error {
	if !open {
		return nil
	}
	return endMembers(ctx, x, counts, outcome, query, args...)
}

// moveChildren moves waiting children on after some of their parents
// ended: it cancels those a failed parent cancels (ending their own
// children in turn, generation by generation) and makes ready those whose
// parents all ended. It reports whether a child became ready. The
// children it cancels are added to counts, for their batches.
func moveChildren(ctx context.Context, x *xtx, children []int64, now time.Time, counts sqlstore.BatchCounts) (bool, error) {
	ready := false
	for len(children) > 0 {
		list := sqlstore.IDList(children)
		cancelled, err := queryIDs(ctx, x, sqlDepsCancelChildren, micros(now), list)
		if err != nil {
			return false, err
		}
		r, err := x.exec(ctx, sqlDepsReady, micros(now), list)
		if err != nil {
			return false, err
		}
		if n, _ := r.RowsAffected(); n > 0 {
			ready = true
		}
		children = nil
		if len(cancelled) > 0 {
			list := sqlstore.IDList(cancelled)
			if err := endMembers(ctx, x, counts, sqlstore.DepCancelled, sqlBatchMembEnd, sqlstore.DepCancelled, list); err != nil {
				return false, err
			}
			if children, err = queryIDs(ctx, x, sqlDepsEnd, sqlstore.DepCancelled, list); err != nil {
				return false, err
			}
		}
	}
	return ready, nil
}

// endParent records that job id ended with outcome (not completed) and
// moves its children on.
func endParent(ctx context.Context, x *xtx, id int64, outcome int, now time.Time) (bool, error) {
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
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

const (
	sqlDepsParents = `SELECT d.parent_id, d.outcome, coalesce(d.output, o.output), coalesce(j.kind, k.kind, ''), j.state, k.id IS NOT NULL
  FROM spool_job_deps d LEFT JOIN spool_jobs j ON j.id = d.parent_id LEFT JOIN spool_dead k ON k.id = d.parent_id
  LEFT JOIN spool_job_output o ON o.job_id = d.parent_id
  WHERE d.child_id = ? ORDER BY d.parent_id`
	sqlDepsChildren = `SELECT d.child_id, NULL, NULL, coalesce(j.kind, k.kind, ''), j.state, k.id IS NOT NULL
  FROM spool_job_deps d LEFT JOIN spool_jobs j ON j.id = d.child_id LEFT JOIN spool_dead k ON k.id = d.child_id
  WHERE d.parent_id = ? ORDER BY d.child_id LIMIT ` + maxChildrenSQL
	maxChildrenSQL = "1000"
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
	rows, err := s.readDB.QueryContext(ctx, query, id)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var list []queue.Dependency
	for rows.Next() {
		var d queue.Dependency
		var outcome, state sql.NullInt64
		var dead bool
		if err := rows.Scan(&d.ID, &outcome, &d.Output, &d.Kind, &state, &dead); err != nil {
			return nil, mapErr(err)
		}
		switch {
		case dead:
			d.State = queue.StateDead
		case state.Valid:
			d.State, _ = sqlstore.StateName(state.Int64)
		default:
			d.Gone, d.State = true, sqlstore.DepState(outcome.Int64)
		}
		list = append(list, d)
	}
	return list, mapErr(rows.Err())
}

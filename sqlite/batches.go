package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Batches (queue.BatchSpec; the rules are in queue's batch.go). A member
// has a spool_batch_jobs row. The transaction that ends members records
// their outcome there (one statement per settle batch), adds them to their
// batches' counters, and enqueues each callback whose moment came in the
// same transaction, claiming it first (its *_job column goes from NULL to
// the job's id), so each fires once.

const (
	sqlBatchInsert = `INSERT INTO spool_batches (description, created_at, on_success, on_complete, on_death)
  VALUES (?, ?, ?, ?, ?)`
	sqlBatchJoin     = `UPDATE spool_batches SET total = total + 1 WHERE id = ? AND closed_at IS NULL`
	sqlBatchExists   = `SELECT EXISTS (SELECT 1 FROM spool_batches WHERE id = ?)`
	sqlBatchMember   = `INSERT INTO spool_batch_jobs (job_id, batch_id) VALUES (?, ?)`
	sqlBatchClose    = `UPDATE spool_batches SET closed_at = ?1 WHERE id = ?2 AND closed_at IS NULL`
	sqlBatchMembEnd  = `UPDATE spool_batch_jobs SET outcome = ?1 WHERE job_id IN (SELECT value FROM json_each(?2)) AND outcome IS NULL RETURNING batch_id`
	sqlBatchMembCanc = `UPDATE spool_batch_jobs SET outcome = ` + cancelledSQL + `
  WHERE job_id IN (SELECT id FROM spool_jobs WHERE id IN (SELECT value FROM json_each(?1)) AND state = ` + cancelledSQL + `)
    AND outcome IS NULL RETURNING batch_id`
	sqlBatchCount    = `UPDATE spool_batches SET succeeded = succeeded + ?2, dead = dead + ?3, cancelled = cancelled + ?4 WHERE id = ?1`
	sqlBatchFinished = `UPDATE spool_batches SET finished_at = ?2 WHERE id = ?1`
	sqlBatchState    = `SELECT closed_at IS NOT NULL, total, succeeded, dead, cancelled,
  success_job IS NOT NULL, complete_job IS NOT NULL, death_job IS NOT NULL FROM spool_batches WHERE id = ?`
)

// The claim and the record of each callback: success, complete, death.
var (
	sqlBatchClaim = [3]string{
		`UPDATE spool_batches SET success_job = 0 WHERE id = ? AND success_job IS NULL RETURNING on_success`,
		`UPDATE spool_batches SET complete_job = 0 WHERE id = ? AND complete_job IS NULL RETURNING on_complete`,
		`UPDATE spool_batches SET death_job = 0 WHERE id = ? AND death_job IS NULL RETURNING on_death`,
	}
	sqlBatchFired = [3]string{
		`UPDATE spool_batches SET success_job = ?2 WHERE id = ?1`,
		`UPDATE spool_batches SET complete_job = ?2 WHERE id = ?1`,
		`UPDATE spool_batches SET death_job = ?2 WHERE id = ?1`,
	}
)

// CreateBatch implements queue.BatchStore.
func (s *Store) CreateBatch(ctx context.Context, tx *sql.Tx, now time.Time, spec queue.BatchSpec, jobs []queue.NewJob) (int64, []queue.EnqueueResult, error) {
	b, err := sqlstore.EncodeBatch(spec, jobs)
	if err != nil {
		return 0, nil, fmt.Errorf("sqlite: %w", err)
	}
	meta, cbs, perQueue := b.Meta, b.Callbacks, b.PerQueue
	var id int64
	var res []queue.EnqueueResult
	var full error
	err = s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		full = nil
		if err := checkRoom(ctx, x, now, jobs, perQueue, &full); err != nil || full != nil {
			return err
		}
		r, err := x.exec(ctx, sqlBatchInsert, spec.Description, micros(now), cbs[0], cbs[1], cbs[2])
		if err != nil {
			return err
		}
		if id, err = r.LastInsertId(); err != nil {
			return err
		}
		members := make([]queue.NewJob, len(jobs))
		for i, j := range jobs {
			j.Batch = id
			members[i] = j
		}
		res = make([]queue.EnqueueResult, len(jobs))
		if err := insertJobs(ctx, x, now, members, meta, res); err != nil {
			return err
		}
		if spec.Open {
			return nil
		}
		_, err = closeBatch(ctx, x, id, now)
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	if full != nil {
		return 0, nil, full
	}
	s.wakeAfter(tx, "") // the members, and callbacks of a batch that ended at once
	return id, res, nil
}

// CloseBatch implements queue.BatchStore.
func (s *Store) CloseBatch(ctx context.Context, tx *sql.Tx, id int64, now time.Time) error {
	var fired bool
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		var exists bool
		if err := x.queryRow(ctx, sqlBatchExists, id).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("batch %d: %w", id, queue.ErrBatchNotFound)
		}
		var err error
		fired, err = closeBatch(ctx, x, id, now)
		return err
	})
	if err == nil && fired {
		s.wakeAfter(tx, "")
	}
	return err
}

// closeBatch closes batch id and fires the callbacks that are due.
func closeBatch(ctx context.Context, x *xtx, id int64, now time.Time) (bool, error) {
	if _, err := x.exec(ctx, sqlBatchClose, micros(now), id); err != nil {
		return false, err
	}
	return fireBatch(ctx, x, id, now)
}

// joinBatch makes the new job id a member of batch.
func joinBatch(ctx context.Context, x *xtx, id, batch int64) error {
	r, err := x.exec(ctx, sqlBatchJoin, batch)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		var exists bool
		if err := x.queryRow(ctx, sqlBatchExists, batch).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return fmt.Errorf("batch %d: %w", batch, queue.ErrBatchClosed)
		}
		return fmt.Errorf("batch %d: %w", batch, queue.ErrBatchNotFound)
	}
	_, err = x.exec(ctx, sqlBatchMember, id, batch)
	return err
}

// endMembers records outcome for the batch members among the jobs that
// query (sqlBatchMembEnd, or sqlBatchMembCanc for jobs that may have ended
// cancelled) names, and adds them to counts.
func endMembers(ctx context.Context, x *xtx, counts sqlstore.BatchCounts, outcome int, query string, args ...any) error {
	batches, err := queryIDs(ctx, x, query, args...)
	if err != nil {
		return err
	}
	for _, b := range batches {
		counts.Add(b, outcome)
	}
	return nil
}

// countBatches adds counts to their batches and fires what came due. It
// reports whether a callback was enqueued.
func countBatches(ctx context.Context, x *xtx, counts sqlstore.BatchCounts, now time.Time) (bool, error) {
	fired := false
	for b, n := range counts {
		if _, err := x.exec(ctx, sqlBatchCount, b, n[0], n[1], n[2]); err != nil {
			return false, err
		}
		f, err := fireBatch(ctx, x, b, now)
		if err != nil {
			return false, err
		}
		fired = fired || f
	}
	return fired, nil
}

// fireBatch enqueues batch id's callbacks whose moment came and that have
// not fired, each claimed first. It reports whether it enqueued one.
func fireBatch(ctx context.Context, x *xtx, id int64, now time.Time) (bool, error) {
	var b sqlstore.BatchState
	if err := x.queryRow(ctx, sqlBatchState, id).Scan(&b.Closed, &b.Total, &b.Succeeded, &b.Dead, &b.Cancelled,
		&b.Fired[0], &b.Fired[1], &b.Fired[2]); err != nil {
		return false, err
	}
	fired := false
	for _, k := range b.Due() {
		var spec sql.NullString
		claimed, err := sqlstore.Found(x.queryRow(ctx, sqlBatchClaim[k], id).Scan(&spec))
		if err != nil {
			return false, err
		}
		if claimed && k == 1 { // every member ended
			if _, err := x.exec(ctx, sqlBatchFinished, id, micros(now)); err != nil {
				return false, err
			}
		}
		if !claimed || !spec.Valid {
			continue
		}
		j, err := sqlstore.DecodeCallback(spec.String, id, now)
		if err != nil {
			return false, fmt.Errorf("sqlite: batch %d callback: %w", id, err)
		}
		meta, err := sqlstore.JobsMetadata([]queue.NewJob{j})
		if err != nil {
			return false, err
		}
		var res queue.EnqueueResult
		if err := insertOne(ctx, x, now, micros(now), j, meta[0], &res); err != nil {
			return false, fmt.Errorf("sqlite: batch %d callback: %w", id, err)
		}
		if _, err := x.exec(ctx, sqlBatchFired[k], id, res.ID); err != nil {
			return false, err
		}
		fired = true
	}
	return fired, nil
}

const (
	batchColumns = `id, description, created_at, closed_at, total, succeeded, dead, cancelled,
  success_job, complete_job, death_job`
	sqlBatchGet  = `SELECT ` + batchColumns + ` FROM spool_batches WHERE id = ?`
	sqlBatchList = `SELECT ` + batchColumns + ` FROM spool_batches WHERE (?1 = 0 OR id < ?1) ORDER BY id DESC LIMIT ?2`
)

func scanBatch(r interface{ Scan(...any) error }) (*queue.Batch, error) {
	var b queue.Batch
	var created int64
	var closed, success, complete, death sql.NullInt64
	if err := r.Scan(&b.ID, &b.Description, &created, &closed, &b.Total, &b.Succeeded, &b.Dead, &b.Cancelled,
		&success, &complete, &death); err != nil {
		return nil, err
	}
	b.CreatedAt = time.UnixMicro(created).UTC()
	if closed.Valid {
		b.ClosedAt = time.UnixMicro(closed.Int64).UTC()
	}
	b.SuccessJob, b.SuccessFired = success.Int64, success.Valid
	b.CompleteJob, b.CompleteFired = complete.Int64, complete.Valid
	b.DeathJob, b.DeathFired = death.Int64, death.Valid
	return &b, nil
}

// Batch implements queue.BatchStore.
func (s *Store) Batch(ctx context.Context, id int64) (*queue.Batch, error) {
	b, err := scanBatch(s.readDB.QueryRowContext(ctx, sqlBatchGet, id))
	if err == sql.ErrNoRows {
		return nil, fmt.Errorf("batch %d: %w", id, queue.ErrBatchNotFound)
	}
	return b, mapErr(err)
}

// Batches implements queue.BatchStore.
func (s *Store) Batches(ctx context.Context, f queue.BatchFilter) ([]*queue.Batch, error) {
	rows, err := s.readDB.QueryContext(ctx, sqlBatchList, f.BeforeID, f.Limit)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var list []*queue.Batch
	for rows.Next() {
		b, err := scanBatch(rows)
		if err != nil {
			return nil, mapErr(err)
		}
		list = append(list, b)
	}
	return list, mapErr(rows.Err())
}

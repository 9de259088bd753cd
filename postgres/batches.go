package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Batches (queue.BatchSpec), as in the SQLite store. Members are marked
// tracked, so their completions take the settle that counts them. The
// counters of a batch change under its row's lock (batches in id order),
// and each callback is claimed (its *_job column from NULL) before it is
// enqueued, in the transaction of the count that makes it due: of two
// members ending at once, the later sees the earlier's count, and a
// callback fires once.

const (
	sqlBatchInsert = `INSERT INTO spool.batches (description, created_at, on_success, on_complete, on_death)
  VALUES ($1, $2, $3, $4, $5) RETURNING id`
	sqlBatchJoin     = `UPDATE spool.batches SET total = total + 1 WHERE id = $1 AND closed_at IS NULL RETURNING id`
	sqlBatchExists   = `SELECT EXISTS (SELECT 1 FROM spool.batches WHERE id = $1)`
	sqlBatchMember   = `INSERT INTO spool.batch_jobs (job_id, batch_id) VALUES ($1, $2)`
	sqlBatchTrack    = `UPDATE spool.jobs SET tracked = true WHERE id = $1`
	sqlBatchClose    = `UPDATE spool.batches SET closed_at = coalesce(closed_at, $1) WHERE id = $2 RETURNING id`
	sqlBatchMembEnd  = `UPDATE spool.batch_jobs SET outcome = $1 WHERE job_id = ANY($2) AND outcome IS NULL RETURNING batch_id`
	sqlBatchMembCanc = `UPDATE spool.batch_jobs SET outcome = ` + cancelledSQL + `
  WHERE job_id IN (SELECT id FROM spool.jobs WHERE id = ANY($1) AND state = ` + cancelledSQL + `)
    AND outcome IS NULL RETURNING batch_id`
	sqlBatchCount    = `UPDATE spool.batches SET succeeded = succeeded + $2, dead = dead + $3, cancelled = cancelled + $4 WHERE id = $1`
	sqlBatchFinished = `UPDATE spool.batches SET finished_at = $2 WHERE id = $1`
	sqlBatchState    = `SELECT closed_at IS NOT NULL, total, succeeded, dead, cancelled,
  success_job IS NOT NULL, complete_job IS NOT NULL, death_job IS NOT NULL FROM spool.batches WHERE id = $1`
)

// The claim and the record of each callback: success, complete, death.
var (
	sqlBatchClaim = [3]string{
		`UPDATE spool.batches SET success_job = 0 WHERE id = $1 AND success_job IS NULL RETURNING on_success`,
		`UPDATE spool.batches SET complete_job = 0 WHERE id = $1 AND complete_job IS NULL RETURNING on_complete`,
		`UPDATE spool.batches SET death_job = 0 WHERE id = $1 AND death_job IS NULL RETURNING on_death`,
	}
	sqlBatchFired = [3]string{
		`UPDATE spool.batches SET success_job = $2 WHERE id = $1`,
		`UPDATE spool.batches SET complete_job = $2 WHERE id = $1`,
		`UPDATE spool.batches SET death_job = $2 WHERE id = $1`,
	}
)

// CreateBatch implements queue.BatchStore.
func (s *Store) CreateBatch(ctx context.Context, tx *sql.Tx, now time.Time, spec queue.BatchSpec, jobs []queue.NewJob) (int64, []queue.EnqueueResult, error) {
	b, err := sqlstore.EncodeBatch(spec, jobs)
	if err != nil {
		return 0, nil, fmt.Errorf("postgres: %w", err)
	}
	meta, cbs, perQueue := b.Meta, b.Callbacks, b.PerQueue
	var id int64
	var res []queue.EnqueueResult
	var full error
	err = s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		full = nil
		if err := x.queryRow(ctx, sqlBatchInsert, spec.Description, x.f.us(now), cbs[0], cbs[1], cbs[2]).Scan(&id); err != nil {
			return err
		}
		members := make([]queue.NewJob, len(jobs))
		for i, j := range jobs {
			j.Batch = id
			members[i] = j
		}
		if err := lockUniqueKeys(ctx, x, members); err != nil {
			return err
		}
		if err := checkRoom(ctx, x, now, members, perQueue, &full); err != nil || full != nil {
			return err
		}
		res = make([]queue.EnqueueResult, len(jobs))
		if err := insertJobs(ctx, x, now, members, meta, res); err != nil {
			return err
		}
		x.wakeJobs(members, now)
		if spec.Open {
			return nil
		}
		return closeBatch(ctx, x, id, now)
	})
	if err != nil {
		return 0, nil, err
	}
	if full != nil {
		return 0, nil, full
	}
	return id, res, nil
}

// CloseBatch implements queue.BatchStore.
func (s *Store) CloseBatch(ctx context.Context, tx *sql.Tx, id int64, now time.Time) error {
	return s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		return closeBatch(ctx, x, id, now)
	})
}

// closeBatch closes batch id (under its row's lock) and fires the
// callbacks that are due.
func closeBatch(ctx context.Context, x *xtx, id int64, now time.Time) error {
	var got int64
	switch err := x.queryRow(ctx, sqlBatchClose, x.f.us(now), id).Scan(&got); {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("batch %d: %w", id, queue.ErrBatchNotFound)
	case err != nil:
		return err
	}
	return fireBatch(ctx, x, id, now)
}

// joinBatch makes the new job id a member of batch.
func joinBatch(ctx context.Context, x *xtx, id, batch int64) error {
	var got int64
	switch err := x.queryRow(ctx, sqlBatchJoin, batch).Scan(&got); {
	case errors.Is(err, sql.ErrNoRows):
		var exists bool
		if err := x.queryRow(ctx, sqlBatchExists, batch).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return fmt.Errorf("batch %d: %w", batch, queue.ErrBatchClosed)
		}
		return fmt.Errorf("batch %d: %w", batch, queue.ErrBatchNotFound)
	case err != nil:
		return err
	}
	if _, err := x.exec(ctx, sqlBatchMember, id, batch); err != nil {
		return err
	}
	_, err := x.exec(ctx, sqlBatchTrack, id)
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

// countBatches adds counts to their batches, in id order, and fires what
// came due.
func countBatches(ctx context.Context, x *xtx, counts sqlstore.BatchCounts, now time.Time) error {
	ids := make([]int64, 0, len(counts))
	for b := range counts {
		ids = append(ids, b)
	}
	slices.Sort(ids)
	for _, b := range ids {
		n := counts[b]
		if _, err := x.exec(ctx, sqlBatchCount, b, n[0], n[1], n[2]); err != nil {
			return err
		}
		if err := fireBatch(ctx, x, b, now); err != nil {
			return err
		}
	}
	return nil
}

// fireBatch enqueues batch id's callbacks whose moment came and that have
// not fired, each claimed first. The caller holds the batch row's lock.
func fireBatch(ctx context.Context, x *xtx, id int64, now time.Time) error {
	var b sqlstore.BatchState
	if err := x.queryRow(ctx, sqlBatchState, id).Scan(&b.Closed, &b.Total, &b.Succeeded, &b.Dead, &b.Cancelled,
		&b.Fired[0], &b.Fired[1], &b.Fired[2]); err != nil {
		return err
	}
	for _, k := range b.Due() {
		var spec sql.NullString
		claimed, err := sqlstore.Found(x.queryRow(ctx, sqlBatchClaim[k], id).Scan(&spec))
		if err != nil {
			return err
		}
		if claimed && k == 1 { // every member ended
			if _, err := x.exec(ctx, sqlBatchFinished, id, x.f.us(now)); err != nil {
				return err
			}
		}
		if !claimed || !spec.Valid {
			continue
		}
		j, err := sqlstore.DecodeCallback(spec.String, id, now)
		if err != nil {
			return fmt.Errorf("postgres: batch %d callback: %w", id, err)
		}
		meta, err := sqlstore.JobsMetadata([]queue.NewJob{j})
		if err != nil {
			return err
		}
		var res queue.EnqueueResult
		if err := insertOne(ctx, x, now, x.f.us(now), j, meta[0], &res); err != nil {
			return fmt.Errorf("postgres: batch %d callback: %w", id, err)
		}
		if _, err := x.exec(ctx, sqlBatchFired[k], id, res.ID); err != nil {
			return err
		}
		x.wake(j.Queue)
	}
	return nil
}

const (
	batchColumns = `id, description, created_at, closed_at, total, succeeded, dead, cancelled,
  success_job, complete_job, death_job`
	sqlBatchGet  = `SELECT ` + batchColumns + ` FROM spool.batches WHERE id = $1`
	sqlBatchList = `SELECT ` + batchColumns + ` FROM spool.batches WHERE ($1 = 0 OR id < $1) ORDER BY id DESC LIMIT $2`
)

func (f frame) scanBatch(r scanner) (*queue.Batch, error) {
	var b queue.Batch
	var created int64
	var closed, success, complete, death sql.NullInt64
	if err := r.Scan(&b.ID, &b.Description, &created, &closed, &b.Total, &b.Succeeded, &b.Dead, &b.Cancelled,
		&success, &complete, &death); err != nil {
		return nil, err
	}
	b.CreatedAt = f.time(created).UTC()
	b.ClosedAt = f.nullTime(closed)
	b.SuccessJob, b.SuccessFired = success.Int64, success.Valid
	b.CompleteJob, b.CompleteFired = complete.Int64, complete.Valid
	b.DeathJob, b.DeathFired = death.Int64, death.Valid
	return &b, nil
}

// Batch implements queue.BatchStore.
func (s *Store) Batch(ctx context.Context, id int64) (*queue.Batch, error) {
	b, err := s.clock.frame().scanBatch(s.db.QueryRowContext(ctx, s.sql(sqlBatchGet), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("batch %d: %w", id, queue.ErrBatchNotFound)
	}
	return b, mapErr(err)
}

// Batches implements queue.BatchStore.
func (s *Store) Batches(ctx context.Context, f queue.BatchFilter) ([]*queue.Batch, error) {
	rows, err := s.db.QueryContext(ctx, s.sql(sqlBatchList), f.BeforeID, f.Limit)
	if err != nil {
		return nil, mapErr(err)
	}
	list, err := collect(rows, s.clock.frame().scanBatch)
	return list, mapErr(err)
}

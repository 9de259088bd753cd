package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Jobs' output and progress live in spool_job_output (migration 0007). A
// job with a row there is tracked (tracked.go): its row goes when the job
// leaves both job tables.

var _ queue.ProgressStore = (*Store)(nil)

const (
	sqlGetOutput = `SELECT output, progress, progress_message, progress_at FROM spool_job_output WHERE job_id = ?`

	// sqlSetOutput and sqlSetProgress store a settled job's output and
	// progress; the settle that took effect has fenced the job already.
	sqlSetOutput = `INSERT INTO spool_job_output (job_id, output) VALUES (?1, ?2)
  ON CONFLICT (job_id) DO UPDATE SET output = excluded.output`
	sqlSetProgress = `INSERT INTO spool_job_output (job_id, progress, progress_message, progress_at) VALUES (?1, ?2, ?3, ?4)
  ON CONFLICT (job_id) DO UPDATE SET progress = excluded.progress,
    progress_message = excluded.progress_message, progress_at = excluded.progress_at`
	// sqlRecordProgress stores a running job's progress if its lease
	// (token ?5) still holds.
	sqlRecordProgress = `INSERT INTO spool_job_output (job_id, progress, progress_message, progress_at)
  SELECT id, ?2, ?3, ?4 FROM spool_jobs WHERE id = ?1 AND lease_token = ?5 AND state = ` + runningSQL + `
  ON CONFLICT (job_id) DO UPDATE SET progress = excluded.progress,
    progress_message = excluded.progress_message, progress_at = excluded.progress_at`
)

// settleOutput stores the output and progress st carries, for a
// settlement that took effect (Settle calls it after settleOne).
func settleOutput(ctx context.Context, x *xtx, st queue.Settlement) error {
	output, progress := sqlstore.OutputWrites(st)
	if output || progress {
		// A dead job is no longer in spool_jobs: this changes nothing.
		if err := track(ctx, x, st.JobID); err != nil {
			return err
		}
	}
	if output {
		if _, err := x.exec(ctx, sqlSetOutput, st.JobID, st.Output); err != nil {
			return err
		}
	}
	if progress {
		p := st.Progress
		if _, err := x.exec(ctx, sqlSetProgress, st.JobID, p.Fraction, p.Message, micros(p.At)); err != nil {
			return err
		}
	}
	return nil
}

// RecordProgress implements queue.ProgressStore, in one transaction.
func (s *Store) RecordProgress(ctx context.Context, updates []queue.ProgressUpdate) ([]error, error) {
	if err := sqlstore.ValidProgressUpdates(updates); err != nil {
		return nil, err
	}
	errs := make([]error, len(updates))
	if len(updates) == 0 {
		return errs, nil
	}
	err := s.write(ctx, nil, func(ctx context.Context, x *xtx) error {
		for _, i := range sqlstore.SortProgress(updates) {
			u := updates[i]
			held, err := execHeld(ctx, x, sqlRecordProgress, u.JobID, u.Progress.Fraction, u.Progress.Message,
				micros(u.Progress.At), u.Token)
			if err != nil {
				return err
			}
			errs[i] = nil
			if !held {
				errs[i] = sqlstore.ProgressLost(u.JobID)
			} else if err := track(ctx, x, u.JobID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return errs, nil
}

// withOutput reads the output and progress of j, which Get found, onto it.
func (s *Store) withOutput(ctx context.Context, j *queue.Job) (*queue.Job, error) {
	err := sqlstore.ScanOutput(s.readDB.QueryRowContext(ctx, sqlGetOutput, j.ID), j, func(us int64) time.Time {
		return time.UnixMicro(us)
	})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, mapErr(err)
	}
	return j, nil
}

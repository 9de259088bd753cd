package sqlstore

import (
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/spooljobs/spool/queue"
)

// Jobs' output and progress live in a table of their own keyed by job id
// (queue.Job.Output, queue.Job.Progress); both stores read a job's row of
// it with ScanOutput and settle it with OutputWrites.

// ScanOutput scans a row of the output table (output, progress,
// progress_message, progress_at) into j; toTime reads progress_at in the
// caller's frame.
func ScanOutput(r Scanner, j *queue.Job, toTime func(int64) time.Time) error {
	var (
		output   []byte
		progress sql.NullFloat64
		message  string
		at       sql.NullInt64
	)
	if err := r.Scan(&output, &progress, &message, &at); err != nil {
		return err
	}
	j.Output = output
	if progress.Valid {
		p := &queue.Progress{Fraction: progress.Float64, Message: message}
		if at.Valid {
			p.At = toTime(at.Int64)
		}
		j.Progress = p
	}
	return nil
}

// OutputWrites reports what a settlement that took effect writes to the
// output table: its output, its progress, both or (a completion that
// deleted its job: the output goes with the job) neither.
func OutputWrites(st queue.Settlement) (output, progress bool) {
	if DeletesJob(st) {
		return false, false
	}
	return st.Output != nil, st.Progress != nil
}

// ProgressLost is the answer to a progress update whose lease no longer
// held.
func ProgressLost(id int64) error {
	return fmt.Errorf("record progress of job %d: %w", id, queue.ErrLeaseLost)
}

// SortProgress returns the indexes of updates in job id order, the order
// in which a store locks their rows (as Extend and Settle do).
func SortProgress(updates []queue.ProgressUpdate) []int {
	order := make([]int, len(updates))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch x, y := updates[a].JobID, updates[b].JobID; {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	return order
}

// ValidProgressUpdates checks every update's progress
// (queue.ValidProgress).
func ValidProgressUpdates(updates []queue.ProgressUpdate) error {
	for _, u := range updates {
		if err := queue.ValidProgress(u.Progress.Fraction, u.Progress.Message); err != nil {
			return fmt.Errorf("job %d: %w", u.JobID, err)
		}
	}
	return nil
}

package queue

import (
	"context"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// A handler may record an output value (worker.RecordOutput) and report
// its progress (worker.ReportProgress) while it runs. Stores keep both in
// a table of their own keyed by the job's ID, not on the job's row, which
// workers lease and settle over and over: Get returns them on the Job
// (Output, Progress), the job keeps them while it is kept (completed under
// a retention window, cancelled, dead) and they go when the job goes
// (deleted, pruned, or completed without KeepCompleted). A job retried
// from the dead table keeps them until its next attempt records new ones.

// MaxProgressMessage is the most bytes of a progress message a store
// keeps; ValidProgress refuses a longer one.
const MaxProgressMessage = 256

// Progress is how far a running job said it got.
type Progress struct {
	// Fraction is the part done, from 0 to 1.
	Fraction float64
	// Message says what the job is doing, at most MaxProgressMessage bytes.
	Message string
	// At is when the handler reported it.
	At time.Time
}

// ValidProgress checks a progress report: fraction a number from 0 to 1
// (not NaN), message valid UTF-8 of at most MaxProgressMessage bytes.
// Errors wrap ErrInvalidArgument.
func ValidProgress(fraction float64, message string) error {
	switch {
	case math.IsNaN(fraction) || fraction < 0 || fraction > 1:
		return fmt.Errorf("%w: progress fraction %v is not a number from 0 to 1", ErrInvalidArgument, fraction)
	case len(message) > MaxProgressMessage:
		return fmt.Errorf("%w: progress message of %d bytes is longer than %d", ErrInvalidArgument, len(message), MaxProgressMessage)
	case !utf8.ValidString(message):
		return fmt.Errorf("%w: progress message is not valid UTF-8", ErrInvalidArgument)
	}
	return nil
}

// ProgressStore is implemented by stores that record the progress of a
// running job as it runs (package sqlite's and package postgres's do).
// Worker pools write the latest report of each of their jobs with their
// heartbeat; on a store without it, progress is stored only with the
// job's settlement (Settlement.Progress).
type ProgressStore interface {
	// RecordProgress stores each update's progress for its job if the
	// job is running under the update's lease token; a job whose lease no
	// longer holds is left as it is and its entry in the returned slice
	// (same order as updates) wraps ErrLeaseLost. The second result is
	// for failures of the whole call.
	RecordProgress(ctx context.Context, updates []ProgressUpdate) ([]error, error)
}

// ProgressUpdate is one job's progress for ProgressStore.RecordProgress.
type ProgressUpdate struct {
	// JobID and Token name the lease the progress belongs to.
	JobID int64
	Token int64
	// Progress is the report; its At is when the handler made it.
	Progress Progress
}

package sqlstore

import (
	"fmt"

	"github.com/spooljobs/spool/queue"
)

// The answers of Cancel, Delete and RunNow for a job they leave as it
// is, the same in both stores.

// CancelRefused is Cancel's answer for job id when it was neither waiting
// nor running: queue.ErrNotCancellable naming the job's state, or
// queue.ErrNotFound when state is "" (no such job).
func CancelRefused(id int64, state queue.State) error {
	if state == "" {
		return fmt.Errorf("cancel job %d: %w", id, queue.ErrNotFound)
	}
	return fmt.Errorf("cancel job %d (%s): %w", id, state, queue.ErrNotCancellable)
}

// DeleteRefused is Delete's answer for job id when neither table deleted
// it: queue.ErrRunning when the job is still there (running, the one state
// Delete leaves), else queue.ErrNotFound.
func DeleteRefused(id int64, exists bool) error {
	if exists {
		return fmt.Errorf("delete job %d: %w: cancel it first", id, queue.ErrRunning)
	}
	return fmt.Errorf("delete job %d: %w", id, queue.ErrNotFound)
}

// RunNowRefused is RunNow's answer for job id when it was not scheduled:
// queue.ErrNotScheduled naming the job's state, or queue.ErrNotFound when
// state is "" (no such job, live or dead).
func RunNowRefused(id int64, state queue.State) error {
	if state == "" {
		return fmt.Errorf("run job %d now: %w", id, queue.ErrNotFound)
	}
	return fmt.Errorf("run job %d now (%s): %w", id, state, queue.ErrNotScheduled)
}

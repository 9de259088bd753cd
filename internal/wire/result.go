package wire

import "github.com/spooljobs/spool/queue"

// The results of actions, and the error body.

// EnqueueResult is the job an enqueue made, or with Duplicate the live job
// that already held its unique key.
type EnqueueResult struct {
	ID        int64 `json:"id"`
	Duplicate bool  `json:"duplicate"`
}

// RetryResult is what a retry did: the dead jobs it moved back to pending,
// and the ones it left dead because a live job holds their unique key. ID
// is set when one job was named.
type RetryResult struct {
	ID      int64  `json:"id,omitempty"`
	Retried int    `json:"retried"`
	Skipped []Held `json:"skipped,omitempty"`
}

// Held is a dead job a retry left dead: live job HeldBy holds its unique
// key.
type Held struct {
	ID        int64  `json:"id"`
	UniqueKey string `json:"unique_key"`
	HeldBy    int64  `json:"held_by"`
}

// NewRetryResult returns the result of a retry of n jobs that skipped
// those in skipped.
func NewRetryResult(id int64, n int, skipped []queue.KeyHeldError) RetryResult {
	r := RetryResult{ID: id, Retried: n}
	for _, k := range skipped {
		r.Skipped = append(r.Skipped, Held{ID: k.JobID, UniqueKey: k.Key, HeldBy: k.HolderID})
	}
	return r
}

// BulkResult is what a bulk cancel or delete of waiting jobs did: how
// many it changed, and how many of those selected it left as they were
// (they had started or finished meanwhile). Incomplete says it stopped
// before the end of the selection, for Stopped: "budget" (its time
// budget was spent), "max_bulk" (it changed as many as one call may) or
// "cancelled" (the request ended); run it again for the rest. Remaining
// counts the selected IDs it did not reach; for a selection by filter
// ("all") it is not known and left out.
type BulkResult struct {
	Cancelled  int    `json:"cancelled,omitempty"`
	Deleted    int    `json:"deleted,omitempty"`
	Refused    int    `json:"refused"`
	Incomplete bool   `json:"incomplete,omitempty"`
	Stopped    string `json:"stopped,omitempty"`
	Remaining  int    `json:"remaining,omitempty"`
}

// RunNowResult says a scheduled job was made ready to run now.
type RunNowResult struct {
	ID    int64 `json:"id"`
	Ready bool  `json:"ready"`
}

// DeleteResult is how many jobs a delete removed; ID is set when one job
// was named.
type DeleteResult struct {
	ID      int64 `json:"id,omitempty"`
	Deleted int   `json:"deleted"`
}

// CancelResult is a job's state after a cancel: cancelled, or still
// running with the cancel requested of its worker.
type CancelResult struct {
	ID              int64       `json:"id"`
	State           queue.State `json:"state"`
	CancelRequested bool        `json:"cancel_requested"`
}

// NewCancelResult returns the result of cancelling job id, now in state.
func NewCancelResult(id int64, state queue.State) CancelResult {
	return CancelResult{ID: id, State: state, CancelRequested: state == queue.StateRunning}
}

// PauseResult is a queue paused or resumed.
type PauseResult struct {
	Queue  string `json:"queue"`
	Paused bool   `json:"paused"`
}

// ScheduleResult is a schedule paused or resumed (Paused set), or
// triggered (TriggerRequested).
type ScheduleResult struct {
	Name             string `json:"name"`
	Paused           *bool  `json:"paused,omitempty"`
	TriggerRequested bool   `json:"trigger_requested,omitempty"`
}

// ReplayResult is how many jobs a replay of a topic's events to a
// subscription made. From and To are the sequence range asked for; left
// out when not given (the whole retained log).
type ReplayResult struct {
	Subscription string `json:"subscription"`
	Topic        string `json:"topic"`
	From         int64  `json:"from,omitempty"`
	To           int64  `json:"to,omitempty"`
	Jobs         int    `json:"jobs"`
}

// Error is the body of a failed request.
type Error struct {
	Error string `json:"error"`
}

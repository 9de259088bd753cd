package wire

import (
	"time"

	"github.com/spooljobs/spool/queue"
)

// Batch is a batch and its progress: members done of total, how they
// ended, whether it still takes members (closed_at null), and the callback
// jobs it enqueued (null while its moment has not come; 0 for a moment
// that came to a batch without that callback).
type Batch struct {
	ID          int64      `json:"id"`
	Description string     `json:"description,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ClosedAt    *time.Time `json:"closed_at,omitempty"`
	Total       int        `json:"total"`
	Done        int        `json:"done"`
	Succeeded   int        `json:"succeeded"`
	Dead        int        `json:"dead"`
	Cancelled   int        `json:"cancelled"`
	SuccessJob  *int64     `json:"success_job,omitempty"`
	CompleteJob *int64     `json:"complete_job,omitempty"`
	DeathJob    *int64     `json:"death_job,omitempty"`
}

// NewBatch returns b's JSON form.
func NewBatch(b *queue.Batch) Batch {
	out := Batch{ID: b.ID, Description: b.Description, CreatedAt: b.CreatedAt.UTC(), Total: b.Total, Done: b.Done(),
		Succeeded: b.Succeeded, Dead: b.Dead, Cancelled: b.Cancelled}
	if !b.Open() {
		out.ClosedAt = UTC(b.ClosedAt)
	}
	fired := func(ok bool, id int64) *int64 {
		if !ok {
			return nil
		}
		return &id
	}
	out.SuccessJob = fired(b.SuccessFired, b.SuccessJob)
	out.CompleteJob = fired(b.CompleteFired, b.CompleteJob)
	out.DeathJob = fired(b.DeathFired, b.DeathJob)
	return out
}

// Batches is a page of batches, newest first.
type Batches struct {
	Batches []Batch `json:"batches"`
	// NextBefore, when set, is the id to pass as "before" for the next
	// (older) page.
	NextBefore int64 `json:"next_before,omitempty"`
}

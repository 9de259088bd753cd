package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Batches. A batch is a group of jobs with callbacks: a job enqueued once
// when every member completed (OnSuccess), once when every member finished
// whatever the outcome (OnComplete), and once when the first member died
// (OnDeath). A batch is created with its first members (EnqueueBatch); one
// created Open takes more members (NewJob.Batch) until CloseBatch; the
// success and complete callbacks wait for the batch to be closed.
//
// The store counts each member's end in the transaction that ends it
// (completed, dead, also by expiry or the rescuer, cancelled, or deleted
// before it finished, counted as cancelled), and inserts a callback job in
// the same transaction as the count that completes it: each callback is
// enqueued exactly once, across processes and crashes. A member's first
// end counts: a dead member retried from the dead table does not count
// again, so a batch with a member that died never calls OnSuccess.
//
// A callback job carries the batch's id in its metadata (BatchMetadataKey).

// BatchMetadataKey is the metadata key that holds, in a batch's callback
// jobs, the batch's id (decimal).
const BatchMetadataKey = "spool.batch"

// ErrBatchNotFound means a batch id names no batch.
var ErrBatchNotFound = errors.New("queue: batch not found")

// ErrBatchClosed means a job was added to a batch that was closed.
var ErrBatchClosed = errors.New("queue: batch is closed")

// ErrBatchesUnsupported means the store keeps no batches (it does not
// implement BatchStore).
var ErrBatchesUnsupported = errors.New("queue: the store does not support batches")

// maxBatchDescription bounds BatchSpec.Description.
const maxBatchDescription = 200

// BatchSpec describes a batch to create.
type BatchSpec struct {
	// Description names the batch for operators; at most 200 bytes.
	Description string
	// OnSuccess is enqueued once every member completed; nil for none.
	OnSuccess *NewJob
	// OnComplete is enqueued once every member finished (completed, died
	// or was cancelled); nil for none.
	OnComplete *NewJob
	// OnDeath is enqueued once, when the first member dies; nil for none.
	OnDeath *NewJob
	// Open keeps the batch open after the jobs it was created with: jobs
	// join it with NewJob.Batch until CloseBatch. Defaults to false: the
	// batch is closed with the jobs given.
	Open bool
}

// Batch is a batch as stored, with its progress.
type Batch struct {
	ID          int64
	Description string
	CreatedAt   time.Time
	// ClosedAt is when the batch was closed; zero while it is open.
	ClosedAt time.Time
	// Total counts the members; Succeeded, Dead and Cancelled those that
	// ended so (a member deleted before it finished counts as cancelled).
	Total, Succeeded, Dead, Cancelled int
	// SuccessJob, CompleteJob and DeathJob are the callback jobs the batch
	// enqueued (0 while not, or when it has no such callback), and
	// SuccessFired, CompleteFired and DeathFired say whether the callback's
	// moment came.
	SuccessJob, CompleteJob, DeathJob       int64
	SuccessFired, CompleteFired, DeathFired bool
}

// Done counts the members that finished, whatever the outcome.
func (b *Batch) Done() int { return b.Succeeded + b.Dead + b.Cancelled }

// Open reports whether the batch still takes members.
func (b *Batch) Open() bool { return b.ClosedAt.IsZero() }

// BatchFilter selects batches for Inspector.Batches, newest first.
type BatchFilter struct {
	// Limit caps the batches returned. Defaults to 50; at most 1000.
	Limit int
	// BeforeID returns batches older than this id (0: from the newest).
	BeforeID int64
}

// BatchStore is implemented by stores that keep batches.
type BatchStore interface {
	// CreateBatch creates a batch with spec (its callbacks validated and
	// normalised), enqueues jobs as its members as Enqueue does, and
	// closes it unless spec.Open; a closed batch whose members all ended
	// calls back at once.
	CreateBatch(ctx context.Context, tx *sql.Tx, now time.Time, spec BatchSpec, jobs []NewJob) (int64, []EnqueueResult, error)
	// CloseBatch closes an open batch (closing a closed one is a no-op)
	// and calls back if its members all ended. ErrBatchNotFound for an
	// unknown id.
	CloseBatch(ctx context.Context, tx *sql.Tx, id int64, now time.Time) error
	// Batch returns a batch, or ErrBatchNotFound.
	Batch(ctx context.Context, id int64) (*Batch, error)
	// Batches lists batches newest first (f validated).
	Batches(ctx context.Context, f BatchFilter) ([]*Batch, error)
}

func (q *Queue) batchStore() (BatchStore, error) {
	bs, ok := q.store.(BatchStore)
	if !ok {
		return nil, ErrBatchesUnsupported
	}
	return bs, nil
}

// EnqueueBatch creates a batch with spec and enqueues jobs as its members,
// in one transaction, and returns the batch's id and the jobs' results.
// Jobs and callbacks are validated as Enqueue validates jobs. A job whose
// unique key is held (Duplicate) does not join the batch.
func (q *Queue) EnqueueBatch(ctx context.Context, spec BatchSpec, jobs []NewJob) (int64, []EnqueueResult, error) {
	return q.enqueueBatch(ctx, nil, spec, jobs)
}

// EnqueueBatchTx is EnqueueBatch inside the caller's transaction.
func (q *Queue) EnqueueBatchTx(ctx context.Context, tx *sql.Tx, spec BatchSpec, jobs []NewJob) (int64, []EnqueueResult, error) {
	if err := requireTx(tx, "EnqueueBatchTx", "EnqueueBatch"); err != nil {
		return 0, nil, err
	}
	return q.enqueueBatch(ctx, tx, spec, jobs)
}

func (q *Queue) enqueueBatch(ctx context.Context, tx *sql.Tx, spec BatchSpec, jobs []NewJob) (int64, []EnqueueResult, error) {
	bs, err := q.batchStore()
	if err != nil {
		return 0, nil, err
	}
	if len(spec.Description) > maxBatchDescription {
		return 0, nil, fmt.Errorf("%w: batch description: %d bytes is longer than %d", ErrInvalidArgument, len(spec.Description), maxBatchDescription)
	}
	now := q.opts.Now()
	for _, cb := range []**NewJob{&spec.OnSuccess, &spec.OnComplete, &spec.OnDeath} {
		if *cb == nil {
			continue
		}
		j := **cb
		if j.Batch != 0 || len(j.DependsOn) > 0 {
			return 0, nil, fmt.Errorf("%w: a batch callback cannot join a batch or have parents", ErrInvalidArgument)
		}
		n, err := q.normalize(0, j, now)
		if err != nil {
			return 0, nil, fmt.Errorf("batch callback: %w", err)
		}
		*cb = &n
	}
	norm := make([]NewJob, len(jobs))
	parent, _ := JobFromContext(ctx)
	for i, j := range jobs {
		if j.Batch != 0 {
			return 0, nil, &InvalidJobError{Index: i, Field: "Batch", Reason: "set by EnqueueBatch"}
		}
		n, err := q.normalize(i, j, now)
		if err != nil {
			return 0, nil, err
		}
		norm[i] = q.inherit(n, parent)
	}
	return bs.CreateBatch(ctx, tx, now, spec, norm)
}

// CloseBatch closes an open batch: it takes no more members, and its
// success and complete callbacks come once its members ended (at once if
// they all did).
func (q *Queue) CloseBatch(ctx context.Context, id int64) error {
	bs, err := q.batchStore()
	if err != nil {
		return err
	}
	return bs.CloseBatch(ctx, nil, id, q.opts.Now())
}

// CloseBatchTx is CloseBatch inside the caller's transaction.
func (q *Queue) CloseBatchTx(ctx context.Context, tx *sql.Tx, id int64) error {
	if err := requireTx(tx, "CloseBatchTx", "CloseBatch"); err != nil {
		return err
	}
	bs, err := q.batchStore()
	if err != nil {
		return err
	}
	return bs.CloseBatch(ctx, tx, id, q.opts.Now())
}

// Batch returns a batch with its progress.
func (in *Inspector) Batch(ctx context.Context, id int64) (*Batch, error) {
	bs, err := in.q.batchStore()
	if err != nil {
		return nil, err
	}
	return bs.Batch(ctx, id)
}

// Batches lists batches newest first.
func (in *Inspector) Batches(ctx context.Context, f BatchFilter) ([]*Batch, error) {
	bs, err := in.q.batchStore()
	if err != nil {
		return nil, err
	}
	switch {
	case f.Limit == 0:
		f.Limit = 50
	case f.Limit < 0 || f.Limit > 1000:
		return nil, fmt.Errorf("%w: batch limit %d is outside 1..1000", ErrInvalidArgument, f.Limit)
	}
	if f.BeforeID < 0 {
		return nil, fmt.Errorf("%w: negative BeforeID", ErrInvalidArgument)
	}
	return bs.Batches(ctx, f)
}

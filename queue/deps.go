package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Dependencies. A job enqueued with NewJob.DependsOn waits, in state
// blocked, until every parent it names has completed; then it becomes
// pending (or scheduled, if its RunAt lies ahead). A parent that ends any
// other way (dead, also by expiry or the rescuer; cancelled; deleted
// before it finished) decides the child's fate by the child's
// OnParentFailure: cancel the child (the default, and the cancel spreads
// to the child's own children that chose it), or let it run once its
// other parents ended. The store resolves children in the transaction
// that ends the parent.
//
// A child names parents by id, and ids exist only once their jobs were
// inserted: a child can name only jobs enqueued before it (earlier calls,
// or earlier EnqueueTx calls in the same transaction), so no cycle can be
// built. Jobs of one EnqueueMany call cannot name each other: their ids
// are not known yet; enqueue the parents first. A parent id that names no
// job is refused with ErrParentNotFound. A parent that completed and was
// deleted (no KeepCompleted) is gone, and refused the same way: enqueue
// children before their parents can finish, in the parents' transaction.
//
// A parent retried from the dead table does not hold back its children
// again: they were resolved when it died. A child retried from the dead
// table (it expired while it waited) waits again for the parents that
// have not ended. A dependent job cannot have an
// OrderKey (both would use the blocked state).

// ErrParentNotFound means a job named in NewJob.DependsOn does not exist
// (any more).
var ErrParentNotFound = errors.New("queue: parent job not found")

// ErrDependenciesUnsupported means the store cannot keep dependencies
// (it does not implement DependencyStore).
var ErrDependenciesUnsupported = errors.New("queue: the store does not support job dependencies")

// MaxParents is the most parents one job may name.
const MaxParents = 1000

// ParentFailure is what happens to a waiting child when one of its parents
// dies, is cancelled or is deleted before it finished.
type ParentFailure int

const (
	// ParentFailureCancel cancels the child (the default).
	ParentFailureCancel ParentFailure = iota
	// ParentFailureRun runs the child anyway once all its parents ended.
	ParentFailureRun
)

// String returns "cancel" or "run".
func (p ParentFailure) String() string {
	switch p {
	case ParentFailureCancel:
		return "cancel"
	case ParentFailureRun:
		return "run"
	}
	return fmt.Sprintf("ParentFailure(%d)", int(p))
}

// Dependency is one parent or child of a job, as Inspector.Dependencies
// reports it.
type Dependency struct {
	// ID is the job's id.
	ID int64
	// Kind is the job's kind; empty when the job is gone.
	Kind string
	// State is the job's state now. For a parent that is gone (deleted
	// after it completed, pruned) it is how the parent ended, as recorded
	// when it did (StateCompleted, StateCancelled, StateDead), or empty
	// when it was deleted before it finished. For a gone child, empty.
	State State
	// Gone is true when the job no longer exists.
	Gone bool
	// Output is a parent's recorded output (worker.RecordOutput), kept for
	// its children even when the completed parent was deleted; nil for
	// none, and for children.
	Output []byte
}

// Dependencies is a job's place in a dependency graph.
type Dependencies struct {
	// Parents are the jobs the job waits for (waited for), by id.
	Parents []Dependency
	// Children are the jobs that wait (waited) for the job, by id.
	Children []Dependency
}

// DependencyStore is implemented by stores that keep job dependencies
// (NewJob.DependsOn). A store without it refuses such jobs through Queue
// with ErrDependenciesUnsupported.
type DependencyStore interface {
	// Dependencies returns the parents and children of job id, each by
	// id. A job with neither (or unknown) gets empty lists.
	Dependencies(ctx context.Context, id int64) (*Dependencies, error)
}

// Dependencies returns job id's parents and children with their states,
// and its parents' outputs. It fails with ErrDependenciesUnsupported on a
// store without DependencyStore.
func (in *Inspector) Dependencies(ctx context.Context, id int64) (*Dependencies, error) {
	ds, ok := in.q.store.(DependencyStore)
	if !ok {
		return nil, ErrDependenciesUnsupported
	}
	return ds.Dependencies(ctx, id)
}

// normalizeDeps checks DependsOn and OnParentFailure and drops repeated
// parents.
func (q *Queue) normalizeDeps(j *NewJob) (string, error) {
	if j.OnParentFailure != ParentFailureCancel && j.OnParentFailure != ParentFailureRun {
		return "OnParentFailure", invalid("%d is not a ParentFailure", int(j.OnParentFailure))
	}
	if j.Batch != 0 {
		if j.Batch < 0 {
			return "Batch", invalid("%d is not a batch id", j.Batch)
		}
		if _, ok := q.store.(BatchStore); !ok {
			return "Batch", &reason{text: ErrBatchesUnsupported.Error(), err: ErrBatchesUnsupported}
		}
	}
	if len(j.DependsOn) == 0 {
		j.DependsOn = nil
		return "", nil
	}
	if _, ok := q.store.(DependencyStore); !ok {
		return "DependsOn", &reason{text: ErrDependenciesUnsupported.Error(), err: ErrDependenciesUnsupported}
	}
	if j.OrderKey != "" {
		return "DependsOn", invalid("a job with dependencies cannot have an OrderKey")
	}
	ids := slices.Clone(j.DependsOn)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) > MaxParents {
		return "DependsOn", invalid("%d parents is more than %d", len(ids), MaxParents)
	}
	if ids[0] <= 0 {
		return "DependsOn", invalid("%d is not a job id", ids[0])
	}
	j.DependsOn = ids
	return "", nil
}

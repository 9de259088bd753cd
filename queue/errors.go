package queue

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// Errors returned by queues and stores. Check them with errors.Is.
var (
	// ErrNotFound means no job has the given ID (in the job table or the
	// dead table).
	ErrNotFound = errors.New("queue: job not found")
	// ErrInvalidJob is wrapped by every *InvalidJobError.
	ErrInvalidJob = errors.New("queue: invalid job")
	// ErrPayloadTooLarge means a payload exceeds Options.MaxPayloadBytes.
	ErrPayloadTooLarge = errors.New("queue: payload too large")
	// ErrLeaseLost means a settle or extend presented a lease token that no
	// longer holds the job: the lease expired and the job was rescued, or it
	// was released, cancelled or deleted in the meantime.
	ErrLeaseLost = errors.New("queue: lease lost")
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("queue: store closed")
	// ErrReadOnly means the database cannot be written (a read-only file,
	// directory or mount).
	ErrReadOnly = errors.New("queue: database is read-only")
	// ErrFileGone means the database file, or its write-ahead log, was
	// deleted or replaced while the store had it open. Writes would go to
	// a file no other process sees and be lost when the store closes, so
	// the store refuses every write from then on. Close it, restore the
	// file (or move the replacement aside) and open it again.
	ErrFileGone = errors.New("queue: database file was deleted or replaced")
	// ErrBusy means the database stayed locked by another connection or
	// process past the busy timeout. Nothing was written; the call may be
	// retried.
	ErrBusy = errors.New("queue: database is locked")
	// ErrFull means the disk or the database's size limit is full. Nothing
	// was written.
	ErrFull = errors.New("queue: database or disk is full")
	// ErrCorrupt means the database file is damaged (SQLite reported a
	// malformed page, or a file that is not a database at all). It does not
	// heal by retrying: check the file (spool check, or PRAGMA
	// integrity_check) and restore it from a backup, or salvage what can
	// be read with the sqlite3 shell's .recover. Calls that read or write
	// only healthy pages may still succeed.
	ErrCorrupt = errors.New("queue: database file is corrupt")
	// ErrNotDead means a retry from the dead table named a job that is not
	// dead.
	ErrNotDead = errors.New("queue: job is not dead")
	// ErrNotScheduled means RunNow named a job that is not waiting for its
	// run time (or for a retry's backoff to end).
	ErrNotScheduled = errors.New("queue: job is not scheduled")
	// ErrNotCancellable means the job already completed, was cancelled or
	// is dead.
	ErrNotCancellable = errors.New("queue: job cannot be cancelled in its state")
	// ErrRunning means the operation needs a job that is not running
	// (Delete): cancel the job first.
	ErrRunning = errors.New("queue: job is running")
	// ErrQueueFull is wrapped by *QueueFullError: the queue holds as many
	// waiting jobs as its QueueSettings.MaxPending allows.
	ErrQueueFull = errors.New("queue: queue full")
	// ErrInvalidArgument is wrapped by errors about bad parameters to
	// operator calls (filters, limits, names).
	ErrInvalidArgument = errors.New("queue: invalid argument")
	// ErrTimeOutOfRange is wrapped by errors about a time outside the range
	// a store keeps, years 1 to 9999 (UTC): a job's RunAt or ExpiresAt, a
	// subscription's From.Time, an event filter's bounds.
	ErrTimeOutOfRange = errors.New("queue: time out of range")
	// ErrUniqueKeyHeld is wrapped by *KeyHeldError: a dead job cannot be
	// retried while a live job holds its unique key.
	ErrUniqueKeyHeld = errors.New("queue: unique key held by a live job")
	// ErrSubscriptionNotFound means no subscription has the given name
	// (UpdateSubscription, Unsubscribe, Replay).
	ErrSubscriptionNotFound = errors.New("queue: subscription not found")
	// ErrTopicNotFound means no event was ever published to the named
	// topic (Replay).
	ErrTopicNotFound = errors.New("queue: topic not found")
	// ErrScheduleNotFound means no schedule of the given name is stored (no
	// scheduler has registered it yet).
	ErrScheduleNotFound = errors.New("queue: schedule not found")
	// ErrSchemaVersion is wrapped by *SchemaError: the database's schema is
	// not the one this build of spool uses.
	ErrSchemaVersion = errors.New("queue: database schema version differs")
	// ErrSubscriptionChanged is wrapped by *SubscriptionChangedError:
	// Subscribe named an existing subscription with a different definition.
	ErrSubscriptionChanged = errors.New("queue: subscription exists with another definition")
)

// InvalidJobError says which field of a NewJob is wrong and why. It wraps
// ErrInvalidJob (and Err, where set).
type InvalidJobError struct {
	// Index is the job's position in an EnqueueMany call (0 for Enqueue).
	Index int
	// Field names the NewJob field, such as "Kind" or "Priority".
	Field string
	// Reason says what is wrong with it.
	Reason string
	// Err is ErrPayloadTooLarge for oversize payloads, ErrTimeOutOfRange
	// for times a store cannot keep, else nil.
	Err error
}

// Error implements error.
func (e *InvalidJobError) Error() string {
	return fmt.Sprintf("queue: invalid job %d: %s: %s", e.Index, e.Field, e.Reason)
}

// Unwrap lets errors.Is match ErrInvalidJob and, where set, Err.
func (e *InvalidJobError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidJob, e.Err}
	}
	return []error{ErrInvalidJob}
}

// PayloadError means a job's payload could not be decoded into the type its
// handler expects. Handlers built with worker.JSON treat it as permanent.
type PayloadError struct {
	JobID  int64
	Kind   string
	Target string
	Err    error
}

// Error implements error.
func (e *PayloadError) Error() string {
	return fmt.Sprintf("queue: payload of job %d (kind %q) does not decode into %s: %v", e.JobID, e.Kind, e.Target, e.Err)
}

// Unwrap returns the decoding error.
func (e *PayloadError) Unwrap() error { return e.Err }

func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return "<nil>"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.String()
}

// QueueFullError says which queue refused an enqueue and its limit.
type QueueFullError struct {
	Queue string
	// Limit is the queue's MaxPending.
	Limit int
	// Waiting is how many jobs were waiting (pending, scheduled, blocked).
	Waiting int
	// Adding is how many jobs the refused call would have added. More than
	// Limit can never fit: waiting for room (Options.WaitWhenFull) is
	// pointless then, and the call fails at once.
	Adding int
}

// Error implements error.
func (e *QueueFullError) Error() string {
	if e.Adding > e.Limit {
		return fmt.Sprintf("queue: queue %q takes at most %d waiting jobs (QueueSettings.MaxPending): a call adding %d can never fit", e.Queue, e.Limit, e.Adding)
	}
	return fmt.Sprintf("queue: queue %q is full: %d jobs waiting, limit %d (QueueSettings.MaxPending)", e.Queue, e.Waiting, e.Limit)
}

// Unwrap lets errors.Is match ErrQueueFull.
func (e *QueueFullError) Unwrap() error { return ErrQueueFull }

// KeyHeldError says why a dead job stays dead on a retry: a live job
// (pending, scheduled, running or blocked) holds its unique key, such as a
// newer delivery of the same event made by a replay. Retry the dead job
// once the holder has finished, or delete one of the two. It wraps
// ErrUniqueKeyHeld.
type KeyHeldError struct {
	// JobID is the dead job that was not retried.
	JobID int64
	// Key is its unique key.
	Key string
	// HolderID is the live job that holds the key.
	HolderID int64
}

// Error implements error.
func (e *KeyHeldError) Error() string {
	return fmt.Sprintf("queue: dead job %d stays dead: its unique key %q is held by live job %d (retry it once job %d has finished, or delete one of the two)",
		e.JobID, e.Key, e.HolderID, e.HolderID)
}

// Unwrap lets errors.Is match ErrUniqueKeyHeld.
func (e *KeyHeldError) Unwrap() error { return ErrUniqueKeyHeld }

// SubscriptionChangedError means Subscribe named a subscription that exists
// with another definition. Subscribe never changes a subscription: call
// UpdateSubscription to change it on purpose, or pick another name. It
// wraps ErrSubscriptionChanged.
type SubscriptionChangedError struct {
	// Name is the subscription's name.
	Name string
	// Stored is the definition in the store; Given the one Subscribe got.
	Stored, Given Subscription
}

// Error implements error.
func (e *SubscriptionChangedError) Error() string {
	return fmt.Sprintf("queue: subscription %q exists with another definition (%s); UpdateSubscription changes it",
		e.Name, strings.Join(e.Stored.Diff(e.Given), ", "))
}

// Unwrap lets errors.Is match ErrSubscriptionChanged.
func (e *SubscriptionChangedError) Unwrap() error { return ErrSubscriptionChanged }

// SchemaError says that a database's schema version (Have) is not the one
// this build of spool uses (Want): newer (upgrade spool), or older and the
// store was opened read-only so it could not migrate (open it read-write
// once). It wraps ErrSchemaVersion.
type SchemaError struct {
	Have, Want int
	// Path names the database, where known.
	Path string
}

// Error implements error.
func (e *SchemaError) Error() string {
	where := "the database"
	if e.Path != "" {
		where = e.Path
	}
	if e.Have > e.Want {
		return fmt.Sprintf("queue: %s has schema version %d, newer than this spool's %d: upgrade spool", where, e.Have, e.Want)
	}
	return fmt.Sprintf("queue: %s has schema version %d, this spool uses %d: open it read-write once to migrate", where, e.Have, e.Want)
}

// Unwrap returns ErrSchemaVersion.
func (e *SchemaError) Unwrap() error { return ErrSchemaVersion }

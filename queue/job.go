package queue

import (
	"encoding/json"
	"fmt"
	"time"
)

// State is where a job is in its lifecycle.
type State string

// The states a job can be in.
const (
	// StatePending jobs are ready to run now and wait for a worker.
	StatePending State = "pending"
	// StateScheduled jobs wait for their run time (a delay, a retry backoff
	// or a snooze).
	StateScheduled State = "scheduled"
	// StateRunning jobs are leased by a worker.
	StateRunning State = "running"
	// StateCompleted jobs finished; they exist only while the store keeps
	// completed jobs for a retention window.
	StateCompleted State = "completed"
	// StateCancelled jobs were cancelled before they completed.
	StateCancelled State = "cancelled"
	// StateBlocked jobs wait for an earlier job with the same OrderKey in
	// their queue to complete (or, by the queue's setting, to die), or for
	// their parents (NewJob.DependsOn) to end.
	StateBlocked State = "blocked"
	// StateDead jobs failed permanently or ran out of attempts. They stay in
	// the dead table until an operator retries or deletes them.
	StateDead State = "dead"
)

// States lists every state in lifecycle order.
var States = []State{StatePending, StateScheduled, StateBlocked, StateRunning, StateCompleted, StateCancelled, StateDead}

// Valid reports whether s is one of the defined states.
func (s State) Valid() bool {
	for _, v := range States {
		if s == v {
			return true
		}
	}
	return false
}

// Job is a job as stored: what a handler receives and what operators list.
type Job struct {
	// ID identifies the job. IDs are never reused, also not after the job
	// was deleted, and a job keeps its ID in the dead table and when it is
	// retried from there.
	ID int64
	// Queue is the queue the job runs in.
	Queue string
	// Kind selects the handler.
	Kind string
	// Payload is the job's argument, usually JSON.
	Payload []byte
	// Priority orders ready jobs within a queue: higher runs first.
	Priority int
	// State is the job's current state.
	State State
	// Attempt counts the attempts started so far, including a running one.
	Attempt int
	// MaxAttempts is how many attempts the job may use before it is dead.
	MaxAttempts int
	// Timeout bounds one attempt; zero means the worker's default.
	Timeout time.Duration
	// Metadata holds string headers such as a correlation id.
	Metadata map[string]string
	// UniqueKey is the idempotency key the job was enqueued with, if any.
	UniqueKey string
	// OrderKey is the job's ordering key, if any: jobs of one key in one
	// queue run one at a time, in enqueue order.
	OrderKey string
	// PartitionKey is the job's partition key, if any: the queue's per-key
	// limits (QueueSettings.MaxRunningPerKey, RateLimitPerKey) count it.
	PartitionKey string
	// ExpiresAt is when the job dies unstarted ("expired"); zero for never.
	ExpiresAt time.Time
	// CreatedAt is when the job was enqueued.
	CreatedAt time.Time
	// RunAt is when the job is (or was) due.
	RunAt time.Time
	// AttemptedAt is when the latest attempt started; zero before the first.
	AttemptedAt time.Time
	// FinishedAt is when the job completed, was cancelled or died.
	FinishedAt time.Time
	// LeasedBy names the worker holding the job while it runs.
	LeasedBy string
	// LeaseUntil is when the current lease expires unless extended.
	LeaseUntil time.Time
	// LeaseToken fences the current lease: every settle of the job must
	// present it with the job's ID, so a worker that lost its lease cannot
	// settle the job. Each lease call draws a new random token, shared by
	// the jobs it leased together.
	LeaseToken int64
	// CancelRequested is set when an operator cancelled the job while it ran.
	CancelRequested bool
	// Output is the value the job's handler recorded (worker.RecordOutput),
	// as JSON; nil when none was recorded. Get fills it in (and Progress);
	// lists leave both empty.
	Output []byte
	// Progress is the latest progress the job's handler reported
	// (worker.ReportProgress); nil when none was.
	Progress *Progress
	// Errors holds the job's error history, oldest first: one entry per
	// failed attempt, bounded to the first ErrorsKeptFirst and the latest
	// ErrorsKeptLast entries (see AppendAttemptError).
	Errors []AttemptError
	// ErrorsDropped counts the failed attempts whose errors were not kept
	// because the history was full. They lie between the first
	// ErrorsKeptFirst entries of Errors and the rest (see ErrorsGap), so
	// len(Errors) + ErrorsDropped is the number of failed attempts.
	ErrorsDropped int
	// DeadReason says why a dead job died.
	DeadReason string
}

// LastError returns the latest attempt error, or nil if there is none.
func (j *Job) LastError() *AttemptError {
	if len(j.Errors) == 0 {
		return nil
	}
	return &j.Errors[len(j.Errors)-1]
}

// AttemptError records one failed attempt.
type AttemptError struct {
	// Attempt is the attempt number that failed (1 for the first).
	Attempt int `json:"attempt"`
	// At is when the failure was recorded.
	At time.Time `json:"at"`
	// Message is the error text, at most MaxErrorMessage bytes as stored.
	Message string `json:"error"`
	// Stack is the goroutine stack when the handler panicked, at most
	// MaxErrorStack bytes as stored.
	Stack string `json:"stack,omitempty"`
}

// NewJob describes a job to enqueue. Only Kind is required.
type NewJob struct {
	// Kind selects the handler, such as "email.receipt". Required: 1 to 128
	// characters of letters, digits and "._:-/".
	Kind string
	// Queue is the queue to run in. Defaults to "default". Same character
	// rules as Kind.
	Queue string
	// Payload is the job's raw argument bytes. Set either Payload or Args.
	Payload []byte
	// Args is encoded as JSON into Payload when Payload is nil.
	Args any
	// Priority orders ready jobs within a queue: higher runs first.
	// Defaults to 0; must be between 0 and MaxPriority.
	Priority int
	// RunAt schedules the job for a time. Zero means now (plus Delay).
	// Like every time a store keeps, it must lie in years 1 to 9999 (UTC);
	// see ErrTimeOutOfRange.
	RunAt time.Time
	// Delay schedules the job this long after now. Must not be negative;
	// ignored when RunAt is set.
	Delay time.Duration
	// MaxAttempts caps the attempts. Defaults to the queue's
	// Options.MaxAttempts (25).
	MaxAttempts int
	// Timeout bounds each attempt. Zero means the worker's default.
	Timeout time.Duration
	// Metadata holds string headers (a correlation id, a tenant). Stored
	// with the job and shown to handlers and operators.
	Metadata map[string]string
	// UniqueKey is an idempotency key: while a job with the same key is
	// pending, scheduled, blocked or running, enqueueing another returns that job's
	// ID with EnqueueResult.Duplicate set and inserts nothing. The key is
	// global across queues and kinds; include them in it where that matters.
	// UniqueFor and UniqueStates widen what counts as a duplicate, and
	// UniqueByArgs derives the key from the job itself.
	UniqueKey string
	// UniqueFor makes the key hold for a period as well: for this long
	// after a job with the key was inserted, enqueueing another with
	// UniqueFor set is a duplicate of it, whether that job still waits,
	// completed (and was deleted), was cancelled or died. The period is
	// measured on the queue's clock (Options.Now) from the enqueue that
	// inserted the job; a duplicate does not extend it. Zero means no
	// period: only live jobs (and UniqueStates) hold the key. Needs
	// UniqueKey or UniqueByArgs; must not be negative.
	UniqueFor time.Duration
	// UniqueStates lists the states in which an existing job with the key
	// makes a new one a duplicate. Defaults to the live states (pending,
	// scheduled, blocked, running), which a list must always include: a
	// live job holds its key in every case. Add StateCompleted,
	// StateCancelled or StateDead to keep the key while such a job exists
	// (a completed job exists only while the worker keeps it, see
	// worker.Options.KeepCompleted and KindKeep; a dead one until it is
	// retried, deleted or pruned by KeepDead). For a key that must hold
	// after the job is gone, use UniqueFor. Needs UniqueKey or
	// UniqueByArgs.
	UniqueStates []State
	// UniqueByArgs derives the unique key from the job's queue, kind and
	// payload when UniqueKey is empty (setting both is an error): two jobs
	// of the same kind in the same queue with equal arguments are then
	// duplicates. JSON payloads are compared canonically (object keys in
	// any order, any whitespace); other payloads byte for byte. See
	// ArgsKey for the key's shape.
	UniqueByArgs bool
	// OrderKey orders jobs: jobs with the same key in the same queue run
	// strictly one at a time and in enqueue order, while different keys
	// run in parallel. A failing job holds back only its own key while it
	// retries; when it dies, the key stays blocked until an operator
	// retries or deletes it, unless the queue's settings say to move on
	// (QueueSettings.DeadSkipsKey). Same character rules as UniqueKey.
	OrderKey string
	// PartitionKey names the partition (a customer, a partner account) the
	// job's work is for: the queue's per-key limits
	// (QueueSettings.MaxRunningPerKey, RateLimitPerKey and
	// RatePeriodPerKey) hold for each key across every process. A job
	// without one is not subject to per-key limits (the queue-wide limits
	// still apply). Independent of OrderKey: a job may have both. At most
	// 512 bytes of valid UTF-8 without NUL bytes.
	PartitionKey string
	// ExpiresAt is a deadline to start by: a job not started by then goes
	// to the dead table with the reason "expired" (a message TTL). Zero
	// means never. Years 1 to 9999 (UTC), as for RunAt.
	ExpiresAt time.Time
	// DependsOn names jobs (by id) that must complete before this one
	// runs: until then it waits in state blocked. Parents must exist (see
	// ErrParentNotFound), so a job can only wait for jobs enqueued before
	// it (in an earlier call, or an earlier EnqueueTx of the same
	// transaction), and no cycle can be built. Repeated ids count once; at
	// most MaxParents. Cannot be combined with OrderKey. Needs a store
	// that implements DependencyStore.
	DependsOn []int64
	// OnParentFailure decides what happens when a parent dies, is
	// cancelled or is deleted before it finished: ParentFailureCancel (the
	// default) cancels this job, ParentFailureRun runs it anyway once all
	// its parents ended.
	OnParentFailure ParentFailure
	// Batch adds the job to an open batch (see BatchSpec.Open): its end
	// counts toward the batch's callbacks. Zero for none. Needs a store
	// that implements BatchStore; ErrBatchNotFound, ErrBatchClosed.
	Batch int64
}

// EnqueueResult tells what an enqueue did.
type EnqueueResult struct {
	// ID is the new job's ID, or the existing job's ID for a duplicate.
	ID int64
	// Duplicate is true when a job held the UniqueKey (live, within a
	// UniqueFor period, or in one of UniqueStates) and nothing was
	// inserted. ID then names the holder: a live job first, else the job
	// that started the period (which may have been deleted since), else a
	// job in one of UniqueStates.
	Duplicate bool
}

// MaxPriority is the highest priority a job may have.
const MaxPriority = 1000

// DefaultQueue is the queue a job runs in when NewJob.Queue is empty.
const DefaultQueue = "default"

// DecodeArgs decodes the job's JSON payload into v, with an error that names
// the job, its kind and the target type.
func (j *Job) DecodeArgs(v any) error {
	if err := json.Unmarshal(j.Payload, v); err != nil {
		return &PayloadError{JobID: j.ID, Kind: j.Kind, Target: typeName(v), Err: err}
	}
	return nil
}

// The range of times a store keeps: years 1 to 9999, UTC. RFC 3339 and JSON
// (the admin API, tick metadata) show only four-digit years, and every
// backend holds this range: SQLite's int64 unix microseconds end in the
// year 294247 and wrap around after it (year 300000 reads back as -284555),
// PostgreSQL's timestamptz ends in 294276. Times outside it are refused
// (RunAt, ExpiresAt, StartAt.Time) or, where that keeps the meaning, clamped
// (an event filter's open ends). Other times users set reach a store only
// as durations added to the clock (Delay, Snooze, RetryIn, retention, the
// worker's keep periods): at most 292 years, within the range for any
// clock reading before the year 9707.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// outOfRange says, for a non-zero t outside the range a store keeps, what
// is wrong with it ("" when t is in range).
func outOfRange(t time.Time) string {
	if t.Before(minTime) || t.After(maxTime) {
		return fmt.Sprintf("%s is outside years 1 to 9999 (UTC)", t.UTC().Format(time.RFC3339Nano))
	}
	return ""
}

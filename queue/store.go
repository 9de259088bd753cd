package queue

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// ErrForeignTx means a *sql.Tx passed to a Tx twin (EnqueueTx, CancelTx
// ...) is a transaction of another database than the store's: its writes
// would land in the wrong file. Begin it on the store's database (package
// sqlite: Store.DB, or the *sql.DB given to New).
var ErrForeignTx = errors.New("queue: transaction belongs to another database")

// Store is the contract a backend implements (package sqlite; a server
// database next). Users hold a *Queue; worker pools, schedulers and tools
// built on it call the Store. The package documentation says which rules
// the core decides and what the contract allows a backend shared by
// several hosts.
//
// Times are passed in by the caller, which owns the clock, so tests drive
// time; a backend for several hosts may compare leases and due times
// against the database's clock instead (see the package documentation).
// Every write takes an optional *sql.Tx: nil means the store's own
// transaction, non-nil runs the write inside the caller's transaction,
// which must belong to the store's database: a backend refuses another
// with ErrForeignTx. A backend that can wake workers implements Notifier.
// Backends must pass the conformance suite in package queuetest.
type Store interface {
	// Enqueue inserts jobs, validated and normalised by Queue, in one
	// transaction. A job with RunAt after now is scheduled, else pending.
	// A job whose UniqueKey is held by a live job (pending, scheduled,
	// blocked, running), by the job of a UniqueFor period still running at
	// now, or by a job in one of its UniqueStates, is not inserted; its
	// result names the holder (in that order) and Duplicate is set. A job
	// inserted with UniqueFor starts the key's period. Racing enqueues of
	// one key insert one job.
	Enqueue(ctx context.Context, tx *sql.Tx, now time.Time, jobs []NewJob) ([]EnqueueResult, error)

	// Lease moves up to p.Limit jobs of one queue that are ready by p.Now
	// (pending, or scheduled with a run time not after p.Now) to running,
	// highest priority first and then oldest run time, with a fresh lease
	// token. First, as a step of the contract, it expires the queue's
	// waiting jobs (pending, scheduled or blocked) whose ExpiresAt is before
	// p.Now: they move to dead with the reason ExpiredReason(ExpiresAt), and
	// free their ordering key as a death does. A paused queue leases
	// nothing. The queue's shared limits cut the lease: MaxRunning to the
	// slots free (running jobs whose lease holds count), RateLimit to the
	// tokens in its bucket, which the lease spends.
	Lease(ctx context.Context, p LeaseParams) (LeaseResult, error)

	// Extend moves the lease of running jobs to until, for those whose
	// token still holds. It reports the jobs whose lease was lost and the
	// jobs an operator asked to cancel.
	Extend(ctx context.Context, leases []LeaseRef, until time.Time) (ExtendResult, error)

	// Settle applies the outcomes of attempts in one transaction. Each
	// settlement whose token no longer holds the job is skipped and gets
	// ErrLeaseLost in the returned slice (same order as s); the second
	// result is for failures of the whole call.
	Settle(ctx context.Context, tx *sql.Tx, s []Settlement) ([]error, error)

	// Expired returns up to limit running jobs whose lease ended before now,
	// for the rescuer to settle with their (stale) tokens.
	Expired(ctx context.Context, now time.Time, limit int) ([]*Job, error)

	// Get returns a job by ID from the job table or the dead table, with
	// its output and progress (Job.Output, Job.Progress).
	Get(ctx context.Context, id int64) (*Job, error)
	// List returns jobs matching f, newest first, at most f.Limit. f comes
	// validated and with its defaults applied by Inspector.
	List(ctx context.Context, f ListFilter) ([]*Job, error)
	// Cancel cancels a pending or scheduled job at once, and asks a running
	// job to stop (its worker sees the request on its next heartbeat). It
	// returns the job's state after the call.
	Cancel(ctx context.Context, tx *sql.Tx, id int64, now time.Time) (State, error)
	// CancelWaiting cancels a job that has not started (pending,
	// scheduled, blocked) as Cancel does; a running job is refused with
	// ErrNotCancellable and left running, as is any other state.
	CancelWaiting(ctx context.Context, tx *sql.Tx, id int64, now time.Time) error
	// RetryDead moves dead jobs matching f (validated by Inspector: never
	// an empty filter) back to pending with their
	// attempts reset, keeping their IDs and error history. A dead job whose
	// unique key a live job holds stays dead and is reported in Skipped with
	// the holder; the others move all the same. It returns how many moved.
	RetryDead(ctx context.Context, tx *sql.Tx, f DeadFilter, now time.Time) (RetryDeadResult, error)
	// Delete removes a job that is not running, from either table.
	Delete(ctx context.Context, tx *sql.Tx, id int64, now time.Time) error
	// RunNow makes a scheduled job (waiting for its run time, or for a
	// retry's backoff to end) pending with its run time now, keeping its
	// attempts, and wakes its queue's workers. A job in another state is
	// refused with ErrNotScheduled, an unknown one with ErrNotFound.
	RunNow(ctx context.Context, tx *sql.Tx, id int64, now time.Time) error
	// DeleteDead removes the dead jobs matching f (validated by Inspector),
	// and only dead ones (a job
	// retried meanwhile stays). It returns how many it removed.
	DeleteDead(ctx context.Context, tx *sql.Tx, f DeadFilter, now time.Time) (int, error)
	// SetPaused pauses or resumes a queue for every process on the store.
	SetPaused(ctx context.Context, tx *sql.Tx, queue string, paused bool, now time.Time) error
	// SetQueueSettings stores a queue's settings for every process.
	SetQueueSettings(ctx context.Context, tx *sql.Tx, queue string, s QueueSettings, now time.Time) error
	// MarkProcessed records key as processed inside tx and reports whether
	// it was new (false: an earlier transaction recorded it).
	MarkProcessed(ctx context.Context, tx *sql.Tx, key string, now time.Time) (bool, error)
	// Stats counts jobs per queue and state and reports throughput per
	// minute for the hour before now.
	Stats(ctx context.Context, now time.Time) (*Stats, error)
	// Prune deletes completed and cancelled jobs finished before the given
	// times, dead jobs that died before DeadBefore, processed keys
	// recorded before ProcessedBefore, unique periods that ended before
	// UniqueBefore, per-key rate buckets full again before
	// RateBucketsFullBefore and throughput records before MetricsBefore, at most
	// p.Limit of each kind. It returns how many jobs, processed keys and
	// periods it deleted: a caller that gets p.Limit or more calls again
	// for the rest.
	Prune(ctx context.Context, p PruneParams) (int, error)
	// Close releases the store's resources.
	Close() error
}

// LeaseParams selects what Lease takes.
type LeaseParams struct {
	// Queue to lease from.
	Queue string
	// Limit is the most jobs to lease.
	Limit int
	// Now is the current time: scheduled jobs due by then become ready.
	Now time.Time
	// Until is when the new leases expire unless extended.
	Until time.Time
	// Worker names the lease holder, for operators.
	Worker string
}

// LeaseResult is what Lease returns.
type LeaseResult struct {
	// Jobs are the leased jobs, in no particular order.
	Jobs []*Job
	// NextRunAt is the earliest run time of the queue's remaining scheduled
	// jobs, or zero if there are none: a worker can sleep until then.
	NextRunAt time.Time
	// Paused is true when the queue is paused.
	Paused bool
	// MaxRunning is the queue's limit on running jobs the lease obeyed
	// (QueueSettings.MaxRunning; 0: none). Under a limit, a slot frees
	// when a running job of the queue settles or its lease expires: a
	// worker looks again then.
	MaxRunning int
	// MaxRunningPerKey is the queue's limit on running jobs of one
	// partition key the lease obeyed (QueueSettings.MaxRunningPerKey; 0:
	// none). As for MaxRunning, a settle frees a slot worth a look.
	MaxRunningPerKey int
	// Limited is true when the queue's MaxRunning cut the lease short, or
	// when its per-key limits made it pass over ready jobs of saturated
	// partition keys: more jobs may be ready.
	Limited bool
	// RateLimitedUntil is set when the queue's RateLimit cut the lease
	// short, or its RateLimitPerKey made it pass over jobs: the earliest
	// time the next of those jobs may start.
	RateLimitedUntil time.Time
}

// LeaseRef names one lease: a job and the token it was leased with.
type LeaseRef struct {
	JobID int64
	Token int64
}

// ExtendResult is what Extend returns.
type ExtendResult struct {
	// Lost lists jobs whose lease no longer holds.
	Lost []int64
	// CancelRequested lists jobs an operator asked to cancel.
	CancelRequested []int64
}

// Settlement is the outcome of one attempt of one job.
type Settlement struct {
	// JobID and Token name the lease being settled.
	JobID int64
	Token int64
	// Queue is the job's queue, for the throughput counters.
	Queue string
	// Kind is the job's kind, for the throughput counters per kind
	// (MetricsStore); empty when unknown.
	Kind string
	// Wait is how long the settled attempt waited to start: its start
	// minus the time the job was due (Job.Waited of the leased job), never
	// negative; zero when unknown. Every settlement that takes effect
	// counts it in its minute's wait histogram (MetricsStore), whatever
	// its outcome; a zero Wait counts in the first bucket.
	Wait time.Duration
	// Outcome is what to do.
	Outcome Outcome
	// Now is the time of the settlement.
	Now time.Time
	// RunAt is when the job runs again (retry, snooze, release).
	RunAt time.Time
	// Error is recorded on the job for retry and dead outcomes, added to
	// its history with AppendAttemptError (which caps and bounds it).
	Error *AttemptError
	// Reason is the dead reason.
	Reason string
	// Output, when not nil, is the output the handler recorded (JSON), and
	// Progress, when not nil, its latest progress: a settlement that took
	// effect stores them with the job in the same transaction, unless it
	// deleted the job (a completion without Keep), whose output goes with
	// it. See Job.Output.
	Output   []byte
	Progress *Progress
	// OrderKey is the job's ordering key: when the job leaves the live set
	// (completed, cancelled, or dead unless dead jobs block their key), the
	// next job of the key becomes ready. It and Queue must be the leased
	// job's own (Job.OrderKey, Job.Queue): a store moves the key of a
	// completion, cancel or death on without looking for another head,
	// since the job it ended was the key's one live job.
	OrderKey string
	// Keep keeps a completed job (state completed) until Prune removes it;
	// false deletes it at once.
	Keep bool
	// IfExpired settles only if the job's lease ended before Now. Rescuers
	// set it: a worker whose heartbeat extended the lease after the rescuer
	// read it keeps the job (the settle gets ErrLeaseLost).
	IfExpired bool
}

// ListFilter selects jobs to list. The zero value lists the newest jobs of
// every queue and state.
type ListFilter struct {
	// Queue, Kind and State narrow the list; empty means any.
	Queue string
	Kind  string
	State State
	// Search matches a substring of the payload, of any kept attempt's error
	// message, or of a dead job's reason.
	Search string
	// BeforeID pages: only jobs with a smaller ID (the last ID of the
	// previous page).
	BeforeID int64
	// Limit is the page size. Defaults to 50; at most 1000.
	Limit int
	// OmitPayload leaves each job's Payload empty, for lists that do not
	// show it: a page of jobs with large payloads then costs little
	// memory. Search still looks at the payloads.
	OmitPayload bool
}

// DeadFilter selects dead jobs to retry or delete. IDs, when set, selects those jobs;
// otherwise Queue and Kind narrow the selection and All must be set to
// select every dead job (a guard against an empty filter by mistake).
type DeadFilter struct {
	IDs   []int64
	Queue string
	Kind  string
	All   bool
}

// PruneParams says what Prune removes.
type PruneParams struct {
	// CompletedBefore removes completed jobs finished before it.
	CompletedBefore time.Time
	// CancelledBefore removes cancelled jobs finished before it.
	CancelledBefore time.Time
	// MetricsBefore removes throughput counters from before it.
	MetricsBefore time.Time
	// ProcessedBefore removes processed keys (MarkProcessed) recorded
	// before it.
	ProcessedBefore time.Time
	// DeadBefore removes dead jobs that died before it, except those that
	// block their ordering key (see QueueSettings.DeadSkipsKey): their
	// key's later jobs wait for an operator. Zero keeps every dead job
	// until an operator retries or deletes it.
	DeadBefore time.Time
	// UniqueBefore removes the records of unique periods
	// (NewJob.UniqueFor) that ended before it: they hold no key any more.
	UniqueBefore time.Time
	// BatchesBefore removes the batches whose members all ended (and
	// that were closed) before it, with their members' records. Zero keeps
	// them.
	BatchesBefore time.Time
	// RateBucketsFullBefore removes the per-partition-key rate buckets
	// (QueueSettings.RateLimitPerKey) that were full again before it: idle
	// long enough to refill, they hold nothing a new bucket would not.
	// Zero keeps them.
	RateBucketsFullBefore time.Time
	// Rules give the jobs of some queues or kinds cut-offs of their own,
	// in place of CompletedBefore, CancelledBefore and DeadBefore. A job
	// follows the first rule that matches it; jobs no rule matches follow
	// the cut-offs above.
	Rules []PruneRule
	// Limit is the most jobs of each state (whatever the rules), and
	// processed keys and unique periods, removed by one call (keeps
	// transactions short).
	Limit int
}

// PruneRule is the retention of the finished jobs of one queue, one kind,
// or one kind in one queue (see PruneParams.Rules). A zero cut-off keeps
// the rule's jobs in that state.
type PruneRule struct {
	// Queue and Kind select the jobs; empty matches any. At least one is
	// set.
	Queue string
	Kind  string
	// CompletedBefore, CancelledBefore and DeadBefore remove the rule's
	// completed, cancelled and dead jobs finished before them, as the
	// PruneParams fields of the same names do.
	CompletedBefore time.Time
	CancelledBefore time.Time
	DeadBefore      time.Time
}

// Stats is a snapshot of the store.
type Stats struct {
	// Queues lists every known queue, by name: every queue that has jobs,
	// settings (paused or not) or, through Inspector.Stats on a
	// ProcessStore, a live worker pool that works it.
	Queues []QueueStats
	// Throughput holds one entry per minute of the hour before the snapshot,
	// oldest first, summed over queues.
	Throughput []MinuteStats
	// ProcessesTracked is set by Inspector.Stats when the store keeps
	// worker pools' heartbeat rows (ProcessStore); Processes then counts
	// the live pools, and the queues' Workers, Concurrency and Unserved
	// are filled in. A store's own Stats leaves them zero.
	ProcessesTracked bool
	Processes        int
}

// QueueStats counts one queue's jobs.
type QueueStats struct {
	Name      string
	Pending   int
	Scheduled int
	// Blocked counts jobs waiting behind an earlier job of their ordering
	// key, and BlockedKeys the keys they wait on. StuckKeys counts keys held
	// by a dead job: they move on only when an operator retries or deletes
	// it.
	Blocked     int
	BlockedKeys int
	StuckKeys   int
	// AwaitingParents counts jobs waiting for their parents to end
	// (NewJob.DependsOn); their state is blocked too.
	AwaitingParents int
	Running         int
	Completed       int
	Cancelled       int
	Dead            int
	// OldestPending is how long the oldest ready job has waited past its
	// run time; zero when none is pending.
	OldestPending time.Duration
	Paused        bool
	// MaxPending is the back-pressure limit (0: none); Pending, Scheduled
	// and Blocked together count against it.
	MaxPending int
	// MaxRunning is the limit on running jobs across every process (0:
	// none; see QueueSettings.MaxRunning).
	MaxRunning int
	// RateLimit jobs start per RatePeriod across every process (0: no
	// limit; see QueueSettings.RateLimit).
	RateLimit  int
	RatePeriod time.Duration
	// MaxRunningPerKey, RateLimitPerKey and RatePeriodPerKey are the
	// queue's per-partition-key limits (0: none; see QueueSettings).
	MaxRunningPerKey int
	RateLimitPerKey  int
	RatePeriodPerKey time.Duration
	// Workers counts the live worker pools that work the queue, and
	// Concurrency sums their MaxWorkers for it (see Stats.ProcessesTracked).
	Workers     int
	Concurrency int
	// Unserved flags a queue with pending jobs that no live worker pool
	// works: they wait until one does (see UnservedNote).
	Unserved bool
}

// QueueSettings are a queue's settings, stored with the jobs so every
// process on the store applies the same ones.
type QueueSettings struct {
	// MaxPending limits the jobs waiting in the queue (pending, scheduled
	// and blocked): an enqueue beyond it fails with a *QueueFullError, or
	// waits (Options.WaitWhenFull). 0 means no limit. Each enqueue
	// transaction counts up to MaxPending index entries, so keep it to the
	// hundreds of thousands. Jobs delivered by Publish are not limited: a
	// publisher never waits for one subscriber.
	MaxPending int
	// DeadSkipsKey lets an ordering key move on when its job dies. By
	// default (false) a dead job blocks its key until an operator retries
	// or deletes it: later jobs of the key never run out of order.
	DeadSkipsKey bool
	// MaxRunning limits the jobs of the queue running at once across every
	// process on the store: a lease takes at most MaxRunning minus the
	// jobs running now. A running job counts while its lease holds, so
	// the slots of a process that died come back when its leases expire.
	// 0 means no limit (and leases cost nothing more).
	MaxRunning int
	// RateLimit limits how many jobs of the queue start per RatePeriod
	// across every process on the store: a token bucket kept on the
	// queue's row, refilled continuously (RateLimit per RatePeriod, never
	// holding more than RateLimit), spent by each lease. 0 means no limit.
	// A pool's own limit (worker.QueueConfig.RateLimit) applies as well.
	RateLimit int
	// RatePeriod is RateLimit's period, at least a millisecond. Defaults
	// to a second.
	RatePeriod time.Duration
	// MaxRunningPerKey limits the jobs of one partition key
	// (NewJob.PartitionKey) of the queue running at once across every
	// process on the store, counted as MaxRunning counts (a running job
	// counts while its lease holds). Jobs without a partition key are not
	// limited by it. A lease passes over ready jobs of saturated keys and
	// takes those behind them, looking at most MaxKeyWalk ready jobs
	// deep, so a backlog of one hot key never makes leases slow; jobs past
	// that depth wait until the hot key's backlog shrinks. 0 means no
	// limit (and leases cost nothing more).
	MaxRunningPerKey int
	// RateLimitPerKey limits how many jobs of one partition key of the
	// queue start per RatePeriodPerKey across every process: a token
	// bucket per key kept in the store (created on first use, pruned once
	// idle long enough to be full again), spent by each lease as RateLimit
	// is. Jobs without a partition key are not limited by it. 0 means no
	// limit. RateLimit, MaxRunning and a pool's own limit apply as well.
	RateLimitPerKey int
	// RatePeriodPerKey is RateLimitPerKey's period, at least a
	// millisecond. Defaults to a second.
	RatePeriodPerKey time.Duration
}

// MaxKeyWalk is how many ready jobs of a queue a lease looks at, in lease
// order, when the queue has per-key limits (QueueSettings.MaxRunningPerKey,
// RateLimitPerKey): it takes the first jobs whose partition key has room,
// passing over those of saturated keys.
const MaxKeyWalk = 1000

// MinuteStats counts settled attempts in one minute.
type MinuteStats struct {
	Minute    time.Time
	Completed int
	Failed    int
	Dead      int
}

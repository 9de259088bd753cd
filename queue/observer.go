package queue

import (
	"context"
	"errors"
	"time"
)

// Observer is the instrumentation hook: a struct of optional functions that
// the queue, and the worker pools and schedulers built on it, call at the
// points worth measuring or tracing. Set it in Options.Observer; package
// spoolotel builds one for OpenTelemetry. A nil Observer costs one nil
// check at each point, and so does a nil function in a set Observer.
//
// The functions are called synchronously on the path they observe (an
// enqueue, a pool's settle loop), so they must be quick and must not
// block; they may be called from many goroutines at once. They must not
// keep or change the slices and jobs they are given.
//
// The events carry bounded fields (queue, kind, outcome, counts and
// durations) fit for metric labels, and job IDs for tracing only: a job ID
// is unbounded and never belongs in a metric label. Durations are measured
// on the monotonic clock (time.Since), not on Options.Now, so that a test's
// fixed clock does not hide them; wait times, which compare a job's due
// time with the time it started, are on the queue's clock.
type Observer struct {
	// EnqueueStart is called once per enqueue call (Enqueue, EnqueueMany,
	// their Tx twins, and through EnqueueTx a scheduler's fire), before
	// the jobs are validated and inserted, with the jobs as given (an
	// empty Queue means DefaultQueue). It returns the context the rest of
	// the call runs under, which EnqueueDone then receives (a tracer keeps
	// its producer span there), and metadata added to every job of the
	// call under the keys the job does not set itself (nil: none). The
	// added metadata counts against the metadata size limit.
	EnqueueStart func(ctx context.Context, jobs []NewJob) (context.Context, map[string]string)
	// EnqueueDone is called once per enqueue call, when it returns, with
	// the context EnqueueStart returned (or the caller's).
	EnqueueDone func(ctx context.Context, e EnqueueEvent)

	// PublishStart is called once per Publish or PublishTx before the event
	// is validated, as EnqueueStart is for an enqueue: the metadata it
	// returns is added to the event's, so it travels on every job the event
	// delivers.
	PublishStart func(ctx context.Context, ev Event) (context.Context, map[string]string)
	// PublishDone is called once per Publish or PublishTx when it returns.
	PublishDone func(ctx context.Context, e PublishEvent)

	// Leased is called by a worker pool after each lease call that
	// returned (also when it leased nothing or failed).
	Leased func(ctx context.Context, e LeaseEvent)
	// RunStart is called by a worker pool when it starts an attempt, just
	// before the handler and the pool's middleware, with the handler's
	// context.
	RunStart func(ctx context.Context, e RunStartEvent)
	// RunEnd is called by a worker pool when an attempt's handler returned
	// (or panicked), with the outcome it leads to.
	RunEnd func(ctx context.Context, e RunEndEvent)
	// Settled is called by a worker pool after each settle call: one batch
	// of outcomes committed in one transaction.
	Settled func(ctx context.Context, e SettleEvent)
	// Rescued is called by a worker pool's rescuer for each job it
	// rescued (settled after its lease expired).
	Rescued func(ctx context.Context, e RescueEvent)
	// ScheduleFired is called by a scheduler after it committed a fire of a
	// schedule: a tick that enqueued a job, a tick skipped by the misfire
	// policy, or a served trigger request.
	ScheduleFired func(ctx context.Context, e ScheduleFireEvent)
}

// EnqueueEvent is one enqueue call, for Observer.EnqueueDone.
type EnqueueEvent struct {
	// Jobs are the call's jobs: normalised (Queue set, Payload encoded)
	// when they passed validation, else as given.
	Jobs []NewJob
	// Results are the per-job results, in the order of Jobs; nil when Err
	// is set. A job inserted inside the caller's transaction (Tx is set)
	// is counted here as inserted, although it exists only if that
	// transaction commits.
	Results []EnqueueResult
	// Err is the call's error: nil, a *QueueFullError (the queue at its
	// MaxPending refused the jobs), or any other failure.
	Err error
	// Tx is true for the Tx twins.
	Tx bool
	// Duration is how long the call took, including a wait for room
	// (Options.WaitWhenFull).
	Duration time.Duration
}

// EnqueueResultName is the bounded name of job i's result in an enqueue
// call, for a metric label: "inserted", "duplicate", "refused" (the queue
// was full) or "error" (the call failed otherwise).
func (e EnqueueEvent) EnqueueResultName(i int) string {
	switch {
	case e.Err != nil && errors.As(e.Err, new(*QueueFullError)):
		return "refused"
	case e.Err != nil || i >= len(e.Results):
		return "error"
	case e.Results[i].Duplicate:
		return "duplicate"
	}
	return "inserted"
}

// PublishEvent is one publish call, for Observer.PublishDone.
type PublishEvent struct {
	// Topic is the event's topic.
	Topic string
	// Result is what the publish did; zero when Err is set.
	Result PublishResult
	// Err is the call's error.
	Err error
	// Tx is true for PublishTx.
	Tx bool
	// Duration is how long the call took.
	Duration time.Duration
}

// LeaseEvent is one lease call of a worker pool, for Observer.Leased.
type LeaseEvent struct {
	// Queue is the queue leased from.
	Queue string
	// Requested is how many jobs the pool asked for (its free slots), and
	// Jobs the jobs it got (the batch size is len(Jobs)).
	Requested int
	Jobs      []*Job
	// Err is the lease's error.
	Err error
	// Duration is how long the lease call took.
	Duration time.Duration
}

// RunStartEvent is the start of an attempt, for Observer.RunStart.
type RunStartEvent struct {
	// Job is the leased job; Job.Attempt numbers the attempt.
	Job *Job
	// Wait is how long the job waited past its due time (Job.RunAt) when
	// the attempt started, on the queue's clock; zero if it started early.
	Wait time.Duration
}

// RunEndEvent is the end of an attempt, for Observer.RunEnd.
type RunEndEvent struct {
	// Job is the job the attempt ran.
	Job *Job
	// Outcome is what the attempt leads to: complete, retry, snooze, dead,
	// cancel (an operator cancelled it) or release (the pool stopped).
	// It is zero when the worker lost the job's lease while it ran, and
	// LeaseLost is set: nothing of this worker settles it then.
	Outcome   Outcome
	LeaseLost bool
	// Err is the handler's error (nil when it succeeded). A handler that
	// panicked is reported with a plain error, and the outcome of one:
	// retry, or dead when it had no attempts left.
	Err error
	// Duration is how long the handler ran.
	Duration time.Duration
}

// SettleEvent is one settle call of a worker pool (a batch of outcomes in
// one transaction), for Observer.Settled.
type SettleEvent struct {
	// Settlements are the batch, and Kinds the kinds of their jobs, in the
	// same order.
	Settlements []Settlement
	Kinds       []string
	// Errs holds each settlement's error, in the same order, or is nil
	// when the store took the batch whole. ErrLeaseLost means the job's
	// lease no longer held and the outcome was not applied.
	Errs []error
	// Err is the error of the whole call (no outcome was applied).
	Err error
	// Duration is how long the store call took (the commit included).
	Duration time.Duration
}

// SettlementOutcomeName is the bounded name of settlement i's result, for a
// metric label: the outcome's name (Outcome.String), "lease_lost" when
// the lease no longer held, or "error" when it was not written.
func (e SettleEvent) SettlementOutcomeName(i int) string {
	switch {
	case e.Err != nil:
		return "error"
	case i < len(e.Errs) && e.Errs[i] != nil:
		if errors.Is(e.Errs[i], ErrLeaseLost) {
			return "lease_lost"
		}
		return "error"
	}
	return e.Settlements[i].Outcome.String()
}

// RescueEvent is one rescued job, for Observer.Rescued.
type RescueEvent struct {
	// Job is the job as the rescuer read it (its lease expired).
	Job *Job
	// Outcome is what the rescue did with it: retry, or dead when it had
	// no attempts left.
	Outcome Outcome
}

// ScheduleFireEvent is one committed fire of a schedule, for
// Observer.ScheduleFired.
type ScheduleFireEvent struct {
	// Schedule is the schedule's name, and Queue and Kind those of the job
	// it enqueued (empty for a skipped tick).
	Schedule string
	Queue    string
	Kind     string
	// Fire is what was recorded: a tick (Fire.Tick), possibly skipped
	// (Fire.Skip), or a served trigger request (Fire.Trigger).
	Fire ScheduleFire
	// JobID is the enqueued job's ID; zero for a skipped tick.
	JobID int64
}

// Observer returns the queue's instrumentation hook (Options.Observer),
// nil when none is set. Worker pools and schedulers built on the queue
// report to it.
func (q *Queue) Observer() *Observer { return q.opts.Observer }

// withMetadata returns j with md's keys that j does not set itself added
// to its metadata (a copy: the caller's map is not changed).
func withMetadata(j NewJob, md map[string]string) NewJob {
	if len(md) == 0 {
		return j
	}
	out := make(map[string]string, len(j.Metadata)+len(md))
	for k, v := range md {
		out[k] = v
	}
	for k, v := range j.Metadata {
		out[k] = v
	}
	j.Metadata = out
	return j
}

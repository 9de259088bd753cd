package spooltest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

// leaseFor is how long the kit's leases last on the kit's clock. Nothing
// rescues a job while the kit runs it, so it only shows in the job's
// LeaseUntil.
const leaseFor = time.Hour

// leaseHolder is the name the kit's leases carry (Job.LeasedBy).
const leaseHolder = "spooltest"

// Result is what running one job did.
type Result struct {
	// Job is the job as the handler received it: its real ID, Attempt,
	// Metadata, lease token and times.
	Job *queue.Job
	// Outcome is how the attempt was settled: queue.OutcomeComplete,
	// OutcomeRetry, OutcomeSnooze, OutcomeDead or OutcomeCancel.
	Outcome queue.Outcome
	// Err is what the handler returned (a panic as an error); nil when it
	// succeeded.
	Err error
	// RunAt is when a retried or snoozed job runs again.
	RunAt time.Time
	// DeadReason says why a dead job died.
	DeadReason string
	// CompletedInTx is set when the handler completed its job in its own
	// transaction (worker.Pool.CompleteTx).
	CompletedInTx bool
}

// String describes r: `job 7 email.receipt attempt 1: retry at ...: err`.
func (r *Result) String() string {
	s := fmt.Sprintf("job %d %s attempt %d: %s", r.Job.ID, r.Job.Kind, r.Job.Attempt, r.Outcome)
	switch r.Outcome {
	case queue.OutcomeRetry, queue.OutcomeSnooze:
		s += " at " + fmtTime(r.RunAt)
	case queue.OutcomeDead:
		s += " (" + r.DeadReason + ")"
	}
	if r.Err != nil {
		s += ": " + r.Err.Error()
	}
	return s
}

// Work enqueues job into the kit's queue and runs it at once with h, as a
// worker of a pool built by NewPool (with Options.Middleware) runs it, and
// returns what happened. See WorkPool.
func (k *Kit) Work(ctx context.Context, t testing.TB, h worker.Handler, job queue.NewJob) *Result {
	t.Helper()
	p := k.NewPool(t)
	p.Handle(job.Kind, h)
	return k.WorkPool(ctx, t, p, job)
}

// WorkPool enqueues job into the kit's queue and runs it at once through
// pool, the app's pool with its handlers and middleware (built on the
// kit's queue, not started): the job is leased as a worker leases it, so
// the handler gets a real job (ID, Attempt 1, Metadata, lease), it runs in
// the calling goroutine (worker.Pool.RunJob), and its outcome is settled
// in the store before WorkPool returns. Jobs the handler enqueues stay
// queued; Drain runs them. A job scheduled for later (RunAt, Delay) is made
// due first, as Inspector.RunNow does.
//
// To take its job, WorkPool leases the ready jobs of its queue and hands
// the others back at once, as they were (pending, same run time, the
// attempt not counted). A job that cannot be leased (its queue is paused,
// or an earlier job of its ordering key is live) fails t, as does a kind
// with no handler on pool.
func (k *Kit) WorkPool(ctx context.Context, t testing.TB, pool *worker.Pool, job queue.NewJob) *Result {
	t.Helper()
	if !k.own(t, "WorkPool", pool) {
		return nil
	}
	res, err := k.q.Enqueue(ctx, job)
	if err != nil {
		t.Fatalf("spooltest: WorkPool: enqueue %s: %v", job.Kind, err)
		return nil
	}
	if res.Duplicate {
		t.Fatalf("spooltest: WorkPool: job %d holds the unique key %q: nothing was enqueued to run", res.ID, job.UniqueKey)
		return nil
	}
	j, err := k.q.Inspector().Get(ctx, res.ID)
	if err != nil {
		t.Fatalf("spooltest: WorkPool: read job %d: %v", res.ID, err)
		return nil
	}
	if j.State == queue.StateScheduled {
		if err := k.q.Inspector().RunNow(ctx, j.ID); err != nil {
			t.Fatalf("spooltest: WorkPool: make scheduled job %d due: %v", j.ID, err)
			return nil
		}
	}
	leased := k.leaseID(ctx, t, j)
	if leased == nil {
		return nil
	}
	r := k.run(ctx, t, pool, leased)
	if r != nil && errors.Is(r.Err, worker.ErrNoHandler) {
		t.Fatalf("spooltest: WorkPool: kind %q has no handler on the pool: register it with Pool.Handle", j.Kind)
		return nil
	}
	return r
}

// own reports whether pool works the kit's store, failing t if not.
func (k *Kit) own(t testing.TB, name string, pool *worker.Pool) bool {
	t.Helper()
	if pool == nil || pool.Queue().Store() != k.q.Store() {
		t.Fatalf("spooltest: %s: the pool must be built on the kit's queue (Kit.NewPool, or worker.New(kit.Queue(), ...))", name)
		return false
	}
	return true
}

// leaseID leases job want, handing back the other ready jobs of its queue
// that a lease took first.
func (k *Kit) leaseID(ctx context.Context, t testing.TB, want *queue.Job) *queue.Job {
	t.Helper()
	var others []*queue.Job
	defer func() { k.handBack(ctx, t, others) }()
	for {
		now := k.Now()
		lr, err := k.q.Store().Lease(ctx, queue.LeaseParams{Queue: want.Queue, Limit: 100, Now: now, Until: now.Add(leaseFor), Worker: leaseHolder})
		if err != nil {
			t.Fatalf("spooltest: lease job %d: %v", want.ID, err)
			return nil
		}
		var got *queue.Job
		for _, j := range lr.Jobs {
			if j.ID == want.ID {
				got = j
			} else {
				others = append(others, j)
			}
		}
		switch {
		case got != nil:
			return got
		case lr.Paused:
			t.Fatalf("spooltest: job %d cannot run: queue %q is paused", want.ID, want.Queue)
			return nil
		case len(lr.Jobs) == 0:
			cur, _ := k.q.Inspector().Get(ctx, want.ID)
			state := "gone"
			if cur != nil {
				state = string(cur.State)
			}
			t.Fatalf("spooltest: job %d (%s) is not ready to run: it is %s", want.ID, want.Kind, state)
			return nil
		}
	}
}

// handBack releases jobs a lease took that the kit does not run: pending
// again at their own run time, the attempt not counted.
func (k *Kit) handBack(ctx context.Context, t testing.TB, jobs []*queue.Job) {
	t.Helper()
	if len(jobs) == 0 {
		return
	}
	now := k.Now()
	s := make([]queue.Settlement, len(jobs))
	for i, j := range jobs {
		s[i] = queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, OrderKey: j.OrderKey,
			Outcome: queue.OutcomeRelease, Now: now, RunAt: j.RunAt}
	}
	if _, err := k.q.Store().Settle(context.WithoutCancel(ctx), nil, s); err != nil {
		t.Errorf("spooltest: hand back %d jobs leased by mistake: %v", len(jobs), err)
	}
}

// run runs the leased job j through pool and settles it.
func (k *Kit) run(ctx context.Context, t testing.TB, pool *worker.Pool, j *queue.Job) *Result {
	t.Helper()
	rr, err := pool.RunJob(ctx, j)
	if err != nil {
		t.Fatalf("spooltest: run job %d (%s): %v", j.ID, j.Kind, err)
		return nil
	}
	s := rr.Settlement
	return &Result{Job: j, Outcome: s.Outcome, Err: rr.Err, RunAt: s.RunAt, DeadReason: s.Reason, CompletedInTx: rr.CompletedInTx}
}

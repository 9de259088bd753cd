package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/spooljobs/spool/queue"
)

// RunResult is what RunJob did with one job.
type RunResult struct {
	// Settlement is the outcome RunJob wrote: Outcome, with RunAt for a
	// retry or a snooze, Error for a failed attempt and Reason for a dead
	// job, decided as a started pool's workers decide them (see
	// queue.Classify).
	Settlement queue.Settlement
	// Err is what the handler returned (a panic as an error); nil when it
	// succeeded.
	Err error
	// CompletedInTx is set when the handler completed the job in its own
	// transaction (CompleteTx): the job was settled there, not by RunJob.
	CompletedInTx bool
}

// RunJob runs job, which the caller leased from the pool's store
// (queue.Store.Lease), in the calling goroutine, as a worker of a started
// pool runs each job it leases: under the job's timeout (else
// Options.JobTimeout), with the job in the context (queue.JobFromContext),
// through the pool's middleware and the handler registered for its kind,
// a panic turned into an error, and the outcome decided by the pool's
// backoff and settled in the store before it returns. It is for tests and
// tools that drive jobs one at a time, such as package spooltest: the
// heartbeat does not run, so a job that runs longer than its lease may be
// rescued meanwhile, and operator cancels are not seen.
//
// RunJob refuses a pool that was started (its own workers run its jobs)
// and reports the registration mistakes Start would. Its error is for
// those and for a settle the store refused (a lease lost meanwhile wraps
// queue.ErrLeaseLost); the handler's own error is in RunResult.Err.
func (p *Pool) RunJob(ctx context.Context, job *queue.Job) (RunResult, error) {
	if job == nil {
		return RunResult{}, fmt.Errorf("%w: RunJob: job is nil", queue.ErrInvalidArgument)
	}
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return RunResult{}, errors.New("worker: RunJob on a started pool: its own workers run its jobs")
	}
	if err := errors.Join(p.regErrs...); err != nil {
		p.mu.Unlock()
		return RunResult{}, err
	}
	h := p.chain()
	p.active[job.ID] = &active{job: job} // CompleteTx marks it
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.forget(job.ID, job.LeaseToken)
		p.mu.Unlock()
	}()

	timeout := job.Timeout
	if timeout <= 0 {
		timeout = p.opts.JobTimeout
	}
	att, base := p.newAttempt(queue.ContextWithJob(ctx, job), job)
	hctx, cancel := context.WithCancelCause(base)
	hctx, cancelTimeout := context.WithTimeoutCause(hctx, timeout, ErrTimeout)
	defer cancelTimeout()
	defer cancel(nil)
	err, stack := p.call(hctx, h, job)
	s, _ := p.result(hctx, job, timeout, err, stack) // no heartbeat: the lease is not known lost
	att.finish(&s)
	res := RunResult{Settlement: s, Err: err}

	errs, serr := p.storeSettle([]queue.Settlement{s}) // as the pool settles: observed
	if serr == nil && len(errs) > 0 {
		serr = errs[0]
	}
	if errors.Is(serr, queue.ErrLeaseLost) {
		p.mu.Lock()
		a := p.held(job.ID, job.LeaseToken)
		res.CompletedInTx = a != nil && a.completedInTx
		p.mu.Unlock()
		if res.CompletedInTx {
			res.Settlement.Outcome = queue.OutcomeComplete
			return res, nil
		}
	}
	if serr != nil {
		return res, fmt.Errorf("worker: RunJob: settle job %d (%s): %w", job.ID, s.Outcome, serr)
	}
	return res, nil
}

// Queue returns the queue the pool was built over.
func (p *Pool) Queue() *queue.Queue { return p.q }

// Queues returns the names of the queues the pool works
// (Options.Queues), sorted.
func (p *Pool) Queues() []string {
	names := make([]string, 0, len(p.opts.Queues))
	for name := range p.opts.Queues {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

package worker

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/spooljobs/spool/queue"
)

// workLoop is one of a queue's workers: it runs the jobs the queue's
// fetcher hands it, or releases them once the pool stops.
func (p *Pool) workLoop(r *queueRunner) {
	defer p.workWG.Done()
	for j := range r.jobs {
		p.mu.Lock()
		stopping := p.stopped
		p.mu.Unlock()
		if stopping {
			now := p.q.Now()
			p.settle(queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, Kind: j.Kind, Wait: j.Waited(), OrderKey: j.OrderKey,
				Outcome: queue.OutcomeRelease, Now: now, RunAt: now})
		} else {
			p.runGuarded(r, j)
		}
		r.done <- struct{}{}
	}
}

// runGuarded runs j; should the handler end its goroutine with
// runtime.Goexit (t.FailNow in a test, say), the attempt fails, the slot
// is freed and a new worker takes this one's place.
func (p *Pool) runGuarded(r *queueRunner, j *queue.Job) {
	returned := false
	defer func() {
		if returned {
			return
		}
		err := errors.New("the handler ended its goroutine (runtime.Goexit, e.g. t.FailNow) without returning")
		p.settle(p.failure(j, err, ""))
		r.done <- struct{}{}
		p.workWG.Add(1)
		go p.workLoop(r)
	}()
	p.run(j)
	returned = true
}

// run executes one leased job and hands its outcome to the settler.
func (p *Pool) run(j *queue.Job) {
	timeout := j.Timeout
	if timeout <= 0 {
		timeout = p.opts.JobTimeout
	}
	att, base := p.newAttempt(queue.ContextWithJob(p.baseCtx, j), j)
	ctx, cancel := context.WithCancelCause(base)
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, timeout, ErrTimeout)
	defer cancelTimeout()
	defer cancel(nil)

	start := p.q.Now()
	p.mu.Lock()
	if a := p.held(j.ID, j.LeaseToken); a != nil {
		a.cancel = cancel
		a.att = att
		// Past this, the heartbeat stops extending the lease: a handler that
		// ignores its cancelled context must not hold the job forever.
		a.deadline = start.Add(timeout + p.opts.LeaseDuration)
		if a.cancelRequested {
			cancel(ErrCancelled)
		}
	}
	p.mu.Unlock()

	err, stack := p.call(ctx, p.handler, j)
	s, ok := p.result(ctx, j, timeout, err, stack)
	att.finish(&s)
	if !ok {
		// Someone else holds the job now; nothing of ours may settle it.
		p.mu.Lock()
		p.forget(j.ID, j.LeaseToken)
		p.mu.Unlock()
		p.logger.Warn("spool: handler stopped after losing its lease", "job", j.ID, "kind", j.Kind)
		return
	}
	p.settle(s)
}

// result is the settlement of an attempt of j whose handler, run under ctx
// with timeout, returned err (and stack, after a panic). ok is false when
// nothing of this pool may settle the job: its lease was lost.
func (p *Pool) result(ctx context.Context, j *queue.Job, timeout time.Duration, err error, stack string) (s queue.Settlement, ok bool) {
	now := p.q.Now()
	s = queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, Kind: j.Kind, Wait: j.Waited(), OrderKey: j.OrderKey, Now: now}
	cause := context.Cause(ctx)
	switch {
	case err != nil && errors.Is(cause, ErrStopping):
		s.Outcome, s.RunAt = queue.OutcomeRelease, now
		return s, true
	case err != nil && errors.Is(cause, ErrCancelled):
		s.Outcome = queue.OutcomeCancel
		return s, true
	case err != nil && errors.Is(cause, queue.ErrLeaseLost):
		return s, false
	case err != nil && errors.Is(cause, ErrTimeout):
		err = fmt.Errorf("timed out after %s: %w", timeout, err)
	}
	return p.outcome(j, s, err, stack), true
}

// failure is the settlement of an attempt of j that failed with err.
func (p *Pool) failure(j *queue.Job, err error, stack string) queue.Settlement {
	s := queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, Kind: j.Kind, Wait: j.Waited(), OrderKey: j.OrderKey, Now: p.q.Now()}
	return p.outcome(j, s, err, stack)
}

// outcome completes s, the settlement of an attempt of j, from the
// handler's result: nil completes, an error retries or kills as Classify
// decides.
func (p *Pool) outcome(j *queue.Job, s queue.Settlement, err error, stack string) queue.Settlement {
	now := s.Now
	d := queue.Classify(err, j.Attempt, j.MaxAttempts, p.backoffFor(j))
	s.Outcome = d.Outcome
	switch d.Outcome {
	case queue.OutcomeComplete:
		s.Keep = p.keepCompleted(j.Queue, j.Kind)
	case queue.OutcomeRetry, queue.OutcomeSnooze:
		s.RunAt = now.Add(d.Delay)
	case queue.OutcomeDead:
		s.Reason = d.Reason
	}
	if err != nil && d.Outcome != queue.OutcomeSnooze {
		s.Error = &queue.AttemptError{Attempt: j.Attempt, At: now, Message: err.Error(), Stack: stack}
		p.logger.Warn("spool: job failed", "job", j.ID, "kind", j.Kind, "attempt", j.Attempt,
			"outcome", d.Outcome.String(), "correlation_id", j.Metadata["correlation_id"], "err", err)
	}
	return s
}

// call runs h, turning a panic into an error with its stack.
func (p *Pool) call(ctx context.Context, h Handler, j *queue.Job) (err error, stack string) {
	defer func() {
		if r := recover(); r != nil {
			stack = string(debug.Stack())
			if e, ok := r.(error); ok {
				err = fmt.Errorf("panic: %w", e) // panic(queue.Permanent(err)) still means it
			} else {
				err = fmt.Errorf("panic: %v", r)
			}
		}
	}()
	return h.Work(ctx, j), ""
}

func (p *Pool) backoffFor(j *queue.Job) queue.Backoff {
	if b := p.opts.KindBackoff[j.Kind]; b != nil {
		return b
	}
	if b := p.opts.Queues[j.Queue].Backoff; b != nil {
		return b
	}
	return p.opts.Backoff
}

package worker

import (
	"context"
	"errors"
	"time"

	"github.com/spooljobs/spool/queue"
)

// observed wraps h, the pool's handler chain, so that each attempt is
// reported to the queue's Observer (queue.Options.Observer): RunStart
// before the handler, RunEnd after it with the outcome the pool's settle
// gives the attempt. Without an Observer, or one with neither function,
// h is returned as it is.
func (p *Pool) observed(h Handler) Handler {
	o := p.obs
	if o == nil || (o.RunStart == nil && o.RunEnd == nil) {
		return h
	}
	return HandlerFunc(func(ctx context.Context, j *queue.Job) (err error) {
		if o.RunStart != nil {
			o.RunStart(ctx, queue.RunStartEvent{Job: j, Wait: max(p.q.Now().Sub(j.RunAt), 0)})
		}
		if o.RunEnd == nil {
			return h.Work(ctx, j)
		}
		began := time.Now()
		returned := false
		defer func() {
			if !returned {
				// A panic (the pool recovers it, with its stack, above this)
				// or runtime.Goexit: reported as the failure it becomes.
				err = errPanicked
			}
			e := queue.RunEndEvent{Job: j, Err: err, Duration: time.Since(began)}
			e.Outcome, e.LeaseLost = p.attemptOutcome(ctx, j, err)
			o.RunEnd(ctx, e)
		}()
		err = h.Work(ctx, j)
		returned = true
		return err
	})
}

// errPanicked is the error RunEnd reports for a handler that panicked.
var errPanicked = errors.New("worker: the handler panicked")

// attemptOutcome is the outcome run gives an attempt of j whose handler,
// run under ctx, returned err; lost is set instead when the worker lost
// the job's lease.
func (p *Pool) attemptOutcome(ctx context.Context, j *queue.Job, err error) (o queue.Outcome, lost bool) {
	if err != nil {
		switch cause := context.Cause(ctx); {
		case errors.Is(cause, ErrStopping):
			return queue.OutcomeRelease, false
		case errors.Is(cause, ErrCancelled):
			return queue.OutcomeCancel, false
		case errors.Is(cause, queue.ErrLeaseLost):
			return 0, true
		}
	}
	return queue.Classify(err, j.Attempt, j.MaxAttempts, p.backoffFor(j)).Outcome, false
}

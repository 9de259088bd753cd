package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/spooljobs/spool/queue"
)

// run executes one leased job and hands its outcome to the settler.
func (p *Pool) run(j *queue.Job) {
	timeout := j.Timeout
	if timeout <= 0 {
		timeout = p.opts.JobTimeout
	}
	ctx, cancel := context.WithCancelCause(context.WithValue(queue.ContextWithJob(p.baseCtx, j), poolKey{}, p))
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, timeout, ErrTimeout)
	defer cancelTimeout()
	defer cancel(nil)

	start := p.q.Now()
	p.mu.Lock()
	if a := p.held(j.ID, j.LeaseToken); a != nil {
		a.cancel = cancel
		// Past this, the heartbeat stops extending the lease: a handler that
		// ignores its cancelled context must not hold the job forever.
		a.deadline = start.Add(timeout + p.opts.LeaseDuration)
		if a.cancelRequested {
			cancel(ErrCancelled)
		}
	}
	p.mu.Unlock()

	err, stack := p.call(ctx, j)
	now := p.q.Now()
	s := queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, OrderKey: j.OrderKey, Now: now}
	cause := context.Cause(ctx)
	switch {
	case err != nil && errors.Is(cause, ErrStopping):
		s.Outcome, s.RunAt = queue.OutcomeRelease, now
		p.settle(s)
		return
	case err != nil && errors.Is(cause, ErrCancelled):
		s.Outcome = queue.OutcomeCancel
		p.settle(s)
		return
	case err != nil && errors.Is(cause, queue.ErrLeaseLost):
		// Someone else holds the job now; nothing of ours may settle it.
		p.mu.Lock()
		p.forget(j.ID, j.LeaseToken)
		p.mu.Unlock()
		p.logger.Warn("spool: handler stopped after losing its lease", "job", j.ID, "kind", j.Kind)
		return
	case err != nil && errors.Is(cause, ErrTimeout):
		err = fmt.Errorf("timed out after %s: %w", timeout, err)
	}
	p.settle(p.outcome(j, s, err, stack))
}

// failure is the settlement of an attempt of j that failed with err.
func (p *Pool) failure(j *queue.Job, err error, stack string) queue.Settlement {
	s := queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, OrderKey: j.OrderKey, Now: p.q.Now()}
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
		s.Keep = p.opts.KeepCompleted > 0
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

// call runs the handler, turning a panic into an error with its stack.
func (p *Pool) call(ctx context.Context, j *queue.Job) (err error, stack string) {
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
	return p.handler.Work(ctx, j), ""
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

// heartbeatLoop extends the leases of held jobs every HeartbeatInterval.
func (p *Pool) heartbeatLoop() {
	defer p.loopsWG.Done()
	t := time.NewTicker(p.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stopLoops:
			return
		case <-t.C:
			if err := p.Heartbeat(context.Background()); err != nil {
				p.logger.Error("spool: heartbeat failed", "err", err)
			}
		}
	}
}

// Heartbeat extends the leases of the jobs this pool holds, cancels the
// handlers of jobs an operator cancelled or whose lease was lost, and lets
// the leases of handlers hung past their timeout run out (so the rescuer
// takes them). The pool calls it every HeartbeatInterval.
func (p *Pool) Heartbeat(ctx context.Context) error {
	now := p.q.Now()
	var refs []queue.LeaseRef
	tokens := map[int64]int64{}
	p.mu.Lock()
	for _, a := range p.active {
		// A job whose outcome waits for the settler keeps its lease,
		// however long its handler took.
		if a.released || (!a.finished && !a.deadline.IsZero() && now.After(a.deadline)) {
			continue
		}
		refs = append(refs, queue.LeaseRef{JobID: a.job.ID, Token: a.job.LeaseToken})
		tokens[a.job.ID] = a.job.LeaseToken
	}
	p.mu.Unlock()
	if len(refs) == 0 {
		return nil
	}
	res, err := p.store.Extend(ctx, refs, now.Add(p.opts.LeaseDuration))
	if errors.Is(err, queue.ErrCorrupt) && len(refs) > 1 {
		// A damaged page under some of the jobs must not cost the others
		// their leases (they would be rescued and run twice).
		res, err = p.extendEach(ctx, refs, now.Add(p.opts.LeaseDuration))
	} else if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range res.CancelRequested {
		if a := p.held(id, tokens[id]); a != nil {
			a.cancelRequested = true
			if a.cancel != nil {
				a.cancel(ErrCancelled)
			}
		}
	}
	for _, id := range res.Lost {
		if a := p.held(id, tokens[id]); a != nil && a.cancel != nil {
			a.cancel(queue.ErrLeaseLost)
		}
	}
	return err
}

// extendEach extends the leases one job at a time, after extending them
// together failed with ErrCorrupt. It returns what the extensions that
// worked found, and an error naming the jobs whose leases it could not
// extend (they expire, and are rescued if their rows can be read).
func (p *Pool) extendEach(ctx context.Context, refs []queue.LeaseRef, until time.Time) (queue.ExtendResult, error) {
	var res queue.ExtendResult
	var failed []int64
	var first error
	for _, ref := range refs {
		r, err := p.store.Extend(ctx, []queue.LeaseRef{ref}, until)
		if err != nil {
			failed = append(failed, ref.JobID)
			first = cmp.Or(first, err)
			continue
		}
		res.CancelRequested = append(res.CancelRequested, r.CancelRequested...)
		res.Lost = append(res.Lost, r.Lost...)
	}
	if first != nil {
		return res, fmt.Errorf("extending the leases of jobs %v (of %d; the others were extended): %w", failed, len(refs), first)
	}
	return res, nil
}

// maintenanceLoop rescues expired leases and prunes, every
// MaintenanceInterval.
func (p *Pool) maintenanceLoop() {
	defer p.loopsWG.Done()
	t := time.NewTicker(p.opts.MaintenanceInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stopLoops:
			return
		case <-t.C:
			if _, err := p.Rescue(context.Background()); err != nil {
				p.logger.Error("spool: rescue failed", "err", err)
			}
			if _, err := p.Prune(context.Background()); err != nil {
				p.logger.Error("spool: prune failed", "err", err)
			}
			// Subscriptions catching up on the event log, in bounded steps.
			for range 10 {
				n, err := p.q.Topics().DeliverBacklog(context.Background(), 1000)
				if err != nil {
					p.logger.Error("spool: event backlog delivery failed", "err", err)
				}
				if n == 0 || err != nil {
					break
				}
			}
			if _, err := p.q.Topics().PruneEvents(context.Background(), 1000); err != nil {
				p.logger.Error("spool: event log pruning failed", "err", err)
			}
		}
	}
}

// Rescue settles jobs whose lease expired (their worker crashed, was
// killed, or hung past its timeout): each is retried after its backoff with
// the attempt counted, or goes dead when it has no attempts left. It
// returns how many it rescued. The pool calls it every MaintenanceInterval;
// any pool on the store rescues any job.
//
// Leases end at wall-clock times. When the wall clock stepped forward
// (more than a second beyond the monotonic clock, Options.Monotonic) since
// the last call, Rescue rescues nothing for a LeaseDuration of monotonic
// time, so that live workers' heartbeats extend their leases from the new
// time first; it logs the step once. See the notes in clock.go for what
// the guard does not cover.
func (p *Pool) Rescue(ctx context.Context) (int, error) {
	if p.rescuePaused(p.q.Now()) {
		return 0, nil
	}
	total := 0
	for {
		now := p.q.Now()
		jobs, err := p.store.Expired(ctx, now, 500)
		if err != nil || len(jobs) == 0 {
			return total, err
		}
		batch := make([]queue.Settlement, len(jobs))
		for i, j := range jobs {
			lost := fmt.Errorf("lease expired at %s: worker %s stopped heartbeating (crashed, killed or hung)",
				j.LeaseUntil.UTC().Format(time.RFC3339), j.LeasedBy)
			d := queue.Classify(lost, j.Attempt, j.MaxAttempts, p.backoffFor(j))
			batch[i] = queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, OrderKey: j.OrderKey, Outcome: d.Outcome,
				Now: now, RunAt: now.Add(d.Delay), Reason: d.Reason, IfExpired: true,
				Error: &queue.AttemptError{Attempt: j.Attempt, At: now, Message: lost.Error()}}
		}
		errs, err := p.store.Settle(ctx, nil, batch)
		if err != nil {
			return total, err
		}
		for i, e := range errs {
			if e == nil {
				total++
				p.logger.Warn("spool: rescued job with expired lease", "job", jobs[i].ID, "kind", jobs[i].Kind,
					"outcome", batch[i].Outcome.String())
			}
		}
		if len(jobs) < 500 {
			return total, nil
		}
	}
}

// Prune deletes completed and cancelled jobs past their retention,
// processed keys older than KeepProcessed and throughput counters older
// than a day. It deletes in transactions of at most pruneBatch rows of a
// kind, as many as it takes (up to pruneRounds, the rest at the next run),
// so that a pool keeping jobs or processed keys faster than one batch per
// MaintenanceInterval still keeps up. It returns how many jobs and
// processed keys it deleted. The pool calls it every MaintenanceInterval.
func (p *Pool) Prune(ctx context.Context) (int, error) {
	now := p.q.Now()
	params := queue.PruneParams{
		CancelledBefore: now.Add(-p.opts.KeepCancelled),
		MetricsBefore:   now.Add(-24 * time.Hour),
		ProcessedBefore: now.Add(-p.opts.KeepProcessed),
		Limit:           pruneBatch,
	}
	if p.opts.KeepCompleted > 0 {
		params.CompletedBefore = now.Add(-p.opts.KeepCompleted)
	}
	total := 0
	for range pruneRounds {
		n, err := p.store.Prune(ctx, params)
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
		params.MetricsBefore = time.Time{} // done in the first round
	}
	return total, nil
}

const (
	// pruneBatch bounds the rows of a kind one prune transaction deletes.
	pruneBatch = 1000
	// pruneRounds bounds the transactions of one Prune: 100 000 rows of
	// a kind per MaintenanceInterval (15 s by default), about 6 700 a
	// second.
	pruneRounds = 100
)

package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Inspector is the operators' API, in the spirit of asynq's Inspector and
// Sidekiq's API: list, count and look at jobs; cancel, retry and delete
// them; pause, resume and configure queues. Get one from Queue.Inspector.
// It shares the queue's store and clock and is safe for concurrent use.
//
// Every write has a Tx twin that runs inside the caller's transaction; a
// nil tx there is an ErrInvalidArgument (call the twin without Tx).
type Inspector struct {
	q *Queue
}

// Get returns a job by ID, from the job table or the dead table, with the
// output and progress its handler recorded (Job.Output, Job.Progress).
func (in *Inspector) Get(ctx context.Context, id int64) (*Job, error) {
	return in.q.store.Get(ctx, id)
}

// List returns jobs matching f, newest first.
func (in *Inspector) List(ctx context.Context, f ListFilter) ([]*Job, error) {
	f, err := validListFilter(f)
	if err != nil {
		return nil, err
	}
	return in.q.store.List(ctx, f)
}

// validListFilter checks f and applies its defaults.
func validListFilter(f ListFilter) (ListFilter, error) {
	if f.Queue != "" {
		if err := ValidName(f.Queue); err != nil {
			return f, fmt.Errorf("%w: queue filter: %v", ErrInvalidArgument, err)
		}
	}
	if f.Kind != "" {
		if err := ValidName(f.Kind); err != nil {
			return f, fmt.Errorf("%w: kind filter: %v", ErrInvalidArgument, err)
		}
	}
	if f.State != "" && !f.State.Valid() {
		return f, fmt.Errorf("%w: unknown state %q (want one of %v)", ErrInvalidArgument, f.State, States)
	}
	switch {
	case f.Limit == 0:
		f.Limit = 50
	case f.Limit < 0 || f.Limit > 1000:
		return f, fmt.Errorf("%w: limit %d is outside 1..1000", ErrInvalidArgument, f.Limit)
	}
	if f.BeforeID < 0 {
		return f, fmt.Errorf("%w: before id %d is negative", ErrInvalidArgument, f.BeforeID)
	}
	return f, nil
}

// Cancel cancels a job: a pending or scheduled job is cancelled at once; a
// running job's handler context is cancelled by its worker at the next
// heartbeat, and the job ends cancelled unless the handler completes it
// first. It returns the job's state after the call.
func (in *Inspector) Cancel(ctx context.Context, id int64) (State, error) {
	return in.q.store.Cancel(ctx, nil, id, in.q.opts.Now())
}

// CancelTx is Cancel inside tx.
func (in *Inspector) CancelTx(ctx context.Context, tx *sql.Tx, id int64) (State, error) {
	if err := requireTx(tx, "CancelTx", "Cancel"); err != nil {
		return "", err
	}
	return in.q.store.Cancel(ctx, tx, id, in.q.opts.Now())
}

// RunNow makes a scheduled job (waiting for its run time, or for a
// retry's backoff to end) ready at once, keeping its attempts: Sidekiq's
// "add to queue" of a scheduled job. A job in another state is refused
// with ErrNotScheduled, an unknown one with ErrNotFound.
func (in *Inspector) RunNow(ctx context.Context, id int64) error {
	return in.q.store.RunNow(ctx, nil, id, in.q.opts.Now())
}

// RunNowTx is RunNow inside tx: the job is ready when tx commits.
func (in *Inspector) RunNowTx(ctx context.Context, tx *sql.Tx, id int64) error {
	if err := requireTx(tx, "RunNowTx", "RunNow"); err != nil {
		return err
	}
	return in.q.store.RunNow(ctx, tx, id, in.q.opts.Now())
}

// CancelWaiting cancels a job only if it has not started (pending,
// scheduled or blocked): a bulk action's safe cancel, which never stops a
// running handler. Any other job is refused with ErrNotCancellable naming
// its state, an unknown one with ErrNotFound.
func (in *Inspector) CancelWaiting(ctx context.Context, id int64) error {
	return in.q.store.CancelWaiting(ctx, nil, id, in.q.opts.Now())
}

// CancelWaitingTx is CancelWaiting inside tx.
func (in *Inspector) CancelWaitingTx(ctx context.Context, tx *sql.Tx, id int64) error {
	if err := requireTx(tx, "CancelWaitingTx", "CancelWaiting"); err != nil {
		return err
	}
	return in.q.store.CancelWaiting(ctx, tx, id, in.q.opts.Now())
}

// Retry moves one dead job back to pending with its attempts reset.
func (in *Inspector) Retry(ctx context.Context, id int64) error {
	return in.retry(ctx, nil, id)
}

// RetryTx is Retry inside tx. A dead job whose unique key a live job holds
// again (a newer delivery made by a replay, a fresh enqueue) stays dead:
// the error is a *KeyHeldError naming the holder.
func (in *Inspector) RetryTx(ctx context.Context, tx *sql.Tx, id int64) error {
	if err := requireTx(tx, "RetryTx", "Retry"); err != nil {
		return err
	}
	return in.retry(ctx, tx, id)
}

func (in *Inspector) retry(ctx context.Context, tx *sql.Tx, id int64) error {
	res, err := in.retryDead(ctx, tx, DeadFilter{IDs: []int64{id}})
	if err != nil {
		return err
	}
	if len(res.Skipped) > 0 {
		return &res.Skipped[0]
	}
	if res.Retried == 0 {
		if _, gerr := in.q.store.Get(ctx, id); errors.Is(gerr, ErrNotFound) {
			return fmt.Errorf("retry job %d: %w", id, ErrNotFound)
		}
		return fmt.Errorf("retry job %d: %w", id, ErrNotDead)
	}
	return nil
}

// RetryDeadResult is what RetryDead did: it retries every matching dead
// job it can and reports the rest, so that nothing it selected is skipped
// silently.
type RetryDeadResult struct {
	// Retried is how many dead jobs moved back to pending (or to blocked,
	// behind a live job of their ordering key).
	Retried int
	// Skipped lists the matching dead jobs that stayed dead because a live
	// job holds their unique key, in ID order, each naming the holder.
	Skipped []KeyHeldError
}

// Err returns nil when no job was skipped, else an error that wraps every
// skipped job's *KeyHeldError (and so ErrUniqueKeyHeld), for callers that
// treat a partial retry as a failure.
func (r RetryDeadResult) Err() error {
	if len(r.Skipped) == 0 {
		return nil
	}
	errs := make([]error, len(r.Skipped))
	for i := range r.Skipped {
		errs[i] = &r.Skipped[i]
	}
	return fmt.Errorf("queue: retried %d dead jobs; %d stayed dead: %w", r.Retried, len(r.Skipped), errors.Join(errs...))
}

// RetryDead moves every dead job matching f back to pending and reports
// how many moved. A dead job whose unique key a live job holds stays dead
// and is listed in the result's Skipped with the holder; the others are
// retried all the same.
func (in *Inspector) RetryDead(ctx context.Context, f DeadFilter) (RetryDeadResult, error) {
	return in.retryDead(ctx, nil, f)
}

// RetryDeadTx is RetryDead inside tx.
func (in *Inspector) RetryDeadTx(ctx context.Context, tx *sql.Tx, f DeadFilter) (RetryDeadResult, error) {
	if err := requireTx(tx, "RetryDeadTx", "RetryDead"); err != nil {
		return RetryDeadResult{}, err
	}
	return in.retryDead(ctx, tx, f)
}

func (in *Inspector) retryDead(ctx context.Context, tx *sql.Tx, f DeadFilter) (RetryDeadResult, error) {
	if len(f.IDs) == 0 && f.Queue == "" && f.Kind == "" && !f.All {
		return RetryDeadResult{}, fmt.Errorf("%w: empty dead filter; set IDs, Queue, Kind or All", ErrInvalidArgument)
	}
	return in.q.store.RetryDead(ctx, tx, f, in.q.opts.Now())
}

// DeleteDead removes every dead job matching f and returns how many it
// removed. Only dead jobs go: one retried meanwhile is live and stays. A
// dead job that held its ordering key frees the key.
func (in *Inspector) DeleteDead(ctx context.Context, f DeadFilter) (int, error) {
	return in.deleteDead(ctx, nil, f)
}

// DeleteDeadTx is DeleteDead inside tx.
func (in *Inspector) DeleteDeadTx(ctx context.Context, tx *sql.Tx, f DeadFilter) (int, error) {
	if err := requireTx(tx, "DeleteDeadTx", "DeleteDead"); err != nil {
		return 0, err
	}
	return in.deleteDead(ctx, tx, f)
}

func (in *Inspector) deleteDead(ctx context.Context, tx *sql.Tx, f DeadFilter) (int, error) {
	if len(f.IDs) == 0 && f.Queue == "" && f.Kind == "" && !f.All {
		return 0, fmt.Errorf("%w: empty dead filter; set IDs, Queue, Kind or All", ErrInvalidArgument)
	}
	return in.q.store.DeleteDead(ctx, tx, f, in.q.opts.Now())
}

// Delete removes a job that is not running (pending, scheduled, completed,
// cancelled or dead). Cancel a running job first.
func (in *Inspector) Delete(ctx context.Context, id int64) error {
	return in.q.store.Delete(ctx, nil, id, in.q.opts.Now())
}

// DeleteTx is Delete inside tx.
func (in *Inspector) DeleteTx(ctx context.Context, tx *sql.Tx, id int64) error {
	if err := requireTx(tx, "DeleteTx", "Delete"); err != nil {
		return err
	}
	return in.q.store.Delete(ctx, tx, id, in.q.opts.Now())
}

// Pause stops every worker on the store, in every process, from leasing new
// jobs of the named queue. Running jobs finish.
func (in *Inspector) Pause(ctx context.Context, name string) error {
	return in.setPaused(ctx, nil, name, true)
}

// PauseTx is Pause inside tx.
func (in *Inspector) PauseTx(ctx context.Context, tx *sql.Tx, name string) error {
	if err := requireTx(tx, "PauseTx", "Pause"); err != nil {
		return err
	}
	return in.setPaused(ctx, tx, name, true)
}

// Resume undoes Pause.
func (in *Inspector) Resume(ctx context.Context, name string) error {
	return in.setPaused(ctx, nil, name, false)
}

// ResumeTx is Resume inside tx.
func (in *Inspector) ResumeTx(ctx context.Context, tx *sql.Tx, name string) error {
	if err := requireTx(tx, "ResumeTx", "Resume"); err != nil {
		return err
	}
	return in.setPaused(ctx, tx, name, false)
}

func (in *Inspector) setPaused(ctx context.Context, tx *sql.Tx, name string, paused bool) error {
	if err := ValidName(name); err != nil {
		return fmt.Errorf("%w: queue: %v", ErrInvalidArgument, err)
	}
	return in.q.store.SetPaused(ctx, tx, name, paused, in.q.opts.Now())
}

// SetQueueSettings stores a queue's settings (back-pressure limit, what a
// dead job does to its ordering key, shared limits on running jobs and
// their rate, queue-wide and per partition key) for every process on the
// store.
func (in *Inspector) SetQueueSettings(ctx context.Context, name string, s QueueSettings) error {
	return in.setQueueSettings(ctx, nil, name, s)
}

// SetQueueSettingsTx is SetQueueSettings inside tx.
func (in *Inspector) SetQueueSettingsTx(ctx context.Context, tx *sql.Tx, name string, s QueueSettings) error {
	if err := requireTx(tx, "SetQueueSettingsTx", "SetQueueSettings"); err != nil {
		return err
	}
	return in.setQueueSettings(ctx, tx, name, s)
}

func (in *Inspector) setQueueSettings(ctx context.Context, tx *sql.Tx, name string, s QueueSettings) error {
	if err := ValidName(name); err != nil {
		return fmt.Errorf("%w: queue: %v", ErrInvalidArgument, err)
	}
	if s.MaxPending < 0 {
		return fmt.Errorf("%w: queue %q: MaxPending %d is negative", ErrInvalidArgument, name, s.MaxPending)
	}
	if s.RateLimit < 0 {
		return fmt.Errorf("%w: queue %q: RateLimit %d is negative", ErrInvalidArgument, name, s.RateLimit)
	}
	if s.RatePeriod < 0 || (s.RatePeriod > 0 && s.RatePeriod < time.Millisecond) {
		return fmt.Errorf("%w: queue %q: RatePeriod %s is not at least 1ms", ErrInvalidArgument, name, s.RatePeriod)
	}
	if s.RateLimit > 0 && s.RatePeriod == 0 {
		s.RatePeriod = time.Second
	}
	if s.MaxRunning < 0 {
		return fmt.Errorf("%w: queue %q: MaxRunning %d is negative", ErrInvalidArgument, name, s.MaxRunning)
	}
	if s.MaxRunningPerKey < 0 {
		return fmt.Errorf("%w: queue %q: MaxRunningPerKey %d is negative", ErrInvalidArgument, name, s.MaxRunningPerKey)
	}
	if s.RateLimitPerKey < 0 {
		return fmt.Errorf("%w: queue %q: RateLimitPerKey %d is negative", ErrInvalidArgument, name, s.RateLimitPerKey)
	}
	if s.RatePeriodPerKey < 0 || (s.RatePeriodPerKey > 0 && s.RatePeriodPerKey < time.Millisecond) {
		return fmt.Errorf("%w: queue %q: RatePeriodPerKey %s is not at least 1ms", ErrInvalidArgument, name, s.RatePeriodPerKey)
	}
	if s.RateLimitPerKey > 0 && s.RatePeriodPerKey == 0 {
		s.RatePeriodPerKey = time.Second
	}
	return in.q.store.SetQueueSettings(ctx, tx, name, s, in.q.opts.Now())
}

// Stats returns counts per queue and state and the last hour's throughput.
// On a store that keeps worker pools' heartbeat rows (ProcessStore), it
// adds the live pools' queues, concurrency and the Unserved flag (see
// Stats.ProcessesTracked).
func (in *Inspector) Stats(ctx context.Context) (*Stats, error) {
	now := in.q.opts.Now()
	st, err := in.q.store.Stats(ctx, now)
	if err != nil {
		return nil, err
	}
	if ps, ok := in.q.store.(ProcessStore); ok {
		live, err := ps.Processes(ctx, now)
		if err != nil {
			return nil, err
		}
		addProcesses(st, live)
	}
	return st, nil
}

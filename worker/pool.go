package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/spooljobs/spool/queue"
)

// Pool leases jobs from a queue's store and runs them with the registered
// handlers: per-queue concurrency, batched leases, heartbeats that extend
// the leases of running jobs, batched acknowledgements, rescue of jobs whose
// worker died, and graceful stop. Several pools, in one process or several,
// may work the same store.
type Pool struct {
	q     *queue.Queue
	store queue.Store
	// wake carries wake-ups: the store's (queue.Notifier), or the pool's
	// own for a store that sends none.
	wake   queue.Notifier
	opts   Options
	logger *slog.Logger

	mu       sync.Mutex
	handlers map[string]Handler
	mws      []Middleware
	regErrs  []error
	started  bool
	stopped  bool
	active   map[int64]*active // leased and not yet settled
	handler  Handler           // built at Start: dispatch by kind, wrapped in middleware
	baseCtx  context.Context   // parent of handler contexts
	hardStop context.CancelCauseFunc

	queues     []*queueRunner
	settleMu   sync.RWMutex // guards sends on settleCh against its close
	settleOff  bool         // settleCh is closed: results now are dropped
	settleCh   chan settleReq
	stopFetch  chan struct{}
	stopLoops  chan struct{}
	fetchWG    sync.WaitGroup
	workWG     sync.WaitGroup
	settleDone chan struct{}
	loopsWG    sync.WaitGroup
	stopDone   chan struct{} // closed when Stop has finished

	epoch time.Time // the queue clock's reading at New: the zero of monotonic
	step  stepGuard // the rescuer's watch on wall-clock steps
}

// active is a leased job this pool holds.
type active struct {
	job      *queue.Job
	cancel   context.CancelCauseFunc // set once the handler starts
	deadline time.Time               // after it, stop extending the lease (a hung handler)
	released bool                    // settled by Stop; the handler's own settle is dropped
	// finished: the handler's outcome went to the settler. Stop leaves the
	// job to it, and the heartbeat keeps the lease until it is settled.
	finished bool
	// cancelRequested: an operator asked to cancel the job (seen by a
	// heartbeat). Kept here, not on the job the handler reads.
	cancelRequested bool
	// completedInTx: the handler completed the job in its own transaction
	// (CompleteTx); the pool's settle then finds it gone, as expected.
	completedInTx bool
}

type queueRunner struct {
	name string
	cfg  QueueConfig
	jobs chan *queue.Job
	done chan struct{} // one value per finished job: frees a slot
}

type settleReq struct {
	s queue.Settlement
}

// Errors used as context causes, so a handler (and the pool) can tell why
// its context ended.
var (
	// ErrStopping is the cause of a handler context cancelled because the
	// pool's Stop deadline passed. The job is released to run again.
	ErrStopping = errors.New("worker: pool stopping")
	// ErrCancelled is the cause of a handler context cancelled because an
	// operator cancelled the job.
	ErrCancelled = errors.New("worker: job cancelled by operator")
	// ErrTimeout is the cause of a handler context cancelled because the
	// job's timeout passed.
	ErrTimeout = errors.New("worker: job timed out")
)

// New returns a pool over q. Register handlers with Handle, then Start.
func New(q *queue.Queue, opts Options) (*Pool, error) {
	if q == nil {
		return nil, errors.New("worker: queue is nil")
	}
	if err := opts.defaults(q); err != nil {
		return nil, err
	}
	wake, ok := q.Store().(queue.Notifier)
	if !ok {
		wake = &queue.Wakeups{}
	}
	return &Pool{
		q: q, store: q.Store(), wake: wake, opts: opts, logger: opts.Logger,
		handlers: map[string]Handler{}, active: map[int64]*active{},
		epoch: q.Now(),
	}, nil
}

// Handle registers h for jobs of kind. Mistakes (an invalid kind, a nil
// handler, a kind registered twice, registering after Start) are reported
// by Start.
func (p *Pool) Handle(kind string, h Handler) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.started:
		p.regErrs = append(p.regErrs, fmt.Errorf("worker: Handle(%q) after Start", kind))
	case queue.ValidName(kind) != nil:
		p.regErrs = append(p.regErrs, fmt.Errorf("worker: Handle: kind: %w", queue.ValidName(kind)))
	case h == nil:
		p.regErrs = append(p.regErrs, fmt.Errorf("worker: Handle(%q): nil handler", kind))
	case p.handlers[kind] != nil:
		p.regErrs = append(p.regErrs, fmt.Errorf("worker: Handle(%q): kind registered twice", kind))
	default:
		p.handlers[kind] = h
	}
}

// HandleFunc registers f for jobs of kind.
func (p *Pool) HandleFunc(kind string, f func(ctx context.Context, job *queue.Job) error) {
	p.Handle(kind, HandlerFunc(f))
}

// Use adds middleware around every handler; the first added is outermost.
func (p *Pool) Use(mw ...Middleware) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		p.regErrs = append(p.regErrs, errors.New("worker: Use after Start"))
		return
	}
	p.mws = append(p.mws, mw...)
}

// Name returns the name this pool's leases carry.
func (p *Pool) Name() string { return p.opts.Name }

// Start starts working. Handler contexts inherit ctx's values but not its
// cancellation: stop the pool with Stop.
func (p *Pool) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		return errors.New("worker: pool already started")
	}
	if err := errors.Join(p.regErrs...); err != nil {
		return err
	}
	p.started = true

	var h Handler = HandlerFunc(p.dispatch)
	for i := len(p.mws) - 1; i >= 0; i-- {
		h = p.mws[i](h)
	}
	p.handler = h
	p.baseCtx, p.hardStop = context.WithCancelCause(context.WithoutCancel(ctx))
	p.settleCh = make(chan settleReq, 1024)
	p.stopFetch = make(chan struct{})
	p.stopLoops = make(chan struct{})
	p.settleDone = make(chan struct{})
	p.stopDone = make(chan struct{})

	go p.settleLoop()
	for name, cfg := range p.opts.Queues {
		r := &queueRunner{name: name, cfg: cfg,
			jobs: make(chan *queue.Job, cfg.MaxWorkers),
			done: make(chan struct{}, cfg.MaxWorkers)}
		p.queues = append(p.queues, r)
		for range cfg.MaxWorkers {
			p.workWG.Add(1)
			go p.workLoop(r)
		}
		p.fetchWG.Add(1)
		go p.fetchLoop(r)
	}
	p.rescuePaused(p.q.Now()) // the first reading the rescuer compares with
	p.loopsWG.Add(2)
	go p.heartbeatLoop()
	go p.maintenanceLoop()
	p.logger.Info("spool: pool started", "name", p.opts.Name, "queues", len(p.queues))
	return nil
}

func (p *Pool) dispatch(ctx context.Context, job *queue.Job) error {
	h := p.handlers[job.Kind] // read-only after Start
	if h == nil {
		return fmt.Errorf("%w %q (this pool handles %d kinds; register it with Pool.Handle)", ErrNoHandler, job.Kind, len(p.handlers))
	}
	return h.Work(ctx, job)
}

// Stop stops leasing, lets running handlers finish until ctx ends, then
// cancels the rest (their context's cause is ErrStopping) and releases their
// jobs, and jobs leased but not started, to run again at once without
// spending an attempt. It returns ctx's error when handlers had to be
// cancelled. Stop is safe to call more than once: a second call waits for
// the first to finish, or for its own ctx.
func (p *Pool) Stop(ctx context.Context) error {
	p.mu.Lock()
	if !p.started {
		p.mu.Unlock()
		return nil
	}
	if p.stopped {
		p.mu.Unlock()
		select {
		case <-p.stopDone:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.stopped = true
	held := len(p.active)
	p.mu.Unlock()
	defer close(p.stopDone)
	p.logger.Info("spool: pool stopping", "name", p.opts.Name, "held_jobs", held)

	close(p.stopFetch)
	p.fetchWG.Wait()
	for _, r := range p.queues {
		close(r.jobs) // workers release what is still buffered
	}

	workersDone := make(chan struct{})
	go func() { p.workWG.Wait(); close(workersDone) }()
	var result error
	select {
	case <-workersDone:
	case <-ctx.Done():
		result = ctx.Err()
		p.hardStop(ErrStopping)
		// Handlers that honour their context return now and release their
		// own jobs; give them a moment, then release what is left.
		select {
		case <-workersDone:
		case <-time.After(time.Second):
			p.releaseAll()
		}
	}
	p.settleMu.Lock()
	p.settleOff = true
	close(p.settleCh)
	p.settleMu.Unlock()
	<-p.settleDone
	close(p.stopLoops)
	p.loopsWG.Wait()
	p.logger.Info("spool: pool stopped", "name", p.opts.Name, "hard", result != nil)
	return result
}

// releaseAll releases every job still held, for handlers that ignored their
// cancelled context. Their later results are dropped. Jobs whose outcome
// is already with the settler stay with it.
func (p *Pool) releaseAll() {
	now := p.q.Now()
	var batch []queue.Settlement
	p.mu.Lock()
	for _, a := range p.active {
		if !a.released && !a.finished {
			a.released = true
			batch = append(batch, queue.Settlement{JobID: a.job.ID, Token: a.job.LeaseToken, Queue: a.job.Queue, OrderKey: a.job.OrderKey,
				Outcome: queue.OutcomeRelease, Now: now, RunAt: now})
		}
	}
	p.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if _, err := p.store.Settle(context.Background(), nil, batch); err != nil {
		p.logger.Error("spool: release on stop failed; the jobs run again when their leases expire", "jobs", len(batch), "err", err)
	}
	p.mu.Lock()
	for _, s := range batch {
		p.forget(s.JobID, s.Token)
	}
	p.mu.Unlock()
}

// held returns this pool's entry for job id under lease token, or nil: an
// entry of an earlier or later lease of the same job is another's. p.mu
// must be held.
func (p *Pool) held(id, token int64) *active {
	if a := p.active[id]; a != nil && a.job.LeaseToken == token {
		return a
	}
	return nil
}

// forget removes the entry for job id under lease token. p.mu must be held.
func (p *Pool) forget(id, token int64) {
	if p.held(id, token) != nil {
		delete(p.active, id)
	}
}

// fetchLoop leases jobs for one queue whenever it has free workers and
// there may be work: after a wake-up from the store, a poll tick, the due time
// of a scheduled job, or a full previous batch.
func (p *Pool) fetchLoop(r *queueRunner) {
	defer p.fetchWG.Done()
	wake, unsubscribe := p.wake.Wait(r.name)
	defer unsubscribe()
	timer := time.NewTimer(0)
	defer timer.Stop()
	inflight := 0
	more := true // there may be ready jobs
	rate := newBucket(r.cfg.RateLimit, r.cfg.Burst, p.q.Now())
	// Under load, slots free up one or two at a time; leasing for each
	// would cost a transaction per job or two. With few slots free while
	// others still run, the fetcher gathers freed slots for up to
	// gatherWait first. With most workers idle it leases at once, so a
	// lightly loaded queue starts jobs without delay.
	minBatch := max(1, r.cfg.MaxWorkers/2)
	gather := time.NewTimer(time.Hour)
	gather.Stop()
	defer gather.Stop()
	gathering, gathered := false, false
	var fail leaseFailures
	for {
		if more && inflight < r.cfg.MaxWorkers && r.cfg.MaxWorkers-inflight < minBatch && inflight > 0 && !gathered {
			if !gathering {
				resetTimer(gather, gatherWait)
				gathering = true
			}
		} else if wait := fail.wait(p); more && inflight < r.cfg.MaxWorkers && wait > 0 {
			// Backing off from a failing store. The timer only makes the
			// loop look at the clock again (an injected clock does not
			// follow real time); the back-off itself is on the clock.
			more = false
			resetTimer(timer, min(wait, p.opts.PollInterval))
		} else if more && inflight < r.cfg.MaxWorkers {
			if gathering {
				gather.Stop()
			}
			gathering, gathered = false, false
			now := p.q.Now()
			want := rate.take(now, r.cfg.MaxWorkers-inflight)
			var res queue.LeaseResult
			var err error
			if want > 0 {
				res, err = p.store.Lease(context.Background(), queue.LeaseParams{
					Queue: r.name, Limit: want, Now: now, Until: now.Add(p.opts.LeaseDuration), Worker: p.opts.Name})
			}
			more = false
			switch {
			case want == 0:
				// Rate-limited: look again when the next token is due.
				resetTimer(timer, max(rate.wait(), time.Millisecond))
			case err != nil:
				rate.refund(want)
				p.leaseFailed(r.name, &fail, err)
			default:
				fail.recovered(p, r.name)
				rate.refund(want - len(res.Jobs))
				p.hold(res.Jobs)
				for _, j := range res.Jobs {
					r.jobs <- j // never blocks: capacity MaxWorkers ≥ inflight
				}
				inflight += len(res.Jobs)
				more = len(res.Jobs) == want
				wait := p.opts.PollInterval
				if !res.NextRunAt.IsZero() {
					wait = min(wait, max(res.NextRunAt.Sub(now), time.Millisecond))
				}
				resetTimer(timer, wait)
			}
			if err != nil {
				resetTimer(timer, p.opts.PollInterval)
			}
		}
		select {
		case <-p.stopFetch:
			return
		case <-wake:
			more = true
		case <-timer.C:
			more = true
			timer.Reset(p.opts.PollInterval)
		case <-gather.C:
			gathering, gathered = false, true
		case <-r.done:
			inflight--
		drain:
			for {
				select {
				case <-r.done:
					inflight--
				default:
					break drain
				}
			}
		}
	}
}

// settleEach settles batch one outcome at a time, after the batch as a
// whole failed with ErrCorrupt, and returns each outcome's error.
func (p *Pool) settleEach(batch []queue.Settlement) []error {
	out := make([]error, len(batch))
	for i := range batch {
		for attempt := 1; ; attempt++ {
			errs, err := p.store.Settle(context.Background(), nil, batch[i:i+1])
			if err == nil && len(errs) > 0 {
				err = errs[0]
			}
			out[i] = err
			// A passing failure (busy, full) is tried again, as the whole
			// batch is: given up, a succeeded job would run again.
			if !p.retrySettle(err, attempt) {
				break
			}
			time.Sleep(settleRetryWait(attempt))
		}
	}
	return out
}

// retrySettle reports whether a settle that failed with err (nil: it did
// not fail) on its attempt-th try is tried again. A store that keeps
// failing for a passing reason (busy past its timeout, full, read-only) is
// tried until it takes the outcomes, or five times once the pool stops.
// Errors that do not pass are not: a damaged page (ErrCorrupt), a deleted
// database file (ErrFileGone), and a lease lost meanwhile.
func (p *Pool) retrySettle(err error, attempt int) bool {
	switch {
	case err == nil, errors.Is(err, queue.ErrCorrupt), errors.Is(err, queue.ErrFileGone), errors.Is(err, queue.ErrLeaseLost):
		return false
	}
	return attempt < 5 || !p.isStopping()
}

// settleRetryWait is the wait before a settle's next try.
func settleRetryWait(attempt int) time.Duration {
	return min(time.Duration(attempt)*100*time.Millisecond, 2*time.Second)
}

// dbFile names the database file in log records, when the store knows it
// (package sqlite's does).
func (p *Pool) dbFile() string {
	if s, ok := p.store.(interface{ Path() string }); ok && s.Path() != "" {
		return s.Path()
	}
	return "the database file"
}

// maxLeaseBackoff caps the wait between lease attempts against a store
// that keeps failing.
const maxLeaseBackoff = 30 * time.Second

// leaseFailures is a fetcher's run of failed leases in a row: an episode.
type leaseFailures struct {
	n        int           // failed leases in a row
	delay    time.Duration // the wait after the last failure
	until    time.Duration // no lease before the monotonic clock reads this
	logged   bool          // the episode's first failure was logged
	corrupts bool          // the episode's first corruption error was logged
}

// wait returns how long the fetcher must still wait before it leases, or 0.
func (f *leaseFailures) wait(p *Pool) time.Duration {
	if f.n == 0 {
		return 0
	}
	if mono := p.monotonic(p.q.Now()); mono < f.until {
		return f.until - mono
	}
	return 0
}

// leaseFailed backs the fetcher of queue off after a failed lease. A busy
// database (ErrBusy: another writer held the lock past the busy timeout,
// which the call already waited) is tried again after PollInterval. Other
// errors do not pass by retrying at once, corruption (queue.ErrCorrupt) least
// of all: the wait doubles from a second (or PollInterval, if longer) up to
// maxLeaseBackoff. The first failure of an episode is logged, and so is its
// first corruption error, with what to do; later ones only at debug level.
func (p *Pool) leaseFailed(name string, f *leaseFailures, err error) {
	f.n++
	if errors.Is(err, queue.ErrBusy) {
		f.delay = p.opts.PollInterval
	} else {
		f.delay = max(p.opts.PollInterval, time.Second)
		for i := 1; i < f.n && f.delay < maxLeaseBackoff; i++ {
			f.delay *= 2
		}
		f.delay = min(f.delay, maxLeaseBackoff)
	}
	f.until = p.monotonic(p.q.Now()) + f.delay
	switch {
	case errors.Is(err, queue.ErrCorrupt) && !f.corrupts:
		f.corrupts, f.logged = true, true
		file := p.dbFile()
		p.logger.Error(fmt.Sprintf("spool: the database file is corrupt: leasing jobs of queue %q fails, retrying with back-off up to %s. "+
			"Check the file with `spool check -db %s` (or PRAGMA integrity_check), then restore it from a backup, "+
			"or salvage what is readable with `sqlite3 %s .recover`", name, maxLeaseBackoff, file, file),
			"queue", name, "file", file, "err", err)
	case !f.logged:
		f.logged = true
		p.logger.Error("spool: lease failed; retrying with back-off", "queue", name, "retry_in", f.delay, "err", err)
	default:
		p.logger.Debug("spool: lease failed again", "queue", name, "failures", f.n, "retry_in", f.delay, "err", err)
	}
}

// recovered ends an episode of failures after a lease succeeded.
func (f *leaseFailures) recovered(p *Pool, name string) {
	if f.n > 0 && f.logged {
		p.logger.Info("spool: leasing works again", "queue", name, "failures", f.n)
	}
	*f = leaseFailures{}
}

// gatherWait bounds how long a busy fetcher waits for more free slots
// before leasing for the few it has.
const gatherWait = 2 * time.Millisecond

func resetTimer(t *time.Timer, d time.Duration) {
	t.Stop()
	select {
	case <-t.C:
	default:
	}
	t.Reset(d)
}

func (p *Pool) isStopping() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopped
}

func (p *Pool) hold(jobs []*queue.Job) {
	if len(jobs) == 0 {
		return
	}
	p.mu.Lock()
	for _, j := range jobs {
		p.active[j.ID] = &active{job: j}
	}
	p.mu.Unlock()
}

func (p *Pool) workLoop(r *queueRunner) {
	defer p.workWG.Done()
	for j := range r.jobs {
		p.mu.Lock()
		stopping := p.stopped
		p.mu.Unlock()
		if stopping {
			now := p.q.Now()
			p.settle(queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, OrderKey: j.OrderKey,
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

// settle hands an outcome to the settler. After Stop, the result of a
// handler that ignored its cancelled context is dropped: its job was
// released already.
func (p *Pool) settle(s queue.Settlement) {
	p.settleMu.RLock()
	defer p.settleMu.RUnlock()
	if p.settleOff {
		p.logger.Warn("spool: result after stop dropped; the job was released", "job", s.JobID)
		return
	}
	p.mu.Lock()
	if a := p.held(s.JobID, s.Token); a != nil {
		a.finished = true
	}
	p.mu.Unlock()
	p.settleCh <- settleReq{s: s}
}

// settleLoop acknowledges outcomes in batches: it takes every outcome
// waiting and settles them in one store call (one transaction).
func (p *Pool) settleLoop() {
	defer close(p.settleDone)
	batch := make([]queue.Settlement, 0, 256)
	for req := range p.settleCh {
		batch = append(batch[:0], req.s)
	more:
		for len(batch) < cap(batch) {
			select {
			case req, ok := <-p.settleCh:
				if !ok {
					break more
				}
				batch = append(batch, req.s)
			default:
				break more
			}
		}
		p.settleBatch(batch)
	}
}

func (p *Pool) settleBatch(batch []queue.Settlement) {
	// Drop outcomes of jobs Stop already released.
	p.mu.Lock()
	keep := batch[:0]
	for _, s := range batch {
		if a := p.held(s.JobID, s.Token); a != nil && a.released {
			delete(p.active, s.JobID)
			continue
		}
		keep = append(keep, s)
	}
	p.mu.Unlock()
	if len(keep) == 0 {
		return
	}
	// A failing store (busy past its timeout, full, read-only) is tried
	// again until it takes the outcomes: meanwhile the heartbeat keeps
	// the leases, so a job that succeeded is not rescued as a failure.
	// Once the pool stops, five tries; then the leases expire and the
	// rescuer runs the jobs again. Nothing is lost either way. A damaged
	// page (ErrCorrupt) does not heal: the outcomes are settled one by one
	// instead, so that those on healthy pages are not held up by the rest.
	var errs []error
	var err error
	for attempt := 1; ; attempt++ {
		errs, err = p.store.Settle(context.Background(), nil, keep)
		if errors.Is(err, queue.ErrCorrupt) {
			errs, err = p.settleEach(keep), nil
			break
		}
		if !p.retrySettle(err, attempt) {
			break
		}
		p.logger.Warn("spool: settle failed; retrying", "jobs", len(keep), "attempt", attempt, "err", err)
		time.Sleep(settleRetryWait(attempt))
	}
	if err != nil {
		p.logger.Error("spool: settle failed; the jobs run again after their leases expire", "jobs", len(keep), "err", err)
	}
	var corrupt []int64
	p.mu.Lock()
	for i, e := range errs {
		switch {
		case errors.Is(e, queue.ErrCorrupt):
			corrupt = append(corrupt, keep[i].JobID)
			continue
		case e != nil && !errors.Is(e, queue.ErrLeaseLost): // settled one by one
			p.logger.Error("spool: settle failed; the job runs again after its lease expires", "job", keep[i].JobID, "err", e)
			continue
		}
		if a := p.held(keep[i].JobID, keep[i].Token); e != nil && (a == nil || !a.completedInTx) {
			p.logger.Warn("spool: lost lease before settling (the job was rescued or cancelled meanwhile)", "job", keep[i].JobID, "err", e)
		}
	}
	for _, s := range keep {
		p.forget(s.JobID, s.Token)
	}
	p.mu.Unlock()
	if len(corrupt) > 0 {
		file := p.dbFile()
		p.logger.Error(fmt.Sprintf("spool: the database file is corrupt: the outcomes of %d jobs could not be written; "+
			"they run again if their rows can be read once their leases expire. "+
			"Check the file with `spool check -db %s` (or PRAGMA integrity_check), then restore it from a backup, "+
			"or salvage what is readable with `sqlite3 %s .recover`", len(corrupt), file, file),
			"jobs", corrupt, "file", file)
	}
	// A job that runs again (at once or later) changes when its queue next
	// has work: let the queue's fetcher look again.
	// So does a job whose end lets the next job of its ordering key run.
	woken := ""
	for _, s := range keep {
		switch {
		case s.Outcome == queue.OutcomeRetry, s.Outcome == queue.OutcomeSnooze, s.Outcome == queue.OutcomeRelease,
			s.OrderKey != "":
			if s.Queue != woken {
				p.wake.Notify(s.Queue)
				woken = s.Queue
			}
		}
	}
}

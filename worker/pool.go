package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

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
	obs    *queue.Observer // the queue's instrumentation hook; nil: none

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

	id      string      // this pool's holder id in leader elections and its process row's id (a UUID)
	leading atomic.Bool // this pool ran the last maintenance round (maintenance.go)

	startedAt   time.Time   // the queue clock's reading at Start, for the process row
	processGone atomic.Bool // Stop removed the process row: heartbeats no longer write it
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
	// (Pool.CompleteTx); the pool's settle then finds it gone, as expected.
	completedInTx bool
	// att is the running attempt's output and progress (output.go), set
	// once the handler starts.
	att *attempt
}

// queueRunner is one queue's side of a started pool: its workers take
// jobs from jobs and report each finished one on done, to its fetcher.
type queueRunner struct {
	name string
	cfg  QueueConfig
	jobs chan *queue.Job
	done chan struct{} // one value per finished job: frees a slot
	// limited is set while the queue has a MaxRunning or MaxRunningPerKey
	// limit (as its last
	// lease said): each settled job then frees a slot of the limit, and
	// wakes the fetcher (a finished job frees its slot only once settled).
	limited atomic.Bool
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
		q: q, store: q.Store(), wake: wake, opts: opts, logger: opts.Logger, obs: q.Observer(),
		handlers: map[string]Handler{}, active: map[int64]*active{},
		epoch: q.Now(), id: uuid.NewString(),
	}, nil
}

// Name returns the name this pool's leases carry.
func (p *Pool) Name() string { return p.opts.Name }

// ID returns the pool's id, fixed for its life (a UUID): its holder name in
// leader elections and the ID of its process row (queue.ProcessInfo).
func (p *Pool) ID() string { return p.id }

// Start starts working. Handler contexts inherit ctx's values but not its
// cancellation: stop the pool with Stop. On a store that implements
// queue.ProcessStore, Start records the pool's process row before it
// returns (a failure is logged, and the next heartbeat tries again).
func (p *Pool) Start(ctx context.Context) error {
	if err := p.start(ctx); err != nil {
		return err
	}
	if err := p.recordProcess(ctx); err != nil {
		p.logger.Error("spool: recording the pool's process row failed", "err", err)
	}
	return nil
}

// start is Start but the process row.
func (p *Pool) start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		return errors.New("worker: pool already started")
	}
	if err := errors.Join(p.regErrs...); err != nil {
		return err
	}
	p.started = true
	p.startedAt = p.q.Now()
	if _, ok := p.wake.(*queue.Wakeups); ok {
		p.logger.Info("spool: the store sends no wake-ups (it does not implement queue.Notifier): jobs start at the next poll",
			"store", fmt.Sprintf("%T", p.store), "poll_interval", p.opts.PollInterval)
	}

	p.handler = p.chain()
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
		go newFetcher(p, r).loop()
	}
	p.rescuePaused(p.q.Now()) // the first reading the rescuer compares with
	p.loopsWG.Add(2)
	go p.heartbeatLoop()
	go p.maintenanceLoop()
	p.logger.Info("spool: pool started", "name", p.opts.Name, "queues", len(p.queues))
	return nil
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

	result := p.waitHandlers(ctx)
	p.settleMu.Lock()
	p.settleOff = true
	close(p.settleCh)
	p.settleMu.Unlock()
	<-p.settleDone
	close(p.stopLoops)
	p.loopsWG.Wait()
	p.resign(ctx)
	p.removeProcess(ctx)
	p.logger.Info("spool: pool stopped", "name", p.opts.Name, "hard", result != nil)
	return result
}

// waitHandlers waits for the workers to finish their jobs until ctx ends,
// then cancels the handlers still running (cause ErrStopping) and, a
// moment later, releases the jobs of those that ignore it. It returns
// ctx's error when handlers had to be cancelled.
func (p *Pool) waitHandlers(ctx context.Context) error {
	workersDone := make(chan struct{})
	go func() { p.workWG.Wait(); close(workersDone) }()
	select {
	case <-workersDone:
		return nil
	case <-ctx.Done():
	}
	p.hardStop(ErrStopping)
	// Handlers that honour their context return now and release their
	// own jobs; give them a moment, then release what is left.
	select {
	case <-workersDone:
	case <-time.After(time.Second):
		p.releaseAll()
	}
	return ctx.Err()
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
			batch = append(batch, queue.Settlement{JobID: a.job.ID, Token: a.job.LeaseToken, Queue: a.job.Queue, Kind: a.job.Kind, Wait: a.job.Waited(), OrderKey: a.job.OrderKey,
				Outcome: queue.OutcomeRelease, Now: now, RunAt: now})
		}
	}
	p.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if _, err := p.storeSettle(batch); err != nil {
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

// dbFile names the database file in log records, when the store knows it
// (package sqlite's does).
func (p *Pool) dbFile() string {
	if s, ok := p.store.(interface{ Path() string }); ok && s.Path() != "" {
		return s.Path()
	}
	return "the database file"
}

// isStopping reports whether Stop was called.
func (p *Pool) isStopping() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopped
}

// hold records jobs as leased by this pool.
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

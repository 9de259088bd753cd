package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Options configure a Queue. The zero value is ready to use.
type Options struct {
	// MaxPayloadBytes caps a job's payload. Defaults to 1 MiB; at most
	// 64 MiB.
	MaxPayloadBytes int
	// MaxAttempts is the attempts a job gets when NewJob.MaxAttempts is
	// zero. Defaults to 25.
	MaxAttempts int
	// Now is the clock. Defaults to time.Now. Tests inject a fake clock.
	Now func() time.Time
	// Logger receives the queue's log records, and those of the worker
	// pools and schedulers built on the queue that have no logger of their
	// own. Defaults to DefaultLogger(): warnings and errors to
	// slog.Default() (the standard logger's output), Info and Debug
	// dropped. slog.New(slog.DiscardHandler) silences it.
	Logger *slog.Logger
	// InheritMetadata lists the metadata keys a job enqueued from inside a
	// running handler (through the handler's context) takes over from the
	// running job, unless the new job sets them itself. Defaults to
	// ["correlation_id"]; set an empty non-nil slice to inherit nothing.
	InheritMetadata []string
	// WaitWhenFull makes an enqueue into a queue at its MaxPending wait,
	// retrying every FullRetryInterval, until there is room or its context
	// ends, instead of failing at once with a *QueueFullError.
	WaitWhenFull bool
	// FullRetryInterval is how often a waiting enqueue tries again.
	// Defaults to 100ms.
	FullRetryInterval time.Duration
	// Observer receives instrumentation events from the queue and from the
	// worker pools and schedulers built on it (see Observer; package
	// spoolotel makes one for OpenTelemetry). Defaults to nil: none.
	Observer *Observer
}

// Default option values.
const (
	DefaultMaxPayloadBytes = 1 << 20
	DefaultMaxAttempts     = 25
	maxPayloadLimit        = 64 << 20
	maxMetadataBytes       = 64 << 10
	maxNameLen             = 128
	maxUniqueKeyLen        = 512
)

// Queue is what producers hold: it enqueues jobs (alone, in batches, or
// inside the app's own transaction), publishes events and records
// processed keys. Operators reach the rest through Inspector (inspect,
// cancel, retry, delete jobs; pause and configure queues) and Topics
// (subscriptions and the event log). It is safe for concurrent use.
type Queue struct {
	store  Store
	opts   Options
	logger *slog.Logger
}

// New returns a Queue over store.
func New(store Store, opts Options) (*Queue, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: store is nil", ErrInvalidArgument)
	}
	switch {
	case opts.MaxPayloadBytes == 0:
		opts.MaxPayloadBytes = DefaultMaxPayloadBytes
	case opts.MaxPayloadBytes < 0 || opts.MaxPayloadBytes > maxPayloadLimit:
		return nil, fmt.Errorf("%w: Options.MaxPayloadBytes %d is outside 1..%d", ErrInvalidArgument, opts.MaxPayloadBytes, maxPayloadLimit)
	}
	switch {
	case opts.MaxAttempts == 0:
		opts.MaxAttempts = DefaultMaxAttempts
	case opts.MaxAttempts < 0:
		return nil, fmt.Errorf("%w: Options.MaxAttempts %d is negative", ErrInvalidArgument, opts.MaxAttempts)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.InheritMetadata == nil {
		opts.InheritMetadata = []string{"correlation_id"}
	}
	switch {
	case opts.FullRetryInterval == 0:
		opts.FullRetryInterval = 100 * time.Millisecond
	case opts.FullRetryInterval < 0:
		return nil, fmt.Errorf("%w: Options.FullRetryInterval %s is negative", ErrInvalidArgument, opts.FullRetryInterval)
	}
	logger := opts.Logger
	if logger == nil {
		logger = DefaultLogger()
	}
	return &Queue{store: store, opts: opts, logger: logger}, nil
}

// Store returns the backend the queue was built on. Worker pools,
// schedulers and tools built on the queue use it; producers need not.
func (q *Queue) Store() Store { return q.store }

// Now reads the queue's clock (Options.Now). Worker pools, schedulers and
// the admin page built on the queue share it, so a test drives them all
// with one clock.
func (q *Queue) Now() time.Time { return q.opts.Now() }

// Logger returns the queue's logger (Options.Logger), which worker pools
// and schedulers built on the queue use unless given their own.
func (q *Queue) Logger() *slog.Logger { return q.logger }

// Inspector returns the operators' view of the queue's store: it lists
// and counts jobs, cancels, retries and deletes them, pauses queues and
// changes their settings.
func (q *Queue) Inspector() *Inspector { return &Inspector{q: q} }

// Topics returns the administration of the store's topics: subscriptions,
// the event log, replay and retention. Publishing stays with Queue.
func (q *Queue) Topics() *Topics { return &Topics{q: q} }

// Enqueue adds one job. It returns once the job is durable (committed).
func (q *Queue) Enqueue(ctx context.Context, job NewJob) (EnqueueResult, error) {
	res, err := q.enqueue(ctx, nil, []NewJob{job})
	if err != nil {
		return EnqueueResult{}, err
	}
	return res[0], nil
}

// EnqueueTx adds one job inside tx, the app's own transaction (the
// outbox): it becomes visible to workers when tx commits and vanishes if tx
// rolls back. Workers in this process wake when tx commits, where the
// store sees commits (see Notifier); else they find it at their next poll.
// A nil tx is an error, as for every Tx twin: call Enqueue instead.
func (q *Queue) EnqueueTx(ctx context.Context, tx *sql.Tx, job NewJob) (EnqueueResult, error) {
	if err := requireTx(tx, "EnqueueTx", "Enqueue"); err != nil {
		return EnqueueResult{}, err
	}
	res, err := q.enqueue(ctx, tx, []NewJob{job})
	if err != nil {
		return EnqueueResult{}, err
	}
	return res[0], nil
}

// EnqueueMany adds jobs in one transaction: all of them or, on error, none.
// Results are in the order of jobs.
func (q *Queue) EnqueueMany(ctx context.Context, jobs []NewJob) ([]EnqueueResult, error) {
	return q.enqueue(ctx, nil, jobs)
}

// EnqueueManyTx adds jobs inside tx, as EnqueueTx does.
func (q *Queue) EnqueueManyTx(ctx context.Context, tx *sql.Tx, jobs []NewJob) ([]EnqueueResult, error) {
	if err := requireTx(tx, "EnqueueManyTx", "EnqueueMany"); err != nil {
		return nil, err
	}
	return q.enqueue(ctx, tx, jobs)
}

func (q *Queue) enqueue(ctx context.Context, tx *sql.Tx, jobs []NewJob) ([]EnqueueResult, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	if o := q.opts.Observer; o != nil {
		return q.enqueueObserved(ctx, o, tx, jobs)
	}
	res, _, err := q.enqueueJobs(ctx, tx, jobs, nil)
	return res, err
}

// enqueueObserved is enqueue reported to o: EnqueueStart before, with the
// metadata it returns added to the jobs, and EnqueueDone after.
func (q *Queue) enqueueObserved(ctx context.Context, o *Observer, tx *sql.Tx, jobs []NewJob) ([]EnqueueResult, error) {
	start := time.Now()
	var md map[string]string
	if o.EnqueueStart != nil {
		ctx, md = o.EnqueueStart(ctx, jobs)
	}
	res, norm, err := q.enqueueJobs(ctx, tx, jobs, md)
	if o.EnqueueDone != nil {
		if norm == nil {
			norm = jobs
		}
		o.EnqueueDone(ctx, EnqueueEvent{Jobs: norm, Results: res, Err: err, Tx: tx != nil, Duration: time.Since(start)})
	}
	return res, err
}

// enqueueJobs validates jobs, adds md (an Observer's metadata) to each, and
// inserts them, waiting for room where the options say so. It returns the
// results and the jobs as inserted (nil if they did not validate).
func (q *Queue) enqueueJobs(ctx context.Context, tx *sql.Tx, jobs []NewJob, md map[string]string) ([]EnqueueResult, []NewJob, error) {
	parent, _ := JobFromContext(ctx)
	var refused error // the last QueueFullError while waiting for room
	for {
		now := q.opts.Now()
		norm := make([]NewJob, len(jobs))
		for i, j := range jobs {
			n, err := q.normalize(i, withMetadata(j, md), now)
			if err != nil {
				return nil, nil, err
			}
			norm[i] = q.inherit(n, parent)
		}
		res, err := q.store.Enqueue(ctx, tx, now, norm)
		if err == nil {
			return res, norm, nil
		}
		if refused != nil && ctx.Err() != nil {
			// The wait ended between two attempts: report why it waited.
			return nil, norm, fmt.Errorf("%w (gave up waiting for room: %w)", refused, context.Cause(ctx))
		}
		var full *QueueFullError
		if !q.opts.WaitWhenFull || tx != nil || !errors.As(err, &full) || full.Adding > full.Limit {
			return nil, norm, err
		}
		refused = err
		t := time.NewTimer(q.opts.FullRetryInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, norm, fmt.Errorf("%w (gave up waiting for room: %w)", refused, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// inherit copies the running parent job's inherited metadata (a
// correlation id) onto a job its handler enqueues.
func (q *Queue) inherit(j NewJob, parent *Job) NewJob {
	if parent == nil || len(parent.Metadata) == 0 {
		return j
	}
	var md map[string]string
	for _, k := range q.opts.InheritMetadata {
		v, ok := parent.Metadata[k]
		if !ok {
			continue
		}
		if _, set := j.Metadata[k]; set {
			continue
		}
		if md == nil {
			md = make(map[string]string, len(j.Metadata)+1)
			for mk, mv := range j.Metadata {
				md[mk] = mv
			}
		}
		md[k] = v
	}
	if md != nil {
		j.Metadata = md
	}
	return j
}

type jobKey struct{}

// ContextWithJob returns a context that carries job: worker pools hand it to
// handlers, so that jobs a handler enqueues inherit its correlation id.
func ContextWithJob(ctx context.Context, job *Job) context.Context {
	return context.WithValue(ctx, jobKey{}, job)
}

// JobFromContext returns the running job a handler's context carries.
func JobFromContext(ctx context.Context) (*Job, bool) {
	j, ok := ctx.Value(jobKey{}).(*Job)
	return j, ok && j != nil
}

// MarkProcessedTx records key (for example "payment:order-10245") as
// processed inside tx, the handler's own transaction, and reports whether
// it is the first time. A handler applies an effect only when it is:
//
//	first, err := q.MarkProcessedTx(ctx, tx, "stock:"+orderID)
//	if err != nil || !first { return err } // already applied by an earlier delivery
//	... apply the effect with tx, then commit ...
//
// The key commits with the effect or not at all, so a redelivered job
// cannot apply it twice. Worker pools prune keys older than
// worker.Options.KeepProcessed (7 days by default): a job that reaches its
// handler again after that (a retry from the dead table, a replay) is not
// recognised.
func (q *Queue) MarkProcessedTx(ctx context.Context, tx *sql.Tx, key string) (bool, error) {
	if err := requireTx(tx, "MarkProcessedTx", ""); err != nil {
		return false, fmt.Errorf("%w: the key must commit with the effect", err)
	}
	if key == "" || len(key) > maxUniqueKeyLen {
		return false, fmt.Errorf("%w: processed key must be 1 to %d bytes", ErrInvalidArgument, maxUniqueKeyLen)
	}
	return q.store.MarkProcessed(ctx, tx, key, q.opts.Now())
}

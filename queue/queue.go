package queue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
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
	// Logger receives the queue's log records. Defaults to a logger that
	// discards everything.
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

// Queue is the API producers and operators hold: enqueue jobs, inspect them,
// cancel, retry, delete, pause queues. It is safe for concurrent use.
type Queue struct {
	store  Store
	opts   Options
	logger *slog.Logger

	mu      sync.Mutex
	waiters map[string][]chan struct{}
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
		logger = slog.New(slog.DiscardHandler)
	}
	return &Queue{store: store, opts: opts, logger: logger, waiters: map[string][]chan struct{}{}}, nil
}

// Store returns the backend, for worker pools and tools.
func (q *Queue) Store() Store { return q.store }

// Now returns the queue's clock reading.
func (q *Queue) Now() time.Time { return q.opts.Now() }

// Logger returns the queue's logger.
func (q *Queue) Logger() *slog.Logger { return q.logger }

// Enqueue adds one job. It returns once the job is durable (committed).
func (q *Queue) Enqueue(ctx context.Context, job NewJob) (EnqueueResult, error) {
	res, err := q.enqueue(ctx, nil, []NewJob{job})
	if err != nil {
		return EnqueueResult{}, err
	}
	return res[0], nil
}

// EnqueueTx adds one job inside tx: it becomes visible to workers when tx
// commits and vanishes if tx rolls back.
func (q *Queue) EnqueueTx(ctx context.Context, tx *sql.Tx, job NewJob) (EnqueueResult, error) {
	if tx == nil {
		return EnqueueResult{}, fmt.Errorf("%w: tx is nil", ErrInvalidArgument)
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

// EnqueueManyTx adds jobs inside tx.
func (q *Queue) EnqueueManyTx(ctx context.Context, tx *sql.Tx, jobs []NewJob) ([]EnqueueResult, error) {
	if tx == nil {
		return nil, fmt.Errorf("%w: tx is nil", ErrInvalidArgument)
	}
	return q.enqueue(ctx, tx, jobs)
}

func (q *Queue) enqueue(ctx context.Context, tx *sql.Tx, jobs []NewJob) ([]EnqueueResult, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	parent, _ := JobFromContext(ctx)
	var refused error // the last QueueFullError while waiting for room
	for {
		now := q.opts.Now()
		norm := make([]NewJob, len(jobs))
		for i, j := range jobs {
			n, err := q.normalize(i, j, now)
			if err != nil {
				return nil, err
			}
			norm[i] = q.inherit(n, parent)
		}
		res, err := q.store.Enqueue(ctx, tx, now, norm)
		if err == nil {
			q.wakeFor(norm, now)
			return res, nil
		}
		if refused != nil && ctx.Err() != nil {
			// The wait ended between two attempts: report why it waited.
			return nil, fmt.Errorf("%w (gave up waiting for room: %w)", refused, context.Cause(ctx))
		}
		var full *QueueFullError
		if !q.opts.WaitWhenFull || tx != nil || !errors.As(err, &full) || full.Adding > full.Limit {
			return nil, err
		}
		refused = err
		t := time.NewTimer(q.opts.FullRetryInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (gave up waiting for room: %w)", refused, context.Cause(ctx))
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

// ValidateJob reports whether Enqueue would accept j now: it runs the same
// checks, with this queue's options and clock, and returns the same
// *InvalidJobError. Code that keeps job templates to enqueue later (package
// schedule) validates them with it, so that the rules cannot drift apart.
func (q *Queue) ValidateJob(j NewJob) error {
	_, err := q.normalize(0, j, q.opts.Now())
	return err
}

// normalize validates j and fills its defaults: Queue, MaxAttempts, an
// absolute RunAt and a Payload.
func (q *Queue) normalize(i int, j NewJob, now time.Time) (NewJob, error) {
	bad := func(field, format string, a ...any) (NewJob, error) {
		return NewJob{}, &InvalidJobError{Index: i, Field: field, Reason: fmt.Sprintf(format, a...)}
	}
	if err := ValidName(j.Kind); err != nil {
		return bad("Kind", "%v", err)
	}
	if j.Queue == "" {
		j.Queue = DefaultQueue
	}
	if err := ValidName(j.Queue); err != nil {
		return bad("Queue", "%v", err)
	}
	if j.Priority < 0 || j.Priority > MaxPriority {
		return bad("Priority", "%d is outside 0..%d", j.Priority, MaxPriority)
	}
	if j.Delay < 0 {
		return bad("Delay", "%s is negative", j.Delay)
	}
	if j.Timeout < 0 {
		return bad("Timeout", "%s is negative", j.Timeout)
	}
	switch {
	case j.MaxAttempts == 0:
		j.MaxAttempts = q.opts.MaxAttempts
	case j.MaxAttempts < 0:
		return bad("MaxAttempts", "%d is negative", j.MaxAttempts)
	}
	if len(j.UniqueKey) > maxUniqueKeyLen {
		return bad("UniqueKey", "%d bytes is longer than %d", len(j.UniqueKey), maxUniqueKeyLen)
	}
	if len(j.OrderKey) > maxUniqueKeyLen {
		return bad("OrderKey", "%d bytes is longer than %d", len(j.OrderKey), maxUniqueKeyLen)
	}
	if j.Args != nil {
		if j.Payload != nil {
			return bad("Args", "set either Payload or Args, not both")
		}
		b, err := json.Marshal(j.Args)
		if err != nil {
			return bad("Args", "cannot encode %s as JSON: %v", typeName(j.Args), err)
		}
		j.Payload, j.Args = b, nil
	}
	if j.Payload == nil {
		j.Payload = []byte{}
	}
	if len(j.Payload) > q.opts.MaxPayloadBytes {
		return NewJob{}, &InvalidJobError{Index: i, Field: "Payload", Err: ErrPayloadTooLarge,
			Reason: fmt.Sprintf("%d bytes exceeds the limit of %d (Options.MaxPayloadBytes)", len(j.Payload), q.opts.MaxPayloadBytes)}
	}
	if reason := checkMetadata(j.Metadata); reason != "" {
		return bad("Metadata", "%s", reason)
	}
	// Times outside the store's range are refused, never clamped: the
	// store would wrap them around (a far-future RunAt would run at once).
	badTime := func(field, reason string) (NewJob, error) {
		return NewJob{}, &InvalidJobError{Index: i, Field: field, Reason: reason, Err: ErrTimeOutOfRange}
	}
	if j.RunAt.IsZero() {
		j.RunAt = now.Add(j.Delay)
		if r := outOfRange(j.RunAt); r != "" {
			if j.Delay == 0 {
				return badTime("RunAt", "the queue's clock (Options.Now) reads "+r)
			}
			return badTime("Delay", fmt.Sprintf("%s after now: the run time %s", j.Delay, r))
		}
	} else if r := outOfRange(j.RunAt); r != "" {
		return badTime("RunAt", r)
	}
	j.Delay = 0
	if !j.ExpiresAt.IsZero() {
		if r := outOfRange(j.ExpiresAt); r != "" {
			return badTime("ExpiresAt", r)
		}
	}
	if start := j.RunAt; !j.ExpiresAt.IsZero() && !j.ExpiresAt.After(start) || !j.ExpiresAt.IsZero() && !j.ExpiresAt.After(now) {
		return bad("ExpiresAt", "%s is not after the job's run time %s: it would expire before it could start",
			j.ExpiresAt.UTC().Format(time.RFC3339), j.RunAt.UTC().Format(time.RFC3339))
	}
	return j, nil
}

// checkMetadata says what is wrong with md as a job's (or an event's)
// metadata, or "" when nothing is.
func checkMetadata(md map[string]string) string {
	size := 0
	for k, v := range md {
		if k == "" {
			return "empty key"
		}
		// JSON would turn invalid UTF-8 into U+FFFD: two keys could merge.
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Sprintf("key %q or its value is not valid UTF-8", k)
		}
		size += len(k) + len(v)
	}
	if size > maxMetadataBytes {
		return fmt.Sprintf("%d bytes exceeds the limit of %d", size, maxMetadataBytes)
	}
	return ""
}

// ValidName checks a queue or kind name: 1 to 128 characters of ASCII
// letters, digits and "._:-/".
func ValidName(s string) error {
	if s == "" {
		return errors.New("empty name")
	}
	if len(s) > maxNameLen {
		return fmt.Errorf("name %.20q... is longer than %d characters", s, maxNameLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.' || c == '_' || c == ':' || c == '-' || c == '/':
		default:
			return fmt.Errorf("name %q has the character %q; use letters, digits and ._:-/", s, c)
		}
	}
	// Names appear in the admin's URL paths, which are cleaned: "/" must
	// separate non-empty parts other than "." and "..".
	for _, part := range strings.Split(s, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("name %q has a \"/\" at an end, \"//\", or a part \".\" or \"..\"", s)
		}
	}
	return nil
}

// Get returns a job by ID, from the job table or the dead table.
func (q *Queue) Get(ctx context.Context, id int64) (*Job, error) {
	return q.store.Get(ctx, id)
}

// List returns jobs matching f, newest first.
func (q *Queue) List(ctx context.Context, f ListFilter) ([]*Job, error) {
	if f.Queue != "" {
		if err := ValidName(f.Queue); err != nil {
			return nil, fmt.Errorf("%w: queue filter: %v", ErrInvalidArgument, err)
		}
	}
	if f.Kind != "" {
		if err := ValidName(f.Kind); err != nil {
			return nil, fmt.Errorf("%w: kind filter: %v", ErrInvalidArgument, err)
		}
	}
	if f.State != "" && !f.State.Valid() {
		return nil, fmt.Errorf("%w: unknown state %q (want one of %v)", ErrInvalidArgument, f.State, States)
	}
	switch {
	case f.Limit == 0:
		f.Limit = 50
	case f.Limit < 0 || f.Limit > 1000:
		return nil, fmt.Errorf("%w: limit %d is outside 1..1000", ErrInvalidArgument, f.Limit)
	}
	if f.BeforeID < 0 {
		return nil, fmt.Errorf("%w: before id %d is negative", ErrInvalidArgument, f.BeforeID)
	}
	return q.store.List(ctx, f)
}

// Cancel cancels a job: a pending or scheduled job is cancelled at once; a
// running job's handler context is cancelled by its worker at the next
// heartbeat, and the job ends cancelled unless the handler completes it
// first. It returns the job's state after the call.
func (q *Queue) Cancel(ctx context.Context, id int64) (State, error) {
	return q.store.Cancel(ctx, nil, id, q.opts.Now())
}

// CancelTx is Cancel inside tx.
func (q *Queue) CancelTx(ctx context.Context, tx *sql.Tx, id int64) (State, error) {
	if tx == nil {
		return "", fmt.Errorf("%w: tx is nil", ErrInvalidArgument)
	}
	return q.store.Cancel(ctx, tx, id, q.opts.Now())
}

// Retry moves one dead job back to pending with its attempts reset.
func (q *Queue) Retry(ctx context.Context, id int64) error {
	return q.RetryTx(ctx, nil, id)
}

// RetryTx is Retry inside tx (nil tx: the store's own transaction). A
// dead job whose unique key a live job holds again (a newer delivery made
// by a replay, a fresh enqueue) stays dead: the error is a *KeyHeldError
// naming the holder.
func (q *Queue) RetryTx(ctx context.Context, tx *sql.Tx, id int64) error {
	res, err := q.RetryDeadTx(ctx, tx, DeadFilter{IDs: []int64{id}})
	if err != nil {
		return err
	}
	if len(res.Skipped) > 0 {
		return &res.Skipped[0]
	}
	if res.Retried == 0 {
		if _, gerr := q.store.Get(ctx, id); errors.Is(gerr, ErrNotFound) {
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
func (q *Queue) RetryDead(ctx context.Context, f DeadFilter) (RetryDeadResult, error) {
	return q.RetryDeadTx(ctx, nil, f)
}

// RetryDeadTx is RetryDead inside tx (nil tx: the store's own transaction).
func (q *Queue) RetryDeadTx(ctx context.Context, tx *sql.Tx, f DeadFilter) (RetryDeadResult, error) {
	if len(f.IDs) == 0 && f.Queue == "" && f.Kind == "" && !f.All {
		return RetryDeadResult{}, fmt.Errorf("%w: empty dead filter; set IDs, Queue, Kind or All", ErrInvalidArgument)
	}
	res, err := q.store.RetryDead(ctx, tx, f, q.opts.Now())
	if err == nil && res.Retried > 0 {
		q.wake("")
	}
	return res, err
}

// DeleteDead removes every dead job matching f and returns how many it
// removed. Only dead jobs go: one retried meanwhile is live and stays. A
// dead job that held its ordering key frees the key.
func (q *Queue) DeleteDead(ctx context.Context, f DeadFilter) (int, error) {
	return q.DeleteDeadTx(ctx, nil, f)
}

// DeleteDeadTx is DeleteDead inside tx (nil tx: the store's own
// transaction).
func (q *Queue) DeleteDeadTx(ctx context.Context, tx *sql.Tx, f DeadFilter) (int, error) {
	if len(f.IDs) == 0 && f.Queue == "" && f.Kind == "" && !f.All {
		return 0, fmt.Errorf("%w: empty dead filter; set IDs, Queue, Kind or All", ErrInvalidArgument)
	}
	n, err := q.store.DeleteDead(ctx, tx, f, q.opts.Now())
	if err == nil && n > 0 {
		q.wake("") // freed ordering keys may have ready jobs
	}
	return n, err
}

// Delete removes a job that is not running (pending, scheduled, completed,
// cancelled or dead). Cancel a running job first.
func (q *Queue) Delete(ctx context.Context, id int64) error {
	return q.store.Delete(ctx, nil, id, q.opts.Now())
}

// DeleteTx is Delete inside tx.
func (q *Queue) DeleteTx(ctx context.Context, tx *sql.Tx, id int64) error {
	if tx == nil {
		return fmt.Errorf("%w: tx is nil", ErrInvalidArgument)
	}
	return q.store.Delete(ctx, tx, id, q.opts.Now())
}

// Pause stops every worker on the store, in every process, from leasing new
// jobs of the named queue. Running jobs finish.
func (q *Queue) Pause(ctx context.Context, name string) error {
	return q.setPaused(ctx, nil, name, true)
}

// PauseTx is Pause inside tx.
func (q *Queue) PauseTx(ctx context.Context, tx *sql.Tx, name string) error {
	if tx == nil {
		return fmt.Errorf("%w: tx is nil", ErrInvalidArgument)
	}
	return q.setPaused(ctx, tx, name, true)
}

// Resume undoes Pause.
func (q *Queue) Resume(ctx context.Context, name string) error {
	return q.setPaused(ctx, nil, name, false)
}

// ResumeTx is Resume inside tx.
func (q *Queue) ResumeTx(ctx context.Context, tx *sql.Tx, name string) error {
	if tx == nil {
		return fmt.Errorf("%w: tx is nil", ErrInvalidArgument)
	}
	return q.setPaused(ctx, tx, name, false)
}

func (q *Queue) setPaused(ctx context.Context, tx *sql.Tx, name string, paused bool) error {
	if err := ValidName(name); err != nil {
		return fmt.Errorf("%w: queue: %v", ErrInvalidArgument, err)
	}
	if err := q.store.SetPaused(ctx, tx, name, paused, q.opts.Now()); err != nil {
		return err
	}
	if !paused {
		q.wake(name)
	}
	return nil
}

// SetQueueSettings stores a queue's settings (back-pressure limit, what a
// dead job does to its ordering key) for every process on the store.
func (q *Queue) SetQueueSettings(ctx context.Context, name string, s QueueSettings) error {
	return q.SetQueueSettingsTx(ctx, nil, name, s)
}

// SetQueueSettingsTx is SetQueueSettings inside tx (nil tx: the store's own
// transaction).
func (q *Queue) SetQueueSettingsTx(ctx context.Context, tx *sql.Tx, name string, s QueueSettings) error {
	if err := ValidName(name); err != nil {
		return fmt.Errorf("%w: queue: %v", ErrInvalidArgument, err)
	}
	if s.MaxPending < 0 {
		return fmt.Errorf("%w: queue %q: MaxPending %d is negative", ErrInvalidArgument, name, s.MaxPending)
	}
	if err := q.store.SetQueueSettings(ctx, tx, name, s, q.opts.Now()); err != nil {
		return err
	}
	q.wake(name) // keys a dead job held may have moved on
	return nil
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
	if tx == nil {
		return false, fmt.Errorf("%w: tx is nil: the key must commit with the effect", ErrInvalidArgument)
	}
	if key == "" || len(key) > maxUniqueKeyLen {
		return false, fmt.Errorf("%w: processed key must be 1 to %d bytes", ErrInvalidArgument, maxUniqueKeyLen)
	}
	return q.store.MarkProcessed(ctx, tx, key, q.opts.Now())
}

// Stats returns counts per queue and state and the last hour's throughput.
func (q *Queue) Stats(ctx context.Context) (*Stats, error) {
	return q.store.Stats(ctx, q.opts.Now())
}

// Wait returns a channel that receives a value when jobs may have become
// ready in the named queue through this Queue (an enqueue, a retry, a
// resume), and a function that stops the notifications. Worker pools use it
// to start a job within microseconds of its enqueue instead of at the next
// poll. Work written by other processes is not signalled: pools poll for it.
func (q *Queue) Wait(name string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	q.mu.Lock()
	q.waiters[name] = append(q.waiters[name], ch)
	q.mu.Unlock()
	return ch, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		ws := q.waiters[name]
		for i, w := range ws {
			if w == ch {
				q.waiters[name] = append(ws[:i:i], ws[i+1:]...)
				break
			}
		}
	}
}

// Notify wakes the workers of the named queue (every queue when name is
// empty), for example after committing a transaction that enqueued jobs with
// EnqueueTx.
func (q *Queue) Notify(name string) { q.wake(name) }

func (q *Queue) wakeFor(jobs []NewJob, now time.Time) {
	last := ""
	for _, j := range jobs {
		if j.Queue != last && !j.RunAt.After(now) {
			q.wake(j.Queue)
			last = j.Queue
		}
	}
}

func (q *Queue) wake(name string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for n, ws := range q.waiters {
		if name != "" && n != name {
			continue
		}
		for _, ch := range ws {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

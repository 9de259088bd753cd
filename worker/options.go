package worker

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/spooljobs/spool/queue"
)

// QueueConfig configures how a pool works one queue.
type QueueConfig struct {
	// MaxWorkers is how many of the queue's jobs run at once in this pool.
	// Defaults to 100 (handlers are goroutines; most wait on I/O).
	MaxWorkers int
	// Backoff is the retry delay for the queue's failed jobs. Defaults to
	// Options.Backoff.
	Backoff queue.Backoff
	// RateLimit caps how many of the queue's jobs start per second in this
	// pool, for handlers that call a rate-limited partner. 0 means no
	// limit. The limit is per pool: with several processes working the
	// queue, give each its share (the partner's limit divided by the number
	// of processes).
	RateLimit float64
	// Burst is how many jobs may start at once after an idle spell, within
	// RateLimit. Defaults to RateLimit rounded up (at least 1).
	Burst int
}

// Options configure a Pool. The zero value works the "default" queue with
// 100 workers.
type Options struct {
	// Queues maps queue names to their configuration. Defaults to
	// {"default": {MaxWorkers: 100}}.
	Queues map[string]QueueConfig
	// LeaseDuration is how long a leased job stays reserved without a
	// heartbeat: after a crash, a job runs again this long after its
	// worker's last heartbeat. Defaults to 30s; at least 1s.
	LeaseDuration time.Duration
	// HeartbeatInterval is how often running jobs' leases are extended and
	// cancel requests are picked up. Defaults to LeaseDuration/3; must be
	// shorter than LeaseDuration.
	HeartbeatInterval time.Duration
	// PollInterval is how often an idle queue is polled for jobs that this
	// process was not told about (enqueued by another process). Jobs
	// enqueued through the same *queue.Queue start at once. Defaults to
	// 500ms.
	PollInterval time.Duration
	// JobTimeout bounds an attempt of a job enqueued without a Timeout.
	// Defaults to 5m. When it passes, the handler's context is cancelled and
	// the attempt fails.
	JobTimeout time.Duration
	// Backoff is the default retry delay. Defaults to queue.DefaultBackoff.
	Backoff queue.Backoff
	// KindBackoff sets the retry delay per job kind, before the queue's.
	KindBackoff map[string]queue.Backoff
	// MaintenanceInterval is how often the pool rescues jobs with expired
	// leases (crashed or hung workers) and prunes old jobs. Defaults to
	// LeaseDuration/2. On a store that implements queue.Leader, one pool
	// of those sharing the store maintains (Pool.Leading); when it stops,
	// another takes over at its next round, and when its host dies,
	// within three rounds.
	MaintenanceInterval time.Duration
	// KeepCompleted keeps completed jobs this long for inspection
	// (KeepForever: until an operator deletes them). Defaults to 0: a
	// completed job is deleted when it is acknowledged.
	KeepCompleted time.Duration
	// KeepCancelled keeps cancelled jobs this long (KeepForever: until an
	// operator deletes them). Defaults to 24h.
	KeepCancelled time.Duration
	// KeepDead keeps dead jobs this long after they died; Prune removes
	// older ones, except those that block their ordering key. Defaults to
	// 0, as KeepForever: dead jobs stay until an operator retries or
	// deletes them.
	KeepDead time.Duration
	// KeepBatches keeps a batch (queue.BatchSpec) this long after all its
	// members ended, for its progress to be read (KeepForever: for
	// good). Defaults to 7 days.
	KeepBatches time.Duration
	// QueueKeep sets the retention of finished jobs per queue, and
	// KindKeep per job kind, in place of KeepCompleted, KeepCancelled and
	// KeepDead: a kind's before its queue's, a queue's before the pool's
	// (see Keep). The pool that leads maintenance prunes by its own
	// options, so give every pool on a store the same retention.
	QueueKeep map[string]Keep
	KindKeep  map[string]Keep
	// KeepProcessed keeps the keys recorded by queue.MarkProcessedTx this
	// long; Prune removes older ones. Defaults to 7 days. A job that
	// reaches its handler again after its key was pruned (a retry from the
	// dead table, a replay) applies its effect again, so keep keys longer
	// than any such delay: set a longer duration (years) to keep them all.
	KeepProcessed time.Duration
	// MaxOutput caps the JSON of a job's output (RecordOutput), in bytes.
	// Defaults to DefaultMaxOutput (32 KiB); at most 16 MiB. Keep it
	// small: the output is read with the job by Get and the admin.
	MaxOutput int
	// Name identifies this pool's leases to operators. Defaults to
	// host:pid:random.
	Name string
	// Logger receives the pool's log records. Defaults to the queue's.
	Logger *slog.Logger
	// Monotonic reads a clock that steps of the wall clock do not move:
	// the time passed since any fixed instant. Leases are wall-clock times
	// (the queue's clock, queue.Options.Now); the pool compares the two
	// clocks to notice a wall-clock step, after which it pauses rescue
	// for a LeaseDuration (see Pool.Rescue), and it times its back-off
	// from a failing store with it. Defaults to the monotonic reading Go
	// keeps in the times time.Now returns; with a queue clock whose times
	// carry none (an injected test clock such as queuetest.Clock.Now), to
	// that clock itself, which leaves steps unnoticed. Tests that step
	// their clock set it (queuetest.Clock.Monotonic).
	Monotonic func() time.Duration
}

// defaults applies the documented defaults to o and checks it.
func (o *Options) defaults(q *queue.Queue) error {
	if err := o.queueDefaults(); err != nil {
		return err
	}
	if err := o.durationDefaults(); err != nil {
		return err
	}
	if o.Backoff == nil {
		o.Backoff = queue.DefaultBackoff
	}
	if o.Name == "" {
		host, _ := os.Hostname()
		o.Name = host + ":" + strconv.Itoa(os.Getpid()) + ":" + strconv.FormatInt(time.Now().UnixNano()%100000, 36)
	}
	if o.Logger == nil {
		o.Logger = q.Logger()
	}
	switch {
	case o.MaxOutput == 0:
		o.MaxOutput = DefaultMaxOutput
	case o.MaxOutput < 0 || o.MaxOutput > maxMaxOutput:
		return fmt.Errorf("worker: Options.MaxOutput %d must be from 1 to %d bytes", o.MaxOutput, maxMaxOutput)
	}
	return nil
}

// maxMaxOutput bounds Options.MaxOutput: 16 MiB.
const maxMaxOutput = 16 << 20

// queueDefaults applies the defaults of Queues and checks them.
func (o *Options) queueDefaults() error {
	if len(o.Queues) == 0 {
		o.Queues = map[string]QueueConfig{queue.DefaultQueue: {}}
	}
	qs := make(map[string]QueueConfig, len(o.Queues))
	for name, c := range o.Queues {
		if err := queue.ValidName(name); err != nil {
			return fmt.Errorf("worker: Options.Queues: %w", err)
		}
		switch {
		case c.MaxWorkers == 0:
			c.MaxWorkers = 100
		case c.MaxWorkers < 0:
			return fmt.Errorf("worker: queue %q: MaxWorkers %d is negative", name, c.MaxWorkers)
		}
		if c.RateLimit < 0 || c.Burst < 0 {
			return fmt.Errorf("worker: queue %q: RateLimit %v and Burst %d must not be negative", name, c.RateLimit, c.Burst)
		}
		qs[name] = c
	}
	o.Queues = qs
	return nil
}

// durationDefaults applies the defaults of the durations and checks them.
func (o *Options) durationDefaults() error {
	switch {
	case o.LeaseDuration == 0:
		o.LeaseDuration = 30 * time.Second
	case o.LeaseDuration < time.Second:
		return fmt.Errorf("worker: Options.LeaseDuration %s is shorter than 1s", o.LeaseDuration)
	}
	switch {
	case o.HeartbeatInterval == 0:
		o.HeartbeatInterval = o.LeaseDuration / 3
	case o.HeartbeatInterval < 0 || o.HeartbeatInterval >= o.LeaseDuration:
		return fmt.Errorf("worker: Options.HeartbeatInterval %s must be positive and shorter than LeaseDuration %s", o.HeartbeatInterval, o.LeaseDuration)
	}
	switch {
	case o.PollInterval == 0:
		o.PollInterval = 500 * time.Millisecond
	case o.PollInterval < 0:
		return fmt.Errorf("worker: Options.PollInterval %s is negative", o.PollInterval)
	}
	switch {
	case o.JobTimeout == 0:
		o.JobTimeout = 5 * time.Minute
	case o.JobTimeout < 0:
		return fmt.Errorf("worker: Options.JobTimeout %s is negative", o.JobTimeout)
	}
	switch {
	case o.MaintenanceInterval == 0:
		o.MaintenanceInterval = o.LeaseDuration / 2
	case o.MaintenanceInterval < 0:
		return fmt.Errorf("worker: Options.MaintenanceInterval %s is negative", o.MaintenanceInterval)
	}
	if o.KeepCompleted < 0 && o.KeepCompleted != KeepForever {
		return fmt.Errorf("worker: Options.KeepCompleted %s is negative (KeepForever is -1)", o.KeepCompleted)
	}
	switch {
	case o.KeepBatches == 0:
		o.KeepBatches = 7 * 24 * time.Hour
	case o.KeepBatches < 0 && o.KeepBatches != KeepForever:
		return fmt.Errorf("worker: Options.KeepBatches %s is negative (KeepForever is -1)", o.KeepBatches)
	}
	switch {
	case o.KeepCancelled == 0:
		o.KeepCancelled = 24 * time.Hour
	case o.KeepCancelled < 0 && o.KeepCancelled != KeepForever:
		return fmt.Errorf("worker: Options.KeepCancelled %s is negative (KeepForever is -1)", o.KeepCancelled)
	}
	if err := validKeep(o); err != nil {
		return err
	}
	switch {
	case o.KeepProcessed == 0:
		o.KeepProcessed = 7 * 24 * time.Hour
	case o.KeepProcessed < 0:
		return fmt.Errorf("worker: Options.KeepProcessed %s is negative", o.KeepProcessed)
	}
	return nil
}

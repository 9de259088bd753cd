// Package queue is spool's vocabulary: jobs, the APIs producers and
// operators hold, the Store contract that backends implement, the errors,
// the retry policy and the outcomes a handler returns.
//
// A program opens a backend (package sqlite), wraps it in a [Queue] and
// enqueues jobs; a worker pool (package worker) leases and runs them:
//
//	store, err := sqlite.Open(ctx, "shop.db", sqlite.Options{})
//	q, err := queue.New(store, queue.Options{})
//	res, err := q.Enqueue(ctx, queue.NewJob{Kind: "email.receipt", Args: Receipt{OrderID: 42}})
//
// # Who holds what
//
//   - Producers hold a [Queue]: [Queue.Enqueue], [Queue.EnqueueMany] and their
//     Tx twins, [Queue.EnqueueArgs] for argument types that name their kind
//     ([Args]), [Queue.Publish] for topics, [Queue.MarkProcessedTx] for
//     handlers that apply an effect once.
//   - Operators (admin pages, CLIs, scripts) take [Queue.Inspector]: list,
//     count, cancel, retry and delete jobs; pause, resume and configure
//     queues; see the live worker pools ([Inspector.Processes]) and the
//     queues whose pending jobs none of them works ([QueueStats].Unserved).
//   - [Inspector.Charts] gives the last hour per queue and per kind:
//     completed, failed and dead attempts per minute and the attempts'
//     waits (start minus due time) as [WaitHistogram] quantiles, on a
//     [MetricsStore].
//   - Topic administration takes [Queue.Topics]: subscriptions, the event
//     log, replay and retention.
//   - Worker pools (package worker) and schedulers (package schedule) are
//     built on a Queue and share its store, clock ([Queue.Now]), logger
//     and instrumentation hook ([Observer], which package spoolotel turns
//     into OpenTelemetry metrics and traces).
//   - Jobs that wait for other jobs ([NewJob].DependsOn, on a
//     [DependencyStore]; [ParentFailure] decides a failed parent's effect)
//     and batches with callbacks ([Queue.EnqueueBatch], [BatchSpec], on a
//     [BatchStore]); operators see them with [Inspector.Dependencies] and
//     [Inspector.Batch].
//   - Backend authors implement [Store] (and [TopicStore], [ScheduleStore],
//     [Notifier], [Leader], [ProcessStore], [ProgressStore], [MetricsStore],
//     [DependencyStore], [BatchStore]) and run package queuetest's
//     conformance suite.
//
// # Lifecycle
//
// A job is pending (ready now), scheduled (waiting for its run time),
// blocked (waiting behind an earlier job of its ordering key, or for its
// parents to complete), running
// (leased by a worker), completed, cancelled, or dead. A handler's return
// value decides what happens next, in one place (see [Classify]):
//
//   - nil: completed (deleted, or kept for the store's retention window);
//   - a plain error: retried at now + backoff(attempt) while attempts are left,
//     then dead;
//   - [Permanent](err): dead at once;
//   - [Snooze](d): pending again after d, the attempt not counted;
//   - [RetryIn](d, err): a failed attempt, retried after exactly d.
//
// Delivery is at least once: a job is acknowledged only after its handler
// returned nil, and a job whose worker died is leased again once its lease
// expires. Handlers must therefore be idempotent; idempotency keys
// ([NewJob].UniqueKey), [Queue.MarkProcessedTx] and the Tx twins help.
//
// # Unique jobs
//
// A job with a [NewJob].UniqueKey is not inserted while a live job
// (pending, scheduled, blocked, running) holds the key: the enqueue
// returns the holder with [EnqueueResult].Duplicate set. [NewJob].UniqueFor
// holds the key for a period from the enqueue, kept apart from the job so
// that it outlives a completed job that was deleted; [NewJob].UniqueStates
// adds completed, cancelled or dead jobs as holders; [NewJob].UniqueByArgs
// derives the key from kind, queue and payload ([ArgsKey]). The options are
// the new job's own and govern enqueues only (not [Store.RetryDead]).
// Ended periods are removed by [Store.Prune] ([PruneParams].UniqueBefore).
//
// # Transactions
//
// Every write has a Tx twin ([Queue.EnqueueTx], [Inspector.CancelTx], ...)
// that runs inside the caller's *sql.Tx, so that a job is enqueued, or
// cancelled, together with the caller's own rows or not at all (the
// transactional outbox). One rule holds for all of them: the transaction is
// required, and a nil one is an [ErrInvalidArgument] (the twin without Tx
// uses the store's own transaction). The transaction must belong to the
// database the store uses; one of another database is refused with
// [ErrForeignTx]. When a Tx twin returns an error, the SQLite store has
// undone its own writes and left the caller's transaction as it was, to be
// continued or rolled back; only a context that ends during a write can
// make SQLite roll back the whole transaction, which its Commit then
// reports.
//
// # The rules a backend does not decide
//
// A backend persists what the core tells it; the rules live here, once,
// and the conformance suite checks them:
//
//   - what a job is: [Queue.ValidateJob] (one validation for Enqueue,
//     Publish, schedules, the admin page and the CLI) fills the defaults a
//     store receives in [NewJob];
//   - what a subscriber's job is: [DeliveryJob];
//   - why a job died: [PermanentReason], [ExhaustedReason], [ExpiredReason];
//   - what happens after an attempt: [Classify], into a [Settlement];
//   - what a settled attempt counts in throughput: [Settlement.Counts];
//   - how a job's error history is bounded: [AppendAttemptError];
//   - which schedule fires a store accepts: [ScheduleFire.IsTick];
//   - ordering keys: at most one job of a key in a queue is live (pending,
//     scheduled or running) at a time; later ones are blocked, in enqueue
//     order. When the live one completes, is cancelled or deleted, or dies
//     in a queue whose [QueueSettings].DeadSkipsKey is set, the next blocked
//     job of the key (the lowest ID) becomes pending, or scheduled when its
//     run time is later. A dead job otherwise holds its key until an
//     operator retries or deletes it.
//
// # A backend shared by several hosts
//
// The contract was first written for one SQLite writer. What it promises
// and allows, so that a server database (PostgreSQL) can implement it:
//
//   - Clocks. Callers pass the times they decide (run times, backoff,
//     retention cut-offs) as values, so tests drive time through
//     [Options].Now. Comparisons shared by hosts (is a lease expired, is a
//     job due) may use the database's clock instead of the caller's, if
//     the backend then uses that one clock for every such comparison; its
//     options must let tests inject a clock. Hosts' clocks then only shift
//     a delay by their skew; they never lose or double a job. The
//     PostgreSQL store does so by translating every time it stores into
//     the database's frame (see package postgres, "Clocks").
//   - Topic order. Within a topic, the sequence numbers ([EventRecord].Seq)
//     subscribers see are gap-free and in commit order: an event with a
//     lower Seq is never committed after one with a higher Seq was
//     delivered. Event IDs are unique and increase within a topic, but may
//     have gaps and interleave across topics. A subscription's cursor
//     ([SubscriptionInfo].Cursor) is a position only its backend
//     interprets.
//   - Back-pressure. [QueueSettings].MaxPending is exact: a backend with
//     concurrent writers serialises enqueues into a queue that has a limit
//     (a lock on the queue's settings row), and only into such queues.
//   - Shared limits. [QueueSettings].MaxRunning and RateLimit, and the
//     per-partition-key MaxRunningPerKey and RateLimitPerKey, hold across
//     every process on the store: a backend with concurrent writers
//     serialises leases of a queue that has one (a lock on the queue's
//     settings row), and only of such queues. A running job counts
//     against MaxRunning (and its key's MaxRunningPerKey) while its lease
//     holds, so a dead process's slots come back when its leases expire.
//     Under per-key limits a lease walks at most [MaxKeyWalk] ready jobs
//     in lease order, passing over those of saturated keys.
//   - Due jobs. [Store.Lease] returns jobs ready by its Now: pending ones,
//     and scheduled ones whose run time has come, however the backend
//     finds them (SQLite promotes them inside the lease; a server database
//     can select them directly by an index on run time).
//   - Expiry is a step of Lease: waiting jobs of the queue past their
//     ExpiresAt die first ([ExpiredReason]); Lease never returns one.
//   - Wake-ups go through the store ([Notifier]): a backend that can carry
//     them between hosts (LISTEN/NOTIFY) does; workers poll either way.
//   - Maintenance (rescue through [Store.Expired], [Store.Prune],
//     [TopicStore.DeliverBacklog], [TopicStore.PruneEvents]) is safe when
//     every process runs it at once; a backend may elect one leader
//     ([Leader]) to save the work, and worker pools then maintain only
//     while they hold the role.
//   - Transactions are database/sql's *sql.Tx, which apps on SQLite and on
//     PostgreSQL (pgx's stdlib package) share. An app on a native pgx pool
//     opens a *sql.DB over the same pool (stdlib.OpenDBFromPool) and begins
//     its transactions there.
package queue

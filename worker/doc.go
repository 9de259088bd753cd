// Package worker runs jobs: a Pool leases jobs from a queue's store, runs
// the handler registered for each job's kind, and settles the outcome.
//
// Handlers are shaped like net/http handlers (Handler, HandlerFunc,
// Middleware); JSON adapts a typed function:
//
//	pool.Handle("email.receipt", worker.JSON(func(ctx context.Context, job *queue.Job, r Receipt) error {
//		return mailer.Send(ctx, r.Email, r.OrderID)
//	}))
//
// HandleArgs registers a typed handler under the kind its argument type
// names (queue.Args), the kind Queue.EnqueueArgs gives its jobs. While it
// runs, a handler may record an output (RecordOutput) and report progress
// (ReportProgress): operators see both (queue.Job.Output, .Progress).
//
// A pool keeps MaxWorkers handlers busy per queue. It leases as many jobs
// as it has free workers in one call, extends their leases by heartbeat
// while they run, and acknowledges outcomes in batches. The store wakes
// the pool when it commits ready jobs (queue.Notifier: an enqueue in this
// process, or the commit of an app's transaction that enqueued some); jobs
// written by other processes are found by polling (Options.PollInterval).
//
// Outcomes follow queue.Classify: nil completes, an error retries after the
// backoff, queue.Permanent and exhausted attempts go to the dead table,
// queue.Snooze reschedules without spending an attempt, a panic is a failed
// attempt with its stack recorded, and a timeout cancels the handler's
// context and fails the attempt. A kind without a handler fails like any
// error and is retried, so a later deploy that adds the handler runs it.
//
// Jobs whose worker died are rescued once their lease expires, by any pool
// on the store: retried with the attempt counted, or dead with none left.
// Leases end at wall-clock times; after a forward step of the wall clock
// the rescuer pauses for a LeaseDuration (see Pool.Rescue). A store that
// keeps failing (a corrupt file: queue.ErrCorrupt) is leased from with a
// back-off of up to 30s, and logged once per episode with what to do.
// Stop waits for running handlers until its context ends, then cancels them
// and releases their jobs to run again at once.
//
// The library never handles signals: the program decides when to Stop.
package worker

// Package queue is spool's vocabulary: jobs, the queue API producers and
// operators hold, the Store contract that backends implement, the errors, the
// retry policy and the outcomes a handler returns.
//
// A program opens a backend (package sqlite), wraps it in a [Queue] and
// enqueues jobs; a worker pool (package worker) leases and runs them:
//
//	store, err := sqlite.Open(ctx, "shop.db", sqlite.Options{})
//	q, err := queue.New(store, queue.Options{})
//	res, err := q.Enqueue(ctx, queue.NewJob{Kind: "email.receipt", Args: Receipt{OrderID: 42}})
//
// # Lifecycle
//
// A job is pending (ready now), scheduled (waiting for its run time), running
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
// ([NewJob].UniqueKey) and the Tx twins of every write help.
//
// # Transactions
//
// Every write has a Tx twin ([Queue.EnqueueTx], [Queue.CancelTx], ...) that
// runs inside the caller's *sql.Tx, so that a job is enqueued, or cancelled,
// together with the caller's own rows or not at all (the transactional
// outbox). The transaction must belong to the database the store uses;
// one of another database is refused with [ErrForeignTx].
// When a Tx twin returns an error, the SQLite store has undone its own
// writes and left the caller's transaction as it was, to be continued or
// rolled back; only a context that ends during a write can make SQLite
// roll back the whole transaction, which its Commit then reports.
package queue

// Package postgres is spool's store on PostgreSQL, through the maintained
// driver github.com/jackc/pgx/v5 (its database/sql adapter, pgx/v5/stdlib):
// the same queue.Store, queue.TopicStore, queue.ScheduleStore,
// queue.Notifier and queue.Leader as package sqlite, for apps that outgrow
// one machine and share one database between several hosts.
//
// Open connects and migrates:
//
//	store, err := postgres.Open(ctx, "postgres://app@db.internal/shop", postgres.Options{})
//
// New wraps a *sql.DB the app already uses (opened with pgx's stdlib
// driver), so that jobs live beside the app's tables and enqueue in the
// app's transactions. An app on a native pgx pool opens a *sql.DB over the
// same pool with stdlib.OpenDBFromPool and hands that to New.
//
// # Tables and schemas
//
// The tables live in one schema, "spool" by default (Options.Schema), so
// that two apps can share a database. Migrations are embedded, applied in
// one transaction under an advisory lock, and recorded: several hosts
// starting at once migrate once.
//
// # Transactions
//
// Every write takes the caller's *sql.Tx (the Tx twins of package queue),
// or runs in the store's own transaction. In a caller's transaction a write
// runs inside a savepoint: when it fails, the caller's transaction is left
// as it was. A transaction on another database is refused with
// queue.ErrForeignTx.
//
// # Leases and round trips
//
// Hosts lease from one queue at once: each takes the first ready jobs no
// other lease is taking (FOR UPDATE SKIP LOCKED on the partial index of
// pending jobs), so leases neither block on nor share a job. The hot paths
// cost one round trip and one implicit transaction each:
//
//   - a lease, unless the queue is paused or has jobs to promote (due) or
//     to expire, which take one longer transaction; its commit does not
//     wait for the WAL flush (a lease a server crash forgets leaves its
//     jobs pending, as an expired one does);
//   - a worker's settle batch of completions of jobs without an ordering
//     key (others take one transaction);
//   - small enqueues of plain jobs outside a caller's transaction, which
//     concurrent callers share: a few flushers insert every enqueue
//     waiting at that moment with one statement, so that many callers
//     share one commit and its WAL flush, and each returns once its own
//     rows are durable. Jobs with a unique key, an ordering key or an
//     expiry, jobs of a queue with a MaxPending limit and enqueues of more
//     than 16 jobs take a transaction of their own.
//
// Statements reach jobs through indexes whatever the table's statistics
// say: rows to change are picked with id = ANY (ARRAY(…)), and due or
// expiring jobs are found by comparing a min() on a partial index with
// now.
//
// # Wake-ups
//
// Writes that make jobs ready wake this process's workers once they
// commit, and send a notification (pg_notify) that PostgreSQL delivers to
// every host listening, so a job enqueued on one host starts within
// moments on another. The store's own writes send it after their commit,
// coalesced per queue, from one transaction at a time: a notification
// inside a transaction makes its commit take a lock for the whole
// database, which would make writers commit one at a time. A write in the
// caller's transaction sends it inside that transaction. A store
// keeps one connection LISTENing for them. Options.NoListen turns that off
// for connection poolers in transaction mode (PgBouncer): workers then
// find jobs by polling.
//
// # Clocks
//
// Callers pass times as values (queue.Options.Now), and several hosts
// whose clocks disagree share the database: a host whose clock is fast
// would see other hosts' live leases as expired, run scheduled jobs early
// and end other hosts' leader terms. So the store uses the database's
// clock for every comparison hosts share, by translating at its boundary:
// it measures how far its host's clock is from the database's
// (clock_timestamp(), against the midpoint of the host's clock read before
// and after), at Open and New and again every 30 seconds until Close, and
// shifts every time it stores by that offset and every time it reads back
// by the same offset the other way. Stored times are then in the
// database's frame, on which all hosts agree, and a caller's clock, a
// test's fake one included, still round-trips exactly.
//
// What is translated: run times, lease expiries, attempt, finish and
// creation times, expiries, leader terms, processed keys, retention and
// prune cut-offs, event publish times and replay bounds, and the times in
// a job's error history. Throughput counters are shifted by the offset
// rounded to whole minutes. Durations (job timeouts, retention ages) are
// not times and are not shifted. Schedules are not shifted either: their
// cursor holds cron ticks named in the host's calendar ("the 13:00 run"),
// and hosts must name a tick alike for it to fire once; a skewed host
// fires a tick early or late, but once.
//
// The offset changes only when a measure differs from it by more than
// 250 ms, and an offset under 250 ms stays zero: a measure's error (up to
// half a round trip) must not make the times a store reads back wobble,
// and hosts kept in time store times as they are. The store logs the
// offset at Info when it exceeds a second, and at Warn when the host's
// clock steps. Until the next measure (up to 30 seconds) after a step,
// the store writes in the old frame. Keep running NTP on every host and on
// the database server: translation makes hosts agree on when a lease ends
// and a job is due, but a skewed host's own timers (its heartbeats, its
// delays, its cron ticks) still run by its clock.
package postgres

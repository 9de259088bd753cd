// Package spooltest is a test kit for applications that use spool, as
// River's rivertest, Oban.Testing and Sidekiq::Testing are for theirs. It
// works on a real store, never a mock: New opens a fresh SQLite file in
// t.TempDir() (or wraps the app's own queue or store) with an injected
// clock, and closes it when the test ends.
//
// With a Kit a test can:
//
//   - assert that a transaction enqueued a job of a kind with given args,
//     and that nothing else was: RequireEnqueuedTx, RequireNotEnqueuedTx,
//     RequireManyEnqueuedTx and RequireOnlyEnqueuedTx, and their forms
//     without Tx for committed jobs. Args are compared as JSON values, not
//     as bytes; Queue, Priority, RunAt, Metadata, State, UniqueKey,
//     OrderKey and MaxAttempts narrow the match. A failure lists what was
//     enqueued instead (ID, kind, queue, state, args).
//   - run one job's handler inline with a real job (Work, WorkPool): the job
//     is enqueued, leased as a worker leases it (its ID, Attempt, Metadata
//     and lease are real), run through the pool's middleware, and settled;
//     the Result says what happened (complete, retry, snooze, dead, cancel).
//   - drain queues synchronously until they are empty, including the jobs
//     the drained jobs enqueue (Drain, DrainWith), with a bound on the jobs
//     run so that a job that enqueues itself forever fails the test instead
//     of hanging it. Retries, snoozes and delays are reached by moving the
//     kit's clock, never by sleeping, up to DrainOptions.Advance.
//   - move time: Advance moves the clock every part built on the kit's
//     queue reads (worker pools, schedulers, the admin page), and
//     RunSchedules steps a scheduler through every tick in a span of time.
//
// The kit's assertions take the testing.TB to fail as their first
// argument after ctx, so that they work in subtests and helpers; they
// fail it with t.Fatalf.
package spooltest

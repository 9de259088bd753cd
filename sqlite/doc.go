// Package sqlite is spool's store on SQLite, through modernc.org/sqlite
// (pure Go, no cgo). One file holds the jobs, the dead jobs, paused queues
// and throughput counters; several processes may open it at once.
//
// Open creates and migrates a database file:
//
//	store, err := sqlite.Open(ctx, "shop.db", sqlite.Options{})
//
// New wraps a *sql.DB the app already uses, so that jobs live beside the
// app's tables and enqueue in the app's transactions. Open the app's
// database with DSN so it gets the same settings.
//
// # How it writes
//
// Every connection runs in WAL mode with a busy timeout, foreign keys and
// synchronous=NORMAL (set as DSN pragmas, so every pooled connection has
// them); write transactions begin IMMEDIATE. All of spool's writes go
// through one writer goroutine on one connection, which commits every write
// waiting at that moment in one transaction (group commit): each caller
// returns once its own rows are committed, and sixteen concurrent Enqueue
// calls cost one commit instead of sixteen. Leases take a batch of jobs in
// one UPDATE walking a partial index of ready jobs, and read the batch back
// through the index of running jobs; scheduled
// jobs live outside that index until they are due, so leasing never skips
// over future jobs.
//
// # The write-ahead log and several processes
//
// The write-ahead log stays under Options.MaxWALSize: the commit that takes
// it past a quarter of the bound checkpoints it, and the next write starts
// it again from its beginning. A background goroutine copies the log into
// the database file between those checkpoints
// (Options.CheckpointInterval), so that they find little left to copy.
//
// Several processes may open one file. Their writers take turns through a
// lock file beside it (path + "-lock", Linux only for now): SQLite's own
// write lock has no queue, and a writer that commits back to back would
// otherwise keep it from another process's writer for seconds. See the
// comment in turn.go for how the turn goes round.
//
// # Wake-ups
//
// Store implements queue.Notifier: after it commits jobs that are ready
// (an enqueue, a publish, a retry, a freed ordering key, a resumed queue),
// it wakes this process's idle workers, so a job starts within moments of
// its commit. A write in the app's transaction (EnqueueTx, PublishTx) wakes
// them when that transaction commits, through a commit hook on the
// connections Open makes; a store made by New cannot see the app's commits,
// and its workers find such jobs at their next poll. Other processes on the
// file find new jobs at their next poll (worker.Options.PollInterval).
//
// # Durability
//
// With the default synchronous=NORMAL, a committed job survives a crash of
// the process; a power loss or kernel crash can lose the transactions of
// the last moments before it. Options.Synchronous "FULL" survives those
// too, at the cost of an fsync per commit.
//
// A store made by Open notices when its file or the file's -wal is deleted
// or replaced while it runs (checked before every commit and every
// second): SQLite would go on writing to the unnamed old file, and every
// job acknowledged after that would be lost when the process ends. Every
// write then fails with queue.ErrFileGone, and the transactions still in a
// deleted -wal are copied into the database file.
package sqlite

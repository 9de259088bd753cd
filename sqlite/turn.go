package sqlite

import "time"

// The writers' turn: how the writers of several processes share one
// database file fairly.
//
// SQLite's write lock has no queue. A writer that finds it taken sleeps in
// its busy handler on a fixed schedule (1, 2, 5 … then 100 ms between
// tries) and takes the lock only if it happens to be free at the instant it
// wakes. spool's writer commits and begins its next transaction within
// microseconds whenever work is waiting, so under steady load another
// process's writer almost never finds the lock free when it wakes: measured
// before the turn existed, all producers of one process stalled for 1.6 to
// 4.7 s while the other kept committing, leases of live workers expired,
// and a 1.5 s busy timeout failed calls with queue.ErrBusy.
//
// So a store made by Open takes a turn before it writes, and keeps it
// through the commit (and the checkpoint a commit may run) and on, while
// operations keep arriving, for a slice of a few milliseconds (turnSlice in
// writer.go); it gives the turn back as soon as it has nothing to write.
// The turn is a lock on one byte of a lock file beside the database
// (path + "-lock"); a writer that has to wait marks itself waiting on a
// second byte and blocks in the kernel, which wakes it the moment the turn
// is given back. A writer giving the turn back that sees a waiter does not
// ask for it again at once: it waits until the waiter has taken it (or
// briefly, should the waiter be gone). The kernel wakes waiters in no set
// order, so a writer that has waited past turnUrgentAfter marks itself
// urgent on a third byte, and a writer that gets the turn while another is
// urgent hands it on. The turn thus goes round the processes that want it,
// a slice of one process after a slice of the next, and a waiter waits for
// about one slice of each other process, not for a lucky wake-up. With no
// other process, a turn costs four system calls per slice.
//
// The turn lives beside SQLite's own locks, which stay the source of
// correctness: writes that do not take the turn (an app's own
// transactions, a store made with New, older spool versions) are still
// serialised by SQLite and wait under its busy handler.

const (
	// turnYieldPoll is how often a writer that gave the turn to a waiter
	// looks whether the waiter has taken it.
	turnYieldPoll = 20 * time.Microsecond
	// turnYieldMax bounds how long a writer that saw a waiter holds back
	// before it asks for the turn again (the waiter may have given up).
	turnYieldMax = 5 * time.Millisecond
	// turnUrgentAfter is how long a writer waits before it marks its wait
	// urgent: writers that are not urgent give it the turn.
	turnUrgentAfter = 10 * time.Millisecond
)

// turnLockSuffix names the lock file beside the database.
const turnLockSuffix = "-lock"

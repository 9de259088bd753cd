package sqlite

import (
	"database/sql"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spooljobs/spool/queue"
	msqlite "modernc.org/sqlite"
)

// Wake-ups (queue.Notifier). The store wakes the idle workers of this
// process after it commits work that may be ready. Its own transactions
// notify as soon as they commit. A write in a caller's transaction (the
// Tx twins) must not wake anyone before that transaction commits, and
// database/sql tells nobody when it does; so such a write arms its queues,
// and a commit hook, registered on the connections callers' transactions
// run on (Store.DB's pool, opened by Open), wakes the armed queues on each
// commit there for commitWakeWindow. Another caller's commit may wake them
// early, and workers then find nothing and wait again: the window's later
// commits, the caller's among them, wake them once more. The store's own
// writer has no hook (its commits wake by Notify): with one, every empty
// lease the wake-up caused would commit and wake the queue again, a loop
// that ran thousands of empty leases a second while any window was open. A store made with New (the app's *sql.DB)
// has no hook: its workers find such jobs at their next poll.

// commitWakeWindow is how long after a write in a caller's transaction the
// store's commits wake its queues.
const commitWakeWindow = 5 * time.Second

// commitWakes holds the queues armed by writes in callers' transactions.
type commitWakes struct {
	armed  atomic.Int32 // len(queues), read without the lock on every commit
	mu     sync.Mutex
	queues map[string]time.Time // queue ("" every queue) → end of its window
}

// Wait implements queue.Notifier.
func (s *Store) Wait(name string) (<-chan struct{}, func()) { return s.wakeups.Wait(name) }

// Notify implements queue.Notifier.
func (s *Store) Notify(name string) { s.wakeups.Notify(name) }

// wakeAfter wakes the named queue ("" every queue) once the write that
// made its jobs ready has committed: now when it ran in the store's own
// transaction (tx nil), else when tx commits.
func (s *Store) wakeAfter(tx *sql.Tx, name string) {
	if tx == nil {
		s.wakeups.Notify(name)
		return
	}
	c := &s.commitWakes
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.queues == nil {
		c.queues = map[string]time.Time{}
	}
	c.queues[name] = time.Now().Add(commitWakeWindow)
	c.armed.Store(int32(len(c.queues)))
}

// wakeJobsAfter wakes the queues of the jobs that are ready by now.
func (s *Store) wakeJobsAfter(tx *sql.Tx, jobs []queue.NewJob, now time.Time) {
	last := ""
	for _, j := range jobs {
		if j.Queue != last && !j.RunAt.After(now) {
			s.wakeAfter(tx, j.Queue)
			last = j.Queue
		}
	}
}

// committed runs in the commit hook of every connection the store opened.
// It must not touch the database: it runs inside SQLite's commit.
func (s *Store) committed() {
	c := &s.commitWakes
	if c.armed.Load() == 0 {
		return
	}
	now := time.Now()
	c.mu.Lock()
	var wake []string
	for q, until := range c.queues {
		wake = append(wake, q)
		if now.After(until) {
			delete(c.queues, q)
		}
	}
	c.armed.Store(int32(len(c.queues)))
	c.mu.Unlock()
	for _, q := range wake {
		s.wakeups.Notify(q)
	}
}

// hookCommits registers the store's commit hook on conn, a connection of
// modernc's driver; opened holds the store once it is open.
func hookCommits(conn any, opened *atomic.Pointer[Store]) {
	h, ok := conn.(interface{ RegisterCommitHook(msqlite.CommitHookFn) })
	if !ok {
		return
	}
	h.RegisterCommitHook(func() int32 {
		if s := opened.Load(); s != nil {
			s.committed()
		}
		return 0 // 0: let the commit proceed
	})
}

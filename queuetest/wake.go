package queuetest

import (
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// wakeArea: a store that implements queue.Notifier wakes workers after it
// commits ready jobs, and not before.
var wakeArea = area{"Wakeups", []testCase{
	{"AfterOwnCommit", testWakeAfterOwnCommit},
	{"AtTheCallersCommitNotBefore", testWakeAtCallersCommit},
}}

// notifier returns the store's Notifier, or skips the case.
func (e *env) notifier() queue.Notifier {
	n, ok := e.store.(queue.Notifier)
	if !ok {
		e.t.Skipf("%T does not implement queue.Notifier: workers find jobs by polling", e.store)
	}
	return n
}

// woken waits up to d for a wake-up on ch.
func woken(ch <-chan struct{}, d time.Duration) bool {
	if d == 0 {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// wakeWait bounds the wait for a wake-up a backend may deliver
// asynchronously (a server database's notification).
const wakeWait = 10 * time.Second

func testWakeAfterOwnCommit(e *env) {
	n := e.notifier()
	mail, stop := n.Wait("mail")
	defer stop()
	e.enqueue(queue.NewJob{Kind: "k", Queue: "mail"})
	require.True(e.t, woken(mail, wakeWait), "an enqueue wakes its queue's waiters once committed")
	e.enqueue(queue.NewJob{Kind: "k", Queue: "mail", Delay: time.Hour})
	require.False(e.t, woken(mail, 0), "a job due later wakes no one")
}

func testWakeAtCallersCommit(e *env) {
	n := e.notifier()
	if e.db == nil {
		e.t.Skip("the backend gave no *sql.DB for callers' transactions")
	}
	mail, stop := n.Wait("mail")
	defer stop()
	tx, err := e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	_, err = e.q.EnqueueTx(e.ctx, tx, queue.NewJob{Kind: "k", Queue: "mail"})
	require.NoError(e.t, err)
	require.False(e.t, woken(mail, 0), "no wake-up before the caller's transaction commits")
	require.NoError(e.t, tx.Commit())
	require.True(e.t, woken(mail, wakeWait), "the caller's commit wakes the queue")

	tx, err = e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	_, err = e.q.EnqueueTx(e.ctx, tx, queue.NewJob{Kind: "k", Queue: "reports"})
	require.NoError(e.t, err)
	reports, stopReports := n.Wait("reports")
	defer stopReports()
	require.NoError(e.t, tx.Rollback())
	require.False(e.t, woken(reports, 0), "a rolled-back enqueue wakes no one")
}

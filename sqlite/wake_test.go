package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
	"github.com/stretchr/testify/require"
)

// woken reports whether ch holds a wake-up, without waiting.
func woken(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// A job enqueued in the store's own transaction wakes the queue's waiters
// once committed; one in the app's transaction wakes them when the app
// commits, and not before (a worker woken earlier would find nothing and
// sleep until its next poll); a rolled-back one wakes no one.
func TestWakeupsFollowCommits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, _ := openStore(t, sqlite.Options{})
	q := newQueue(t, store)
	wake, stop := store.Wait("mail")
	defer stop()
	other, stopOther := store.Wait("reports")
	defer stopOther()

	_, err := q.Enqueue(ctx, queue.NewJob{Kind: "send", Queue: "mail"})
	require.NoError(t, err)
	require.True(t, woken(wake), "an enqueue in the store's own transaction wakes its queue")
	require.False(t, woken(other), "and no other queue")

	_, err = q.Enqueue(ctx, queue.NewJob{Kind: "send", Queue: "mail", Delay: time.Hour})
	require.NoError(t, err)
	require.False(t, woken(wake), "a job due later wakes no one")

	tx, err := store.DB().BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = q.EnqueueTx(ctx, tx, queue.NewJob{Kind: "send", Queue: "mail"})
	require.NoError(t, err)
	require.False(t, woken(wake), "no wake-up before the app's transaction commits")
	require.NoError(t, tx.Commit())
	require.True(t, woken(wake), "the app's commit wakes the queue")

	tx, err = store.DB().BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = q.EnqueueTx(ctx, tx, queue.NewJob{Kind: "send", Queue: "reports"})
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
	require.False(t, woken(other), "a rolled-back enqueue wakes no one")
}

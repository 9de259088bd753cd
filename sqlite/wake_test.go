package sqlite_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// A write in the caller's transaction wakes its queue when the caller
// commits, and the store's own commits (every lease, settle, enqueue the
// writer runs) do not wake it again: with the hook on the writer's
// connections, each empty lease the wake caused woke the queue once more,
// thousands of empty leases a second while the window was open.
func TestOwnCommitsDoNotWakeArmedQueues(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, sqlite.Options{})
	q := newQueue(t, s)

	armed, stop := s.Wait("orders")
	defer stop()
	tx, err := s.DB().BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = q.EnqueueTx(ctx, tx, queue.NewJob{Kind: "order.placed", Queue: "orders"})
	require.NoError(t, err)
	select {
	case <-armed:
		t.Fatal("woken before the caller's transaction committed")
	default:
	}
	require.NoError(t, tx.Commit())
	<-armed // the caller's commit wakes the queue (the hook runs inside Commit)

	// The window is still open; the store's own commits must leave the
	// queue's workers asleep.
	again, stop2 := s.Wait("orders")
	defer stop2()
	for i := 0; i < 5; i++ {
		_, err := q.Enqueue(ctx, queue.NewJob{Kind: "mail.send", Queue: "mail"})
		require.NoError(t, err)
		now := q.Now()
		res, err := s.Lease(ctx, queue.LeaseParams{Queue: "mail", Limit: 10, Now: now, Until: now.Add(60e9), Worker: "w"})
		require.NoError(t, err)
		require.Len(t, res.Jobs, 1)
	}
	select {
	case <-again:
		t.Fatal("the store's own commits woke an armed queue")
	default:
	}
}

package worker_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

// Rescue of jobs whose worker stopped heartbeating.

func TestRescueExpiredLeases(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	p, err := worker.New(h.q, worker.Options{Backoff: queue.Constant(time.Minute)})
	require.NoError(t, err) // not started: Rescue is called directly
	retried := h.enqueue(queue.NewJob{Kind: "k", MaxAttempts: 2})
	lastTry := h.enqueue(queue.NewJob{Kind: "k", MaxAttempts: 1})
	now := h.clock.Now()
	// A worker that leases and then dies (never heartbeats).
	res, err := h.store.Lease(h.ctx, queue.LeaseParams{Queue: "default", Limit: 10, Now: now, Until: now.Add(30 * time.Second), Worker: "crashed-host:1"})
	require.NoError(t, err)
	require.Len(t, res.Jobs, 2)

	n, err := p.Rescue(h.ctx)
	require.NoError(t, err)
	require.Zero(t, n, "leases still valid")
	h.clock.Advance(31 * time.Second)
	n, err = p.Rescue(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)

	j, err := h.q.Inspector().Get(h.ctx, retried)
	require.NoError(t, err)
	require.Equal(t, queue.StateScheduled, j.State)
	require.Equal(t, 1, j.Attempt, "the crashed attempt counts")
	require.True(t, j.RunAt.Equal(h.clock.Now().Add(time.Minute)))
	require.Contains(t, j.Errors[0].Message, "crashed-host:1 stopped heartbeating")

	j, err = h.q.Inspector().Get(h.ctx, lastTry)
	require.NoError(t, err)
	require.Equal(t, queue.StateDead, j.State, "no attempts left")
	require.Contains(t, j.DeadReason, "lease expired")
}

package worker_test

// Pruning of kept jobs and processed keys.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

func TestKeepCompletedAndPrune(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	p := h.pool(worker.Options{KeepCompleted: time.Hour}, func(p *worker.Pool) {
		p.HandleFunc("k", func(context.Context, *queue.Job) error { return nil })
	})
	id := h.enqueue(queue.NewJob{Kind: "k"})
	j := h.waitState(id, queue.StateCompleted)
	require.NotNil(t, j, "kept for inspection")
	n, err := p.Prune(h.ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	h.clock.Advance(time.Hour + time.Second)
	n, err = p.Prune(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = h.q.Inspector().Get(h.ctx, id)
	require.ErrorIs(t, err, queue.ErrNotFound)
}

// markProcessed records key in its own transaction and reports whether it
// was new.
func (h *harness) markProcessed(key string) bool {
	h.t.Helper()
	tx, err := h.store.DB().BeginTx(h.ctx, nil)
	require.NoError(h.t, err)
	first, err := h.q.MarkProcessedTx(h.ctx, tx, key)
	require.NoError(h.t, err)
	require.NoError(h.t, tx.Commit())
	return first
}

// A processed key (MarkProcessedTx) is kept for KeepProcessed (7 days by
// default) and pruned after it.
func TestPruneRemovesProcessedKeysAfterKeepProcessed(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		keep time.Duration
		want time.Duration
	}{{"default", 0, 7 * 24 * time.Hour}, {"set", time.Hour, time.Hour}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newTestQueue(t)
			p, err := worker.New(h.q, worker.Options{KeepProcessed: c.keep})
			require.NoError(t, err)
			require.True(t, h.markProcessed("payment:1"))

			h.clock.Advance(c.want - time.Second)
			_, err = p.Prune(h.ctx)
			require.NoError(t, err)
			require.False(t, h.markProcessed("payment:1"), "the key is kept within KeepProcessed")

			h.clock.Advance(2 * time.Second)
			_, err = p.Prune(h.ctx)
			require.NoError(t, err)
			require.True(t, h.markProcessed("payment:1"), "the key is pruned after KeepProcessed")
		})
	}
}

func TestKeepProcessedNegativeIsAnError(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	_, err := worker.New(h.q, worker.Options{KeepProcessed: -time.Second})
	require.ErrorContains(t, err, "worker: Options.KeepProcessed -1s is negative")
}

// One Prune removes every processed key past KeepProcessed, not one batch
// of them: a pool that marks keys faster than a batch per
// MaintenanceInterval (more than 1000 per 15 s) still keeps up.
func TestPruneRemovesMoreThanOneBatch(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	p, err := worker.New(h.q, worker.Options{KeepProcessed: time.Hour})
	require.NoError(t, err)
	tx, err := h.store.DB().BeginTx(h.ctx, nil)
	require.NoError(t, err)
	for i := range 2500 {
		_, err := h.q.MarkProcessedTx(h.ctx, tx, fmt.Sprintf("payment:%d", i))
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())
	h.clock.Advance(2 * time.Hour)
	n, err := p.Prune(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 2500, n)
	var left int
	require.NoError(t, h.store.DB().QueryRowContext(h.ctx, `SELECT count(*) FROM spool_processed`).Scan(&left))
	require.Zero(t, left)
}

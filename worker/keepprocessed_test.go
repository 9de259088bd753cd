package worker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/worker"
)

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

// Processed keys (MarkProcessedTx) were never pruned: Pool.Prune did not set
// PruneParams.ProcessedBefore and Options.KeepProcessed did not exist. A key
// is kept for KeepProcessed (7 days by default) and pruned after it.
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
// MaintenanceInterval (1000 per 15 s before) must still keep up.
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

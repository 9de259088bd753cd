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

// Retention per queue and kind: a kind's Keep before its queue's, a
// queue's before the pool's; a zero field takes the next level's. Dead
// jobs stay unless a retention says otherwise.
func TestRetentionPerQueueAndKind(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	p := h.pool(worker.Options{
		KeepCompleted: time.Hour,
		QueueKeep:     map[string]worker.Keep{"audit": {Completed: worker.KeepForever, Dead: 24 * time.Hour}},
		KindKeep:      map[string]worker.Keep{"invoice": {Completed: 30 * 24 * time.Hour}, "ping": {Completed: time.Minute}},
		Queues:        map[string]worker.QueueConfig{"default": {}, "audit": {}},
	}, func(p *worker.Pool) {
		for _, kind := range []string{"k", "invoice", "ping"} {
			p.HandleFunc(kind, func(context.Context, *queue.Job) error { return nil })
		}
		p.HandleFunc("fail", func(context.Context, *queue.Job) error { return queue.Permanent(fmt.Errorf("no")) })
	})
	ids := map[string]int64{}
	for _, j := range []struct{ name, queue, kind string }{
		{"plain", "default", "k"},         // pool: 1h
		{"ping", "default", "ping"},       // kind: 1m
		{"invoice", "default", "invoice"}, // kind: 30 days
		{"audit", "audit", "k"},           // queue: forever
		{"auditPing", "audit", "ping"},    // kind before queue: 1m
		{"auditInvoice", "audit", "invoice"},
	} {
		ids[j.name] = h.enqueue(queue.NewJob{Kind: j.kind, Queue: j.queue})
		h.waitState(ids[j.name], queue.StateCompleted)
	}
	deadAudit := h.enqueue(queue.NewJob{Kind: "fail", Queue: "audit"})
	deadDefault := h.enqueue(queue.NewJob{Kind: "fail"})
	h.waitState(deadAudit, queue.StateDead)
	h.waitState(deadDefault, queue.StateDead)

	gone := func(name string, id int64) bool {
		t.Helper()
		_, err := h.q.Inspector().Get(h.ctx, id)
		if err != nil {
			require.ErrorIs(t, err, queue.ErrNotFound, name)
			return true
		}
		return false
	}
	prune := func(d time.Duration) {
		t.Helper()
		h.clock.Advance(d)
		_, err := p.Prune(h.ctx)
		require.NoError(t, err)
	}
	prune(2 * time.Minute)
	require.True(t, gone("ping", ids["ping"]))
	require.True(t, gone("auditPing", ids["auditPing"]))
	require.False(t, gone("plain", ids["plain"]))

	prune(2 * time.Hour)
	require.True(t, gone("plain", ids["plain"]))
	for _, name := range []string{"invoice", "audit", "auditInvoice"} {
		require.False(t, gone(name, ids[name]), name)
	}

	prune(24 * time.Hour)
	require.True(t, gone("dead in audit", deadAudit), "the queue keeps dead jobs a day")
	require.False(t, gone("dead in default", deadDefault), "dead jobs are kept by default")

	prune(30 * 24 * time.Hour)
	require.True(t, gone("invoice", ids["invoice"]))
	require.True(t, gone("auditInvoice", ids["auditInvoice"]), "the kind's 30 days before the queue's forever")
	require.False(t, gone("audit", ids["audit"]), "kept forever")
	require.False(t, gone("dead in default", deadDefault))
}

// KeepDead prunes dead jobs past it; unique periods that ended go too.
func TestKeepDeadAndEndedPeriods(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	p := h.pool(worker.Options{KeepDead: 48 * time.Hour}, func(p *worker.Pool) {
		p.HandleFunc("fail", func(context.Context, *queue.Job) error { return queue.Permanent(fmt.Errorf("no")) })
	})
	id := h.enqueue(queue.NewJob{Kind: "fail", UniqueKey: "u", UniqueFor: time.Hour})
	h.waitState(id, queue.StateDead)
	h.clock.Advance(2 * time.Hour)
	n, err := p.Prune(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the ended period")
	h.clock.Advance(47 * time.Hour)
	n, err = p.Prune(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the dead job")
	_, err = h.q.Inspector().Get(h.ctx, id)
	require.ErrorIs(t, err, queue.ErrNotFound)
}

func TestRetentionOptionsRefused(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	for _, o := range []worker.Options{
		{KeepDead: -time.Hour},
		{QueueKeep: map[string]worker.Keep{"bad queue": {}}},
		{KindKeep: map[string]worker.Keep{"k": {Cancelled: -2}}},
	} {
		_, err := worker.New(h.q, o)
		require.Error(t, err, "options %+v", o)
	}
	_, err := worker.New(h.q, worker.Options{KeepCompleted: worker.KeepForever, KeepDead: worker.KeepForever})
	require.NoError(t, err)
}

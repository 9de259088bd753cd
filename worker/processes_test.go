package worker_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

// A pool's process row appears at Start with its queues, follows its
// heartbeats (last seen, running jobs), and is gone at Stop.
func TestProcessRowFollowsThePool(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	started := make(chan struct{})
	release := make(chan struct{})
	p, err := worker.New(h.q, worker.Options{
		Name:          "web-1",
		Queues:        map[string]worker.QueueConfig{"mail": {MaxWorkers: 3}, "default": {MaxWorkers: 1}},
		LeaseDuration: time.Hour, // the real heartbeat ticker never fires: the test drives it
		PollInterval:  time.Hour,
	})
	require.NoError(t, err)
	p.HandleFunc("block", func(ctx context.Context, j *queue.Job) error {
		close(started)
		<-release
		return nil
	})
	in := h.q.Inspector()
	require.True(t, in.TracksProcesses())
	start := h.clock.Now()
	require.NoError(t, p.Start(h.ctx))

	ps, err := in.Processes(h.ctx)
	require.NoError(t, err)
	require.Len(t, ps, 1, "recorded at Start")
	got := ps[0]
	require.Equal(t, p.ID(), got.ID)
	require.Equal(t, "web-1", got.Name)
	require.Equal(t, os.Getpid(), got.PID)
	require.NotEmpty(t, got.Host)
	require.NotEmpty(t, got.Version)
	require.True(t, got.StartedAt.Equal(start))
	require.True(t, got.LastSeen.Equal(start))
	require.True(t, got.ExpiresAt.Equal(start.Add(worker.ProcessStaleHeartbeats*time.Hour/3)), "three heartbeat intervals")
	require.Equal(t, []queue.ProcessQueue{{Name: "default", Concurrency: 1}, {Name: "mail", Concurrency: 3}}, got.Queues)

	h.enqueue(queue.NewJob{Kind: "block", Queue: "mail"})
	recv(t, started)
	h.clock.Advance(time.Minute)
	require.NoError(t, p.Heartbeat(h.ctx))
	ps, err = in.Processes(h.ctx)
	require.NoError(t, err)
	require.Len(t, ps, 1)
	require.True(t, ps[0].LastSeen.Equal(start.Add(time.Minute)), "a heartbeat refreshes the row")
	require.True(t, ps[0].StartedAt.Equal(start))
	require.Equal(t, []queue.ProcessQueue{{Name: "default", Concurrency: 1}, {Name: "mail", Concurrency: 3, Running: 1}}, ps[0].Queues)

	st, err := in.Stats(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, st.Processes)
	require.Len(t, st.Queues, 2, "the idle queue the pool works is listed")
	require.Equal(t, queue.QueueStats{Name: "default", Workers: 1, Concurrency: 1}, st.Queues[0])

	close(release)
	require.NoError(t, p.Stop(h.ctx))
	ps, err = in.Processes(h.ctx)
	require.NoError(t, err)
	require.Empty(t, ps, "removed at Stop")
	require.NoError(t, p.Heartbeat(h.ctx))
	ps, err = in.Processes(h.ctx)
	require.NoError(t, err)
	require.Empty(t, ps, "a heartbeat after Stop does not bring it back")
}

// The row of a pool that stopped heartbeating (its host died) is ignored
// once stale, which flags its queue's pending jobs, and the next Prune
// deletes it.
func TestStaleProcessRowIgnoredAndPruned(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	dead, err := worker.New(h.q, worker.Options{Name: "dead", Queues: map[string]worker.QueueConfig{"mail": {}},
		LeaseDuration: time.Hour, PollInterval: time.Hour})
	require.NoError(t, err)
	require.NoError(t, dead.Start(h.ctx))
	t.Cleanup(func() { dead.Stop(context.Background()) })
	h.enqueue(queue.NewJob{Kind: "nobody.handles", Queue: "other"})
	require.NoError(t, h.q.Inspector().Pause(h.ctx, "mail")) // its jobs stay pending
	h.enqueue(queue.NewJob{Kind: "k", Queue: "mail"})

	in := h.q.Inspector()
	mail := func() queue.QueueStats {
		st, err := in.Stats(h.ctx)
		require.NoError(t, err)
		for _, q := range st.Queues {
			if q.Name == "mail" {
				return q
			}
		}
		t.Fatal("mail not listed")
		return queue.QueueStats{}
	}
	require.False(t, mail().Unserved, "a live pool works mail")
	require.Equal(t, 100, mail().Concurrency)

	seen := h.clock.Now()
	h.clock.Advance(worker.ProcessStaleHeartbeats*time.Hour/3 + time.Millisecond) // no heartbeat since
	ps, err := in.Processes(h.ctx)
	require.NoError(t, err)
	require.Empty(t, ps, "stale: ignored")
	require.True(t, mail().Unserved, "pending, and no live pool works it")
	require.Zero(t, mail().Concurrency)

	other, err := worker.New(h.q, worker.Options{Name: "other", Queues: map[string]worker.QueueConfig{"other": {}}, PollInterval: time.Hour})
	require.NoError(t, err)
	_, err = other.Prune(h.ctx)
	require.NoError(t, err)
	ps, err = h.store.Processes(h.ctx, seen)
	require.NoError(t, err)
	require.Empty(t, ps, "pruned: gone even for a reader whose clock is behind")
}

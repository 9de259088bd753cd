package spoolotel_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/queuetest"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

// env is a real store on a file in t.TempDir with an injected clock, and a
// queue over it with obs as its Observer.
type env struct {
	t     *testing.T
	ctx   context.Context
	store *sqlite.Store
	q     *queue.Queue
	clock *queuetest.Clock
}

var t0 = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, obs *queue.Observer) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "spool.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	clock := queuetest.NewClock(t0)
	q, err := queue.New(st, queue.Options{Now: clock.Now, Observer: obs, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	return &env{t: t, ctx: context.Background(), store: st, q: q, clock: clock}
}

func (e *env) enqueue(j queue.NewJob) queue.EnqueueResult {
	e.t.Helper()
	r, err := e.q.Enqueue(e.ctx, j)
	require.NoError(e.t, err)
	return r
}

// workload is the handlers of the known workload on queue "work": "ok"
// completes; "flaky" fails at once every time (with MaxAttempts 2: a
// retry, then dead); "nap" snoozes on its first attempt and completes on
// its second. calls counts handler calls, and called gets one value per
// call.
type workload struct {
	mu     sync.Mutex
	napped map[int64]bool
	called chan struct{}
}

func newWorkload() *workload {
	return &workload{napped: map[int64]bool{}, called: make(chan struct{}, 100)}
}

func (w *workload) register(p *worker.Pool) {
	p.HandleFunc("ok", func(context.Context, *queue.Job) error {
		w.called <- struct{}{}
		return nil
	})
	p.HandleFunc("flaky", func(context.Context, *queue.Job) error {
		w.called <- struct{}{}
		return queue.RetryIn(0, errors.New("partner down"))
	})
	p.HandleFunc("nap", func(_ context.Context, j *queue.Job) error {
		w.called <- struct{}{}
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.napped[j.ID] {
			w.napped[j.ID] = true
			return queue.Snooze(0)
		}
		return nil
	})
}

// run starts a pool on queue "work" with mws, waits for n handler calls,
// and stops the pool (which writes every outcome before it returns).
func (e *env) run(w *workload, n int, mws ...worker.Middleware) {
	e.t.Helper()
	p, err := worker.New(e.q, worker.Options{Queues: map[string]worker.QueueConfig{"work": {MaxWorkers: 4}},
		PollInterval: time.Hour, Monotonic: e.clock.Monotonic})
	require.NoError(e.t, err)
	p.Use(mws...)
	w.register(p)
	require.NoError(e.t, p.Start(e.ctx))
	for range n {
		select {
		case <-w.called:
		case <-time.After(30 * time.Second):
			e.t.Fatalf("the pool ran fewer than %d attempts", n)
		}
	}
	require.NoError(e.t, p.Stop(e.ctx))
}

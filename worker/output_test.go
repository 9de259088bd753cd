package worker_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

// progressCounter wraps a store to count RecordProgress calls and the
// updates they carry. (Embedding the *sqlite.Store keeps its wake-ups.)
type progressCounter struct {
	*sqlite.Store
	mu      sync.Mutex
	calls   int
	updates []queue.ProgressUpdate
}

func (c *progressCounter) RecordProgress(ctx context.Context, u []queue.ProgressUpdate) ([]error, error) {
	c.mu.Lock()
	c.calls++
	c.updates = append(c.updates, u...)
	c.mu.Unlock()
	return c.Store.RecordProgress(ctx, u)
}

func (c *progressCounter) counts() (calls, updates int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls, len(c.updates)
}

// A handler reporting progress in a tight loop costs one write per
// heartbeat, of its latest report, which Get shows while the job runs; the
// output and the final progress are stored with the settle and kept with
// the completed job.
func TestOutputAndProgressKeptWithCompletedJob(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	counter := &progressCounter{Store: h.store}
	q, err := queue.New(counter, queue.Options{Now: h.clock.Now})
	require.NoError(t, err)
	h.q = q
	reported, proceed := make(chan struct{}), make(chan struct{})
	// Heartbeats only when the test calls one.
	p := h.pool(worker.Options{KeepCompleted: time.Hour, LeaseDuration: time.Hour, HeartbeatInterval: 50 * time.Minute}, func(p *worker.Pool) {
		p.HandleFunc("import", func(ctx context.Context, job *queue.Job) error {
			for i := range 1000 {
				require.NoError(t, worker.ReportProgress(ctx, float64(i+1)/2000, "row "+strings.Repeat("x", i%3)))
			}
			close(reported)
			<-proceed
			require.NoError(t, worker.RecordOutput(ctx, map[string]any{"rows": 1000, "note": "<b>ok</b>"}))
			return worker.ReportProgress(ctx, 1, "done")
		})
	})
	id := h.enqueue(queue.NewJob{Kind: "import"})
	recv(t, reported)
	require.NoError(t, p.Heartbeat(h.ctx))
	calls, updates := counter.counts()
	require.Equal(t, 1, calls, "1000 reports, one write")
	require.Equal(t, 1, updates)
	j, err := h.q.Inspector().Get(h.ctx, id)
	require.NoError(t, err)
	require.Equal(t, queue.StateRunning, j.State)
	require.NotNil(t, j.Progress)
	require.Equal(t, 0.5, j.Progress.Fraction, "the latest report")
	require.Equal(t, "row ", j.Progress.Message)
	require.True(t, j.Progress.At.Equal(h.clock.Now()))
	require.Nil(t, j.Output)

	require.NoError(t, p.Heartbeat(h.ctx))
	calls, _ = counter.counts()
	require.Equal(t, 1, calls, "nothing new reported: no write")

	close(proceed)
	j = h.waitState(id, queue.StateCompleted)
	require.JSONEq(t, `{"rows":1000,"note":"<b>ok</b>"}`, string(j.Output))
	require.Equal(t, &queue.Progress{Fraction: 1, Message: "done", At: j.Progress.At}, j.Progress)
}

// Without KeepCompleted a completed job goes, and its output with it.
func TestOutputGoesWithDeletedCompletion(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	done := make(chan struct{})
	h.pool(worker.Options{}, func(p *worker.Pool) {
		p.HandleFunc("k", func(ctx context.Context, job *queue.Job) error {
			defer close(done)
			return worker.RecordOutput(ctx, "result")
		})
	})
	id := h.enqueue(queue.NewJob{Kind: "k"})
	recv(t, done)
	require.Nil(t, h.waitState(id, queue.StateCompleted))
	var n int
	require.NoError(t, h.store.DB().QueryRowContext(h.ctx, `SELECT count(*) FROM spool_job_output`).Scan(&n))
	require.Zero(t, n)
}

// A job that dies keeps the output its last attempt recorded.
func TestDeadJobKeepsOutput(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	h.pool(worker.Options{}, func(p *worker.Pool) {
		p.HandleFunc("charge", func(ctx context.Context, job *queue.Job) error {
			require.NoError(t, worker.RecordOutput(ctx, map[string]int{"charged": 0}))
			require.NoError(t, worker.ReportProgress(ctx, 0.3, "calling the bank"))
			return queue.Permanent(errors.New("card declined"))
		})
	})
	id := h.enqueue(queue.NewJob{Kind: "charge"})
	j := h.waitState(id, queue.StateDead)
	require.JSONEq(t, `{"charged":0}`, string(j.Output))
	require.NotNil(t, j.Progress)
	require.Equal(t, "calling the bank", j.Progress.Message)
}

// Output over the cap is refused naming both sizes, and the earlier output
// stays; bad progress is refused, a long message cut; outside a handler
// both fail with ErrNotInHandler.
func TestOutputAndProgressRefusals(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	var errs struct {
		big, nan, over, neg error
		msg                 string
	}
	h.pool(worker.Options{MaxOutput: 64, KeepCompleted: time.Hour}, func(p *worker.Pool) {
		p.HandleFunc("k", func(ctx context.Context, job *queue.Job) error {
			require.NoError(t, worker.RecordOutput(ctx, "small"))
			errs.big = worker.RecordOutput(ctx, strings.Repeat("a", 100))
			errs.nan = worker.ReportProgress(ctx, math.NaN(), "")
			errs.over = worker.ReportProgress(ctx, 1.01, "")
			errs.neg = worker.ReportProgress(ctx, -1, "")
			return worker.ReportProgress(ctx, 0.5, strings.Repeat("é", queue.MaxProgressMessage))
		})
	})
	id := h.enqueue(queue.NewJob{Kind: "k"})
	j := h.waitState(id, queue.StateCompleted)
	require.ErrorIs(t, errs.big, worker.ErrOutputTooLarge)
	require.ErrorContains(t, errs.big, "102 bytes")
	require.ErrorContains(t, errs.big, "cap of 64 bytes")
	for _, err := range []error{errs.nan, errs.over, errs.neg} {
		require.ErrorIs(t, err, queue.ErrInvalidArgument)
	}
	require.Equal(t, `"small"`, string(j.Output))
	require.Len(t, j.Progress.Message, queue.MaxProgressMessage)
	require.Equal(t, strings.Repeat("é", queue.MaxProgressMessage/2), j.Progress.Message)

	require.ErrorIs(t, worker.RecordOutput(h.ctx, 1), worker.ErrNotInHandler)
	require.ErrorIs(t, worker.ReportProgress(h.ctx, 1, ""), worker.ErrNotInHandler)
	_, err := worker.New(h.q, worker.Options{MaxOutput: -1})
	require.ErrorContains(t, err, "MaxOutput")
}

// CompleteTx commits the output recorded so far with the job.
func TestCompleteTxStoresOutput(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	done := make(chan struct{})
	h.pool(worker.Options{KeepCompleted: time.Hour}, func(p *worker.Pool) {
		p.HandleFunc("k", func(ctx context.Context, job *queue.Job) error {
			defer close(done)
			require.NoError(t, worker.RecordOutput(ctx, []int{7}))
			tx, err := h.store.DB().BeginTx(ctx, nil)
			require.NoError(t, err)
			defer tx.Rollback()
			require.NoError(t, p.CompleteTx(ctx, tx, job))
			return tx.Commit()
		})
	})
	id := h.enqueue(queue.NewJob{Kind: "k"})
	recv(t, done)
	j := h.waitState(id, queue.StateCompleted)
	require.JSONEq(t, `[7]`, string(j.Output))
}

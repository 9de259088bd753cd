package worker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/sqlitetest"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/queuetest"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

// leaseWatch is a real store that reports the monotonic clock's reading at
// every Lease call.
type leaseWatch struct {
	*sqlite.Store
	clock *queuetest.Clock
	calls chan time.Duration
}

func (w *leaseWatch) Lease(ctx context.Context, p queue.LeaseParams) (queue.LeaseResult, error) {
	res, err := w.Store.Lease(ctx, p)
	w.calls <- w.clock.Monotonic()
	return res, err
}

// recordSink keeps every log record's level and message.
type recordSink struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (s *recordSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *recordSink) Handle(_ context.Context, r slog.Record) error {
	s.mu.Lock()
	s.recs = append(s.recs, r)
	s.mu.Unlock()
	return nil
}
func (s *recordSink) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s *recordSink) WithGroup(string) slog.Handler      { return s }

// matching returns the messages of the records at level whose message
// contains text.
func (s *recordSink) matching(level slog.Level, text string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.recs {
		if r.Level == level && strings.Contains(r.Message, text) {
			out = append(out, r.Message)
		}
	}
	return out
}

// A corrupted page must not make the pool retry the lease hundreds of
// times a second, logging each failure. On a real file whose ready index
// has a damaged page, the fetcher backs off on the pool's
// clock (1s, 2s, 4s, ... up to 30s) and logs one error that says what to
// do. The clock moves a quarter second each time the pool reads it, so
// time passes only as fast as the pool looks at it.
func TestCorruptPageBacksOffLeasing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "spool.db")
	sqlitetest.FileWithJobs(t, path, "k", 300)
	sqlitetest.CorruptPage(t, path, "spool_jobs_ready")

	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	clock := queuetest.NewClock(time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC))
	watch := &leaseWatch{Store: st, clock: clock, calls: make(chan time.Duration, 1000)}
	q, err := queue.New(watch, queue.Options{Now: clock.Now})
	require.NoError(t, err)
	sink := &recordSink{}
	p, err := worker.New(q, worker.Options{
		Queues:              map[string]worker.QueueConfig{queue.DefaultQueue: {MaxWorkers: 4}},
		LeaseDuration:       2 * time.Hour,
		HeartbeatInterval:   time.Hour,
		MaintenanceInterval: time.Hour,
		PollInterval:        time.Millisecond,
		Monotonic: func() time.Duration {
			clock.Advance(250 * time.Millisecond)
			return clock.Monotonic()
		},
		Logger: slog.New(sink),
	})
	require.NoError(t, err)
	p.HandleFunc("k", func(context.Context, *queue.Job) error { return nil })
	require.NoError(t, p.Start(ctx))
	t.Cleanup(func() { p.Stop(context.Background()) })

	const attempts = 9
	at := make([]time.Duration, attempts)
	for i := range at {
		at[i] = recv(t, watch.calls)
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	inFirstMinute := 0
	for i, m := range at {
		if m-at[0] <= time.Minute {
			inFirstMinute++
		}
		if i == 0 {
			continue
		}
		gap, w := m-at[i-1], want[i-1]*time.Second
		require.True(t, gap >= w && gap <= w+time.Second,
			"lease attempt %d came %s after the one before; want the back-off of %s (attempts at %v)", i+1, gap, w, at)
	}
	require.LessOrEqual(t, inFirstMinute, 6, "lease attempts in the first minute of corruption")

	logged := sink.matching(slog.LevelError, "")
	require.Len(t, logged, 1, "one error record for the episode: %q", logged)
	for _, s := range []string{"corrupt", "spool check -db " + path, "integrity_check", "backup", "sqlite3 " + path + " .recover"} {
		require.Contains(t, logged[0], s)
	}
}

// A settle that reaches a damaged page can never succeed, and must not
// hold up every other job's outcome behind it. With
// the index of kept finished jobs damaged, completions (kept) fail while
// retries (healthy pages) must still be settled; the damage is logged with
// what to do, and the completed job is left to its lease.
func TestCorruptPageDoesNotWedgeTheSettler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "spool.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	q, err := queue.New(st, queue.Options{})
	require.NoError(t, err)
	// Something in the index, so that it has a root page of its own.
	_, err = q.Enqueue(ctx, queue.NewJob{Kind: "seed"})
	require.NoError(t, err)
	lease, err := st.Lease(ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 1, Now: time.Now(), Until: time.Now().Add(time.Hour), Worker: "seed"})
	require.NoError(t, err)
	_, err = st.Settle(ctx, nil, []queue.Settlement{{JobID: lease.Jobs[0].ID, Token: lease.Jobs[0].LeaseToken, Queue: queue.DefaultQueue,
		Outcome: queue.OutcomeComplete, Keep: true, Now: time.Now()}})
	require.NoError(t, err)
	require.NoError(t, st.Close())
	sqlitetest.CorruptPage(t, path, "spool_jobs_finished")

	st, err = sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	clock := queuetest.NewClock(time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC))
	q, err = queue.New(st, queue.Options{Now: clock.Now})
	require.NoError(t, err)
	sink := &recordSink{}
	p, err := worker.New(q, worker.Options{
		Queues:              map[string]worker.QueueConfig{queue.DefaultQueue: {MaxWorkers: 8}},
		LeaseDuration:       2 * time.Hour,
		HeartbeatInterval:   time.Hour,
		MaintenanceInterval: time.Hour,
		PollInterval:        time.Hour,
		KeepCompleted:       time.Hour,
		Backoff:             func(int) time.Duration { return time.Hour },
		Logger:              slog.New(sink),
	})
	require.NoError(t, err)
	done := make(chan struct{})
	var completed int64
	p.HandleFunc("ok", func(context.Context, *queue.Job) error { <-done; return nil })
	p.HandleFunc("fail", func(context.Context, *queue.Job) error { <-done; return errors.New("partner down") })
	require.NoError(t, p.Start(ctx))
	t.Cleanup(func() { p.Stop(context.Background()) })
	res, err := q.Enqueue(ctx, queue.NewJob{Kind: "ok"})
	require.NoError(t, err)
	completed = res.ID
	var failing []int64
	for range 3 {
		res, err := q.Enqueue(ctx, queue.NewJob{Kind: "fail"})
		require.NoError(t, err)
		failing = append(failing, res.ID)
	}
	require.Eventually(t, func() bool {
		running, err := q.Inspector().List(ctx, queue.ListFilter{State: queue.StateRunning})
		require.NoError(t, err)
		return len(running) == 4
	}, 10*time.Second, time.Millisecond)
	close(done) // all four outcomes reach the settler together

	for _, id := range failing {
		require.Eventually(t, func() bool {
			j, err := q.Inspector().Get(ctx, id)
			require.NoError(t, err)
			return j.State == queue.StateScheduled
		}, 10*time.Second, time.Millisecond, "failed job %d was never settled", id)
	}
	require.Eventually(t, func() bool { return len(sink.matching(slog.LevelError, "corrupt")) > 0 }, 10*time.Second, time.Millisecond)
	logged := sink.matching(slog.LevelError, "corrupt")
	require.Len(t, logged, 1, "%q", logged)
	require.Contains(t, logged[0], "spool check -db "+path)
	j, err := q.Inspector().Get(ctx, completed)
	require.NoError(t, err)
	require.Equal(t, queue.StateRunning, j.State, "the completion could not be written: the job waits for its lease to expire")
}

// extendHook is a real store whose Extend fails, as a damaged page makes
// it, for any batch that includes the job bad.
type extendHook struct {
	*sqlite.Store
	bad int64
}

func (e *extendHook) Extend(ctx context.Context, refs []queue.LeaseRef, until time.Time) (queue.ExtendResult, error) {
	for _, r := range refs {
		if r.JobID == e.bad {
			return queue.ExtendResult{}, fmt.Errorf("%w: database disk image is malformed (11)", queue.ErrCorrupt)
		}
	}
	return e.Store.Extend(ctx, refs, until)
}

// A heartbeat whose batch reaches a damaged page still extends the other
// jobs' leases: one bad row must not cost every running job of the pool
// its lease (they would be rescued and run twice).
func TestCorruptPageDoesNotCostOtherJobsTheirLeases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "spool.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	hook := &extendHook{Store: st}
	clock := queuetest.NewClock(time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC))
	q, err := queue.New(hook, queue.Options{Now: clock.Now})
	require.NoError(t, err)
	var ids []int64
	for range 4 {
		r, err := q.Enqueue(ctx, queue.NewJob{Kind: "block"})
		require.NoError(t, err)
		ids = append(ids, r.ID)
	}
	hook.bad = ids[1]
	release := make(chan struct{})
	started := make(chan int64, 4)
	p, err := worker.New(q, worker.Options{
		LeaseDuration: time.Minute, HeartbeatInterval: 50 * time.Second, MaintenanceInterval: time.Hour, PollInterval: time.Hour,
	})
	require.NoError(t, err)
	p.HandleFunc("block", func(ctx context.Context, j *queue.Job) error {
		started <- j.ID
		<-release
		return nil
	})
	require.NoError(t, p.Start(ctx))
	t.Cleanup(func() { close(release); p.Stop(context.Background()) })
	for range 4 {
		recv(t, started)
	}

	clock.Advance(30 * time.Second)
	err = p.Heartbeat(ctx)
	require.ErrorIs(t, err, queue.ErrCorrupt)
	require.Contains(t, err.Error(), fmt.Sprintf("jobs [%d]", ids[1]))
	for _, id := range ids {
		j, err := q.Inspector().Get(ctx, id)
		require.NoError(t, err)
		want := clock.Now().Add(time.Minute)
		if id == ids[1] {
			want = clock.Now().Add(30 * time.Second) // the lease it had
		}
		require.True(t, j.LeaseUntil.Equal(want), "job %d: lease until %s, want %s", id, j.LeaseUntil, want)
	}
}

package worker_test

// Test helpers shared by the pool's tests: a store on a real file with an
// injected clock, a store whose Settle can be made to fail, a log sink.

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/queuetest"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

type harness struct {
	t     *testing.T
	ctx   context.Context
	store *sqlite.Store
	q     *queue.Queue
	clock *queuetest.Clock
}

// newTestQueue opens a fresh store on a real file with an injected clock.
func newTestQueue(t *testing.T) *harness {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "spool.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	clock := queuetest.NewClock(time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC))
	q, err := queue.New(st, queue.Options{Now: clock.Now})
	require.NoError(t, err)
	return &harness{t: t, ctx: context.Background(), store: st, q: q, clock: clock}
}

// pool starts a pool whose only way to find work is being told (PollInterval
// of an hour): tests never depend on polling.
func (h *harness) pool(opts worker.Options, register func(p *worker.Pool)) *worker.Pool {
	h.t.Helper()
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Hour
	}
	p, err := worker.New(h.q, opts)
	require.NoError(h.t, err)
	register(p)
	require.NoError(h.t, p.Start(h.ctx))
	h.t.Cleanup(func() { p.Stop(context.Background()) })
	return p
}

func (h *harness) enqueue(j queue.NewJob) int64 {
	h.t.Helper()
	r, err := h.q.Enqueue(h.ctx, j)
	require.NoError(h.t, err)
	return r.ID
}

// waitState waits, without sleeping, until job id reaches state: every
// settle the pool makes is followed by the test's own read.
func (h *harness) waitState(id int64, want queue.State) *queue.Job {
	h.t.Helper()
	var j *queue.Job
	require.Eventually(h.t, func() bool {
		var err error
		j, err = h.q.Inspector().Get(h.ctx, id)
		if errors.Is(err, queue.ErrNotFound) && want == queue.StateCompleted {
			j = nil
			return true
		}
		require.NoError(h.t, err)
		return j.State == want
	}, 10*time.Second, time.Millisecond, "job %d never reached %s", id, want)
	return j
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a signal")
		panic("unreachable")
	}
}

// hookStore wraps a sqlite store so tests can fail or delay Settle.
type hookStore struct {
	*sqlite.Store
	settle func(ctx context.Context, tx *sql.Tx, s []queue.Settlement) (bool, []error, error)
}

func (h *hookStore) Settle(ctx context.Context, tx *sql.Tx, s []queue.Settlement) ([]error, error) {
	if h.settle != nil {
		if handled, errs, err := h.settle(ctx, tx, s); handled {
			return errs, err
		}
	}
	return h.Store.Settle(ctx, tx, s)
}

func newHookQueue(t *testing.T) (*hookStore, *queue.Queue, *queuetest.Clock) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "spool.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	hs := &hookStore{Store: st}
	clock := queuetest.NewClock(time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC))
	q, err := queue.New(hs, queue.Options{Now: clock.Now})
	require.NoError(t, err)
	return hs, q, clock
}

// logSink records log messages.
type logSink struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logSink) Enabled(context.Context, slog.Level) bool { return true }

func (l *logSink) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}

func (l *logSink) WithAttrs([]slog.Attr) slog.Handler { return l }

func (l *logSink) WithGroup(string) slog.Handler { return l }

func (l *logSink) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// count returns how many recorded messages contain s.
func (l *logSink) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, s) {
			n++
		}
	}
	return n
}

// countLines returns how many complete lines the file at path holds (0 if
// it does not exist yet).
func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(t, err)
	return bytes.Count(b, []byte{'\n'})
}

// testSeed returns the seed of a randomized test: the value of env when
// set (to replay a run), else a fresh one; it logs which, with what it
// drives.
func testSeed(t *testing.T, env, drives string) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(env); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, env)
	}
	t.Logf("seed %d (replay %s with %s=%d)", seed, drives, env, seed)
	return seed
}

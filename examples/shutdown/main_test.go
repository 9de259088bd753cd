package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/syncbuf"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// A short job finishes within the grace period; a long one is interrupted
// and released, pending for the next start with its attempt refunded.
func TestShutdownExample(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "shutdown.db")
	ctx := context.Background()
	store, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	q, err := queue.New(store, queue.Options{})
	require.NoError(t, err)
	short, err := q.Enqueue(ctx, queue.NewJob{Kind: "report", Payload: []byte(strings.Repeat("x", 300))}) // 300ms of work
	require.NoError(t, err)
	long, err := q.Enqueue(ctx, queue.NewJob{Kind: "report", Payload: make([]byte, 600_000)}) // 10 minutes
	require.NoError(t, err)
	require.NoError(t, store.Close())

	runCtx, interrupt := context.WithCancel(ctx)
	started := make(chan int64, 2)
	out := &syncbuf.Buffer{}
	done := make(chan error, 1)
	go func() { done <- run(runCtx, path, 2*time.Second, out, started) }()
	<-started
	<-started
	interrupt() // what Ctrl-C does
	require.NoError(t, <-done)

	text := out.String()
	require.Contains(t, text, "job 1 finished")
	require.Contains(t, text, "job 2 interrupted: worker: pool stopping")
	require.Contains(t, text, "queue default: 1 pending for the next start")

	store, err = sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	defer store.Close()
	q, err = queue.New(store, queue.Options{})
	require.NoError(t, err)
	_, err = q.Inspector().Get(ctx, short.ID)
	require.ErrorIs(t, err, queue.ErrNotFound, "the finished job completed")
	j, err := q.Inspector().Get(ctx, long.ID)
	require.NoError(t, err)
	require.Equal(t, queue.StatePending, j.State)
	require.Equal(t, 0, j.Attempt)
}

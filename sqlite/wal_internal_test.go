package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// A read transaction left open pins the write-ahead log: the log grows
// past its bound while the reader stays, and the writer must not stall
// every commit waiting for it. Before, each commit past half the bound
// waited a tenth of the busy timeout (1 s here) for the reader, and past
// three quarters up to the whole busy timeout.
func TestWALBoundDoesNotStallWritesForALongReader(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "spool.db")
	s, err := Open(ctx, path, Options{MaxWALSize: 1 << 20, BusyTimeout: 10 * time.Second})
	require.NoError(t, err)
	defer s.Close()
	q, err := queue.New(s, queue.Options{})
	require.NoError(t, err)

	reader, err := s.DB().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	require.NoError(t, err)
	var n int
	require.NoError(t, reader.QueryRow(`SELECT count(*) FROM spool_jobs`).Scan(&n))

	payload := []byte(`"` + strings.Repeat("x", 16<<10) + `"`)
	slow := 0
	start := time.Now()
	for i := 0; i < 120 && time.Since(start) < 30*time.Second; i++ {
		t0 := time.Now()
		_, err := q.Enqueue(ctx, queue.NewJob{Kind: "k", Payload: payload})
		require.NoError(t, err)
		if time.Since(t0) > 800*time.Millisecond {
			slow++
		}
	}
	size, err := s.walSize()
	require.NoError(t, err)
	require.Greater(t, size, int64(1<<20), "the reader pinned the log, so it grew past the bound")
	require.LessOrEqual(t, slow, 1, "commits that waited for the reader")

	// Once the reader is gone, the log is emptied again.
	require.NoError(t, reader.Rollback())
	require.Eventually(t, func() bool {
		if _, err := q.Enqueue(ctx, queue.NewJob{Kind: "k"}); err != nil {
			return false
		}
		size, err := s.walSize()
		return err == nil && size <= 1<<20
	}, 20*time.Second, 10*time.Millisecond)
}

// The log of a store opened through a symbolic link is next to the file the
// link names, and that is the log whose size the bound watches. Before, it
// looked beside the link, found nothing, and never acted.
func TestWALSizeThroughSymlink(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "data"), 0o755))
	real := filepath.Join(dir, "data", "real.db")
	link := filepath.Join(dir, "link.db")
	s0, err := Open(ctx, real, Options{})
	require.NoError(t, err)
	require.NoError(t, s0.Close())
	require.NoError(t, os.Symlink(real, link))
	s, err := Open(ctx, link, Options{})
	require.NoError(t, err)
	defer s.Close()
	q, err := queue.New(s, queue.Options{})
	require.NoError(t, err)
	for range 50 {
		_, err := q.Enqueue(ctx, queue.NewJob{Kind: "k"})
		require.NoError(t, err)
	}
	size, err := s.walSize()
	require.NoError(t, err)
	fi, err := os.Stat(real + "-wal")
	require.NoError(t, err)
	require.Positive(t, fi.Size())
	require.Equal(t, fi.Size(), size)
	// The writers' turn is beside the real file too, so that processes
	// opening it by either name share it.
	_, err = os.Stat(real + "-lock")
	require.NoError(t, err)
}

package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// The statement the writer keeps for reading leased jobs back is closed
// with the store: a statement left open keeps SQLite's connection, and
// the file, open after Close.
func TestCloseReleasesLeaseStatement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "spool.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	now := time.Now()
	_, err = s.Enqueue(ctx, nil, now, []queue.NewJob{{Queue: queue.DefaultQueue, Kind: "k", Payload: []byte("{}"), MaxAttempts: 1, RunAt: now}})
	require.NoError(t, err)
	res, err := s.Lease(ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 1, Now: now, Until: now.Add(time.Minute), Worker: "w"})
	require.NoError(t, err)
	require.Len(t, res.Jobs, 1)
	require.NotZero(t, openFiles(t, path))
	require.NoError(t, s.Close())
	require.Zero(t, openFiles(t, path), "files of %s still open after Close", path)
}

// openFiles counts this process's open files whose path starts with path.
func openFiles(t *testing.T, path string) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(target, path) {
			n++
		}
	}
	return n
}

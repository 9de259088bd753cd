package sqlite_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/sqlitetest"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// A damaged page makes the calls that reach it fail with queue.ErrCorrupt
// and the advice what to do, not with an unclassified driver error; calls
// that touch only healthy pages go on working.
func TestCorruptPageIsErrCorrupt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, object := range []string{"spool_jobs_ready", "spool_jobs"} {
		t.Run(object, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "q.db")
			s, err := sqlite.Open(ctx, path, sqlite.Options{})
			require.NoError(t, err)
			q := newQueue(t, s)
			jobs := make([]queue.NewJob, 200)
			for i := range jobs {
				jobs[i] = queue.NewJob{Kind: "k", Payload: []byte(`{"n":1}`)}
			}
			_, err = q.EnqueueMany(ctx, jobs)
			require.NoError(t, err)
			require.NoError(t, s.Close())
			sqlitetest.CorruptPage(t, path, object)

			s, err = sqlite.Open(ctx, path, sqlite.Options{})
			require.NoError(t, err, "the schema and the migrations table are intact")
			defer s.Close()
			q = newQueue(t, s)
			now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
			_, err = s.Lease(ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 10, Now: now, Until: now.Add(time.Minute), Worker: "w"})
			require.ErrorIs(t, err, queue.ErrCorrupt)
			require.Contains(t, err.Error(), "spool check")
			require.Contains(t, err.Error(), "malformed", "the driver's own message is kept")
			// The counts walk the ready index, not the table's own pages.
			_, err = s.Stats(ctx, now)
			if object == "spool_jobs_ready" {
				require.ErrorIs(t, err, queue.ErrCorrupt)
			} else {
				require.NoError(t, err)
			}
			// Pages the damage does not reach still work.
			require.NoError(t, q.Inspector().Pause(ctx, "other"))
		})
	}
}

// A file that is not a database is also queue.ErrCorrupt (SQLITE_NOTADB),
// and its message still says what it is and names the file.
func TestNotADatabaseIsErrCorrupt(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "notes.db")
	require.NoError(t, os.WriteFile(path, bytes.Repeat([]byte("not a database\n"), 600), 0o644))
	_, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	require.ErrorIs(t, err, queue.ErrCorrupt)
	require.Contains(t, err.Error(), "not a SQLite database")
	require.Contains(t, err.Error(), path)
}

// Check finds nothing in a sound file and reports the damaged page of a
// corrupted one, with both checks.
func TestCheckFindsCorruptPage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	sqlitetest.FileWithJobs(t, path, "k", 300)
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	for _, full := range []bool{false, true} {
		problems, err := s.Check(ctx, full)
		require.NoError(t, err)
		require.Empty(t, problems, "full %v", full)
	}
	require.NoError(t, s.Close())
	sqlitetest.CorruptPage(t, path, "spool_jobs_ready")

	s, err = sqlite.Open(ctx, path, sqlite.Options{ReadOnly: true})
	require.NoError(t, err)
	defer s.Close()
	for _, full := range []bool{false, true} {
		problems, err := s.Check(ctx, full)
		require.NoError(t, err)
		require.NotEmpty(t, problems, "full %v", full)
		t.Logf("full %v: %q", full, problems)
	}
}

package sqlite_test

// Regression tests for bugs a review of the store's opening, writer and
// validation found: each failed before its fix.

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// A batch larger than MaxPending can never fit: WaitWhenFull does not wait
// for room that cannot come, and the error says so.
func TestWaitWhenFullRefusesBatchLargerThanLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openStore(t, sqlite.Options{})
	q, err := queue.New(s, queue.Options{WaitWhenFull: true, FullRetryInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, q.Inspector().SetQueueSettings(ctx, queue.DefaultQueue, queue.QueueSettings{MaxPending: 2}))
	done := make(chan error, 1)
	go func() {
		_, err := q.EnqueueMany(ctx, []queue.NewJob{{Kind: "a"}, {Kind: "b"}, {Kind: "c"}})
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, queue.ErrQueueFull)
		require.ErrorContains(t, err, "a call adding 3 can never fit")
	case <-time.After(time.Minute):
		t.Fatal("EnqueueMany waits for room that can never exist")
	}
}

// With an app pool of one connection, held by the caller's own transaction,
// an Enqueue outside it cannot run; it ends with its ctx instead of hanging
// (the writer takes operations only once it has a connection).
func TestEnqueueHonoursCtxWhileWriterWaitsForConn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	dsn, err := sqlite.DSN(path, sqlite.Options{})
	require.NoError(t, err)
	db, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	defer db.Close()
	s, err := sqlite.New(ctx, db, sqlite.Options{})
	require.NoError(t, err)
	q := newQueue(t, s)

	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := q.Enqueue(cctx, queue.NewJob{Kind: "k"})
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.DeadlineExceeded)
	case <-time.After(3 * time.Second):
		tx.Rollback()
		<-done
		t.Fatal("Enqueue ignored its ctx deadline while the writer waited for a pool connection")
	}
	tx.Rollback()
	s.Close()
}

// ":memory:" would give every pooled connection its own empty database:
// Open refuses it and says why.
func TestOpenMemoryRefused(t *testing.T) {
	_, err := sqlite.Open(context.Background(), ":memory:", sqlite.Options{})
	require.ErrorContains(t, err, `":memory:" is not supported`)
}

// A positive busy timeout below 1ms rounds up: it still waits.
func TestSubMillisecondBusyTimeoutWaits(t *testing.T) {
	t.Parallel()
	d, err := sqlite.DSN("x.db", sqlite.Options{BusyTimeout: 500 * time.Microsecond})
	require.NoError(t, err)
	require.Contains(t, d, "busy_timeout%281%29", d)
}

// Metadata that is not valid UTF-8 is refused: JSON would change it, and
// keys differing only there would merge.
func TestMetadataInvalidUTF8Refused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openStore(t, sqlite.Options{})
	q := newQueue(t, s)
	_, err := q.Enqueue(ctx, queue.NewJob{Kind: "k", Metadata: map[string]string{"k\xff": "1", "k\xfe": "2"}})
	require.ErrorIs(t, err, queue.ErrInvalidJob)
	require.ErrorContains(t, err, "not valid UTF-8")
}

// Errors about the file itself (here: read-only) name the file.
func TestWriteErrorNamesFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ro.db")
	rw, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	require.NoError(t, rw.Close())
	ro, err := sqlite.Open(ctx, path, sqlite.Options{ReadOnly: true})
	require.NoError(t, err)
	defer ro.Close()
	_, err = newQueue(t, ro).Enqueue(ctx, queue.NewJob{Kind: "k"})
	require.ErrorIs(t, err, queue.ErrReadOnly)
	require.True(t, strings.Contains(err.Error(), path), "error %q does not name %s", err, path)
}

// Close of a read-only store closes its connections too (it leaked them,
// and with them the file's -wal and -shm).
func TestReadOnlyCloseClosesConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ro.db")
	rw, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	require.NoError(t, rw.Close())
	ro, err := sqlite.Open(ctx, path, sqlite.Options{ReadOnly: true})
	require.NoError(t, err)
	_, err = newQueue(t, ro).Inspector().Stats(ctx)
	require.NoError(t, err)
	db := ro.DB()
	require.NoError(t, ro.Close())
	require.Zero(t, db.Stats().OpenConnections)
}

//go:build linux

package sqlite_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// holdTurn takes the writers' turn of the database at path as another
// process's writer would, and returns a func that gives it back.
func holdTurn(t *testing.T, path string) func() {
	t.Helper()
	f, err := os.OpenFile(path+"-lock", os.O_RDWR, 0)
	require.NoError(t, err)
	// The store's writer gives the turn back just after it answers its
	// callers (or, while operations keep coming, after a slice).
	require.Eventually(t, func() bool {
		fl := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart, Start: 0, Len: 1}
		return unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &fl) == nil
	}, 5*time.Second, 100*time.Microsecond, "the store kept the turn")
	return func() { f.Close() }
}

// A writer that cannot get the turn within the busy timeout fails with
// queue.ErrBusy naming the lock file, and writes work again once the turn
// is given back (the abandoned wait does not take it along).
func TestTurnHeldPastBusyTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openStore(t, sqlite.Options{BusyTimeout: 200 * time.Millisecond})
	q := newQueue(t, s)
	_, err := q.Enqueue(ctx, queue.NewJob{Kind: "a"})
	require.NoError(t, err)

	release := holdTurn(t, path)
	_, err = q.Enqueue(ctx, queue.NewJob{Kind: "b"})
	require.ErrorIs(t, err, queue.ErrBusy)
	require.Contains(t, err.Error(), filepath.Base(path)+"-lock")
	release()

	for i := range 3 {
		_, err = q.Enqueue(ctx, queue.NewJob{Kind: "c"})
		require.NoError(t, err, "enqueue %d after the turn came back", i)
	}
	// The turn is this store's while it writes, and free once it is idle.
	release = holdTurn(t, path)
	release()
}

// Close ends a writer's wait for the turn at once.
func TestCloseWhileWaitingForTurn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "spool.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{BusyTimeout: time.Minute})
	require.NoError(t, err)
	q := newQueue(t, s)
	release := holdTurn(t, path)
	defer release()
	errc := make(chan error, 1)
	go func() {
		_, err := q.Enqueue(ctx, queue.NewJob{Kind: "a"})
		errc <- err
	}()
	// Wait until the writer is waiting: it marks the second byte.
	f, err := os.Open(path + "-lock")
	require.NoError(t, err)
	defer f.Close()
	require.Eventually(t, func() bool {
		fl := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart, Start: 1, Len: 1}
		return unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &fl) == nil && fl.Type != unix.F_UNLCK
	}, 10*time.Second, time.Millisecond)
	require.NoError(t, s.Close())
	require.ErrorIs(t, <-errc, queue.ErrClosed)
}

// Writes that time out waiting for the turn do not pile up waits: at most
// one blocked wait (and its open file) per store. Before, each timed-out
// write left a goroutine blocked in the kernel with its own open file.
func TestTurnTimeoutsDoNotLeak(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openStore(t, sqlite.Options{BusyTimeout: 20 * time.Millisecond})
	q := newQueue(t, s)
	release := holdTurn(t, path)
	for range 40 {
		_, err := q.Enqueue(ctx, queue.NewJob{Kind: "a"})
		require.ErrorIs(t, err, queue.ErrBusy)
	}
	lockFile, err := filepath.EvalSymlinks(path + "-lock")
	require.NoError(t, err)
	open := 0
	entries, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	for _, e := range entries {
		if target, _ := os.Readlink("/proc/self/fd/" + e.Name()); target == lockFile {
			open++
		}
	}
	// The store's own and holdTurn's (other tests' stores use other files).
	require.LessOrEqual(t, open, 2, "open files on the lock file after 40 timed-out writes")
	release()
	// The wait still pending gets the turn and the writes go on.
	_, err = q.Enqueue(ctx, queue.NewJob{Kind: "b"})
	require.NoError(t, err)
}

// The lock file has the database's mode whatever the umask, as SQLite's -wal
// and -shm do: every user who may write the database may take the turn.
func TestTurnLockFileHasTheDatabasesMode(t *testing.T) {
	old := unix.Umask(0o022)
	defer unix.Umask(old)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "spool.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, os.Chmod(path, 0o660))
	require.NoError(t, os.Remove(path+"-lock"))
	s, err = sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	defer s.Close()
	fi, err := os.Stat(path + "-lock")
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o660), fi.Mode().Perm())
}

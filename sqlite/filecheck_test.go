package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/childtest"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// enqueueOne enqueues one job and returns the error.
func enqueueOne(q *queue.Queue) error {
	_, err := q.Enqueue(context.Background(), queue.NewJob{Kind: "k", Payload: []byte("p")})
	return err
}

// requireFileGone checks that err says the file at path was deleted or
// replaced.
func requireFileGone(t *testing.T, err error, path string) {
	t.Helper()
	require.ErrorIs(t, err, queue.ErrFileGone)
	require.Contains(t, err.Error(), path)
}

// requireNewConnRefused takes every connection of the store's read pool
// (Options.ReadConns 4), so that at least one must be new, and checks that
// a new one is refused with queue.ErrFileGone.
func requireNewConnRefused(t *testing.T, s *sqlite.Store, path string) {
	t.Helper()
	var err error
	for i := 0; i < 4 && err == nil; i++ {
		var c *sql.Conn
		if c, err = s.DB().Conn(context.Background()); err == nil {
			defer c.Close()
		}
	}
	requireFileGone(t, err, path)
}

// A store whose file is deleted under it fails every write, loudly, and
// neither a later read nor Close creates a new file at the path.
func TestDeletedFileFailsWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openStore(t, sqlite.Options{})
	q := newQueue(t, s)
	require.NoError(t, enqueueOne(q))

	walBefore, err := os.ReadFile(path + "-wal")
	require.NoError(t, err)
	require.NoError(t, os.Remove(path))

	// Another store opening the path meanwhile (another process, in
	// issue 12) must not start an empty database over the live -wal.
	_, err = sqlite.Open(ctx, path, sqlite.Options{})
	require.Error(t, err)
	require.Contains(t, err.Error(), path+"-wal")
	walAfter, err := os.ReadFile(path + "-wal")
	require.NoError(t, err)
	require.True(t, bytes.Equal(walBefore, walAfter), "the -wal was changed")

	// The very next write fails: it is checked before its commit.
	err = enqueueOne(q)
	requireFileGone(t, err, path)
	require.Contains(t, err.Error(), "deleted")
	_, err = q.EnqueueMany(ctx, []queue.NewJob{{Kind: "k"}, {Kind: "k"}})
	requireFileGone(t, err, path)
	require.ErrorIs(t, q.Inspector().Pause(ctx, queue.DefaultQueue), queue.ErrFileGone)
	require.ErrorIs(t, s.Vacuum(ctx), queue.ErrFileGone)

	// Reads that need new connections must not create an empty database
	// where the file was.
	requireNewConnRefused(t, s, path)

	require.NoError(t, s.Close())
	_, err = os.Stat(path)
	require.ErrorIs(t, err, fs.ErrNotExist, "the database file was created again")

	// SQLite leaves the -wal of a moved database file in place (it does
	// not checkpoint it on close): a later Open refuses to start afresh
	// over it.
	if _, err := os.Stat(path + "-wal"); err == nil {
		_, err = sqlite.Open(ctx, path, sqlite.Options{})
		require.Error(t, err)
		require.Contains(t, err.Error(), path+"-wal")
		_, err = os.Stat(path)
		require.ErrorIs(t, err, fs.ErrNotExist)
	}
}

// The background check notices the deletion too, so that writes in the
// app's own transactions (EnqueueTx), which the writer does not commit,
// fail as well.
func TestDeletedFileNoticedInBackground(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openStore(t, sqlite.Options{})
	q := newQueue(t, s)
	require.NoError(t, sqlite.RunFileCheckOnce(s))

	require.NoError(t, os.Remove(path))
	requireFileGone(t, sqlite.RunFileCheckOnce(s), path)

	tx, err := s.DB().BeginTx(ctx, nil)
	if err == nil { // the pooled connection may be gone with the file
		_, err = q.EnqueueTx(ctx, tx, queue.NewJob{Kind: "k"})
		tx.Rollback()
	}
	require.Error(t, err)
	require.ErrorIs(t, err, queue.ErrFileGone)
}

// A Tx twin in a transaction begun before the file was deleted looks at the
// file itself: the caller's commit is out of the store's sight, and the
// background check may not have run yet. Before, it was accepted (and lost).
func TestDeletedFileRefusesTxTwin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openStore(t, sqlite.Options{})
	q := newQueue(t, s)
	tx, err := s.DB().BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	require.NoError(t, os.Remove(path))
	_, err = q.EnqueueTx(ctx, tx, queue.NewJob{Kind: "k"})
	requireFileGone(t, err, path)
}

// Another database renamed over the store's file: the store's writes would
// go to the old, unnamed file, so they fail; the replacement is untouched.
func TestReplacedFileFailsWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openStore(t, sqlite.Options{})
	q := newQueue(t, s)
	require.NoError(t, enqueueOne(q))

	other := filepath.Join(t.TempDir(), "other.db")
	o, err := sqlite.Open(ctx, other, sqlite.Options{})
	require.NoError(t, err)
	_, err = newQueue(t, o).Enqueue(ctx, queue.NewJob{Kind: "other"})
	require.NoError(t, err)
	require.NoError(t, o.Close())
	before, err := os.ReadFile(other)
	require.NoError(t, err)
	require.NoError(t, os.Rename(other, path))

	err = enqueueOne(q)
	requireFileGone(t, err, path)
	require.Contains(t, err.Error(), "replaced")

	// New connections are refused too: they would read the old -wal as
	// the replacement's.
	requireNewConnRefused(t, s, path)

	require.NoError(t, s.Close())
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.Equal(before, after), "the replacement file was changed")
}

// Deleting the -wal alone: writes to it would be lost (a crash loses every
// transaction in it), so they fail.
func TestDeletedWALFailsWrites(t *testing.T) {
	t.Parallel()
	s, path := openStore(t, sqlite.Options{})
	q := newQueue(t, s)
	require.NoError(t, enqueueOne(q))

	require.NoError(t, os.Remove(path+"-wal"))
	err := enqueueOne(q)
	requireFileGone(t, err, path)
	require.Contains(t, err.Error(), path+"-wal")
}

// A -wal without its database file: Open refuses, names both files and
// leaves the -wal as it was (opening would create an empty database and
// reset the log).
func TestOpenRefusesOrphanWAL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "spool.db")
	wal := []byte("a -wal file whose database file was lost; its transactions must not be reset")
	require.NoError(t, os.WriteFile(path+"-wal", wal, 0o644))

	_, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.Error(t, err)
	require.Contains(t, err.Error(), path+"-wal")
	require.Contains(t, err.Error(), "does not exist")
	require.Contains(t, err.Error(), "restore")

	got, err := os.ReadFile(path + "-wal")
	require.NoError(t, err)
	require.True(t, bytes.Equal(wal, got), "the -wal was changed")
	_, err = os.Stat(path)
	require.ErrorIs(t, err, fs.ErrNotExist, "Open created the database file")
}

// Open on a directory says so, read-write and read-only.
func TestOpenDirectorySaysSo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, ro := range []bool{false, true} {
		_, err := sqlite.Open(context.Background(), dir, sqlite.Options{ReadOnly: ro})
		require.Error(t, err)
		require.Contains(t, err.Error(), dir)
		require.Contains(t, err.Error(), "is a directory", "read-only %v", ro)
	}
}

// Other stores and processes opening and closing the same file (a worker
// process, 'spool stats') leave the file and its -wal as they are: the
// check must not take that for a deletion.
func TestOtherProcessesDoNotTripFileCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openStore(t, sqlite.Options{})
	q := newQueue(t, s)
	require.NoError(t, enqueueOne(q))

	// Another store in this process.
	o, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	require.NoError(t, enqueueOne(newQueue(t, o)))
	require.NoError(t, o.Close())
	require.NoError(t, sqlite.RunFileCheckOnce(s))
	require.NoError(t, enqueueOne(q))

	// Another process, read-write then read-only.
	childtest.Start(t, "openclose", pathEnv+"="+path).Wait(time.Minute)
	require.NoError(t, sqlite.RunFileCheckOnce(s))
	require.NoError(t, enqueueOne(q))
	require.NoError(t, s.Checkpoint(ctx))
	require.NoError(t, enqueueOne(q))
	require.Equal(t, 6, countRows(t, s.DB(), "spool_jobs"))
}

// openCloseChild is TestOtherProcessesDoNotTripFileCheck's other process
// (role "openclose"): it opens the database at path, writes and closes it
// again, then does the same read-only.
func openCloseChild(t *childtest.T, path string) {
	ctx := context.Background()
	for _, ro := range []bool{false, true} {
		s, err := sqlite.Open(ctx, path, sqlite.Options{ReadOnly: ro})
		require.NoError(t, err)
		q, err := queue.New(s, queue.Options{})
		require.NoError(t, err)
		if !ro {
			require.NoError(t, enqueueOne(q))
			require.NoError(t, s.Checkpoint(ctx))
		}
		_, err = q.Inspector().Stats(ctx)
		require.NoError(t, err)
		require.NoError(t, s.Close())
	}
}

// walCrashJobs is how many jobs the child acknowledges before its -wal is
// deleted.
const walCrashJobs = 100

// The -wal deleted under a running store: the jobs acknowledged before the
// deletion are only in the deleted log, which no other process can find,
// so a crash would lose them all. When the store notices, it copies them
// into the database file: killed with SIGKILL after that, the process
// loses none of them.
func TestDeletedWALRescuedBeforeCrash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "spool.db")
	c := childtest.Start(t, "walcrash", pathEnv+"="+path)
	c.Expect("acknowledged", time.Minute)
	require.NoError(t, os.Remove(path+"-wal"))
	c.Say("deleted")
	c.Expect("refused", time.Minute)
	c.Kill()

	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, walCrashJobs, countRows(t, s.DB(), "spool_jobs"), "acknowledged jobs were lost")
}

// walCrashChild is TestDeletedWALRescuedBeforeCrash's store (role
// "walcrash"): it acknowledges walCrashJobs jobs with no checkpoint, waits
// for its -wal to be deleted, checks that writes are refused and that the
// file check ran, then waits to be killed.
func walCrashChild(t *childtest.T, path string) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path, sqlite.Options{CheckpointInterval: time.Hour})
	require.NoError(t, err)
	q, err := queue.New(s, queue.Options{})
	require.NoError(t, err)
	for range walCrashJobs {
		require.NoError(t, enqueueOne(q))
	}
	childtest.Say("acknowledged")
	line, err := childtest.ReadLine()
	require.NoError(t, err)
	require.Equal(t, "deleted", line)
	require.ErrorIs(t, enqueueOne(q), queue.ErrFileGone)
	require.ErrorIs(t, sqlite.RunFileCheckOnce(s), queue.ErrFileGone)
	childtest.Say("refused")
	childtest.AwaitClose() // until killed
}

// A store opened with a relative path goes on working after the process
// changes its directory: the check looks at the file SQLite opened. (Not
// parallel: it changes the process's directory.)
func TestFileCheckAfterChdir(t *testing.T) {
	ctx := context.Background()
	t.Chdir(t.TempDir())
	s, err := sqlite.Open(ctx, "spool.db", sqlite.Options{})
	require.NoError(t, err)
	defer s.Close()
	q := newQueue(t, s)
	require.NoError(t, enqueueOne(q))

	t.Chdir(t.TempDir())
	require.NoError(t, sqlite.RunFileCheckOnce(s))
	require.NoError(t, enqueueOne(q))
}

// A path that is a symbolic link: SQLite keeps the -wal next to the file
// it names, and that is the -wal the check watches.
func TestDeletedWALBehindSymlink(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, linkDir := t.TempDir(), t.TempDir()
	real := filepath.Join(dir, "real.db")
	link := filepath.Join(linkDir, "spool.db")
	require.NoError(t, os.Symlink(real, link))
	s, err := sqlite.Open(ctx, link, sqlite.Options{})
	require.NoError(t, err)
	defer s.Close()
	q := newQueue(t, s)
	require.NoError(t, enqueueOne(q))
	_, err = os.Stat(real + "-wal")
	require.NoError(t, err, "SQLite put the -wal elsewhere")

	require.NoError(t, os.Remove(real+"-wal"))
	require.ErrorIs(t, enqueueOne(q), queue.ErrFileGone)
}

// A stat that fails for another reason than a missing file proves nothing
// about the file: a directory the process may briefly not search does not
// stop the store for good. Root searches any directory, so as root (as in
// CI) the test runs itself again as the user nobody.
func TestFileCheckIgnoresUnsearchableDirectory(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		childtest.RunTestsAsNobody(t, "^TestFileCheckIgnoresUnsearchableDirectory$")
		return
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "d")
	require.NoError(t, os.Mkdir(dir, 0o755))
	s, err := sqlite.Open(ctx, filepath.Join(dir, "spool.db"), sqlite.Options{})
	require.NoError(t, err)
	defer s.Close()
	q := newQueue(t, s)
	require.NoError(t, enqueueOne(q))

	require.NoError(t, os.Chmod(dir, 0o600))
	_, err = os.Stat(filepath.Join(dir, "spool.db"))
	require.ErrorIs(t, err, fs.ErrPermission)
	require.NoError(t, sqlite.RunFileCheckOnce(s))
	require.NoError(t, enqueueOne(q))

	require.NoError(t, os.Chmod(dir, 0o755))
	require.NoError(t, sqlite.RunFileCheckOnce(s))
	require.NoError(t, enqueueOne(q))
}

package sqlite_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/childtest"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// holdLock runs in a child process (role "lockholder"): it takes the
// database's write lock, says "locked" on stdout, and keeps the lock until
// stdin closes.
func holdLock(path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, `INSERT INTO spool_queues (name, paused, updated_at) VALUES ('held', 0, 0)
  ON CONFLICT (name) DO UPDATE SET updated_at = updated_at + 1`); err != nil {
		return err
	}
	childtest.Say("locked")
	if err := childtest.AwaitClose(); err != nil {
		return err
	}
	_, err = c.ExecContext(ctx, "COMMIT")
	return err
}

func TestNotADatabase(t *testing.T) {
	t.Parallel()
	random := make([]byte, 8192)
	_, err := rand.Read(random)
	require.NoError(t, err)
	contents := map[string][]byte{
		"random bytes": random,
		"text file":    []byte(strings.Repeat("my shopping list: eggs, milk, bread\n", 200)),
	}
	for name, content := range contents {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "notes.db")
			require.NoError(t, os.WriteFile(path, content, 0o644))
			for _, ro := range []bool{false, true} {
				s, err := sqlite.Open(context.Background(), path, sqlite.Options{ReadOnly: ro})
				require.Error(t, err, "read-only %v", ro)
				require.Nil(t, s)
				require.Contains(t, err.Error(), "not a SQLite database", "read-only %v", ro)
				require.Contains(t, err.Error(), path, "read-only %v", ro)
			}
			// The file is left as it was.
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			require.True(t, bytes.Equal(content, got), "Open changed a file that is not a database")
		})
	}
}

func TestReadOnlyExistingStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ro.db")
	rw, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	q := newQueue(t, rw)
	var ids []int64
	for i := range 3 {
		res, err := q.Enqueue(ctx, queue.NewJob{Kind: "report", Args: i})
		require.NoError(t, err)
		ids = append(ids, res.ID)
	}
	require.NoError(t, rw.Close())

	ro, err := sqlite.Open(ctx, path, sqlite.Options{ReadOnly: true})
	require.NoError(t, err)
	defer ro.Close()
	rq := newQueue(t, ro)

	// Reads work.
	for i, id := range ids {
		j, err := rq.Inspector().Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(i), string(j.Payload))
	}
	list, err := rq.Inspector().List(ctx, queue.ListFilter{})
	require.NoError(t, err)
	require.Len(t, list, 3)
	stats, err := rq.Inspector().Stats(ctx)
	require.NoError(t, err)
	require.Len(t, stats.Queues, 1)
	require.Equal(t, 3, stats.Queues[0].Pending)

	// Writes fail with ErrReadOnly, through the writer and in an app
	// transaction alike.
	_, err = rq.Enqueue(ctx, queue.NewJob{Kind: "report"})
	require.ErrorIs(t, err, queue.ErrReadOnly)
	_, err = rq.EnqueueMany(ctx, []queue.NewJob{{Kind: "a"}, {Kind: "b"}})
	require.ErrorIs(t, err, queue.ErrReadOnly)
	now := time.Now()
	_, err = ro.Lease(ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 1, Now: now, Until: now.Add(time.Minute), Worker: "w"})
	require.ErrorIs(t, err, queue.ErrReadOnly)
	require.ErrorIs(t, rq.Inspector().Delete(ctx, ids[0]), queue.ErrReadOnly)
	require.ErrorIs(t, rq.Inspector().Pause(ctx, queue.DefaultQueue), queue.ErrReadOnly)
	tx, err := ro.DB().BeginTx(ctx, nil)
	if err == nil {
		_, err = rq.EnqueueTx(ctx, tx, queue.NewJob{Kind: "in.tx"})
		tx.Rollback()
	}
	require.ErrorIs(t, err, queue.ErrReadOnly)
	require.NoError(t, ro.Close())

	// Nothing was written.
	rw, err = sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	defer rw.Close()
	require.Equal(t, 3, countRows(t, rw.DB(), "spool_jobs"))
	require.Equal(t, 0, countRows(t, rw.DB(), "spool_queues"))
}

func TestReadOnlyMissingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing.db")
	_, err := sqlite.Open(context.Background(), path, sqlite.Options{ReadOnly: true})
	require.Error(t, err)
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.Contains(t, err.Error(), path)
	require.Contains(t, err.Error(), "read-only")
	_, statErr := os.Stat(path)
	require.ErrorIs(t, statErr, fs.ErrNotExist, "a read-only open must not create the file")
}

func TestReadOnlyNotASpoolDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := map[string]func(path string){
		"app database": func(path string) {
			db, err := sql.Open("sqlite", path)
			require.NoError(t, err)
			defer db.Close()
			_, err = db.Exec(`CREATE TABLE orders (id INTEGER PRIMARY KEY); INSERT INTO orders VALUES (1)`)
			require.NoError(t, err)
		},
		"empty file": func(path string) {
			require.NoError(t, os.WriteFile(path, nil, 0o644))
		},
	}
	for name, create := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "other.db")
			create(path)
			before, err := os.ReadFile(path)
			require.NoError(t, err)

			_, err = sqlite.Open(ctx, path, sqlite.Options{ReadOnly: true})
			require.Error(t, err)
			require.Contains(t, err.Error(), "not a spool database")
			require.Contains(t, err.Error(), path)
			var se *queue.SchemaError
			require.ErrorAs(t, err, &se, "callers tell it apart without reading the text")
			require.Zero(t, se.Have, "schema version 0: no spool tables")

			after, err := os.ReadFile(path)
			require.NoError(t, err)
			require.True(t, bytes.Equal(before, after), "a read-only open changed the file")
		})
	}
}

// A file, and a file in a directory, the process may not write. Root
// writes whatever the permissions say, so as root (as in CI) the test runs
// itself again as the unprivileged user nobody.
func TestReadOnlyFilePermissions(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		childtest.RunTestsAsNobody(t, "^TestReadOnlyFilePermissions$")
		return
	}
	for _, dirToo := range []bool{false, true} {
		t.Run(fmt.Sprintf("read-only directory %v", dirToo), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := filepath.Join(t.TempDir(), "locked")
			require.NoError(t, os.Mkdir(dir, 0o755))
			path := filepath.Join(dir, "perm.db")
			s, err := sqlite.Open(ctx, path, sqlite.Options{})
			require.NoError(t, err)
			res, err := newQueue(t, s).Enqueue(ctx, queue.NewJob{Kind: "k", Payload: []byte("kept")})
			require.NoError(t, err)
			require.NoError(t, s.Close())
			require.NoError(t, os.Chmod(path, 0o444))
			if dirToo {
				require.NoError(t, os.Chmod(dir, 0o555))
				t.Cleanup(func() { os.Chmod(dir, 0o755) })
			}

			// Read-write: refused with ErrReadOnly, or open and every
			// write fails with ErrReadOnly.
			s, err = sqlite.Open(ctx, path, sqlite.Options{})
			if err != nil {
				require.ErrorIs(t, err, queue.ErrReadOnly)
				require.Contains(t, err.Error(), path)
			} else {
				_, err = newQueue(t, s).Enqueue(ctx, queue.NewJob{Kind: "k"})
				require.ErrorIs(t, err, queue.ErrReadOnly)
				require.NoError(t, s.Close())
			}

			// Read-only: reads work, writes fail with ErrReadOnly.
			s, err = sqlite.Open(ctx, path, sqlite.Options{ReadOnly: true})
			require.NoError(t, err)
			defer s.Close()
			q := newQueue(t, s)
			j, err := q.Inspector().Get(ctx, res.ID)
			require.NoError(t, err)
			require.Equal(t, "kept", string(j.Payload))
			_, err = q.Enqueue(ctx, queue.NewJob{Kind: "k"})
			require.ErrorIs(t, err, queue.ErrReadOnly)
		})
	}
}

// lockFromChild starts a child process holding path's write lock and
// returns once it holds it. release lets it commit and waits for it to
// exit.
func lockFromChild(t *testing.T, path string) (release func()) {
	t.Helper()
	c := childtest.Start(t, "lockholder", pathEnv+"="+path)
	c.Expect("locked", time.Minute)
	return func() { c.Wait(time.Minute) }
}

func TestBusyPastTimeoutWhileAnotherProcessHoldsTheLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const busy = 200 * time.Millisecond
	s, path := openStore(t, sqlite.Options{BusyTimeout: busy})
	q := newQueue(t, s)
	var before []int64
	for i := range 5 {
		res, err := q.Enqueue(ctx, queue.NewJob{Kind: "before", Args: i})
		require.NoError(t, err)
		before = append(before, res.ID)
	}
	many, err := q.EnqueueMany(ctx, []queue.NewJob{{Kind: "before"}, {Kind: "before"}})
	require.NoError(t, err)
	for _, r := range many {
		before = append(before, r.ID)
	}

	release := lockFromChild(t, path)

	job := queue.NewJob{Kind: "blocked", Payload: []byte("after the lock")}
	start := time.Now()
	_, err = q.Enqueue(ctx, job)
	waited := time.Since(start)
	require.ErrorIs(t, err, queue.ErrBusy)
	require.Contains(t, err.Error(), "past the busy timeout")
	require.Contains(t, err.Error(), "locked", "keeps SQLite's own message")
	require.GreaterOrEqual(t, waited, busy/2, "gave up before the busy timeout")

	_, err = q.EnqueueMany(ctx, []queue.NewJob{{Kind: "blocked"}, {Kind: "blocked"}})
	require.ErrorIs(t, err, queue.ErrBusy)

	// Readers are not blocked (WAL), and everything enqueued before the
	// lock is still there.
	for _, id := range before {
		j, err := q.Inspector().Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "before", j.Kind)
	}
	require.Equal(t, len(before), countRows(t, s.DB(), "spool_jobs"))

	release()

	res, err := q.Enqueue(ctx, job)
	require.NoError(t, err)
	j, err := q.Inspector().Get(ctx, res.ID)
	require.NoError(t, err)
	require.Equal(t, "after the lock", string(j.Payload))
	require.Equal(t, len(before)+1, countRows(t, s.DB(), "spool_jobs"))
	require.Equal(t, 1, countRows(t, s.DB(), "spool_queues"), "the child's write committed")
}

func TestDatabaseFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "small.db")
	dsn, err := sqlite.DSN(path, sqlite.Options{})
	require.NoError(t, err)
	db, err := sql.Open("sqlite", dsn+"&_pragma=max_page_count(128)") // 512 KiB of 4 KiB pages
	require.NoError(t, err)
	defer db.Close()
	s, err := sqlite.New(ctx, db, sqlite.Options{})
	require.NoError(t, err)
	defer s.Close()
	q := newQueue(t, s)

	payload := func(batch, i int) []byte {
		return bytes.Repeat([]byte(fmt.Sprintf("%d.%d;", batch, i)), 16<<10/4)
	}
	const perBatch = 4
	var (
		stored  = map[int64][]byte{}
		fullErr error
	)
	for b := 0; b < 100 && fullErr == nil; b++ {
		jobs := make([]queue.NewJob, perBatch)
		for i := range jobs {
			jobs[i] = queue.NewJob{Kind: "big", Payload: payload(b, i)}
		}
		res, err := q.EnqueueMany(ctx, jobs)
		if err != nil {
			fullErr = err
			break
		}
		for i, r := range res {
			stored[r.ID] = jobs[i].Payload
		}
	}
	require.Error(t, fullErr, "512 KiB never filled up")
	require.ErrorIs(t, fullErr, queue.ErrFull)
	require.Contains(t, fullErr.Error(), "full")
	require.NotEmpty(t, stored, "the database filled up before the first batch")

	// The failing batch inserted nothing; every earlier job is intact.
	require.Equal(t, len(stored), countRows(t, db, "spool_jobs"))
	for id, p := range stored {
		j, err := q.Inspector().Get(ctx, id)
		require.NoError(t, err)
		require.True(t, bytes.Equal(p, j.Payload), "job %d payload changed", id)
	}

	// Single jobs fill what room is left, then fail the same way, each
	// failure adding nothing.
	var singleErr error
	for i := 0; i < 100 && singleErr == nil; i++ {
		p := payload(1000, i)
		res, err := q.Enqueue(ctx, queue.NewJob{Kind: "big", Payload: p})
		if err != nil {
			singleErr = err
			break
		}
		stored[res.ID] = p
	}
	require.ErrorIs(t, singleErr, queue.ErrFull)
	require.Equal(t, len(stored), countRows(t, db, "spool_jobs"))
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

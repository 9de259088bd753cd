package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// openStore opens a store on a fresh file in t.TempDir and closes it when
// the test ends.
func openStore(t *testing.T, opts sqlite.Options) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "spool.db")
	s, err := sqlite.Open(context.Background(), path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, path
}

// newQueue wraps s in a Queue with default options.
func newQueue(t *testing.T, s queue.Store) *queue.Queue {
	t.Helper()
	q, err := queue.New(s, queue.Options{})
	require.NoError(t, err)
	return q
}

// countRows counts the rows of a table.
func countRows(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow("SELECT count(*) FROM "+table).Scan(&n))
	return n
}

// pragma reads one PRAGMA value on a given connection.
func pragma(t *testing.T, c *sql.Conn, name string) string {
	t.Helper()
	var v string
	require.NoError(t, c.QueryRowContext(context.Background(), "PRAGMA "+name).Scan(&v))
	return v
}

func TestOpenCreatesFileInWALMode(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "new.db")
	_, err := os.Stat(path)
	require.ErrorIs(t, err, fs.ErrNotExist)

	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, path, s.Path())

	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.True(t, fi.Mode().IsRegular())

	var mode string
	require.NoError(t, s.DB().QueryRow("PRAGMA journal_mode").Scan(&mode))
	require.Equal(t, "wal", mode)

	// The WAL mode is a property of the file: a plain connection without
	// any pragma sees it too.
	plain, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer plain.Close()
	require.NoError(t, plain.QueryRow("PRAGMA journal_mode").Scan(&mode))
	require.Equal(t, "wal", mode)
}

// Every connection of the pool gets the pragmas (set in the DSN), not only
// the one a db.Exec("PRAGMA ...") would reach.
func TestOpenPragmasOnEveryPooledConnection(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		opts     sqlite.Options
		busyMS   string
		syncCode string // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{
		{"defaults", sqlite.Options{}, "5000", "1"},
		{"normal", sqlite.Options{Synchronous: "NORMAL", BusyTimeout: 1234 * time.Millisecond}, "1234", "1"},
		{"full", sqlite.Options{Synchronous: "FULL", BusyTimeout: 250 * time.Millisecond}, "250", "2"},
		{"full lower case", sqlite.Options{Synchronous: "full"}, "5000", "2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const conns = 4
			opts := tc.opts
			opts.ReadConns = conns
			s, _ := openStore(t, opts)
			ctx := context.Background()

			// Hold all the pool's connections at once, so each is a
			// different connection.
			held := make([]*sql.Conn, conns)
			for i := range held {
				c, err := s.DB().Conn(ctx)
				require.NoError(t, err)
				held[i] = c
			}
			defer func() {
				for _, c := range held {
					c.Close()
				}
			}()
			for i, c := range held {
				require.Equal(t, "wal", pragma(t, c, "journal_mode"), "conn %d journal_mode", i)
				require.Equal(t, tc.busyMS, pragma(t, c, "busy_timeout"), "conn %d busy_timeout", i)
				require.Equal(t, "1", pragma(t, c, "foreign_keys"), "conn %d foreign_keys", i)
				require.Equal(t, tc.syncCode, pragma(t, c, "synchronous"), "conn %d synchronous", i)
			}
			require.Equal(t, conns, s.DB().Stats().OpenConnections)
		})
	}
}

// The DSN handed to apps carries the same settings: a pool the app opens
// with it gets them on every connection too.
func TestDSNPragmasOnEveryConnection(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "app.db")
	dsn, err := sqlite.DSN(path, sqlite.Options{Synchronous: "FULL", BusyTimeout: 750 * time.Millisecond})
	require.NoError(t, err)
	db, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	var held []*sql.Conn
	for range 3 {
		c, err := db.Conn(ctx)
		require.NoError(t, err)
		held = append(held, c)
	}
	for i, c := range held {
		require.Equal(t, "wal", pragma(t, c, "journal_mode"), "conn %d", i)
		require.Equal(t, "750", pragma(t, c, "busy_timeout"), "conn %d", i)
		require.Equal(t, "1", pragma(t, c, "foreign_keys"), "conn %d", i)
		require.Equal(t, "2", pragma(t, c, "synchronous"), "conn %d", i)
		// A store made with New runs no checkpoint loop of its own, so
		// SQLite's automatic checkpoints must stay on.
		require.NotEqual(t, "0", pragma(t, c, "wal_autocheckpoint"), "conn %d", i)
		c.Close()
	}
}

func TestOpenRecordsMigrationsAndIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")

	type applied struct {
		version   int
		name      string
		appliedAt int64
	}
	read := func(db *sql.DB) []applied {
		rows, err := db.Query(`SELECT version, name, applied_at FROM spool_migrations ORDER BY version`)
		require.NoError(t, err)
		defer rows.Close()
		var out []applied
		for rows.Next() {
			var a applied
			require.NoError(t, rows.Scan(&a.version, &a.name, &a.appliedAt))
			out = append(out, a)
		}
		require.NoError(t, rows.Err())
		return out
	}

	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	first := read(s.DB())
	require.NotEmpty(t, first)
	require.Equal(t, sqlite.SchemaVersion(), first[len(first)-1].version)
	for i, a := range first {
		// Increasing, not gap-free: parallel work takes numbers ahead.
		require.Equal(t, migrationVersions(t)[i], a.version, "every migration recorded, in order")
		require.NotEmpty(t, a.name)
		require.Positive(t, a.appliedAt)
	}
	q := newQueue(t, s)
	res, err := q.Enqueue(ctx, queue.NewJob{Kind: "keep.me", Payload: []byte("still here")})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	// Opening again applies nothing: the same rows, the same times, and
	// the data is untouched.
	for range 2 {
		s, err = sqlite.Open(ctx, path, sqlite.Options{})
		require.NoError(t, err)
		require.Equal(t, first, read(s.DB()))
		j, err := s.Get(ctx, res.ID)
		require.NoError(t, err)
		require.Equal(t, "still here", string(j.Payload))
		require.NoError(t, s.Close())
	}
}

func TestOpenSameFreshFileConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "race.db")
	const n = 8
	start := make(chan struct{})
	stores := make([]*sqlite.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = sqlite.Open(ctx, path, sqlite.Options{})
			if errs[i] != nil {
				return
			}
			q, err := queue.New(stores[i], queue.Options{})
			if err != nil {
				errs[i] = err
				return
			}
			_, errs[i] = q.Enqueue(ctx, queue.NewJob{Kind: "hello", Args: i})
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i], "opener %d", i)
	}
	defer func() {
		for _, s := range stores {
			s.Close()
		}
	}()
	db := stores[0].DB()
	require.Equal(t, len(migrationVersions(t)), countRows(t, db, "spool_migrations"), "each migration recorded once")
	require.Equal(t, n, countRows(t, db, "spool_jobs"))
}

func TestOpenNewerSchemaVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "future.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	known := sqlite.SchemaVersion()
	future := known + 3
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO spool_migrations (version, name, applied_at) VALUES (?, 'from_the_future', 1)`, future)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	for _, ro := range []bool{false, true} {
		_, err = sqlite.Open(ctx, path, sqlite.Options{ReadOnly: ro})
		require.Error(t, err, "read-only %v", ro)
		msg := err.Error()
		require.Contains(t, msg, fmt.Sprintf("schema version %d", future), "read-only %v", ro)
		require.Contains(t, msg, fmt.Sprint(known), "read-only %v", ro)
		require.Contains(t, msg, path, "read-only %v", ro)
	}

	// The refusal changed nothing.
	db, err = sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	var newest int
	require.NoError(t, db.QueryRow(`SELECT max(version) FROM spool_migrations`).Scan(&newest))
	require.Equal(t, future, newest)
}

func TestOpenInvalidOptions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts sqlite.Options
		want []string
	}{
		{"negative busy timeout", sqlite.Options{BusyTimeout: -time.Second}, []string{"BusyTimeout", "-1s", "negative"}},
		{"bogus synchronous", sqlite.Options{Synchronous: "bogus"}, []string{"Synchronous", `"bogus"`, "NORMAL", "FULL"}},
		{"synchronous OFF", sqlite.Options{Synchronous: "OFF"}, []string{"Synchronous", `"OFF"`}},
		{"negative read conns", sqlite.Options{ReadConns: -2}, []string{"ReadConns", "-2", "negative"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "bad.db")
			s, err := sqlite.Open(context.Background(), path, tc.opts)
			require.Error(t, err)
			require.Nil(t, s)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			_, statErr := os.Stat(path)
			require.ErrorIs(t, statErr, fs.ErrNotExist, "invalid options must not create the file")

			_, err = sqlite.DSN(path, tc.opts)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want[0])

			db, err := sql.Open("sqlite", "file:"+path)
			require.NoError(t, err)
			defer db.Close()
			_, err = sqlite.New(context.Background(), db, tc.opts)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want[0])
		})
	}
}

func TestOpenBadPaths(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	_, err := sqlite.Open(ctx, "", sqlite.Options{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "empty database path")

	dir := t.TempDir()
	missing := filepath.Join(dir, "no", "such", "dir", "q.db")
	_, err = sqlite.Open(ctx, missing, sqlite.Options{})
	require.Error(t, err)
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.Contains(t, err.Error(), missing)
	_, statErr := os.Stat(filepath.Join(dir, "no"))
	require.ErrorIs(t, statErr, fs.ErrNotExist, "Open must not create directories")

	// A file where the directory should be.
	file := filepath.Join(dir, "plain")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	_, err = sqlite.Open(ctx, filepath.Join(file, "q.db"), sqlite.Options{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "not a directory")

	// A directory where the file should be.
	_, err = sqlite.Open(ctx, dir, sqlite.Options{})
	require.Error(t, err)
	require.Contains(t, err.Error(), dir)
	require.Contains(t, err.Error(), "is a directory")
}

// Characters that mean something in a URI must name the file they spell.
func TestOpenPathWithURICharacters(t *testing.T) {
	t.Parallel()
	names := []string{
		"what?.db",
		"a?mode=ro.db",
		"hash#tag.db",
		"percent%41.db", // would decode to "percentA.db" if not escaped
		"100%.db",
		"amp&_pragma=x.db",
		"sp ace+plus.db",
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			path := filepath.Join(dir, name)
			s, err := sqlite.Open(ctx, path, sqlite.Options{})
			require.NoError(t, err)
			q := newQueue(t, s)
			res, err := q.Enqueue(ctx, queue.NewJob{Kind: "k", Payload: []byte(name)})
			require.NoError(t, err)
			require.NoError(t, s.Close())

			// Only the named file (and its WAL companions) exist.
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.NotEmpty(t, entries)
			for _, e := range entries {
				require.True(t, strings.HasPrefix(e.Name(), name), "unexpected file %q next to %q", e.Name(), name)
			}
			fi, err := os.Stat(path)
			require.NoError(t, err)
			require.Positive(t, fi.Size())

			s, err = sqlite.Open(ctx, path, sqlite.Options{})
			require.NoError(t, err)
			defer s.Close()
			j, err := s.Get(ctx, res.ID)
			require.NoError(t, err)
			require.Equal(t, name, string(j.Payload))
		})
	}
}

// New wraps the app's own *sql.DB: a job enqueued with EnqueueTx commits
// and rolls back with the app's rows.
func TestNewSharesTheAppsTransactions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	dsn, err := sqlite.DSN(path, sqlite.Options{})
	require.NoError(t, err)
	db, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(`CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER NOT NULL)`)
	require.NoError(t, err)

	s, err := sqlite.New(ctx, db, sqlite.Options{})
	require.NoError(t, err)
	require.Equal(t, "", s.Path())
	require.Same(t, db, s.DB())
	q := newQueue(t, s)

	checkout := func(orderID int) (int64, *sql.Tx) {
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		_, err = tx.Exec(`INSERT INTO orders (id, total) VALUES (?, 4200)`, orderID)
		require.NoError(t, err)
		res, err := q.EnqueueTx(ctx, tx, queue.NewJob{Kind: "email.receipt", Args: map[string]int{"order": orderID}})
		require.NoError(t, err)
		return res.ID, tx
	}
	orderExists := func(id int) bool {
		var n int
		require.NoError(t, db.QueryRow(`SELECT count(*) FROM orders WHERE id = ?`, id).Scan(&n))
		return n == 1
	}

	committed, tx := checkout(1)
	require.NoError(t, tx.Commit())
	require.True(t, orderExists(1))
	j, err := q.Inspector().Get(ctx, committed)
	require.NoError(t, err)
	require.Equal(t, "email.receipt", j.Kind)
	require.JSONEq(t, `{"order":1}`, string(j.Payload))

	rolledBack, tx := checkout(2)
	require.NoError(t, tx.Rollback())
	require.False(t, orderExists(2))
	_, err = q.Inspector().Get(ctx, rolledBack)
	require.ErrorIs(t, err, queue.ErrNotFound)
	require.Equal(t, 1, countRows(t, db, "spool_jobs"))

	// Close leaves the app's database open.
	require.NoError(t, s.Close())
	require.NoError(t, db.Ping())
	require.True(t, orderExists(1))
	_, err = q.Enqueue(ctx, queue.NewJob{Kind: "late"})
	require.ErrorIs(t, err, queue.ErrClosed)
}

func TestNewNilDB(t *testing.T) {
	t.Parallel()
	_, err := sqlite.New(context.Background(), nil, sqlite.Options{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "db is nil")
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

// migrationVersions lists the versions of the migration files, in order.
func migrationVersions(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	require.NoError(t, err)
	var vs []int
	for _, e := range entries {
		v, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		require.NoError(t, err, e.Name())
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

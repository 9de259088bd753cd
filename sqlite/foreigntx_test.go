package sqlite_test

// A transaction of another database passed to a Tx twin is refused
// (ErrForeignTx): its writes would land in the wrong file.

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// openDB opens an app pool on path with spool's DSN.
func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	dsn, err := sqlite.DSN(path, sqlite.Options{})
	require.NoError(t, err)
	db, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// Every Tx twin refuses a transaction of another spool database, with
// queue.ErrForeignTx and both files named, and writes nothing to it.
func TestTxTwinsRefuseForeignTx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, pathA := openStore(t, sqlite.Options{})
	b, pathB := openStore(t, sqlite.Options{})
	qa, qb := newQueue(t, a), newQueue(t, b)
	_, err := qb.Enqueue(ctx, queue.NewJob{Kind: "b.job"})
	require.NoError(t, err)

	calls := map[string]func(tx *sql.Tx) error{
		"EnqueueTx": func(tx *sql.Tx) error {
			_, err := qa.EnqueueTx(ctx, tx, queue.NewJob{Kind: "a.job"})
			return err
		},
		"EnqueueManyTx": func(tx *sql.Tx) error {
			_, err := qa.EnqueueManyTx(ctx, tx, []queue.NewJob{{Kind: "a.job"}})
			return err
		},
		"CancelTx": func(tx *sql.Tx) error { _, err := qa.Inspector().CancelTx(ctx, tx, 1); return err },
		"DeleteTx": func(tx *sql.Tx) error { return qa.Inspector().DeleteTx(ctx, tx, 1) },
		"PauseTx":  func(tx *sql.Tx) error { return qa.Inspector().PauseTx(ctx, tx, "default") },
		"RetryDeadTx": func(tx *sql.Tx) error {
			_, err := qa.Inspector().RetryDeadTx(ctx, tx, queue.DeadFilter{All: true})
			return err
		},
		"SetQueueSettingsTx": func(tx *sql.Tx) error {
			return qa.Inspector().SetQueueSettingsTx(ctx, tx, "default", queue.QueueSettings{MaxPending: 1})
		},
		"MarkProcessedTx": func(tx *sql.Tx) error { _, err := qa.MarkProcessedTx(ctx, tx, "k"); return err },
		"PublishTx": func(tx *sql.Tx) error {
			_, err := qa.PublishTx(ctx, tx, queue.Event{Topic: "t"})
			return err
		},
		"SaveSchedule": func(tx *sql.Tx) error {
			return a.SaveSchedule(ctx, tx, queue.ScheduleState{Name: "s", Spec: "@daily", TimeZone: "UTC", Kind: "k", Queue: "default", Misfire: "skip"}, qa.Now())
		},
	}
	for name, call := range calls {
		tx, err := b.DB().BeginTx(ctx, nil)
		require.NoError(t, err)
		err = call(tx)
		require.ErrorIs(t, err, queue.ErrForeignTx, "%s accepted a transaction of another database", name)
		require.ErrorContains(t, err, pathA, name)
		require.ErrorContains(t, err, pathB, name)
		require.NoError(t, tx.Commit(), name)
	}
	jobs, err := qb.Inspector().List(ctx, queue.ListFilter{})
	require.NoError(t, err)
	require.Len(t, jobs, 1, "a job landed in the other database")
	require.Equal(t, "b.job", jobs[0].Kind)
	stats, err := qb.Inspector().Stats(ctx)
	require.NoError(t, err)
	for _, qs := range stats.Queues {
		require.False(t, qs.Paused, "PauseTx paused a queue of the other database")
		require.Zero(t, qs.MaxPending, "SetQueueSettingsTx changed the other database")
	}
}

// A transaction of a database that is no spool database at all is refused
// the same way, not with "no such table".
func TestEnqueueTxRefusesTxOfPlainDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openStore(t, sqlite.Options{})
	q := newQueue(t, s)
	other := openDB(t, filepath.Join(t.TempDir(), "app.db"))
	tx, err := other.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	_, err = q.EnqueueTx(ctx, tx, queue.NewJob{Kind: "k"})
	require.ErrorIs(t, err, queue.ErrForeignTx)
}

// The same file reached another way (a symlink, a relative path) is the
// store's database: its transactions are accepted, also by a
// store made with New, whose path is unknown.
func TestEnqueueTxAcceptsSameFileByAnotherName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "spool.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	defer s.Close()
	q := newQueue(t, s)
	require.NoError(t, os.Symlink(path, filepath.Join(dir, "link.db")))

	appDB := openDB(t, path)
	app, err := sqlite.New(ctx, appDB, sqlite.Options{})
	require.NoError(t, err)
	defer app.Close()
	qApp := newQueue(t, app)

	rel, err := filepath.Rel(mustGetwd(t), path)
	require.NoError(t, err)
	for _, name := range []string{path, filepath.Join(dir, "link.db"), filepath.Join(dir, ".", "x", "..", "spool.db"), rel} {
		db := openDB(t, name)
		for _, qq := range []*queue.Queue{q, qApp} {
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			res, err := qq.EnqueueTx(ctx, tx, queue.NewJob{Kind: "k"})
			require.NoError(t, err, name)
			require.NoError(t, tx.Commit())
			_, err = q.Inspector().Get(ctx, res.ID)
			require.NoError(t, err, name)
		}
	}
}

// A store made with New over an app's pool refuses transactions of
// another file too.
func TestNewStoreRefusesForeignTx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	appDB := openDB(t, filepath.Join(t.TempDir(), "app.db"))
	app, err := sqlite.New(ctx, appDB, sqlite.Options{})
	require.NoError(t, err)
	defer app.Close()
	q := newQueue(t, app)
	other, _ := openStore(t, sqlite.Options{})
	tx, err := other.DB().BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	_, err = q.EnqueueTx(ctx, tx, queue.NewJob{Kind: "k"})
	require.ErrorIs(t, err, queue.ErrForeignTx)
	require.ErrorContains(t, err, "app.db")
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	return wd
}

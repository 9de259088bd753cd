package postgres_test

// Open and New refuse what they cannot work with: bad options, a schema
// newer than this build, and (in the Tx twins) a caller's transaction on
// another database.

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/pgtest"
	"github.com/spooljobs/spool/postgres"
	"github.com/spooljobs/spool/queue"
)

// nowhere is a URL no server answers at: options are checked before any
// connection is made.
const nowhere = "postgres://postgres@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=1"

// Bad options are refused with queue.ErrInvalidArgument, naming the
// option, by Open and New alike, before connecting.
func TestOpenInvalidOptions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts postgres.Options
		want string
	}{
		{"upper-case schema", postgres.Options{Schema: "Spool"}, "Schema"},
		{"schema starting with a digit", postgres.Options{Schema: "1spool"}, "Schema"},
		{"schema with a dash", postgres.Options{Schema: "my-app"}, "Schema"},
		{"schema with a space", postgres.Options{Schema: "my app"}, "Schema"},
		{"schema with a quote", postgres.Options{Schema: `a"b`}, "Schema"},
		{"schema with a dot", postgres.Options{Schema: "public.spool"}, "Schema"},
		{"schema of 64 characters", postgres.Options{Schema: strings.Repeat("s", 64)}, "Schema"},
		{"negative max conns", postgres.Options{MaxConns: -1}, "MaxConns"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, err := postgres.Open(ctx, nowhere, tc.opts)
			require.ErrorIs(t, err, queue.ErrInvalidArgument)
			require.Nil(t, s)
			require.Contains(t, err.Error(), tc.want)

			db, err := sql.Open("pgx", nowhere)
			require.NoError(t, err)
			defer db.Close()
			s, err = postgres.New(ctx, db, tc.opts)
			require.ErrorIs(t, err, queue.ErrInvalidArgument)
			require.Nil(t, s)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// New refuses a nil pool.
func TestNewNilDB(t *testing.T) {
	t.Parallel()
	s, err := postgres.New(context.Background(), nil, postgres.Options{})
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
	require.Nil(t, s)
}

// A schema migrated by a newer spool is refused with *queue.SchemaError
// naming both versions and the schema, and the refusal changes nothing.
func TestOpenNewerSchemaVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.URL(t)
	schema := pgtest.Schema(t, u)
	s, err := postgres.Open(ctx, u, postgres.Options{Schema: schema, MaxConns: 2})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	known := postgres.SchemaVersion()
	require.Positive(t, known)
	future := known + 3
	db, err := sql.Open("pgx", u)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(ctx, `INSERT INTO "`+schema+`".migrations (version, name, applied_at) VALUES ($1, 'from_the_future', 1)`, future)
	require.NoError(t, err)

	s, err = postgres.Open(ctx, u, postgres.Options{Schema: schema, MaxConns: 2})
	require.Nil(t, s)
	require.ErrorIs(t, err, queue.ErrSchemaVersion)
	var se *queue.SchemaError
	require.ErrorAs(t, err, &se)
	require.Equal(t, future, se.Have)
	require.Equal(t, known, se.Want)
	require.Contains(t, err.Error(), schema)

	var newest int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT max(version) FROM "`+schema+`".migrations`).Scan(&newest))
	require.Equal(t, future, newest, "the refusal changed nothing")
}

// otherDatabase returns the URL of another database on the test server
// (the maintenance database "postgres"), skipping t where there is none.
func otherDatabase(t *testing.T, testURL string) string {
	t.Helper()
	u, err := url.Parse(testURL)
	if err != nil || u.Scheme == "" || strings.Trim(u.Path, "/") == "postgres" {
		t.Skipf("SPOOL_PG_URL %q names no database besides \"postgres\" to use as another database", testURL)
	}
	u.Path = "/postgres"
	db, err := sql.Open("pgx", u.String())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
		db.Close()
	}
	if err != nil {
		t.Skipf("another database at %s: %v", u.Redacted(), err)
	}
	return u.String()
}

// scheduleWrites are the Tx twins of the schedule store, each a write of
// the schedule "nightly" through s in tx.
func scheduleWrites(s *postgres.Store) map[string]func(ctx context.Context, tx *sql.Tx) error {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	return map[string]func(ctx context.Context, tx *sql.Tx) error{
		"SaveSchedule": func(ctx context.Context, tx *sql.Tx) error {
			return s.SaveSchedule(ctx, tx, queue.ScheduleState{Name: "nightly", Spec: "0 3 * * *", TimeZone: "UTC", Kind: "k", Queue: "default", Misfire: "skip"}, at)
		},
		"FireSchedule": func(ctx context.Context, tx *sql.Tx) error {
			_, err := s.FireSchedule(ctx, tx, queue.ScheduleFire{Name: "nightly", Tick: at.Add(time.Hour), Now: at.Add(time.Hour)})
			return err
		},
		"SetSchedulePaused": func(ctx context.Context, tx *sql.Tx) error {
			return s.SetSchedulePaused(ctx, tx, "nightly", true, at)
		},
		"TriggerSchedule": func(ctx context.Context, tx *sql.Tx) error {
			return s.TriggerSchedule(ctx, tx, "nightly", at)
		},
	}
}

// requireRefused runs write in a transaction of db and checks that it is
// refused with queue.ErrForeignTx, that the transaction is still usable
// after (the refusal rolled back to its savepoint), and that nothing was
// written through store.
func requireRefused(t *testing.T, store *postgres.Store, db *sql.DB, write func(ctx context.Context, tx *sql.Tx) error) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	err = write(ctx, tx)
	require.ErrorIs(t, err, queue.ErrForeignTx)
	require.Contains(t, err.Error(), store.Schema())
	var one int
	require.NoError(t, tx.QueryRowContext(ctx, `SELECT 1`).Scan(&one), "the caller's transaction survives the refusal")
	require.NoError(t, tx.Commit())
	list, err := store.Schedules(ctx)
	require.NoError(t, err)
	require.Empty(t, list, "nothing was written through the store")
}

// A transaction on another database is refused by every schedule Tx twin
// with queue.ErrForeignTx: one where the store's schema does not exist,
// and one where a schema of the same name belongs to another store.
func TestTxTwinsRefuseOtherDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.URL(t)
	other := otherDatabase(t, u)
	a := openStore(t, postgres.Options{MaxConns: 2})

	bare, err := sql.Open("pgx", other)
	require.NoError(t, err)
	t.Cleanup(func() { bare.Close() })
	t.Cleanup(func() { bare.ExecContext(context.Background(), `DROP SCHEMA IF EXISTS "`+a.Schema()+`" CASCADE`) })

	for name, write := range scheduleWrites(a) {
		t.Run("no schema/"+name, func(t *testing.T) { requireRefused(t, a, bare, write) })
	}

	// Another store with the same schema's name on the other database.
	twin, err := postgres.Open(ctx, other, postgres.Options{Schema: a.Schema(), MaxConns: 2, NoListen: true})
	require.NoError(t, err)
	t.Cleanup(func() { twin.Close() })
	for name, write := range scheduleWrites(a) {
		t.Run("same schema name/"+name, func(t *testing.T) { requireRefused(t, a, twin.DB(), write) })
	}
	list, err := twin.Schedules(ctx)
	require.NoError(t, err)
	require.Empty(t, list, "nothing was written to the other database")
}

// EnqueueTx, the Tx twin apps use most, refuses a transaction on another
// database too.
func TestEnqueueTxRefusesOtherDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	other := otherDatabase(t, pgtest.URL(t))
	a := openStore(t, postgres.Options{MaxConns: 2})
	q := newQueue(t, a)
	bare, err := sql.Open("pgx", other)
	require.NoError(t, err)
	defer bare.Close()
	tx, err := bare.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	_, err = q.EnqueueTx(ctx, tx, queue.NewJob{Kind: "send"})
	require.ErrorIs(t, err, queue.ErrForeignTx)
	require.NoError(t, tx.Commit())
	list, err := a.List(ctx, queue.ListFilter{})
	require.NoError(t, err)
	require.Empty(t, list)
}

// A transaction on the same database, begun through another schema's
// store (or any pool), is not foreign: the store's statements name its
// own schema, so its write lands there and commits or rolls back with the
// caller's other writes. One transaction can write to two apps' schemas.
func TestTxOfAnotherSchemaOnSameDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := openStore(t, postgres.Options{MaxConns: 2})
	b := openStore(t, postgres.Options{MaxConns: 2})
	def := queue.ScheduleState{Name: "nightly", Spec: "0 3 * * *", TimeZone: "UTC", Kind: "k", Queue: "default", Misfire: "skip"}
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

	for _, commit := range []bool{false, true} {
		tx, err := b.DB().BeginTx(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, a.SaveSchedule(ctx, tx, def, at))
		require.NoError(t, b.SaveSchedule(ctx, tx, def, at))
		if commit {
			require.NoError(t, tx.Commit())
		} else {
			require.NoError(t, tx.Rollback())
		}
		for _, s := range []*postgres.Store{a, b} {
			list, err := s.Schedules(ctx)
			require.NoError(t, err)
			require.Len(t, list, map[bool]int{false: 0, true: 1}[commit], fmt.Sprintf("schema %s, commit %v", s.Schema(), commit))
		}
	}
}

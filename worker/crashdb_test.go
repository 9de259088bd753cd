package worker_test

// The database the crash tests' processes share, on either backend: the
// parent opens it, hands it to its children through their environment,
// and every process opens it the same way.

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/childtest"
	"github.com/spooljobs/spool/internal/pgtest"
	"github.com/spooljobs/spool/postgres"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// crashDB names the database of one crash test: a SQLite file, or a schema
// in a PostgreSQL database.
type crashDB struct {
	DSN    string // a file path, or a postgres:// URL
	Schema string // the schema that holds spool's and the app's tables on PostgreSQL; empty on SQLite
}

// Postgres reports whether d is on PostgreSQL.
func (d crashDB) Postgres() bool {
	return strings.HasPrefix(d.DSN, "postgres://") || strings.HasPrefix(d.DSN, "postgresql://")
}

// Env returns the environment variables that hand d to a child.
func (d crashDB) Env() []string {
	return []string{"SPOOL_TEST_DB=" + d.DSN, "SPOOL_TEST_SCHEMA=" + d.Schema}
}

// crashDBFromEnv returns the database the parent handed this child.
func crashDBFromEnv() crashDB {
	return crashDB{DSN: os.Getenv("SPOOL_TEST_DB"), Schema: os.Getenv("SPOOL_TEST_SCHEMA")}
}

// crashStore is a store opened on a crashDB: either backend's store, with
// the database handle the app's own tables and transactions use.
type crashStore interface {
	queue.Store
	DB() *sql.DB
	Close() error
}

// openOpts are the options of crashDB.Open that matter to the tests.
type openOpts struct {
	Logger *slog.Logger
	// ReadOnly opens a SQLite file read-only; PostgreSQL ignores it.
	ReadOnly bool
	// BusyTimeout is SQLite's; PostgreSQL ignores it (writers wait on row
	// locks, not on one file lock).
	BusyTimeout time.Duration
}

// Open opens d: sqlite.Open on a file path; postgres.Open on a URL, with
// spool's tables in d.Schema and the connections' search_path set to it,
// so that the app's tables (created without a schema name) live beside
// them. Each process names its connections (application_name) after the
// schema and its pid, so that the parent can wait until a killed child's
// sessions are gone (awaitGone).
func (d crashDB) Open(ctx context.Context, o openOpts) (crashStore, error) {
	if !d.Postgres() {
		store, err := sqlite.Open(ctx, d.DSN, sqlite.Options{Logger: o.Logger, ReadOnly: o.ReadOnly, BusyTimeout: o.BusyTimeout})
		if err != nil {
			return nil, err
		}
		return store, nil
	}
	u, err := neturl.Parse(d.DSN)
	if err != nil {
		return nil, fmt.Errorf("SPOOL_TEST_DB: %w", err)
	}
	v := u.Query()
	v.Set("search_path", d.Schema)
	v.Set("application_name", sessionName(d.Schema, os.Getpid()))
	u.RawQuery = v.Encode()
	store, err := postgres.Open(ctx, u.String(), postgres.Options{Schema: d.Schema, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	return store, nil
}

// MustOpen opens d for the test, closing it when the test ends.
func (d crashDB) MustOpen(t *testing.T, o openOpts) crashStore {
	t.Helper()
	store, err := d.Open(t.Context(), o)
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	return store
}

// sessionName is the application_name of the connections that process pid
// opens on schema.
func sessionName(schema string, pid int) string { return fmt.Sprintf("%s-%d", schema, pid) }

// Kill kills c with SIGKILL and, on PostgreSQL, waits until the server has
// ended c's sessions: a statement c sent just before it died (a COMMIT)
// has then taken effect or never will, so that what the test reads next is
// the store as the kill left it, as on SQLite, where a dead process's
// transaction is gone with it.
func (d crashDB) Kill(t *testing.T, c *childtest.Child) {
	t.Helper()
	c.Kill()
	if !d.Postgres() {
		return
	}
	db, err := sql.Open("pgx", d.DSN)
	require.NoError(t, err)
	defer db.Close()
	const sessions = `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`
	name := sessionName(d.Schema, c.Pid())
	childtest.WaitUntil(t, 30*time.Second, fmt.Sprintf("the sessions of killed child %d to end", c.Pid()), func() bool {
		var n int
		require.NoError(t, db.QueryRowContext(t.Context(), sessions, name).Scan(&n))
		return n == 0
	})
}

// onBothBackends runs test as the subtests "sqlite", on a fresh file named
// file in a temporary directory, and then "postgres", on a fresh schema on
// the test server (pgtest: skipped where no server runs, unless
// SPOOL_REQUIRE_POSTGRES=1). The subtests run one after the other: the
// crash tests already run in parallel with each other, and their leases
// (a second) are sized for that load on two cores under -race, not for
// twice as many processes beside a PostgreSQL server.
func onBothBackends(t *testing.T, file string, test func(t *testing.T, db crashDB)) {
	t.Run("sqlite", func(t *testing.T) {
		test(t, crashDB{DSN: filepath.Join(t.TempDir(), file)})
	})
	t.Run("postgres", func(t *testing.T) {
		test(t, newPostgresCrashDB(t))
	})
}

// newPostgresCrashDB returns a fresh schema on the test server, dropped
// when t ends (or skips t where no server runs).
func newPostgresCrashDB(t *testing.T) crashDB {
	t.Helper()
	url := pgtest.URL(t)
	return crashDB{DSN: url, Schema: pgtest.Schema(t, url)}
}

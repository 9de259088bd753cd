package main

// Opening the database: every command refuses a missing file, a file that
// is not a spool database and an orphaned -wal, and changes none of them.

import (
	"bytes"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// makeAppDB creates an SQLite database with a table of its own.
func makeAppDB(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(`CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER); INSERT INTO orders VALUES (1, 4999)`)
	require.NoError(t, err)
}

// dbCommands are invocations of every command that opens a database,
// with arguments that would be valid on the fixture.
var dbCommands = [][]string{
	{"stats"}, {"ls"}, {"show", "1"}, {"enqueue", "email.send", "{}"}, {"retry", "1"}, {"retry", "-dead", "-all"},
	{"cancel", "1"}, {"delete", "1"}, {"delete", "-dead", "-all"}, {"pause", "mail"}, {"resume", "mail"}, {"schedules"},
	{"schedules", "trigger", fixtureSchedule}, {"topics"}, {"subs"}, {"events", fixtureTopic},
	{"replay", fixtureSub, "-topic", fixtureTopic}, {"vacuum"}, {"admin", "-read-only", "-addr", "127.0.0.1:0", "-password", "pw"},
	{"admin", "-addr", "127.0.0.1:0", "-no-auth"},
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// A -wal left without its database file: every command refuses, names the
// -wal and says what to do; none (migrate included) creates a database
// over it or changes it.
func TestCLIOrphanWAL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "lost.db")
	wal := []byte("the log of a database file that was deleted")
	require.NoError(t, os.WriteFile(path+"-wal", wal, 0o644))
	for _, args := range append(dbCommands, []string{"migrate"}) {
		r := spool(t, append(args, "-db", path)...)
		require.NotEqual(t, 0, r.code, "%v", args)
		require.Contains(t, r.stderr, path+"-wal", "%v", args)
		require.Contains(t, r.stderr, "restore the database file", "%v", args)
	}
	require.Equal(t, []string{"lost.db-wal"}, dirEntries(t, dir), "a command created a file")
	got, err := os.ReadFile(path + "-wal")
	require.NoError(t, err)
	require.Equal(t, wal, got, "a command changed the -wal")
}

// Every command refuses a database file that does not exist (exit 4) and
// creates none; -db wins over SPOOL_DB.
func TestCLIMissingFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "missing.db")
	for _, args := range dbCommands {
		fails(t, exitNoDatabase, "no such file "+path, append(args, "-db", path)...)
		r := spoolEnv(t, []string{dbEnv + "=" + path}, args...)
		require.Equal(t, exitNoDatabase, r.code, "%v with %s: %s", args, dbEnv, r.stderr)
		require.Contains(t, r.stderr, "no such file "+path)
	}
	require.Empty(t, dirEntries(t, dir), "a command created a file")

	// -db wins over SPOOL_DB.
	f := newFixture(t)
	r := spoolEnv(t, []string{dbEnv + "=" + path}, "ls", "-db", f.path)
	require.Equal(t, 0, r.code, r.stderr)
	r = spoolEnv(t, []string{dbEnv + "=" + f.path}, "ls")
	require.Equal(t, 0, r.code, r.stderr)
	require.Empty(t, dirEntries(t, dir))
}

// Every command refuses, unchanged, a file that is not a spool database (an
// app's SQLite file, a text file) and one whose schema is newer than this
// spool's.
func TestCLINotASpoolDatabase(t *testing.T) {
	t.Parallel()
	for name, create := range map[string]func(t *testing.T, path string){
		"sqlite app database": makeAppDB,
		"text file": func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, []byte("not a database at all\n"), 0o644))
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "other.db")
			create(t, path)
			before, err := os.ReadFile(path)
			require.NoError(t, err)
			files := dirEntries(t, dir)
			cmds := dbCommands
			if name == "text file" {
				cmds = append(cmds, []string{"migrate"})
			}
			for _, args := range cmds {
				fails(t, exitNoDatabase, path+" is not a spool database", append(args, "-db", path)...)
			}
			after, err := os.ReadFile(path)
			require.NoError(t, err)
			require.True(t, bytes.Equal(before, after), "a command changed the file")
			require.Equal(t, files, dirEntries(t, dir), "a command created a file")
		})
	}
	t.Run("newer schema", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		_, err := f.store.DB().Exec(`INSERT INTO spool_migrations (version, name, applied_at) VALUES (99, 'future', 0)`)
		require.NoError(t, err)
		before := f.snapshot(t)
		for _, args := range [][]string{{"ls"}, {"pause", "payments"}, {"migrate"}} {
			fails(t, exitNoDatabase, "newer than this spool's", append(args, "-db", f.path)...)
		}
		require.Equal(t, before, f.snapshot(t))
	})
}

package main

// The maintenance commands: migrate, vacuum and check.

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/sqlitetest"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// migrate creates a database or adds the spool tables to an app's own;
// vacuum returns the pages of deleted jobs and keeps every job.
func TestCLIMigrateVacuum(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "new.db")
	r := ok(t, "migrate", "-db", path)
	require.Equal(t, fmt.Sprintf("created %s, schema version %d\n", path, sqlite.SchemaVersion()), r.stdout)
	var m struct {
		Path          string `json:"path"`
		SchemaVersion int    `json:"schema_version"`
		Action        string `json:"action"`
	}
	okJSON(t, &m, "migrate", "-db", path)
	require.Equal(t, sqlite.SchemaVersion(), m.SchemaVersion)
	require.Equal(t, "none", m.Action)
	r = ok(t, "stats", "-db", path)
	require.Contains(t, r.stderr, "no queues")

	// An app's SQLite database gets the spool tables beside its own.
	app := filepath.Join(dir, "app.db")
	makeAppDB(t, app)
	okJSON(t, &m, "migrate", "-db", app)
	require.Equal(t, "added", m.Action)
	ok(t, "ls", "-db", app)

	f := newFixture(t)
	for i := range 200 {
		_, err := f.q.Enqueue(context.Background(), queue.NewJob{Kind: "bulk", Args: map[string]string{"pad": strings.Repeat("x", 2000), "i": strconv.Itoa(i)}})
		require.NoError(t, err)
	}
	jobs, err := f.q.Inspector().List(context.Background(), queue.ListFilter{Kind: "bulk", Limit: 1000})
	require.NoError(t, err)
	for _, j := range jobs {
		require.NoError(t, f.q.Inspector().Delete(context.Background(), j.ID))
	}
	require.NoError(t, f.store.Checkpoint(context.Background()))
	var v struct {
		Path        string `json:"path"`
		BytesBefore int64  `json:"bytes_before"`
		BytesAfter  int64  `json:"bytes_after"`
	}
	okJSON(t, &v, "vacuum", "-db", f.path)
	require.Equal(t, f.path, v.Path)
	require.Less(t, v.BytesAfter, v.BytesBefore, "vacuum returns the deleted jobs' pages")
	r = ok(t, "vacuum", "-db", f.path)
	require.Contains(t, r.stdout, "vacuumed "+f.path)
	var ls lsOut
	okJSON(t, &ls, "ls", "-db", f.path)
	require.Len(t, ls.Jobs, 5, "vacuum keeps every job")
}

// spool check passes a sound file and reports a damaged page, with what to
// do, in text and JSON, quick and full.
func TestCLICheck(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "spool.db")
	sqlitetest.FileWithJobs(t, path, "k", 300)

	r := ok(t, "check", "-db", path)
	require.Equal(t, "ok: "+path+" passed quick_check\n", r.stdout)
	r = ok(t, "check", "-full", "-db", path)
	require.Equal(t, "ok: "+path+" passed integrity_check\n", r.stdout)

	root := sqlitetest.CorruptPage(t, path, "spool_jobs_ready")
	for _, full := range []bool{false, true} {
		args := []string{"check", "-db", path}
		if full {
			args = append(args, "-full")
		}
		r := fails(t, 1, path+" is damaged", args...)
		require.Contains(t, r.stderr, "page "+itoa(root))
		require.Contains(t, r.stderr, "sqlite3 "+path+" .recover")
		require.Contains(t, r.stderr, "backup")

		r = spool(t, append(args, "-json")...)
		require.Equal(t, 1, r.code, r.stderr)
		var out struct {
			Path     string
			Check    string
			OK       bool
			Problems []string
		}
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
		require.Equal(t, path, out.Path)
		require.False(t, out.OK)
		require.NotEmpty(t, out.Problems)
	}
}

func itoa(n int64) string { return fmt.Sprint(n) }

package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/pgtest"
)

// schemaExists reports whether the server at url has the schema name.
func schemaExists(t *testing.T, url, name string) bool {
	t.Helper()
	db, err := sql.Open("pgx", url)
	require.NoError(t, err)
	defer db.Close()
	var ok bool
	require.NoError(t, db.QueryRowContext(context.Background(),
		`SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, name).Scan(&ok))
	return ok
}

// TestBenchPostgresDrain runs the drain scenario briefly on PostgreSQL: no
// job lost or run twice, the same JSON fields as on SQLite, and the run's
// schema dropped afterwards.
func TestBenchPostgresDrain(t *testing.T) {
	url := pgtest.URL(t)
	var stdout, stderr bytes.Buffer
	err := runBench(context.Background(), []string{"-scenario", "drain", "-jobs", "2000", "-db", url, "-json"}, &stdout, &stderr)
	require.NoError(t, err, "stderr:\n%s", stderr.String())
	var got map[string]any
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &got), stdout.String())
	require.Len(t, got, len(benchFields), "%v", got)
	require.Equal(t, 2000.0, got["jobs"])
	require.Equal(t, 0.0, got["lost"])
	require.Equal(t, 0.0, got["duplicates"])
	require.Positive(t, got["jobs_per_sec"])

	m := regexp.MustCompile(`spool_schema=(spool_bench_[a-z0-9]+)`).FindStringSubmatch(stderr.String())
	require.NotNil(t, m, "no schema named on stderr:\n%s", stderr.String())
	require.False(t, schemaExists(t, url, m[1]), "the run's schema %s is left on the server", m[1])
}

// TestBenchPostgresLatencyApart runs the latency scenario with its
// producers on a store of their own, as on another host: every job starts,
// once.
func TestBenchPostgresLatencyApart(t *testing.T) {
	url := pgtest.URL(t)
	var stdout, stderr bytes.Buffer
	err := runBench(context.Background(), []string{"-scenario", "latency", "-rate", "200", "-duration", "1s", "-apart", "-db", url, "-json"}, &stdout, &stderr)
	require.NoError(t, err, "stderr:\n%s", stderr.String())
	var got map[string]any
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &got), stdout.String())
	require.Equal(t, true, got["apart"])
	require.Equal(t, 200.0, got["jobs"])
	require.Equal(t, 0.0, got["lost"])
	require.Equal(t, 0.0, got["duplicates"])
	require.Positive(t, got["p99_ms"])
}

// TestBenchPostgresMultiproc runs the multiproc scenario briefly on
// PostgreSQL through the built binary: its children share the run's
// schema, and every acknowledged job is completed or left, none lost or run
// twice.
func TestBenchPostgresMultiproc(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	r := spool(t, "bench", "-scenario", "multiproc", "-procs", "2", "-duration", "2s",
		"-producers", "2", "-workers", "4", "-db", url, "-json")
	require.Equal(t, 0, r.code, "stderr:\n%s", r.stderr)
	var res multiprocResult
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&res), r.stdout)
	require.Len(t, res.Processes, 2)
	for _, p := range res.Processes {
		require.Positive(t, p.Enqueued, "proc %d enqueued nothing", p.Proc)
		require.Positive(t, p.Completed, "proc %d ran nothing", p.Proc)
	}
	left := 0
	for _, n := range res.Left {
		left += n
	}
	require.Zero(t, res.Lost)
	require.Zero(t, res.Duplicates)
	require.Equal(t, res.Enqueued, res.Completed+left)
}

// TestBenchPostgresUsage: bench chooses the schema itself, and the busy
// timeout is SQLite's.
func TestBenchPostgresUsage(t *testing.T) {
	const url = "postgres://nobody@127.0.0.1:1/none"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-db", url + "?spool_schema=mine"}, "leave out spool_schema"},
		{[]string{"-scenario", "multiproc", "-db", url, "-busy-timeout", "1s"}, "-busy-timeout 1s: applies only to a SQLite file"},
		{[]string{"-scenario", "multiproc", "-mp-child", "1", "-mp-dir", "/tmp", "-db", url}, "needs the run's spool_schema"},
	} {
		_, err := parseBench(tc.args, &strings.Builder{})
		require.ErrorContains(t, err, tc.want, "%v", tc.args)
	}
}

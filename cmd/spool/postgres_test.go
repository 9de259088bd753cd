package main

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/pgtest"
	"github.com/spooljobs/spool/postgres"
	"github.com/spooljobs/spool/queue"
)

// The commands take a postgres:// URL wherever they take a file: migrate
// creates the schema (and only migrate does), the others read and write
// the jobs there, in the schema spool_schema names.
func TestCLIOnPostgres(t *testing.T) {
	t.Parallel()
	server := pgtest.URL(t)
	schema := pgtest.Schema(t, server)
	url := server + "&spool_schema=" + schema
	if !strings.Contains(server, "?") {
		url = server + "?spool_schema=" + schema
	}

	fails(t, exitNoDatabase, "is not a spool database (it has no spool tables)", "stats", "-db", url)
	r := ok(t, "migrate", "-db", url)
	require.Contains(t, r.stdout, "schema "+schema+" is at version "+strconv.Itoa(postgres.SchemaVersion()))

	ctx := context.Background()
	store, err := postgres.Open(ctx, server, postgres.Options{Schema: schema, NoListen: true})
	require.NoError(t, err)
	defer store.Close()
	q, err := queue.New(store, queue.Options{})
	require.NoError(t, err)
	res, err := q.Enqueue(ctx, queue.NewJob{Kind: "mail.send", Queue: "mail"})
	require.NoError(t, err)
	id := strconv.FormatInt(res.ID, 10)

	require.Contains(t, ok(t, "stats", "-db", url).stdout, "mail")
	require.Contains(t, ok(t, "ls", "-db", url).stdout, "mail.send")
	require.Contains(t, ok(t, "show", id, "-db", url).stdout, "mail.send")
	ok(t, "pause", "mail", "-db", url)
	st, err := q.Inspector().Stats(ctx)
	require.NoError(t, err)
	require.True(t, st.Queues[0].Paused, "paused through the CLI")
	ok(t, "cancel", id, "-db", url)
	j, err := q.Inspector().Get(ctx, res.ID)
	require.NoError(t, err)
	require.Equal(t, queue.StateCancelled, j.State)
	fails(t, exitNotFound, "unknown job id 999999", "show", "999999", "-db", url)
	fails(t, 2, "spool check reads SQLite files", "check", "-db", url)
	r = spoolEnv(t, []string{"SPOOL_DB=" + url}, "stats")
	require.Equal(t, 0, r.code, r.stderr)
}

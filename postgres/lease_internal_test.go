package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/pgtest"
	"github.com/spooljobs/spool/queue"
)

// The one-statement lease turns synchronous_commit off for its own
// transaction: its commit does not wait for the WAL flush (lease.go says
// why that is safe). Run inside a transaction here, so that the setting
// can be read back before the commit ends it.
func TestLeaseFastCommitsWithoutWaitingForFlush(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	s, err := Open(ctx, url, Options{Schema: pgtest.Schema(t, url)})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	now := time.Now()
	_, err = s.Enqueue(ctx, nil, now, []queue.NewJob{{Queue: "default", Kind: "k", MaxAttempts: 3, Payload: []byte(`{}`)}})
	require.NoError(t, err)

	tx, err := s.db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	f := s.clock.frame()
	rows, err := tx.QueryContext(ctx, s.sql(sqlLeaseFast), f.us(now), f.us(now.Add(time.Minute)), int64(1), "w", "default", 10)
	require.NoError(t, err)
	leased := 0
	for rows.Next() {
		leased++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, 1, leased)
	var setting string
	require.NoError(t, tx.QueryRowContext(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&setting))
	require.Equal(t, "off", setting)
	// Outside the lease's transaction the session's setting is as it was.
	require.NoError(t, tx.Rollback())
	require.NoError(t, s.db.QueryRowContext(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&setting))
	require.Equal(t, "on", setting)
}

package spooltest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/pgtest"
	"github.com/spooljobs/spool/postgres"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/spooltest"
	"github.com/spooljobs/spool/worker"
)

// The kit wraps an app's own queue, here on PostgreSQL: the outbox
// assertion looks into a pgx transaction, and Work and Drain run on it.
func TestKitWrapsAQueueOnPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	store, err := postgres.Open(ctx, url, postgres.Options{Schema: pgtest.Schema(t, url), MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	clock := spooltest.NewClock(start)
	q, err := queue.New(store, queue.Options{Now: clock.Now})
	require.NoError(t, err)
	k := spooltest.New(t, spooltest.Options{Queue: q, Clock: clock,
		WorkerOptions: worker.Options{Backoff: queue.Constant(time.Minute)}})
	require.Same(t, q, k.Queue())
	require.Same(t, store.DB(), k.DB())

	tx, err := k.DB().BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	_, err = q.EnqueueTx(ctx, tx, queue.NewJob{Kind: "email.receipt", Queue: "mail", Args: receipt{OrderID: 7}})
	require.NoError(t, err)
	k.RequireOnlyEnqueuedTx(ctx, t, tx, spooltest.Want("email.receipt", map[string]any{"order_id": 7, "email": ""}, spooltest.Queue("mail")))
	msg := failure(t, func(tb testing.TB) { k.RequireNotEnqueuedTx(ctx, tb, tx, "email.receipt", nil) })
	require.Contains(t, msg, `#1 email.receipt queue=mail state=pending args={"order_id":7,"email":""}`)
	k.RequireNotEnqueued(ctx, t, "email.receipt", nil)
	require.NoError(t, tx.Commit())

	pool := k.NewPool(t)
	pool.HandleFunc("email.receipt", func(ctx context.Context, j *queue.Job) error {
		if j.Attempt == 1 {
			return errors.New("mail server busy")
		}
		return nil
	})
	rep := k.DrainWith(ctx, t, pool, spooltest.DrainOptions{Queues: []string{"mail"}, Advance: time.Hour})
	require.Equal(t, "2 attempts (email.receipt: complete 1, retry 1); clock advanced 1m0s", rep.String())

	res := k.WorkPool(ctx, t, pool, queue.NewJob{Kind: "email.receipt", Queue: "mail"})
	require.Equal(t, queue.OutcomeRetry, res.Outcome)
	require.Equal(t, 1, res.Job.Attempt)
}

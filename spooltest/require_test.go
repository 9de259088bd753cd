package spooltest_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/spooltest"
)

type receipt struct {
	OrderID int    `json:"order_id"`
	Email   string `json:"email"`
}

// beginWith begins a transaction on the kit's database and enqueues jobs
// in it; t.Cleanup rolls it back if the test has not.
func beginWith(t *testing.T, k *spooltest.Kit, jobs ...queue.NewJob) *sql.Tx {
	t.Helper()
	ctx := context.Background()
	tx, err := k.DB().BeginTx(ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() { tx.Rollback() })
	if len(jobs) > 0 {
		_, err = k.Queue().EnqueueManyTx(ctx, tx, jobs)
		require.NoError(t, err)
	}
	return tx
}

func TestRequireEnqueuedTxComparesArgsAsJSON(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := newKit(t)
	tx := beginWith(t, k, queue.NewJob{Kind: "email.receipt", Queue: "mail", Priority: 5,
		Args:     receipt{OrderID: 7, Email: "ada@example.com"},
		Metadata: map[string]string{"correlation_id": "order-7"}})

	// Another key order, 7.0 for 7, raw JSON: the same JSON value.
	j := k.RequireEnqueuedTx(ctx, t, tx, "email.receipt", map[string]any{"email": "ada@example.com", "order_id": 7.0},
		spooltest.Queue("mail"), spooltest.Priority(5), spooltest.Metadata("correlation_id", "order-7"),
		spooltest.State(queue.StatePending), spooltest.RunAt(start))
	require.NotZero(t, j.ID)
	k.RequireEnqueuedTx(ctx, t, tx, "email.receipt", []byte(`{ "order_id": 7, "email": "ada@example.com" }`))
	k.RequireEnqueuedTx(ctx, t, tx, "email.receipt", nil)
	k.RequireNotEnqueuedTx(ctx, t, tx, "email.receipt", receipt{OrderID: 8, Email: "ada@example.com"})
	k.RequireNotEnqueuedTx(ctx, t, tx, "email.welcome", nil)

	// Uncommitted: nothing outside the transaction sees it.
	k.RequireNotEnqueued(ctx, t, "email.receipt", nil)
	require.NoError(t, tx.Commit())
	k.RequireEnqueued(ctx, t, "email.receipt", receipt{OrderID: 7, Email: "ada@example.com"})
}

func TestRequireEnqueuedFailsListingWhatWasEnqueued(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := newKit(t)
	tx := beginWith(t, k,
		queue.NewJob{Kind: "email.receipt", Args: receipt{OrderID: 7}},
		queue.NewJob{Kind: "stock.reserve", Queue: "orders", Args: map[string]int{"order_id": 7}})

	msg := failure(t, func(tb testing.TB) {
		k.RequireEnqueuedTx(ctx, tb, tx, "email.receipt", receipt{OrderID: 8})
	})
	require.Contains(t, msg, `RequireEnqueuedTx: no job kind "email.receipt" with args {"order_id":8,"email":""}`)
	require.Contains(t, msg, "enqueued instead (2 jobs, as the transaction sees them):")
	require.Contains(t, msg, `#1 email.receipt queue=default state=pending args={"order_id":7,"email":""}  (args differ)`)
	require.Contains(t, msg, `#2 stock.reserve queue=orders state=pending args={"order_id":7}`)

	msg = failure(t, func(tb testing.TB) {
		k.RequireEnqueuedTx(ctx, tb, tx, "email.receipt", nil, spooltest.Queue("mail"), spooltest.Priority(3))
	})
	require.Contains(t, msg, `(queue "default", want queue "mail"; priority 0, want priority 3)`)

	msg = failure(t, func(tb testing.TB) { k.RequireNotEnqueuedTx(ctx, tb, tx, "stock.reserve", nil) })
	require.Contains(t, msg, `want no job kind "stock.reserve" with any args; found 1:`)

	// Committed jobs: none yet.
	msg = failure(t, func(tb testing.TB) { k.RequireEnqueued(ctx, tb, "email.receipt", nil) })
	require.Contains(t, msg, "no job was enqueued at all")

	// Two that match where one is wanted.
	_, err := k.Queue().EnqueueTx(ctx, tx, queue.NewJob{Kind: "email.receipt", Args: receipt{OrderID: 7}})
	require.NoError(t, err)
	msg = failure(t, func(tb testing.TB) { k.RequireEnqueuedTx(ctx, tb, tx, "email.receipt", receipt{OrderID: 7}) })
	require.Contains(t, msg, "2 jobs match")

	// The passing case passes on the fake too: failure sees the fake's verdict.
	require.Empty(t, failure(t, func(tb testing.TB) { k.RequireEnqueuedTx(ctx, tb, tx, "stock.reserve", nil) }))
}

func TestRequireOnlyEnqueuedFailsOnAnythingElse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := newKit(t)
	tx := beginWith(t, k,
		queue.NewJob{Kind: "email.receipt", Args: receipt{OrderID: 1}},
		queue.NewJob{Kind: "email.receipt", Args: receipt{OrderID: 2}},
		queue.NewJob{Kind: "warehouse.notify", Args: map[string]int{"order_id": 1}})

	// Many: each wanted job gets a job of its own; others are allowed. The
	// first want (any args) could take order 1's job, which the second needs:
	// the kit finds the assignment that serves both.
	got := k.RequireManyEnqueuedTx(ctx, t, tx,
		spooltest.Want("email.receipt", nil),
		spooltest.Want("email.receipt", receipt{OrderID: 1}))
	require.Len(t, got, 2)
	require.JSONEq(t, `{"order_id":1,"email":""}`, string(got[1].Payload))
	require.NotEqual(t, got[0].ID, got[1].ID)

	msg := failure(t, func(tb testing.TB) {
		k.RequireOnlyEnqueuedTx(ctx, tb, tx,
			spooltest.Want("email.receipt", receipt{OrderID: 1}),
			spooltest.Want("email.receipt", receipt{OrderID: 2}))
	})
	require.Contains(t, msg, "RequireOnlyEnqueuedTx: 1 jobs beyond those wanted (want these and nothing else):")
	require.Contains(t, msg, `#3 warehouse.notify queue=default state=pending args={"order_id":1}`)

	msg = failure(t, func(tb testing.TB) {
		k.RequireManyEnqueuedTx(ctx, tb, tx,
			spooltest.Want("email.receipt", receipt{OrderID: 1}),
			spooltest.Want("email.receipt", receipt{OrderID: 1}))
	})
	require.Contains(t, msg, "1 of 2 wanted jobs not found")
	require.Contains(t, msg, `want #2: kind "email.receipt" with args {"order_id":1,"email":""}`)

	k.RequireOnlyEnqueuedTx(ctx, t, tx,
		spooltest.Want("warehouse.notify", nil),
		spooltest.Want("email.receipt", receipt{OrderID: 2}),
		spooltest.Want("email.receipt", receipt{OrderID: 1}))

	// Rolled back, the outbox left nothing.
	require.NoError(t, tx.Rollback())
	k.RequireOnlyEnqueued(ctx, t)
	msg = failure(t, func(tb testing.TB) { k.RequireOnlyEnqueuedTx(ctx, tb, nil) })
	require.Contains(t, msg, "tx is nil")
}

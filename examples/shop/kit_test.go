package main

// The shop's own tests written with the test kit (package spooltest): the
// README's "Testing your jobs" section shows them.

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/spooltest"
	"github.com/spooljobs/spool/worker"
)

// newTestShop is the shop on the kit's database: its tables and its
// subscriptions, no server.
func newTestShop(t *testing.T, kit *spooltest.Kit) *shop {
	t.Helper()
	ctx := context.Background()
	_, err := kit.DB().ExecContext(ctx, schemaSQLite)
	require.NoError(t, err)
	require.NoError(t, subscribe(ctx, kit.Queue()))
	return &shop{db: kit.DB(), q: kit.Queue(), out: io.Discard}
}

// A handler test: the payment handler runs once, inline, with a real job.
func TestChargePayment(t *testing.T) {
	ctx := context.Background()
	kit := spooltest.New(t, spooltest.Options{})
	s := newTestShop(t, kit)

	res := kit.Work(ctx, t, worker.JSON(s.chargePayment),
		queue.NewJob{Kind: "payment.charge", Args: OrderJob{OrderID: 1, TotalCents: 0}})
	require.Equal(t, queue.OutcomeDead, res.Outcome, "nothing to charge: retrying cannot help")
	require.Contains(t, res.DeadReason, "order 1 has total 0 cents")

	id, err := s.placeOrder(ctx, Order{Customer: "ada", SKU: "MUG-1", Quantity: 1, TotalCents: 1200})
	require.NoError(t, err)
	res = kit.Work(ctx, t, worker.JSON(s.chargePayment),
		queue.NewJob{Kind: "payment.charge", Args: OrderJob{OrderID: id, TotalCents: 1200}})
	require.Equal(t, queue.OutcomeComplete, res.Outcome, res)
	var paid bool
	require.NoError(t, s.db.QueryRowContext(ctx, `SELECT paid FROM orders WHERE id = $1`, id).Scan(&paid))
	require.True(t, paid)
}

// An outbox test: placing an order enqueues its four follow-up jobs in the
// order's own transaction, and nothing else.
func TestPlaceOrderEnqueuesFollowUps(t *testing.T) {
	ctx := context.Background()
	kit := spooltest.New(t, spooltest.Options{})
	s := newTestShop(t, kit)

	tx, err := kit.DB().BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	id, err := s.placeOrderTx(ctx, tx, Order{Customer: "ada", SKU: "MUG-1", Quantity: 2, TotalCents: 2400})
	require.NoError(t, err)

	args := OrderJob{OrderID: id, SKU: "MUG-1", Quantity: 2, TotalCents: 2400, Customer: "ada"}
	order := spooltest.Metadata("correlation_id", fmt.Sprintf("order-%d", id))
	kit.RequireOnlyEnqueuedTx(ctx, t, tx,
		spooltest.Want("stock.reserve", args, spooltest.Queue("orders"), spooltest.Priority(10), order),
		spooltest.Want("payment.charge", args, spooltest.Queue("orders"), spooltest.Priority(10), order),
		spooltest.Want("email.receipt", args, spooltest.Queue("mail"), order),
		spooltest.Want("warehouse.notify", args, spooltest.Queue("orders"), order),
	)
	require.NoError(t, tx.Rollback())
	kit.RequireOnlyEnqueued(ctx, t) // rolled back: no jobs either
}

// The whole flow: an order's jobs, drained synchronously through the
// shop's own handlers.
func TestOrderFlowDrains(t *testing.T) {
	ctx := context.Background()
	kit := spooltest.New(t, spooltest.Options{WorkerOptions: worker.Options{
		Queues: map[string]worker.QueueConfig{"orders": {}, "mail": {}}}})
	s := newTestShop(t, kit)
	pool := kit.NewPool(t)
	s.handle(pool)

	id, err := s.placeOrder(ctx, Order{Customer: "ada", SKU: "MUG-1", Quantity: 2, TotalCents: 2400})
	require.NoError(t, err)
	report := kit.Drain(ctx, t, pool)
	require.Equal(t, map[string]int{"complete": 4}, report.Outcomes(), report)

	var reserved int
	var paid bool
	require.NoError(t, s.db.QueryRowContext(ctx, `SELECT reserved FROM stock WHERE sku = 'MUG-1'`).Scan(&reserved))
	require.NoError(t, s.db.QueryRowContext(ctx, `SELECT paid FROM orders WHERE id = $1`, id).Scan(&paid))
	require.Equal(t, 2, reserved)
	require.True(t, paid)
	kit.RequireOnlyEnqueued(ctx, t) // every job completed
}

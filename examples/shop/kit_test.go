package main

// The shop's own tests written with the test kit (package spooltest): the
// README's "Testing your jobs" section shows them.

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/syncbuf"
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
	// The handler completes its job in its own transaction (CompleteTx),
	// so it needs the pool that runs it.
	pool := kit.NewPool(t)
	s.handle(pool)

	res := kit.WorkPool(ctx, t, pool, queue.NewJob{Kind: "payment.charge", Args: OrderJob{OrderID: 1, TotalCents: 0}})
	require.Equal(t, queue.OutcomeDead, res.Outcome, "nothing to charge: retrying cannot help")
	require.Contains(t, res.DeadReason, "order 1 has total 0 cents")

	id, err := s.placeOrder(ctx, Order{Customer: "ada", SKU: "MUG-1", Quantity: 1, TotalCents: 1200})
	require.NoError(t, err)
	res = kit.WorkPool(ctx, t, pool, queue.NewJob{Kind: "payment.charge", Args: OrderJob{OrderID: id, TotalCents: 1200}})
	require.Equal(t, queue.OutcomeComplete, res.Outcome, res)
	var paid bool
	require.NoError(t, s.db.QueryRowContext(ctx, `SELECT paid FROM orders WHERE id = $1`, id).Scan(&paid))
	require.True(t, paid)
	require.True(t, res.CompletedInTx, "paid and completed in one transaction")
}

// An outbox test: placing an order enqueues its fulfilment steps and the
// warehouse's notice in the order's own transaction, and nothing else.
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
	waiting := spooltest.State(queue.StateBlocked) // for the steps before it
	kit.RequireOnlyEnqueuedTx(ctx, t, tx,
		spooltest.Want("order.validate", args, spooltest.Queue("orders"), spooltest.Priority(10), order),
		spooltest.Want("stock.reserve", args, spooltest.Queue("orders"), spooltest.Priority(10), order, waiting),
		spooltest.Want("payment.charge", args, spooltest.Queue("orders"), spooltest.Priority(10), spooltest.MaxAttempts(3), order, waiting),
		spooltest.Want("order.ship", args, spooltest.Queue("orders"), order, waiting),
		spooltest.Want("email.receipt", args, spooltest.Queue("mail"), order, waiting),
		spooltest.Want("order.compensate", args, spooltest.Queue("orders"), order, waiting),
		spooltest.Want("warehouse.notify", args, spooltest.Queue("orders"), order),
	)
	require.NoError(t, tx.Rollback())
	kit.RequireOnlyEnqueued(ctx, t) // rolled back: no jobs either
}

// The whole flow: an order's jobs, drained synchronously through the
// shop's own handlers, each step after the steps it waits for.
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
	require.Equal(t, map[string]int{"complete": 7}, report.Outcomes(), report)
	ran := map[string]int{} // kind: its place in the drain
	for i, r := range report.Runs {
		ran[r.Job.Kind] = i
	}
	for child, parents := range map[string][]string{
		"stock.reserve": {"order.validate"}, "payment.charge": {"order.validate"},
		"order.ship": {"stock.reserve", "payment.charge"}, "email.receipt": {"order.ship"},
		"order.compensate": {"stock.reserve", "payment.charge"},
	} {
		for _, p := range parents {
			require.Less(t, ran[p], ran[child], "%s ran before its parent %s: %s", child, p, report)
		}
	}

	var reserved int
	var paid bool
	require.NoError(t, s.db.QueryRowContext(ctx, `SELECT reserved FROM stock WHERE sku = 'MUG-1'`).Scan(&reserved))
	require.NoError(t, s.db.QueryRowContext(ctx, `SELECT paid FROM orders WHERE id = $1`, id).Scan(&paid))
	require.Equal(t, 2, reserved)
	require.True(t, paid)
	kit.RequireOnlyEnqueued(ctx, t) // every job completed
}

// A payment that fails every attempt dies after its third; that cancels
// the shipment and the receipt, and the compensation releases the stock.
func TestDeadPaymentCancelsShipAndCompensates(t *testing.T) {
	ctx := context.Background()
	kit := spooltest.New(t, spooltest.Options{WorkerOptions: worker.Options{
		Queues: map[string]worker.QueueConfig{"orders": {}, "mail": {}}}})
	s := newTestShop(t, kit)
	out := &syncbuf.Buffer{}
	s.out, s.cfg.PaymentFailureRate = out, 1
	pool := kit.NewPool(t)
	s.handle(pool)

	id, err := s.placeOrder(ctx, Order{Customer: "ada", SKU: "MUG-1", Quantity: 2, TotalCents: 2400})
	require.NoError(t, err)
	report := kit.DrainWith(ctx, t, pool, spooltest.DrainOptions{Advance: time.Hour})
	require.Equal(t, chargeAttempts-1, report.Count("payment.charge", queue.OutcomeRetry), report)
	require.Equal(t, 1, report.Count("payment.charge", queue.OutcomeDead), report)
	require.Equal(t, 1, report.Count("order.compensate", queue.OutcomeComplete), report)
	require.Zero(t, report.Kinds()["order.ship"], "a dead payment cancels the shipment: %s", report)
	require.Zero(t, report.Kinds()["email.receipt"], "and the receipt: %s", report)

	st, err := s.orderStatus(ctx, id)
	require.NoError(t, err)
	states := map[string]string{}
	for _, step := range st.Steps {
		states[step.Step] = step.State
	}
	require.Equal(t, map[string]string{stepValidate: "gone", stepReserve: "gone", stepCharge: "dead",
		stepShip: "cancelled", stepEmail: "cancelled", stepCompensate: "gone"}, states, "completed jobs are deleted here (no KeepCompleted)")
	var reserved int
	require.NoError(t, s.db.QueryRowContext(ctx, `SELECT reserved FROM stock WHERE sku = 'MUG-1'`).Scan(&reserved))
	require.Zero(t, reserved, "released")
	require.False(t, st.Paid)
	require.Contains(t, out.String(), fmt.Sprintf("order %d not fulfilled, payment.charge job", id))
	require.Contains(t, out.String(), "released 2 × MUG-1, shipment cancelled")
}

// The nightly stock sync: the scheduled job enqueues its pages as one
// batch, whose OnSuccess callback runs once, after every page; the batch
// shows all pages done. A second night makes a second batch.
func TestNightlySyncIsABatch(t *testing.T) {
	ctx := context.Background()
	kit := spooltest.New(t, spooltest.Options{Start: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC),
		WorkerOptions: worker.Options{Queues: map[string]worker.QueueConfig{"maintenance": {}}}})
	s := newTestShop(t, kit)
	out := &syncbuf.Buffer{}
	s.out = out
	pool := kit.NewPool(t)
	s.handle(pool)
	sched, err := newScheduler(kit.Queue())
	require.NoError(t, err)

	pages := len(warehouses) * syncPagesPerWarehouse
	for night := 1; night <= 2; night++ {
		kit.RunSchedules(ctx, t, sched, 24*time.Hour)
		report := kit.Drain(ctx, t, pool)
		require.Equal(t, map[string]int{"stock.sync": 1, "stock.sync.page": pages, "stock.sync.done": 1}, report.Kinds(), report)
		require.Equal(t, map[string]int{"complete": pages + 2}, report.Outcomes(), report)

		batches, err := kit.Queue().Inspector().Batches(ctx, queue.BatchFilter{})
		require.NoError(t, err)
		require.Len(t, batches, night, "one batch a night")
		b := batches[0] // newest first
		require.Equal(t, pages, b.Total)
		require.Equal(t, pages, b.Done())
		require.Equal(t, pages, b.Succeeded)
		require.False(t, b.Open())
		require.True(t, b.SuccessFired)
		require.NotZero(t, b.SuccessJob)
		require.False(t, b.DeathFired)
		require.Contains(t, out.String(), fmt.Sprintf("done: %d of %d pages synced (batch %d)", pages, pages, b.ID))
	}
	require.Equal(t, 2, strings.Count(out.String(), "pages synced"), "one success callback a night:\n%s", out)
}

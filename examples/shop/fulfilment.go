package main

// Fulfilment as a dependency graph (queue.NewJob.DependsOn), enqueued in
// the transaction that stores the order:
//
//	order.validate ─┬─► stock.reserve  ─┬─► order.ship ─► email.receipt
//	                └─► payment.charge ─┤
//	                                    └─► order.compensate (runs whatever became of its parents)
//
// Each step records what it did (worker.RecordOutput) and the steps after
// it read that (worker.ParentOutputs): ship reads where the stock was
// reserved, the receipt reads the shipment's tracking number, and the
// compensation reads whether stock was reserved and money taken.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

// The fulfilment steps, in the order the graph runs them. An order's
// steps are kept in order_steps by these names.
const (
	stepValidate   = "validate"
	stepReserve    = "reserve"
	stepCharge     = "charge"
	stepShip       = "ship"
	stepEmail      = "email"
	stepCompensate = "compensate"
)

// chargeAttempts is payment.charge's MaxAttempts: with the demo's 20 %
// provider failures, most failed charges succeed on a retry, and about one
// payment in 125 (0.2³) uses all three attempts and dies, which cancels
// its order's shipment and runs the compensation.
const chargeAttempts = 3

// fulfilmentStep is one job of an order's graph: its kind and queue, the
// steps it waits for, and what a failed parent does to it.
type fulfilmentStep struct {
	name      string
	job       queue.NewJob
	waitsFor  []string
	onFailure queue.ParentFailure
}

// fulfilmentSteps are an order's jobs, each after the steps it waits for.
func fulfilmentSteps(o OrderJob) []fulfilmentStep {
	md := map[string]string{"correlation_id": "order-" + strconv.FormatInt(o.OrderID, 10)}
	job := func(kind, q string, prio int) queue.NewJob {
		return queue.NewJob{Kind: kind, Queue: q, Priority: prio, Args: o, Metadata: md}
	}
	charge := job("payment.charge", "orders", 10)
	charge.MaxAttempts = chargeAttempts
	return []fulfilmentStep{
		{name: stepValidate, job: job("order.validate", "orders", 10)},
		// Reserve and charge run in parallel once the order is valid. An
		// order that fails validation cancels both (the default
		// ParentFailureCancel): nothing to reserve or charge.
		{name: stepReserve, job: job("stock.reserve", "orders", 10), waitsFor: []string{stepValidate}},
		{name: stepCharge, job: charge, waitsFor: []string{stepValidate}},
		// Never ship unpaid or unreserved goods: a dead payment or
		// reservation cancels the shipment (ParentFailureCancel), and that
		// cancel spreads to the receipt below.
		{name: stepShip, job: job("order.ship", "orders", 0), waitsFor: []string{stepReserve, stepCharge}},
		// No receipt for an order that did not ship (ParentFailureCancel):
		// the compensation tells the customer instead.
		{name: stepEmail, job: job("email.receipt", "mail", 0), waitsFor: []string{stepShip}},
		// The compensation runs once reserve and charge both ended, however
		// they ended (ParentFailureRun): it must run exactly when one of
		// them failed, to release the stock of an unpaid order or refund a
		// payment for stock that could not be reserved, and it finds
		// nothing to do when both succeeded.
		{name: stepCompensate, job: job("order.compensate", "orders", 0), waitsFor: []string{stepReserve, stepCharge},
			onFailure: queue.ParentFailureRun},
	}
}

// enqueueFulfilmentTx enqueues order o's steps inside tx, each naming the
// ids of the steps it waits for, and records the steps' job ids in
// order_steps for GET /orders/{id}.
func (s *shop) enqueueFulfilmentTx(ctx context.Context, tx *sql.Tx, o OrderJob) error {
	ids := map[string]int64{}
	for _, st := range fulfilmentSteps(o) {
		j := st.job
		for _, p := range st.waitsFor {
			j.DependsOn = append(j.DependsOn, ids[p])
		}
		j.OnParentFailure = st.onFailure
		r, err := s.q.EnqueueTx(ctx, tx, j)
		if err != nil {
			return fmt.Errorf("enqueue %s: %w", st.name, err)
		}
		ids[st.name] = r.ID
		if _, err := tx.ExecContext(ctx, `INSERT INTO order_steps (order_id, step, job_id) VALUES ($1, $2, $3)`, o.OrderID, st.name, r.ID); err != nil {
			return err
		}
	}
	return nil
}

// stepOutput is what the fulfilment steps record (worker.RecordOutput),
// each its own fields; a step reads its parents' outputs merged.
type stepOutput struct {
	Valid     bool   `json:"valid,omitempty"`     // order.validate
	Warehouse string `json:"warehouse,omitempty"` // stock.reserve: where the stock is held
	Reserved  int    `json:"reserved,omitempty"`  // stock.reserve: how many
	ChargeID  string `json:"charge_id,omitempty"` // payment.charge
	Tracking  string `json:"tracking,omitempty"`  // order.ship
}

// parentsRecorded merges what the running job's parents recorded, and
// returns the parents with how each ended.
func parentsRecorded(ctx context.Context) (stepOutput, []queue.Dependency, error) {
	var out stepOutput
	parents, err := worker.Parents(ctx)
	if err != nil {
		return out, nil, err
	}
	for _, p := range parents {
		if p.Output != nil {
			if err := json.Unmarshal(p.Output, &out); err != nil {
				return out, nil, fmt.Errorf("parent %d's output: %w", p.ID, err)
			}
		}
	}
	return out, parents, nil
}

// warehouses hold the shop's stock; an SKU lives in one of them.
var warehouses = []string{"berlin", "leipzig"}

func warehouseOf(sku string) string {
	n := 0
	for _, c := range sku {
		n += int(c)
	}
	return warehouses[n%len(warehouses)]
}

// validateOrder checks that the order is on file and within bounds. An
// order it refuses dies at once (nothing can fix it), which cancels the
// rest of its graph. A zero total passes: it is the payment provider that
// refuses to charge nothing, the demo's poison order.
func (s *shop) validateOrder(ctx context.Context, job *queue.Job, o OrderJob) error {
	var qty int
	var sku string
	err := s.db.QueryRowContext(ctx, `SELECT quantity, sku FROM orders WHERE id = $1`, o.OrderID).Scan(&qty, &sku)
	if errors.Is(err, sql.ErrNoRows) {
		return queue.Permanent(fmt.Errorf("order %d is not on file", o.OrderID))
	}
	if err != nil {
		return err
	}
	if qty != o.Quantity || sku != o.SKU || qty <= 0 || qty > maxQuantity {
		return queue.Permanent(fmt.Errorf("order %d: %d × %s on file, %d × %s in the job", o.OrderID, qty, sku, o.Quantity, o.SKU))
	}
	return worker.RecordOutput(ctx, stepOutput{Valid: true})
}

// reserveStock completes its job in the transaction that reserves the
// stock: a crash or a redelivery can never reserve twice. It records where
// the stock is held, which order.ship reads.
func (s *shop) reserveStock(ctx context.Context, job *queue.Job, o OrderJob) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO stock (sku, reserved) VALUES ($1, $2)
		ON CONFLICT (sku) DO UPDATE SET reserved = stock.reserved + excluded.reserved`, o.SKU, o.Quantity); err != nil {
		return err
	}
	// Recorded before CompleteTx: the output commits with the job.
	if err := worker.RecordOutput(ctx, stepOutput{Warehouse: warehouseOf(o.SKU), Reserved: o.Quantity}); err != nil {
		return err
	}
	if err := s.pool.CompleteTx(ctx, tx, job); err != nil {
		return err
	}
	return tx.Commit()
}

var errPaymentProvider = errors.New("payment provider: 503 Service Unavailable")

func (s *shop) chargePayment(ctx context.Context, job *queue.Job, o OrderJob) error {
	if o.TotalCents <= 0 {
		// Retrying cannot fix this order: straight to the dead table.
		return queue.Permanent(fmt.Errorf("order %d has total %d cents: nothing to charge", o.OrderID, o.TotalCents))
	}
	if rand.Float64() < s.cfg.PaymentFailureRate {
		return errPaymentProvider
	}
	// The order marked paid, the charge id recorded and the job completed
	// in one transaction, as reserveStock does: a crash in between can
	// leave neither a paid order whose charge the compensation cannot see
	// nor a second charge on the retry.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE orders SET paid = 1 WHERE id = $1`, o.OrderID); err != nil {
		return err
	}
	if err := worker.RecordOutput(ctx, stepOutput{ChargeID: fmt.Sprintf("ch_%d_%d", o.OrderID, job.Attempt)}); err != nil {
		return err
	}
	if err := s.pool.CompleteTx(ctx, tx, job); err != nil {
		return err
	}
	return tx.Commit()
}

// shipOrder runs once stock is reserved and payment taken; it ships from
// the warehouse the reservation recorded and records the tracking number
// the receipt quotes.
func (s *shop) shipOrder(ctx context.Context, job *queue.Job, o OrderJob) error {
	rec, _, err := parentsRecorded(ctx)
	if err != nil {
		return err
	}
	if rec.Warehouse == "" || rec.ChargeID == "" {
		return queue.Permanent(fmt.Errorf("order %d: ship found no reservation or no charge among its parents' outputs (%+v)", o.OrderID, rec))
	}
	// A real shop books the parcel with its carrier here.
	return worker.RecordOutput(ctx, stepOutput{Tracking: fmt.Sprintf("SPL-%06d-%s", o.OrderID, rec.Warehouse)})
}

// logEveryOrder: the demo prints one order in this many as it completes
// (the whole chain), and every compensation.
const logEveryOrder = 25

// sendReceipt mails the receipt with the shipment's tracking number.
func (s *shop) sendReceipt(ctx context.Context, job *queue.Job, o OrderJob) error {
	rec, parents, err := parentsRecorded(ctx)
	if err != nil {
		return err
	}
	if len(parents) == 0 {
		return nil // a receipt job from before fulfilment was a graph: no tracking to quote
	}
	if rec.Tracking == "" {
		return queue.Permanent(fmt.Errorf("order %d: no tracking number among the receipt's parents' outputs", o.OrderID))
	}
	// A real shop calls its mail provider here.
	if o.OrderID%logEveryOrder == 1 {
		fmt.Fprintf(s.out, "%s  order %d: validated → stock reserved ‖ paid → shipped → receipt to %s, tracking %s\n",
			time.Now().Format("15:04:05"), o.OrderID, o.Customer, rec.Tracking)
	}
	return nil
}

// compensate runs after reserve and charge ended, however they ended. When
// both succeeded there is nothing to undo. Otherwise it releases reserved
// stock of an unpaid order, refunds a payment whose stock could not be
// reserved, and tells the customer; the release commits with the job
// (CompleteTx), so a redelivery never releases twice.
func (s *shop) compensate(ctx context.Context, job *queue.Job, o OrderJob) error {
	rec, parents, err := parentsRecorded(ctx)
	if err != nil {
		return err
	}
	reserved, paid := rec.Reserved > 0, rec.ChargeID != ""
	if reserved && paid {
		return nil // ship goes ahead
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var did string
	if reserved {
		if _, err := tx.ExecContext(ctx, `UPDATE stock SET reserved = reserved - $1 WHERE sku = $2`, rec.Reserved, o.SKU); err != nil {
			return err
		}
		did = fmt.Sprintf("released %d × %s", rec.Reserved, o.SKU)
	}
	if paid {
		// A real shop refunds through its payment provider here.
		if _, err := tx.ExecContext(ctx, `UPDATE orders SET paid = 0 WHERE id = $1`, o.OrderID); err != nil {
			return err
		}
		did = "refunded " + rec.ChargeID
	}
	if did == "" {
		did = "nothing to undo"
	}
	if err := s.pool.CompleteTx(ctx, tx, job); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	ended := ""
	for _, p := range parents {
		if p.State != queue.StateCompleted {
			ended += fmt.Sprintf(", %s job %d %s", p.Kind, p.ID, p.State)
		}
	}
	// A real shop mails the customer here ("we could not take your payment").
	fmt.Fprintf(s.out, "%s  order %d not fulfilled%s: %s, shipment cancelled, customer told\n",
		time.Now().Format("15:04:05"), o.OrderID, ended, did)
	return nil
}

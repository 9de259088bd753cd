package main

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/postgres"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

// Order is what POST /orders accepts.
type Order struct {
	Customer   string `json:"customer"`
	SKU        string `json:"sku"`
	Quantity   int    `json:"quantity"`
	TotalCents int    `json:"total_cents"`
}

// OrderJob is the payload of every follow-up job of an order.
type OrderJob struct {
	OrderID    int64  `json:"order_id"`
	SKU        string `json:"sku"`
	Quantity   int    `json:"quantity"`
	TotalCents int    `json:"total_cents"`
	Customer   string `json:"customer"`
}

// The shop's own tables, beside spool's. The statements below are written
// so that SQLite and PostgreSQL both run them ($n parameters, RETURNING,
// ON CONFLICT); only the id column differs.
const schemaSQLite = `
CREATE TABLE IF NOT EXISTS orders (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  customer    TEXT    NOT NULL,
  sku         TEXT    NOT NULL,
  quantity    INTEGER NOT NULL,
  total_cents INTEGER NOT NULL,
  paid        INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS stock (
  sku      TEXT PRIMARY KEY,
  reserved INTEGER NOT NULL DEFAULT 0);`

const schemaPostgres = `
CREATE TABLE IF NOT EXISTS orders (
  id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer    TEXT    NOT NULL,
  sku         TEXT    NOT NULL,
  quantity    INTEGER NOT NULL,
  total_cents INTEGER NOT NULL,
  paid        INTEGER NOT NULL DEFAULT 0,
  created_at  BIGINT  NOT NULL);
CREATE TABLE IF NOT EXISTS stock (
  sku      TEXT PRIMARY KEY,
  reserved INTEGER NOT NULL DEFAULT 0);`

// openStore opens the database -db names: a postgres:// URL, or else an
// SQLite file. It returns the store, the shop's handle on the same
// database, and the DDL of the shop's tables there.
func openStore(ctx context.Context, db string) (queue.Store, *sql.DB, string, error) {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		s, err := postgres.Open(ctx, db, postgres.Options{})
		if err != nil {
			return nil, nil, "", err
		}
		return s, s.DB(), schemaPostgres, nil
	}
	s, err := sqlite.Open(ctx, db, sqlite.Options{})
	if err != nil {
		return nil, nil, "", err
	}
	return s, s.DB(), schemaSQLite, nil
}

type shop struct {
	db    *sql.DB
	q     *queue.Queue
	pool  *worker.Pool
	sched *schedule.Scheduler
	out   io.Writer
	cfg   config
	tel   *telemetry
}

// run runs the demo until ctx ends: the store, the workers, the nightly
// schedule, the HTTP server, and the simulated load.

func run(ctx context.Context, cfg config, out io.Writer) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	store, db, schema, err := openStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("create shop tables: %w", err)
	}
	tel, err := newTelemetry()
	if err != nil {
		return err
	}
	defer tel.close(context.Background())
	q, err := queue.New(store, queue.Options{Observer: tel.inst.Observer()})
	if err != nil {
		return err
	}
	gauges, err := tel.inst.ObserveQueue(q)
	if err != nil {
		return err
	}
	defer gauges.Unregister()
	s := &shop{db: db, q: q, out: out, cfg: cfg, tel: tel}
	if err := s.startWorkers(ctx); err != nil {
		return err
	}
	srv, err := s.startServing(ctx)
	if s.sched != nil {
		defer s.sched.Stop(context.Background())
	}
	if err != nil {
		s.pool.Stop(ctx)
		return err
	}
	if cfg.OrdersPerSec > 0 {
		go s.generateLoad(ctx)
	}
	if cfg.StatsEvery > 0 {
		go s.printStats(ctx)
	}
	<-ctx.Done()

	fmt.Fprintln(out, "stopping: finishing running jobs (up to 10s)")
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(shutdown)
	if err := s.pool.Stop(shutdown); err != nil {
		fmt.Fprintf(out, "stopped hard; unfinished jobs were released and run next time: %v\n", err)
	} else {
		fmt.Fprintln(out, "stopped")
	}
	return nil
}

// startWorkers registers the shop's handlers and subscriptions and starts
// the worker pool.
func (s *shop) startWorkers(ctx context.Context) error {
	pool, err := worker.New(s.q, worker.Options{
		Queues: map[string]worker.QueueConfig{"orders": {MaxWorkers: 20}, "mail": {MaxWorkers: 5}, "maintenance": {MaxWorkers: 1}},
		// Short waits so that retries show within a demo's minute.
		Backoff: queue.Exponential(500*time.Millisecond, 30*time.Second),
	})
	if err != nil {
		return err
	}
	s.handle(pool)
	pool.Use(s.tel.inst.Middleware()) // a consumer span per attempt
	if err := subscribe(ctx, s.q); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	return pool.Start(ctx)
}

// handle registers the shop's handlers on pool, the pool whose CompleteTx
// reserveStock uses. Tests register them on the test kit's pool.
func (s *shop) handle(pool *worker.Pool) {
	s.pool = pool
	pool.Handle("stock.reserve", worker.JSON(s.reserveStock))
	pool.Handle("payment.charge", worker.JSON(s.chargePayment))
	pool.Handle("email.receipt", worker.JSON(s.sendReceipt))
	pool.Handle("warehouse.notify", worker.JSON(s.notifyWarehouse))
	pool.HandleFunc("stock.sync", s.syncStock)
}

// startServing starts the nightly scheduler and the HTTP server (orders,
// stats, the admin page) and prints where to find them.
func (s *shop) startServing(ctx context.Context) (*http.Server, error) {
	// The nightly stock sync: every process may run this scheduler; each
	// night's tick is enqueued once.
	sched, err := schedule.New(s.q, schedule.Options{})
	if err != nil {
		return nil, err
	}
	if err := sched.Add(schedule.Entry{Name: "stock.sync.nightly", Spec: "30 2 * * *", TimeZone: "Europe/Berlin",
		Job: queue.NewJob{Kind: "stock.sync", Queue: "maintenance"}, Misfire: schedule.MisfireSkip}); err != nil {
		return nil, err
	}
	if err := sched.Start(ctx); err != nil {
		return nil, err
	}
	s.sched = sched // run stops it
	// The admin page, behind HTTP basic auth. The demo makes up a password
	// per run and prints it; a real app reads one from its configuration.
	adminPassword := crand.Text()
	adminPage, err := admin.New(s.q, admin.Options{Prefix: "/admin", Authorize: admin.BasicAuth("admin", adminPassword), Schedules: sched})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", s.postOrder)
	mux.HandleFunc("GET /stats", s.getStats)
	mux.Handle("/admin/", adminPage)
	mux.Handle("GET /metrics", s.tel.metrics)
	// Timeouts on every read and write, so that slow or idle clients
	// cannot hold connections open.
	srv := s.cfg.timeouts.Server(mux)
	go srv.Serve(ln)
	addr := ln.Addr().String()
	fmt.Fprintf(s.out, "spool shop demo\n  orders:   curl -d '{\"customer\":\"ada\",\"sku\":\"MUG-1\",\"quantity\":1,\"total_cents\":1200}' http://%s/orders\n  stats:    http://%s/stats\n  metrics:  http://%s/metrics\n  admin:    http://%s/admin/ (user admin, password %s)\n  database: %s\n  load:     %.0f orders/s, payment failure rate %.0f%%\nCtrl-C stops gracefully.\n",
		addr, addr, addr, addr, adminPassword, s.cfg.DB, s.cfg.OrdersPerSec, s.cfg.PaymentFailureRate*100)
	if s.cfg.ready != nil {
		s.cfg.ready(addr)
	}
	return srv, nil
}

// placeOrder stores the order and enqueues its follow-up jobs in one
// transaction: either the order exists with all its jobs, or neither.
func (s *shop) placeOrder(ctx context.Context, o Order) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	id, err := s.placeOrderTx(ctx, tx, o)
	if err != nil {
		return 0, err
	}
	// The store wakes this process's workers when tx commits.
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return id, nil
}

// placeOrderTx stores the order and publishes orders.created inside tx (the
// outbox): the subscribers' jobs exist if and only if tx commits.
func (s *shop) placeOrderTx(ctx context.Context, tx *sql.Tx, o Order) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO orders (customer, sku, quantity, total_cents, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		o.Customer, o.SKU, o.Quantity, o.TotalCents, time.Now().UnixMilli()).Scan(&id)
	if err != nil {
		return 0, err
	}
	// One event; every subscriber (stock, payment, email, warehouse) gets
	// its own job from it in this same transaction.
	_, err = s.q.PublishTx(ctx, tx, queue.Event{
		Topic:    "orders.created",
		Args:     OrderJob{OrderID: id, SKU: o.SKU, Quantity: o.Quantity, TotalCents: o.TotalCents, Customer: o.Customer},
		Metadata: map[string]string{"correlation_id": "order-" + strconv.FormatInt(id, 10)},
		OrderKey: "order:" + strconv.FormatInt(id, 10),
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// subscriptions are the shop's consumers of orders.created. Adding one
// touches no publisher code.
var subscriptions = []queue.Subscription{
	{Name: "stock", Pattern: "orders.created", Queue: "orders", Kind: "stock.reserve", Priority: 10},
	{Name: "payment", Pattern: "orders.created", Queue: "orders", Kind: "payment.charge", Priority: 10},
	{Name: "email", Pattern: "orders.*", Queue: "mail", Kind: "email.receipt"},
	{Name: "warehouse", Pattern: "orders.created", Queue: "orders", Kind: "warehouse.notify"},
}

// subscribe makes sure the shop's subscriptions exist, at every start and
// in every process: Subscribe with a definition the database already has
// does nothing. A definition changed here is refused with an error naming
// the difference (queue.ErrSubscriptionChanged) until it is applied on
// purpose with q.UpdateSubscription.
func subscribe(ctx context.Context, q *queue.Queue) error {
	for _, s := range subscriptions {
		if err := q.Topics().Subscribe(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// Bounds of an order: far above any real order, far below what would
// overflow the stock and order sums.
const (
	maxQuantity   = 10_000
	maxTotalCents = 10_000_000_000
)

func (s *shop) postOrder(w http.ResponseWriter, r *http.Request) {
	var o Order
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		http.Error(w, "bad order: "+err.Error(), http.StatusBadRequest)
		return
	}
	if dec.More() {
		http.Error(w, "bad order: one JSON object, nothing after it", http.StatusBadRequest)
		return
	}
	if o.Customer == "" || o.SKU == "" || o.Quantity <= 0 || o.Quantity > maxQuantity {
		http.Error(w, fmt.Sprintf("bad order: customer, sku and a quantity of 1 to %d are required", maxQuantity), http.StatusBadRequest)
		return
	}
	if o.TotalCents < 0 || o.TotalCents > maxTotalCents {
		http.Error(w, fmt.Sprintf("bad order: total_cents must be 0 to %d", maxTotalCents), http.StatusBadRequest)
		return
	}
	id, err := s.placeOrder(r.Context(), o)
	if err != nil {
		http.Error(w, "cannot place order: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(map[string]int64{"order_id": id})
}

// getStats serves the queues' counts and the last hour's throughput in the
// JSON of the admin API's stats (snake_case, as spool stats -json prints).
func (s *shop) getStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.q.Inspector().Stats(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(wire.NewStats(s.q.Now(), st, st.Throughput))
}

// reserveStock completes its job in the transaction that reserves the
// stock: a crash or a redelivery can never reserve twice.
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
	if err := s.pool.CompleteTx(ctx, tx, job); err != nil {
		return err
	}
	return tx.Commit()
}

// syncStock is the nightly stock sync with the warehouse.
func (s *shop) syncStock(ctx context.Context, job *queue.Job) error {
	fmt.Fprintf(s.out, "%s  nightly stock sync (job %d)\n", time.Now().Format("15:04:05"), job.ID)
	return nil
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
	_, err := s.db.ExecContext(ctx, `UPDATE orders SET paid = 1 WHERE id = $1`, o.OrderID)
	return err
}

func (s *shop) sendReceipt(ctx context.Context, job *queue.Job, o OrderJob) error {
	return nil // a real shop calls its mail provider here
}

func (s *shop) notifyWarehouse(ctx context.Context, job *queue.Job, o OrderJob) error {
	return nil // a real shop calls the warehouse's API here
}

// generateLoad places orders at cfg.OrdersPerSec; one in fifty is poison.
func (s *shop) generateLoad(ctx context.Context) {
	t := time.NewTicker(time.Duration(float64(time.Second) / s.cfg.OrdersPerSec))
	defer t.Stop()
	skus := []string{"MUG-1", "TEE-M", "CAP-RED", "BAG-2"}
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		o := Order{Customer: fmt.Sprintf("customer-%d", n%97), SKU: skus[n%len(skus)], Quantity: 1 + n%3, TotalCents: 1200 * (1 + n%3)}
		if n%50 == 0 {
			o.TotalCents = 0
		}
		if _, err := s.placeOrder(ctx, o); err != nil && ctx.Err() == nil {
			fmt.Fprintf(s.out, "load generator: %v\n", err)
		}
	}
}

func (s *shop) printStats(ctx context.Context) {
	t := time.NewTicker(s.cfg.StatsEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := s.q.Inspector().Stats(ctx)
		if err != nil {
			continue
		}
		last := st.Throughput[len(st.Throughput)-1]
		fmt.Fprintf(s.out, "%s  this minute: %d completed, %d failed, %d dead\n", time.Now().Format("15:04:05"), last.Completed, last.Failed, last.Dead)
		for _, qs := range st.Queues {
			fmt.Fprintf(s.out, "  %-8s pending %-5d scheduled %-5d running %-4d dead %d\n", qs.Name, qs.Pending, qs.Scheduled, qs.Running, qs.Dead)
		}
	}
}

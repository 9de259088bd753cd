package main

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
  reserved INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS order_steps (
  order_id BIGINT NOT NULL,
  step     TEXT   NOT NULL,
  job_id   BIGINT NOT NULL,
  PRIMARY KEY (order_id, step));`

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
  reserved INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS order_steps (
  order_id BIGINT NOT NULL,
  step     TEXT   NOT NULL,
  job_id   BIGINT NOT NULL,
  PRIMARY KEY (order_id, step));`

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

// keepCompleted is how long the demo keeps completed jobs.
const keepCompleted = 15 * time.Minute

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
		Queues: map[string]worker.QueueConfig{"orders": {MaxWorkers: 20}, "mail": {MaxWorkers: 5}, "maintenance": {MaxWorkers: 2}},
		// Short waits so that retries show within a demo's minute.
		Backoff: queue.Exponential(500*time.Millisecond, 30*time.Second),
		// Completed jobs are kept a while, so that GET /orders/{id} and
		// the admin's job pages show a recent order's whole graph, each
		// step with its times and output.
		KeepCompleted: keepCompleted,
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
	// Fulfilment (fulfilment.go).
	pool.Handle("order.validate", worker.JSON(s.validateOrder))
	pool.Handle("stock.reserve", worker.JSON(s.reserveStock))
	pool.Handle("payment.charge", worker.JSON(s.chargePayment))
	pool.Handle("order.ship", worker.JSON(s.shipOrder))
	pool.Handle("email.receipt", worker.JSON(s.sendReceipt))
	pool.Handle("order.compensate", worker.JSON(s.compensate))
	// The orders.created subscriber.
	pool.Handle("warehouse.notify", worker.JSON(s.notifyWarehouse))
	// The nightly stock sync and its batch (stocksync.go).
	pool.HandleFunc("stock.sync", s.syncStock)
	pool.Handle("stock.sync.page", worker.JSON(s.syncPage))
	pool.HandleFunc("stock.sync.done", s.syncDone)
	pool.HandleFunc("stock.sync.alert", s.syncAlert)
}

// startServing starts the nightly scheduler and the HTTP server (orders,
// stats, the admin page) and prints where to find them.
func (s *shop) startServing(ctx context.Context) (*http.Server, error) {
	sched, err := newScheduler(s.q)
	if err != nil {
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
	mux.HandleFunc("GET /orders/{id}", s.getOrder)
	mux.HandleFunc("GET /stats", s.getStats)
	mux.Handle("/admin/", adminPage)
	mux.Handle("GET /metrics", s.tel.metrics)
	// Timeouts on every read and write, so that slow or idle clients
	// cannot hold connections open.
	srv := s.cfg.timeouts.Server(mux)
	go srv.Serve(ln)
	addr := ln.Addr().String()
	fmt.Fprintf(s.out, "spool shop demo\n  orders:   curl -d '{\"customer\":\"ada\",\"sku\":\"MUG-1\",\"quantity\":1,\"total_cents\":1200}' http://%s/orders\n  an order: http://%s/orders/1 (its fulfilment steps)\n  stats:    http://%s/stats\n  metrics:  http://%s/metrics\n  admin:    http://%s/admin/ (user admin, password %s)\n  sync:     %s at %q %s; run it now with -sync-now or Trigger on http://%s/admin/schedules\n  database: %s\n  load:     %.0f orders/s, payment failure rate %.0f%%\nCtrl-C stops gracefully.\n",
		addr, addr, addr, addr, addr, adminPassword, nightlySync.Name, nightlySync.Spec, nightlySync.TimeZone, addr, s.cfg.DB, s.cfg.OrdersPerSec, s.cfg.PaymentFailureRate*100)
	if s.cfg.SyncNow {
		// Stored and served by the first scheduler round: one run now,
		// outside the nightly ticks.
		if err := sched.Trigger(ctx, nightlySync.Name); err != nil {
			fmt.Fprintf(s.out, "-sync-now: %v\n", err)
		}
	}
	if s.cfg.ready != nil {
		s.cfg.ready(addr)
	}
	return srv, nil
}

// placeOrder stores the order and enqueues its fulfilment in one
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

// placeOrderTx stores the order, enqueues its fulfilment graph and
// publishes orders.created inside tx (the outbox): the jobs exist if and
// only if tx commits.
func (s *shop) placeOrderTx(ctx context.Context, tx *sql.Tx, o Order) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO orders (customer, sku, quantity, total_cents, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		o.Customer, o.SKU, o.Quantity, o.TotalCents, time.Now().UnixMilli()).Scan(&id)
	if err != nil {
		return 0, err
	}
	args := OrderJob{OrderID: id, SKU: o.SKU, Quantity: o.Quantity, TotalCents: o.TotalCents, Customer: o.Customer}
	// The shop's own fulfilment: jobs that wait for each other
	// (fulfilment.go).
	if err := s.enqueueFulfilmentTx(ctx, tx, args); err != nil {
		return 0, err
	}
	// The news for whoever else wants it: each subscriber gets its own job
	// from the one event, in this same transaction.
	_, err = s.q.PublishTx(ctx, tx, queue.Event{
		Topic:    "orders.created",
		Args:     args,
		Metadata: map[string]string{"correlation_id": "order-" + strconv.FormatInt(id, 10)},
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// subscriptions are the shop's consumers of orders.created: those that
// only need to hear of an order, and wait for nothing. Adding one touches
// no publisher code.
var subscriptions = []queue.Subscription{
	// The warehouse plans its picking from every order, shipped or not.
	{Name: "warehouse", Pattern: "orders.created", Queue: "orders", Kind: "warehouse.notify"},
}

// retiredSubscriptions were the shop's subscriptions before stock,
// payment and the receipt became fulfilment steps (fulfilment.go): a
// database from then still has them, and would charge every order twice.
var retiredSubscriptions = []string{"stock", "payment", "email"}

// subscribe makes sure the shop's subscriptions exist, at every start and
// in every process: Subscribe with a definition the database already has
// does nothing. A definition changed here is refused with an error naming
// the difference (queue.ErrSubscriptionChanged) until it is applied on
// purpose with q.UpdateSubscription.
func subscribe(ctx context.Context, q *queue.Queue) error {
	for _, name := range retiredSubscriptions {
		if err := q.Topics().Unsubscribe(ctx, name); err != nil && !errors.Is(err, queue.ErrSubscriptionNotFound) {
			return err
		}
	}
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
	w.Header().Set("Location", "/orders/"+strconv.FormatInt(id, 10)) // its steps
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

// Command shop is spool's main demo: a small shop back office on one SQLite
// file. POST /orders stores an order and, in the same transaction,
// enqueues its fulfilment as jobs that wait for each other (a dependency
// graph): validate, then reserve stock and charge payment in parallel,
// then ship, then email the receipt with the shipment's tracking number;
// a compensation step runs whatever happened and releases the stock of an
// order whose payment died (payment fails at random, so retries and
// backoff show, and one payment in about 125 uses all its attempts). The
// same transaction publishes orders.created (the outbox), which the
// warehouse subscribes to. An order with a non-positive total is a poison
// payment that ends in the dead table. GET /orders/{id} shows an order's
// steps. A nightly stock sync runs on a schedule as a batch of page jobs
// with callbacks (the admin's Batches page shows it), and the admin page
// is mounted at /admin/. spool's metrics are served in Prometheus format
// on /metrics (package spoolotel, through OpenTelemetry's Prometheus
// exporter).
//
//	go run ./examples/shop                      # serves localhost:8080, shop.db
//	go run ./examples/shop -orders-per-sec 50   # a heavier load (default 5 orders/s)
//	go run ./examples/shop -sync-now            # and run the nightly stock sync at once
//
// Ctrl-C stops it gracefully: running jobs finish first.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spooljobs/spool/internal/httpsrv"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.DB, "db", "shop.db", "database: an SQLite file, or a postgres:// URL")
	flag.StringVar(&cfg.Addr, "addr", defaultAddr, "HTTP listen address")
	flag.Float64Var(&cfg.OrdersPerSec, "orders-per-sec", 5, "orders the built-in load generator places per second (0: none)")
	flag.Float64Var(&cfg.PaymentFailureRate, "payment-failure-rate", 0.2, "share of payment attempts that fail (0..1)")
	flag.BoolVar(&cfg.SyncNow, "sync-now", false, "run the nightly stock sync (a batch) once at start")
	flag.DurationVar(&cfg.StatsEvery, "stats-every", 5*time.Second, "how often to print queue stats (0: never)")
	flag.Parse()

	// The program, not the library, decides what a signal means.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// defaultAddr is where the demo listens unless -addr says otherwise. The
// README's standalone 'spool admin' command uses another port.
const defaultAddr = "localhost:8080"

// config is the demo's command line.
type config struct {
	DB                 string
	Addr               string
	OrdersPerSec       float64
	PaymentFailureRate float64
	StatsEvery         time.Duration
	SyncNow            bool
	ready              func(addr string) // tests learn the listen address
	timeouts           httpsrv.Timeouts  // the HTTP server's; zero fields take httpsrv's defaults
}

func (c config) validate() error {
	if c.PaymentFailureRate < 0 || c.PaymentFailureRate > 1 {
		return fmt.Errorf("-payment-failure-rate %v is outside 0..1", c.PaymentFailureRate)
	}
	if !(c.OrdersPerSec >= 0 && c.OrdersPerSec <= 10_000) { // NaN fails too
		return fmt.Errorf("-orders-per-sec %v is outside 0..10000", c.OrdersPerSec)
	}
	return nil
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/httpsrv"
	"github.com/spooljobs/spool/internal/pgtest"
	"github.com/spooljobs/spool/internal/syncbuf"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// TestShopTakesOrdersAndWorksThem runs the demo on a real port and file,
// places a good and a poison order over HTTP, and checks the outcome in the
// database after a graceful stop.
func TestShopTakesOrdersAndWorksThem(t *testing.T) {
	t.Parallel()
	testShop(t, filepath.Join(t.TempDir(), "shop.db"))
}

// The same shop on PostgreSQL (-db postgres://...), in a fresh database.
func TestShopOnPostgres(t *testing.T) {
	t.Parallel()
	testShop(t, pgtest.Database(t, pgtest.URL(t)))
}

func testShop(t *testing.T, db string) {
	addrCh := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncbuf.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, config{DB: db, Addr: "127.0.0.1:0", PaymentFailureRate: 0, ready: func(a string) { addrCh <- a }}, out)
	}()
	var addr string
	select {
	case addr = <-addrCh:
	case err := <-done:
		t.Fatalf("shop exited: %v", err)
	}

	post := func(body string) int {
		resp, err := http.Post("http://"+addr+"/orders", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusAccepted {
			var placed struct {
				OrderID int64 `json:"order_id"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&placed))
			require.Equal(t, fmt.Sprintf("/orders/%d", placed.OrderID), resp.Header.Get("Location"), "where its steps are")
		}
		return resp.StatusCode
	}
	require.Equal(t, http.StatusAccepted, post(`{"customer":"ada","sku":"MUG-1","quantity":2,"total_cents":2400}`))
	require.Equal(t, http.StatusAccepted, post(`{"customer":"bob","sku":"MUG-1","quantity":1,"total_cents":0}`))
	require.Equal(t, http.StatusBadRequest, post(`{"customer":"eve"}`))
	require.Equal(t, http.StatusBadRequest, post(`not json`))
	require.Equal(t, http.StatusBadRequest, post(`{"customer":"a","sku":"MUG-1","quantity":9223372036854775807,"total_cents":1}`), "a quantity that would overflow the stock")
	require.Equal(t, http.StatusBadRequest, post(`{"customer":"a","sku":"MUG-1","quantity":1,"total_cents":-5}`))
	require.Equal(t, http.StatusBadRequest, post(`{"customer":"a","sku":"MUG-1","quantity":1,"total_cents":100} trailing`), "one JSON object only")

	// Wait until the good order's jobs are done and the poison order's
	// payment is dead (its shipment and receipt cancelled, its
	// compensation done).
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/stats")
		require.NoError(t, err)
		defer resp.Body.Close()
		// The admin API's JSON: snake_case names, as internal/wire has them.
		var st struct {
			Now    time.Time        `json:"now"`
			Queues []map[string]any `json:"queues"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
		require.False(t, st.Now.IsZero())
		live, dead := 0.0, 0.0
		for _, q := range st.Queues {
			for _, k := range []string{"name", "pending", "scheduled", "blocked", "blocked_keys", "stuck_keys", "running", "dead",
				"oldest_pending_seconds", "paused", "max_pending"} {
				require.Contains(t, q, k)
			}
			live += q["pending"].(float64) + q["scheduled"].(float64) + q["running"].(float64)
			dead += q["dead"].(float64)
		}
		return live == 0 && dead == 1
	}, 20*time.Second, 10*time.Millisecond)
	checkMetrics(t, addr)
	checkOrderSteps(t, addr)
	cancel()
	require.NoError(t, <-done)
	require.Contains(t, out.String(), "stopped")

	store, sdb, _, err := openStore(context.Background(), db)
	require.NoError(t, err)
	defer store.Close()
	var paid, reserved int
	require.NoError(t, sdb.QueryRow(`SELECT count(*) FROM orders WHERE paid = 1`).Scan(&paid))
	require.NoError(t, sdb.QueryRow(`SELECT reserved FROM stock WHERE sku = 'MUG-1'`).Scan(&reserved))
	require.Equal(t, 1, paid)
	require.Equal(t, 2, reserved, "order 1's two; order 2's one was released when its payment died")
	q, err := queue.New(store, queue.Options{})
	require.NoError(t, err)
	dead, err := q.Inspector().List(context.Background(), queue.ListFilter{State: queue.StateDead})
	require.NoError(t, err)
	require.Len(t, dead, 1)
	require.Equal(t, "payment.charge", dead[0].Kind)
	require.Contains(t, dead[0].DeadReason, "nothing to charge")
	require.Equal(t, "order-2", dead[0].Metadata["correlation_id"])

	topics, err := q.Topics().List(context.Background())
	require.NoError(t, err)
	require.Len(t, topics, 1)
	require.Equal(t, int64(2), topics[0].LastSeq, "one event per order")
	subs, err := q.Topics().Subscriptions(context.Background())
	require.NoError(t, err)
	require.Len(t, subs, 1, "the warehouse; stock, payment and the receipt are fulfilment steps")
	require.Equal(t, "warehouse", subs[0].Name)
}

// The shop subscribes at every start, and processes may start at once:
// each start leaves the same four subscriptions.
func TestSubscribeAtEveryStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "shop.db"), sqlite.Options{})
	require.NoError(t, err)
	defer store.Close()
	q, err := queue.New(store, queue.Options{})
	require.NoError(t, err)
	errs := make(chan error, 3)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { errs <- subscribe(ctx, q) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, subscribe(ctx, q), "a restart")
	subs, err := q.Topics().Subscriptions(ctx)
	require.NoError(t, err)
	require.Len(t, subs, len(subscriptions))
}

// Flags that would crash the load generator or make no sense are refused.
func TestConfigValidate(t *testing.T) {
	for _, c := range []config{{OrdersPerSec: 2e9}, {OrdersPerSec: math.NaN()}, {OrdersPerSec: -1}, {PaymentFailureRate: 1.5}} {
		require.Error(t, c.validate(), "%+v", c)
	}
	require.NoError(t, config{OrdersPerSec: 50, PaymentFailureRate: 0.2}.validate())
}

// The shop's server closes the connection of a client that sends its
// headers byte by byte (slowloris), here with a read-header timeout of
// 200ms.
func TestShopCutsOffSlowClients(t *testing.T) {
	t.Parallel()
	addrCh := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := config{DB: filepath.Join(t.TempDir(), "shop.db"), Addr: "127.0.0.1:0", ready: func(a string) { addrCh <- a },
		timeouts: httpsrv.Timeouts{ReadHeader: 200 * time.Millisecond}}
	go func() { done <- run(ctx, cfg, &syncbuf.Buffer{}) }()
	var addr string
	select {
	case addr = <-addrCh:
	case err := <-done:
		t.Fatalf("shop exited: %v", err)
	}
	require.NoError(t, httpsrv.SlowHeaders(addr, 3*time.Second))
	cancel()
	require.NoError(t, <-done)
}

// checkMetrics scrapes the shop's /metrics (OpenTelemetry's Prometheus
// exporter) after testShop's workload, two orders of which the second is
// poison, and checks the numbers: the outcomes of both orders' jobs (the
// poison order's payment dead, so no ship and no receipt, but a
// compensation), the published events, one run per attempt, and the
// gauges read from the store.
func checkMetrics(t *testing.T, addr string) {
	t.Helper()
	want := map[string]float64{
		`spool_events_published_total{messaging_destination_name="orders.created"}`:                                                          2,
		`spool_jobs_settled_total{messaging_destination_name="orders",spool_job_kind="order.validate",spool_outcome="complete"}`:             2,
		`spool_jobs_settled_total{messaging_destination_name="orders",spool_job_kind="stock.reserve",spool_outcome="complete"}`:              2,
		`spool_jobs_settled_total{messaging_destination_name="orders",spool_job_kind="order.ship",spool_outcome="complete"}`:                 1,
		`spool_jobs_settled_total{messaging_destination_name="orders",spool_job_kind="order.compensate",spool_outcome="complete"}`:           2,
		`spool_jobs_settled_total{messaging_destination_name="orders",spool_job_kind="warehouse.notify",spool_outcome="complete"}`:           2,
		`spool_jobs_settled_total{messaging_destination_name="orders",spool_job_kind="payment.charge",spool_outcome="complete"}`:             1,
		`spool_jobs_settled_total{messaging_destination_name="orders",spool_job_kind="payment.charge",spool_outcome="dead"}`:                 1,
		`spool_jobs_settled_total{messaging_destination_name="mail",spool_job_kind="email.receipt",spool_outcome="complete"}`:                1,
		`messaging_process_duration_seconds_count{messaging_destination_name="orders",spool_job_kind="payment.charge",spool_outcome="dead"}`: 1,
		`spool_job_wait_duration_seconds_count{messaging_destination_name="mail",spool_job_kind="email.receipt"}`:                            1,
		`messaging_client_consumed_messages_total{messaging_destination_name="orders"}`:                                                      11,
		`spool_queue_jobs{messaging_destination_name="orders",spool_job_state="dead"}`:                                                       1,
		`spool_queue_jobs{messaging_destination_name="orders",spool_job_state="pending"}`:                                                    0,
		`spool_queue_paused{messaging_destination_name="orders"}`:                                                                            0,
		`spool_subscription_lag{messaging_destination_name="orders",spool_subscription="warehouse"}`:                                         0,
	}
	var got map[string]float64
	// The store's rows are written before the pool reports the batch that
	// wrote them: scrape until the counters caught up.
	require.Eventually(t, func() bool {
		got = scrape(t, "http://"+addr+"/metrics")
		for k, v := range want {
			if x, ok := got[k]; !ok || x != v {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "want %v", want)
	for k, v := range want {
		require.Contains(t, got, k)
		require.Equal(t, v, got[k], k)
	}
}

// scrape reads a Prometheus text exposition into a map from the series,
// with the labels every series of the shop carries left out, to its value.
func scrape(t *testing.T, url string) map[string]float64 {
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	common := regexp.MustCompile(`,?messaging_system="spool"`)
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.Positive(t, i, line)
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		series := strings.Replace(common.ReplaceAllString(line[:i], ""), "{,", "{", 1)
		out[series] = v
	}
	return out
}

// checkOrderSteps reads testShop's two orders from GET /orders/{id}: the
// good one's steps all completed, each started only after the steps it
// waits for finished, with the outputs its children read; the poison
// one's payment dead, which cancelled its shipment and receipt and ran
// its compensation.
func checkOrderSteps(t *testing.T, addr string) {
	t.Helper()
	get := func(id int) (*OrderStatus, map[string]StepStatus) {
		resp, err := http.Get(fmt.Sprintf("http://%s/orders/%d", addr, id))
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var st OrderStatus
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
		steps := map[string]StepStatus{}
		for _, s := range st.Steps {
			steps[s.Step] = s
		}
		require.Len(t, steps, 6, "%+v", st.Steps)
		return &st, steps
	}

	good, steps := get(1)
	require.True(t, good.Paid)
	for _, s := range steps {
		require.Equal(t, "completed", s.State, "%+v", s)
		require.NotNil(t, s.AttemptedAt, s.Step)
		require.NotNil(t, s.FinishedAt, s.Step)
	}
	want := map[string][]string{stepReserve: {stepValidate}, stepCharge: {stepValidate}, stepShip: {stepReserve, stepCharge},
		stepEmail: {stepShip}, stepCompensate: {stepReserve, stepCharge}}
	for step, parents := range want {
		require.ElementsMatch(t, parents, steps[step].WaitsFor, step)
		for _, p := range parents {
			require.False(t, steps[step].AttemptedAt.Before(*steps[p].FinishedAt),
				"%s started at %s, before its parent %s finished at %s", step, steps[step].AttemptedAt, p, steps[p].FinishedAt)
		}
	}
	var ship stepOutput
	require.NoError(t, json.Unmarshal(steps[stepShip].Output, &ship))
	require.Equal(t, "SPL-000001-"+warehouseOf("MUG-1"), ship.Tracking, "ship read the reservation's warehouse")

	poison, steps := get(2)
	require.False(t, poison.Paid)
	require.Equal(t, "dead", steps[stepCharge].State)
	require.Contains(t, steps[stepCharge].LastError, "nothing to charge")
	require.Equal(t, "cancelled", steps[stepShip].State, "a dead payment cancels the shipment")
	require.Equal(t, "cancelled", steps[stepEmail].State, "and, through it, the receipt")
	require.Equal(t, "completed", steps[stepReserve].State)
	require.Equal(t, "completed", steps[stepCompensate].State, "the compensation runs anyway")
	require.False(t, steps[stepCompensate].AttemptedAt.Before(*steps[stepCharge].FinishedAt))

	resp, err := http.Get("http://" + addr + "/orders/99")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

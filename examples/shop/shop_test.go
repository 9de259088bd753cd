package main

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"path/filepath"
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
		return resp.StatusCode
	}
	require.Equal(t, http.StatusAccepted, post(`{"customer":"ada","sku":"MUG-1","quantity":2,"total_cents":2400}`))
	require.Equal(t, http.StatusAccepted, post(`{"customer":"bob","sku":"MUG-1","quantity":1,"total_cents":0}`))
	require.Equal(t, http.StatusBadRequest, post(`{"customer":"eve"}`))
	require.Equal(t, http.StatusBadRequest, post(`not json`))
	require.Equal(t, http.StatusBadRequest, post(`{"customer":"a","sku":"MUG-1","quantity":9223372036854775807,"total_cents":1}`), "a quantity that would overflow the stock")
	require.Equal(t, http.StatusBadRequest, post(`{"customer":"a","sku":"MUG-1","quantity":1,"total_cents":-5}`))
	require.Equal(t, http.StatusBadRequest, post(`{"customer":"a","sku":"MUG-1","quantity":1,"total_cents":100} trailing`), "one JSON object only")

	// Wait until the good order's four jobs are done and the poison one is dead.
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
	require.Equal(t, 3, reserved)
	q, err := queue.New(store, queue.Options{})
	require.NoError(t, err)
	dead, err := q.Inspector().List(context.Background(), queue.ListFilter{State: queue.StateDead})
	require.NoError(t, err)
	require.Len(t, dead, 1)
	require.Equal(t, "payment.charge", dead[0].Kind)
	require.Contains(t, dead[0].DeadReason, "nothing to charge")
	require.Equal(t, "order-2", dead[0].Metadata["correlation_id"])
	require.Equal(t, "orders.created", dead[0].Metadata["spool.topic"])

	topics, err := q.Topics().List(context.Background())
	require.NoError(t, err)
	require.Len(t, topics, 1)
	require.Equal(t, int64(2), topics[0].LastSeq, "one event per order")
	subs, err := q.Topics().Subscriptions(context.Background())
	require.NoError(t, err)
	require.Len(t, subs, 4, "stock, payment, email, warehouse")
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

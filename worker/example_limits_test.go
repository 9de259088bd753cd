package worker_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

// A limit on running jobs shared by every process: two pools, each with
// eight workers and a store of its own on one file (as two processes
// would have), run a partner's calls at most two at a time between them.
func Example_maxRunning() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "spool-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "shop.db")

	var running, peak atomic.Int64
	var wg sync.WaitGroup
	const calls = 20
	wg.Add(calls)
	call := func(ctx context.Context, job *queue.Job) error {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		running.Add(-1)
		wg.Done()
		return nil
	}

	var pools []*worker.Pool
	for range 2 { // two "processes"
		store, err := sqlite.Open(ctx, path, sqlite.Options{})
		if err != nil {
			log.Fatal(err)
		}
		defer store.Close()
		q, err := queue.New(store, queue.Options{})
		if err != nil {
			log.Fatal(err)
		}
		if len(pools) == 0 {
			// Stored with the jobs: every process obeys it.
			if err := q.Inspector().SetQueueSettings(ctx, "partner", queue.QueueSettings{MaxRunning: 2}); err != nil {
				log.Fatal(err)
			}
			for range calls {
				if _, err := q.Enqueue(ctx, queue.NewJob{Kind: "partner.call", Queue: "partner"}); err != nil {
					log.Fatal(err)
				}
			}
		}
		pool, err := worker.New(q, worker.Options{Queues: map[string]worker.QueueConfig{"partner": {MaxWorkers: 8}}})
		if err != nil {
			log.Fatal(err)
		}
		pool.HandleFunc("partner.call", call)
		if err := pool.Start(ctx); err != nil {
			log.Fatal(err)
		}
		pools = append(pools, pool)
	}
	wg.Wait()
	for _, p := range pools {
		if err := p.Stop(ctx); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("calls:", calls, "at most running at once:", peak.Load() <= 2)
	// Output: calls: 20 at most running at once: true
}

// A limit per partition key shared by every process: two pools on one
// file run each customer's jobs at most one at a time between them, while
// different customers' jobs run side by side. Jobs without a key are not
// limited by it.
func Example_maxRunningPerKey() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "spool-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "shop.db")

	var mu sync.Mutex
	running, peak := map[string]int{}, map[string]int{}
	var wg sync.WaitGroup
	customers := []string{"acme", "bolt", "cogs"}
	const perCustomer = 4
	wg.Add(perCustomer * len(customers))
	// The first calls hold their slots until every customer has one
	// running: the customers run side by side, and meanwhile a second job
	// of a customer would start beside its first if the limit let it.
	everyone := make(chan struct{})
	syncCustomer := func(ctx context.Context, job *queue.Job) error {
		mu.Lock()
		running[job.PartitionKey]++
		peak[job.PartitionKey] = max(peak[job.PartitionKey], running[job.PartitionKey])
		if len(peak) == len(customers) { // no call has ended before this
			select {
			case <-everyone:
			default:
				close(everyone)
			}
		}
		mu.Unlock()
		<-everyone // the call to the customer's CRM
		mu.Lock()
		running[job.PartitionKey]--
		mu.Unlock()
		wg.Done()
		return nil
	}

	var pools []*worker.Pool
	for range 2 { // two "processes"
		store, err := sqlite.Open(ctx, path, sqlite.Options{})
		if err != nil {
			log.Fatal(err)
		}
		defer store.Close()
		q, err := queue.New(store, queue.Options{})
		if err != nil {
			log.Fatal(err)
		}
		if len(pools) == 0 {
			// At most one job of a customer at once, and at most 100 of a
			// customer's jobs start per minute, in every process.
			err := q.Inspector().SetQueueSettings(ctx, "sync", queue.QueueSettings{
				MaxRunningPerKey: 1, RateLimitPerKey: 100, RatePeriodPerKey: time.Minute})
			if err != nil {
				log.Fatal(err)
			}
			for i := range perCustomer * len(customers) {
				c := customers[i%len(customers)]
				if _, err := q.Enqueue(ctx, queue.NewJob{Kind: "crm.sync", Queue: "sync", PartitionKey: c}); err != nil {
					log.Fatal(err)
				}
			}
		}
		pool, err := worker.New(q, worker.Options{Queues: map[string]worker.QueueConfig{"sync": {MaxWorkers: 8}}})
		if err != nil {
			log.Fatal(err)
		}
		pool.HandleFunc("crm.sync", syncCustomer)
		if err := pool.Start(ctx); err != nil {
			log.Fatal(err)
		}
		pools = append(pools, pool)
	}
	wg.Wait()
	for _, p := range pools {
		if err := p.Stop(ctx); err != nil {
			log.Fatal(err)
		}
	}
	for _, c := range customers {
		fmt.Println(c, "at most one at once:", peak[c] == 1)
	}
	// Output:
	// acme at most one at once: true
	// bolt at most one at once: true
	// cogs at most one at once: true
}

// A rate limit shared by every process: two pools on one file, each with
// eight workers, start at most three of a partner's calls a minute
// between them. The bucket starts full, so three start at once; the
// fourth waits for a token, which comes twenty seconds later.
func Example_rateLimit() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "spool-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "shop.db")

	var started atomic.Int64
	var three sync.WaitGroup
	three.Add(3)
	call := func(ctx context.Context, job *queue.Job) error {
		if started.Add(1) <= 3 {
			three.Done()
		}
		return nil
	}

	var pools []*worker.Pool
	var q *queue.Queue
	for range 2 { // two "processes"
		store, err := sqlite.Open(ctx, path, sqlite.Options{})
		if err != nil {
			log.Fatal(err)
		}
		defer store.Close()
		if q, err = queue.New(store, queue.Options{}); err != nil {
			log.Fatal(err)
		}
		if len(pools) == 0 {
			// Stored with the jobs: every process spends the same bucket.
			if err := q.Inspector().SetQueueSettings(ctx, "partner", queue.QueueSettings{RateLimit: 3, RatePeriod: time.Minute}); err != nil {
				log.Fatal(err)
			}
			for range 5 {
				if _, err := q.Enqueue(ctx, queue.NewJob{Kind: "partner.call", Queue: "partner"}); err != nil {
					log.Fatal(err)
				}
			}
		}
		pool, err := worker.New(q, worker.Options{Queues: map[string]worker.QueueConfig{"partner": {MaxWorkers: 8}}})
		if err != nil {
			log.Fatal(err)
		}
		pool.HandleFunc("partner.call", call)
		if err := pool.Start(ctx); err != nil {
			log.Fatal(err)
		}
		pools = append(pools, pool)
	}
	three.Wait()
	for _, p := range pools {
		if err := p.Stop(ctx); err != nil {
			log.Fatal(err)
		}
	}
	stats, err := q.Inspector().Stats(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, qs := range stats.Queues {
		if qs.Name == "partner" {
			fmt.Println("started this minute:", started.Load(), "still waiting:", qs.Pending)
		}
	}
	// Output: started this minute: 3 still waiting: 2
}

package worker_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

// A pool with a typed handler. The job is enqueued after Start: the
// enqueue wakes the pool at once.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "spool-example")
	defer os.RemoveAll(dir)

	store, err := sqlite.Open(ctx, filepath.Join(dir, "shop.db"), sqlite.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	q, err := queue.New(store, queue.Options{})
	if err != nil {
		log.Fatal(err)
	}

	type Receipt struct {
		OrderID int    `json:"order_id"`
		Email   string `json:"email"`
	}
	done := make(chan struct{})
	pool, err := worker.New(q, worker.Options{})
	if err != nil {
		log.Fatal(err)
	}
	pool.Handle("email.receipt", worker.JSON(func(ctx context.Context, job *queue.Job, r Receipt) error {
		fmt.Printf("receipt for order %d to %s\n", r.OrderID, r.Email)
		close(done)
		return nil
	}))
	if err := pool.Start(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := q.Enqueue(ctx, queue.NewJob{Kind: "email.receipt", Args: Receipt{OrderID: 42, Email: "ada@example.com"}}); err != nil {
		log.Fatal(err)
	}
	<-done
	if err := pool.Stop(ctx); err != nil {
		log.Fatal(err)
	}
	// Output: receipt for order 42 to ada@example.com
}

// Middleware wraps every handler, here to log each attempt.
func ExamplePool_Use() {
	logAttempts := func(next worker.Handler) worker.Handler {
		return worker.HandlerFunc(func(ctx context.Context, job *queue.Job) error {
			fmt.Printf("start %s attempt %d\n", job.Kind, job.Attempt)
			return next.Work(ctx, job)
		})
	}
	h := logAttempts(worker.HandlerFunc(func(ctx context.Context, job *queue.Job) error { return nil }))
	_ = h.Work(context.Background(), &queue.Job{Kind: "stock.sync", Attempt: 1})
	// Output: start stock.sync attempt 1
}

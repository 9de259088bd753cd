// Command quickstart is the README's quickstart: open a queue in one SQLite
// file, register a typed handler, enqueue a job, see it run.
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

// Receipt is the job's payload, stored as JSON.
type Receipt struct {
	OrderID int    `json:"order_id"`
	Email   string `json:"email"`
}

func main() {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, "quickstart.db", sqlite.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	q, err := queue.New(store, queue.Options{})
	if err != nil {
		log.Fatal(err)
	}

	pool, err := worker.New(q, worker.Options{})
	if err != nil {
		log.Fatal(err)
	}
	sent := make(chan struct{})
	pool.Handle("email.receipt", worker.JSON(func(ctx context.Context, job *queue.Job, r Receipt) error {
		fmt.Printf("job %d: receipt for order %d sent to %s\n", job.ID, r.OrderID, r.Email)
		close(sent)
		return nil // nil completes the job; an error retries it with backoff
	}))
	if err := pool.Start(ctx); err != nil {
		log.Fatal(err)
	}

	res, err := q.Enqueue(ctx, queue.NewJob{
		Kind: "email.receipt",
		Args: Receipt{OrderID: 10245, Email: "ada@example.com"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("enqueued job %d\n", res.ID)

	<-sent
	if err := pool.Stop(ctx); err != nil { // waits for running handlers
		log.Fatal(err)
	}
}

package worker_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

func openExample() (*sqlite.Store, *queue.Queue, func()) {
	dir, _ := os.MkdirTemp("", "spool-example")
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "shop.db"), sqlite.Options{})
	if err != nil {
		log.Fatal(err)
	}
	q, err := queue.New(store, queue.Options{})
	if err != nil {
		log.Fatal(err)
	}
	return store, q, func() { store.Close(); os.RemoveAll(dir) }
}

// Jobs with the same OrderKey run one at a time in enqueue order, however
// many workers there are; other keys run beside them.
func ExamplePool_orderKeys() {
	ctx := context.Background()
	_, q, done := openExample()
	defer done()

	for _, step := range []string{"paid", "packed", "shipped"} {
		if _, err := q.Enqueue(ctx, queue.NewJob{Kind: "order.update", OrderKey: "order:10245", Args: step}); err != nil {
			log.Fatal(err)
		}
	}
	finished := make(chan struct{})
	pool, _ := worker.New(q, worker.Options{}) // 100 workers
	pool.Handle("order.update", worker.JSON(func(ctx context.Context, job *queue.Job, step string) error {
		fmt.Println(job.OrderKey, step)
		if step == "shipped" {
			close(finished)
		}
		return nil
	}))
	if err := pool.Start(ctx); err != nil {
		log.Fatal(err)
	}
	<-finished
	pool.Stop(ctx)
	// Output:
	// order:10245 paid
	// order:10245 packed
	// order:10245 shipped
}

// CompleteTx commits the handler's effect and the job's acknowledgement
// together: a crash or a redelivery cannot apply the effect twice.
func ExamplePool_CompleteTx() {
	ctx := context.Background()
	store, q, done := openExample()
	defer done()
	db := store.DB() // the app's tables live in the spool database
	if _, err := db.Exec(`CREATE TABLE stock (sku TEXT PRIMARY KEY, reserved INTEGER NOT NULL)`); err != nil {
		log.Fatal(err)
	}

	finished := make(chan struct{})
	pool, _ := worker.New(q, worker.Options{})
	pool.Handle("stock.reserve", worker.JSON(func(ctx context.Context, job *queue.Job, sku string) error {
		defer close(finished)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `INSERT INTO stock VALUES (?, 1)
			ON CONFLICT (sku) DO UPDATE SET reserved = reserved + 1`, sku); err != nil {
			return err
		}
		if err := pool.CompleteTx(ctx, tx, job); err != nil {
			return err // the lease was lost: roll back, the job runs elsewhere
		}
		return tx.Commit()
	}))
	if err := pool.Start(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := q.Enqueue(ctx, queue.NewJob{Kind: "stock.reserve", Args: "MUG-1"}); err != nil {
		log.Fatal(err)
	}
	<-finished
	pool.Stop(ctx)
	var reserved int
	db.QueryRow(`SELECT reserved FROM stock WHERE sku = 'MUG-1'`).Scan(&reserved)
	fmt.Println("reserved:", reserved)
	// Output: reserved: 1
}

// A queue with MaxPending refuses work beyond it, so a spike cannot pile up
// without bound; Options.WaitWhenFull makes Enqueue wait instead.
func Example_backPressure() {
	ctx := context.Background()
	_, q, done := openExample()
	defer done()
	if err := q.Inspector().SetQueueSettings(ctx, "mail", queue.QueueSettings{MaxPending: 2}); err != nil {
		log.Fatal(err)
	}
	for i := range 3 {
		_, err := q.Enqueue(ctx, queue.NewJob{Kind: "email.receipt", Queue: "mail"})
		var full *queue.QueueFullError
		if errors.As(err, &full) {
			fmt.Printf("enqueue %d: %v\n", i+1, err)
		}
	}
	// Output: enqueue 3: queue: queue "mail" is full: 2 jobs waiting, limit 2 (QueueSettings.MaxPending)
}

package worker_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

// A nightly sync as a batch: one job per SKU, and a report job enqueued
// once all of them finished, which reads the batch's progress.
func Example_batch() {
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

	reported := make(chan struct{})
	pool, err := worker.New(q, worker.Options{})
	if err != nil {
		log.Fatal(err)
	}
	pool.HandleFunc("sync.sku", func(ctx context.Context, job *queue.Job) error { return nil })
	pool.HandleFunc("sync.report", func(ctx context.Context, job *queue.Job) error {
		id, err := strconv.ParseInt(job.Metadata[queue.BatchMetadataKey], 10, 64)
		if err != nil {
			return err
		}
		b, err := q.Inspector().Batch(ctx, id)
		if err != nil {
			return err
		}
		fmt.Printf("%s: %d of %d synced, %d dead\n", b.Description, b.Succeeded, b.Total, b.Dead)
		close(reported)
		return nil
	})
	if err := pool.Start(ctx); err != nil {
		log.Fatal(err)
	}

	var skus []queue.NewJob
	for _, sku := range []string{"A-1", "B-2", "C-3"} {
		skus = append(skus, queue.NewJob{Kind: "sync.sku", Args: sku})
	}
	if _, _, err := q.EnqueueBatch(ctx, queue.BatchSpec{Description: "nightly sync",
		OnComplete: &queue.NewJob{Kind: "sync.report"}}, skus); err != nil {
		log.Fatal(err)
	}

	<-reported
	if err := pool.Stop(ctx); err != nil {
		log.Fatal(err)
	}
	// Output: nightly sync: 3 of 3 synced, 0 dead
}

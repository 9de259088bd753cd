package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

// An order pipeline as a dependency graph: validate, then reserve stock
// and charge payment in parallel, then ship. The jobs go in in one
// transaction, each naming the ids of the jobs it waits for; ship reads
// what its parents recorded.
func ExampleParentOutputs() {
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

	shipped := make(chan struct{})
	pool, err := worker.New(q, worker.Options{})
	if err != nil {
		log.Fatal(err)
	}
	step := func(result string) worker.HandlerFunc {
		return func(ctx context.Context, job *queue.Job) error {
			return worker.RecordOutput(ctx, result)
		}
	}
	pool.HandleFunc("order.validate", step("valid"))
	pool.HandleFunc("order.reserve", step("reserved"))
	pool.HandleFunc("order.charge", step("paid"))
	pool.HandleFunc("order.ship", func(ctx context.Context, job *queue.Job) error {
		outs, err := worker.ParentOutputs(ctx)
		if err != nil {
			return err
		}
		var got []string
		for _, raw := range outs {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return err
			}
			got = append(got, s)
		}
		slices.Sort(got)
		fmt.Println("ship after", got)
		close(shipped)
		return nil
	})
	if err := pool.Start(ctx); err != nil {
		log.Fatal(err)
	}

	tx, err := store.DB().BeginTx(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	enqueue := func(kind string, parents ...int64) int64 {
		r, err := q.EnqueueTx(ctx, tx, queue.NewJob{Kind: kind, DependsOn: parents})
		if err != nil {
			log.Fatal(err)
		}
		return r.ID
	}
	validate := enqueue("order.validate")
	reserve := enqueue("order.reserve", validate)
	charge := enqueue("order.charge", validate)
	enqueue("order.ship", reserve, charge)
	if err := tx.Commit(); err != nil {
		log.Fatal(err)
	}

	<-shipped
	if err := pool.Stop(ctx); err != nil {
		log.Fatal(err)
	}
	// Output: ship after [paid reserved]
}

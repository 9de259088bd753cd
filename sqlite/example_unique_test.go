package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// Unique jobs: a period that outlives the job, and a key derived from the
// arguments.
func Example_uniqueJobs() {
	dir, _ := os.MkdirTemp("", "spool-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "jobs.db"), sqlite.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	q, err := queue.New(store, queue.Options{Now: func() time.Time { return now }})
	if err != nil {
		log.Fatal(err)
	}
	sync := queue.NewJob{Kind: "stock.sync", UniqueKey: "stock:sku-9", UniqueFor: time.Hour}
	first, _ := q.Enqueue(ctx, sync)
	_ = q.Inspector().Delete(ctx, first.ID) // gone, as a completed job is
	again, _ := q.Enqueue(ctx, sync)
	fmt.Println("within the hour:", again.Duplicate, again.ID == first.ID)
	now = now.Add(time.Hour)
	later, _ := q.Enqueue(ctx, sync)
	fmt.Println("an hour later:", later.Duplicate)

	a, _ := q.Enqueue(ctx, queue.NewJob{Kind: "email.receipt", Payload: []byte(`{"order": 7, "to": "a@example.com"}`), UniqueByArgs: true})
	b, _ := q.Enqueue(ctx, queue.NewJob{Kind: "email.receipt", Args: map[string]any{"to": "a@example.com", "order": 7}, UniqueByArgs: true})
	fmt.Println("same arguments:", b.Duplicate, b.ID == a.ID)
	// Output:
	// within the hour: true true
	// an hour later: false
	// same arguments: true true
}

package queue_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// InvoiceArgs names its kind: EnqueueArgs takes it from the value.
type InvoiceArgs struct {
	InvoiceID int64 `json:"invoice_id"`
}

// Kind implements queue.Args.
func (InvoiceArgs) Kind() string { return "invoice.send" }

// A job enqueued from an argument type that names its kind
// (worker.HandleArgs registers its handler under the same kind).
func ExampleQueue_EnqueueArgs() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "spool-example")
	defer os.RemoveAll(dir)
	store, err := sqlite.Open(ctx, filepath.Join(dir, "app.db"), sqlite.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	q, err := queue.New(store, queue.Options{})
	if err != nil {
		log.Fatal(err)
	}
	res, err := q.EnqueueArgs(ctx, InvoiceArgs{InvoiceID: 7}, queue.NewJob{Queue: "billing"})
	if err != nil {
		log.Fatal(err)
	}
	j, err := q.Inspector().Get(ctx, res.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(j.Kind, j.Queue, string(j.Payload))

	_, err = q.EnqueueArgs(ctx, InvoiceArgs{InvoiceID: 8}, queue.NewJob{Kind: "invoice.remind"})
	fmt.Println(err)
	// Output:
	// invoice.send billing {"invoice_id":7}
	// queue: invalid argument: EnqueueArgs: opts.Kind "invoice.remind" differs from the kind "invoice.send" of queue_test.InvoiceArgs (leave opts.Kind empty)
}

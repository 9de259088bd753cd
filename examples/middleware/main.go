// Command middleware shows typed handlers and middleware: a logging
// middleware around every handler, a typed JSON handler, and how the
// outcome of a handler (an error, queue.Permanent) decides what happens.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

// Invoice is the typed payload of an "invoice.pdf" job.
type Invoice struct {
	Number string `json:"number"`
	Cents  int    `json:"cents"`
}

func main() {
	dir, err := os.MkdirTemp("", "spool-middleware")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := run(context.Background(), filepath.Join(dir, "spool.db"), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// logAttempts is middleware: it wraps every handler, like net/http
// middleware wraps an http.Handler.
func logAttempts(out io.Writer) worker.Middleware {
	return func(next worker.Handler) worker.Handler {
		return worker.HandlerFunc(func(ctx context.Context, job *queue.Job) error {
			err := next.Work(ctx, job)
			fmt.Fprintf(out, "%s attempt %d: %v\n", job.Kind, job.Attempt, errOrOK(err))
			return err
		})
	}
}

func errOrOK(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func run(ctx context.Context, path string, out io.Writer) error {
	store, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	q, err := queue.New(store, queue.Options{})
	if err != nil {
		return err
	}
	pool, err := worker.New(q, worker.Options{
		Queues:  map[string]worker.QueueConfig{"default": {MaxWorkers: 1}},
		Backoff: queue.Constant(10 * time.Millisecond), // retry quickly in a demo
	})
	if err != nil {
		return err
	}
	done := make(chan struct{}, 2)
	pool.Use(logAttempts(out))
	pool.Handle("invoice.pdf", worker.JSON(func(ctx context.Context, job *queue.Job, inv Invoice) error {
		defer func() { done <- struct{}{} }()
		if inv.Cents <= 0 {
			// Retrying cannot fix this: straight to the dead table.
			return queue.Permanent(fmt.Errorf("invoice %s has no amount", inv.Number))
		}
		if job.Attempt == 1 {
			return errors.New("pdf renderer busy") // retried after the backoff
		}
		return nil
	}))
	if err := pool.Start(ctx); err != nil {
		return err
	}
	if _, err := q.Enqueue(ctx, queue.NewJob{Kind: "invoice.pdf", Args: Invoice{Number: "2026-0042", Cents: 1990}}); err != nil {
		return err
	}
	<-done
	<-done
	if _, err := q.Enqueue(ctx, queue.NewJob{Kind: "invoice.pdf", Args: Invoice{Number: "2026-0043"}}); err != nil {
		return err
	}
	<-done
	if err := pool.Stop(ctx); err != nil {
		return err
	}
	dead, err := q.Inspector().List(ctx, queue.ListFilter{State: queue.StateDead})
	if err != nil {
		return err
	}
	for _, j := range dead {
		fmt.Fprintf(out, "dead job %d: %s\n", j.ID, j.DeadReason)
	}
	return nil
}

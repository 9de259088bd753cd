// Command shutdown shows graceful shutdown: on Ctrl-C (or SIGTERM) the
// program stops the pool, which finishes running jobs first; jobs still
// running when the grace period ends are cancelled and released, to run
// again at once on the next start without losing an attempt.
//
// The library never handles signals: the program does, here.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, "shutdown.db", 10*time.Second, os.Stdout, nil); err != nil {
		log.Fatal(err)
	}
}

// run works "report" jobs until ctx ends, then stops within grace. started,
// when set, learns each job that starts (the test uses it).
func run(ctx context.Context, path string, grace time.Duration, out io.Writer, started chan<- int64) error {
	store, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	q, err := queue.New(store, queue.Options{})
	if err != nil {
		return err
	}
	pool, err := worker.New(q, worker.Options{})
	if err != nil {
		return err
	}
	pool.HandleFunc("report", func(jobCtx context.Context, job *queue.Job) error {
		if started != nil {
			started <- job.ID
		}
		select {
		case <-time.After(time.Duration(len(job.Payload)) * time.Millisecond): // "work"
			fmt.Fprintf(out, "job %d finished\n", job.ID)
			return nil
		case <-jobCtx.Done():
			fmt.Fprintf(out, "job %d interrupted: %v\n", job.ID, context.Cause(jobCtx))
			return jobCtx.Err()
		}
	})
	// Work from the last run (released or new) starts right away.
	if err := pool.Start(context.Background()); err != nil {
		return err
	}
	fmt.Fprintln(out, "working; press Ctrl-C to stop")
	<-ctx.Done()

	fmt.Fprintf(out, "stopping: waiting up to %s for running jobs\n", grace)
	stopCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := pool.Stop(stopCtx); err != nil {
		fmt.Fprintf(out, "grace period over; unfinished jobs were released: %v\n", err)
	}
	st, err := q.Inspector().Stats(context.Background())
	if err != nil {
		return err
	}
	for _, qs := range st.Queues {
		fmt.Fprintf(out, "queue %s: %d pending for the next start\n", qs.Name, qs.Pending)
	}
	return nil
}

package worker_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

// WelcomeArgs names its kind: EnqueueArgs and HandleArgs take it from the
// type, so the two sides cannot drift apart.
type WelcomeArgs struct {
	UserID int64  `json:"user_id"`
	Email  string `json:"email"`
}

// Kind implements queue.Args.
func (WelcomeArgs) Kind() string { return "email.welcome" }

// A typed kind, a handler that reports progress and records its output,
// and the output read back from the kept job.
func ExampleHandleArgs() {
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

	// KeepCompleted keeps completed jobs, with their output, for an hour.
	pool, err := worker.New(q, worker.Options{KeepCompleted: time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	ran := make(chan struct{})
	worker.HandleArgs(pool, func(ctx context.Context, job *queue.Job, a WelcomeArgs) error {
		defer close(ran)
		if err := worker.ReportProgress(ctx, 0.5, "rendering"); err != nil {
			return err
		}
		fmt.Printf("welcome mail to %s\n", a.Email)
		return worker.RecordOutput(ctx, map[string]string{"message_id": "m-1"})
	})
	if err := pool.Start(ctx); err != nil {
		log.Fatal(err)
	}
	res, err := q.EnqueueArgs(ctx, WelcomeArgs{UserID: 7, Email: "ada@example.com"}, queue.NewJob{})
	if err != nil {
		log.Fatal(err)
	}
	<-ran // the handler ran; Stop waits for its outcome to be written
	if err := pool.Stop(ctx); err != nil {
		log.Fatal(err)
	}
	j, err := q.Inspector().Get(ctx, res.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %s: output %s, progress %.0f%% %q\n", j.Kind, j.State, j.Output, j.Progress.Fraction*100, j.Progress.Message)
	// Output:
	// welcome mail to ada@example.com
	// email.welcome completed: output {"message_id":"m-1"}, progress 50% "rendering"
}

package spooltest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/spooltest"
	"github.com/spooljobs/spool/worker"
)

// exampleT stands in for the *testing.T a test function gets, which
// Examples have none of: it fails by panicking, and finish runs what
// Cleanup registered.
type exampleT struct {
	testing.TB
	cleanups []func()
}

func (*exampleT) Helper()                           {}
func (*exampleT) Log(...any)                        {}
func (*exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (*exampleT) Errorf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (e *exampleT) Cleanup(f func())                { e.cleanups = append(e.cleanups, f) }

func (e *exampleT) TempDir() string {
	dir, err := os.MkdirTemp("", "spooltest-example")
	if err != nil {
		panic(err)
	}
	e.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (e *exampleT) finish() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
}

type welcome struct {
	UserID int `json:"user_id"`
}

// An outbox assertion: the transaction enqueued the welcome email with
// these args in the "mail" queue, and nothing else.
func ExampleKit_RequireOnlyEnqueuedTx() {
	t := &exampleT{}
	defer t.finish()
	ctx := context.Background()
	kit := spooltest.New(t, spooltest.Options{})

	tx, _ := kit.DB().BeginTx(ctx, nil)
	defer tx.Rollback()
	kit.Queue().EnqueueTx(ctx, tx, queue.NewJob{Kind: "email.welcome", Queue: "mail", Args: welcome{UserID: 42}})

	kit.RequireOnlyEnqueuedTx(ctx, t, tx,
		spooltest.Want("email.welcome", map[string]any{"user_id": 42}, spooltest.Queue("mail")))
	fmt.Println("enqueued in the transaction, and nothing else")
	// Output: enqueued in the transaction, and nothing else
}

// Work runs one job's handler inline with a real job and says what became
// of it.
func ExampleKit_Work() {
	t := &exampleT{}
	defer t.finish()
	ctx := context.Background()
	kit := spooltest.New(t, spooltest.Options{WorkerOptions: worker.Options{Backoff: queue.Constant(time.Minute)}})

	h := worker.JSON(func(ctx context.Context, job *queue.Job, w welcome) error {
		if w.UserID == 0 {
			return queue.Permanent(errors.New("no user"))
		}
		return errors.New("mail server busy")
	})
	res := kit.Work(ctx, t, h, queue.NewJob{Kind: "email.welcome", Args: welcome{UserID: 42}})
	fmt.Println(res.Outcome, res.Job.Attempt, res.Err, res.RunAt.Sub(kit.Now()))
	res = kit.Work(ctx, t, h, queue.NewJob{Kind: "email.welcome", Args: welcome{}})
	fmt.Println(res.Outcome, res.DeadReason)
	// Output:
	// retry 1 mail server busy 1m0s
	// dead permanent error: no user
}

// Drain runs the queue until it is empty, including the jobs its jobs
// enqueue; with Advance it moves the clock through the retries' backoff
// instead of waiting.
func ExampleKit_DrainWith() {
	t := &exampleT{}
	defer t.finish()
	ctx := context.Background()
	kit := spooltest.New(t, spooltest.Options{WorkerOptions: worker.Options{Backoff: queue.Constant(time.Minute)}})
	q := kit.Queue()

	pool := kit.NewPool(t)
	pool.HandleFunc("user.created", func(ctx context.Context, job *queue.Job) error {
		_, err := q.Enqueue(ctx, queue.NewJob{Kind: "email.welcome", Payload: job.Payload})
		return err
	})
	pool.HandleFunc("email.welcome", func(ctx context.Context, job *queue.Job) error {
		if job.Attempt < 3 {
			return errors.New("mail server busy")
		}
		return nil
	})
	q.Enqueue(ctx, queue.NewJob{Kind: "user.created", Args: welcome{UserID: 42}})

	report := kit.DrainWith(ctx, t, pool, spooltest.DrainOptions{Advance: time.Hour})
	fmt.Println(report)
	// Output: 4 attempts (email.welcome: complete 1, retry 2; user.created: complete 1); clock advanced 2m0s
}

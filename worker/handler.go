package worker

import (
	"context"
	"errors"

	"github.com/spooljobs/spool/queue"
)

// Handler runs jobs of one kind. Its result decides the job's outcome (see
// queue.Classify): nil completes, an error retries, queue.Permanent goes
// dead, queue.Snooze reschedules. ctx ends when the job's timeout passes,
// when an operator cancels the job, when the worker lost the job's lease,
// and when the pool stops hard; a handler should return soon after.
type Handler interface {
	Work(ctx context.Context, job *queue.Job) error
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, job *queue.Job) error

// Work calls f.
func (f HandlerFunc) Work(ctx context.Context, job *queue.Job) error { return f(ctx, job) }

// Middleware wraps a handler, as net/http middleware wraps an http.Handler:
// for logging, metrics, tracing, or putting values in the context.
type Middleware func(Handler) Handler

// JSON adapts a typed function to a Handler: the payload is decoded from
// JSON into a T first. A payload that does not decode is a permanent
// failure (retrying cannot fix it): the job goes to the dead table with an
// error naming the job, its kind and T. Where T names its kind
// (queue.Args), Pool.Handle refuses the handler for any other kind; see
// HandleArgs.
func JSON[T any](fn func(ctx context.Context, job *queue.Job, args T) error) Handler {
	return jsonHandler[T]{fn: fn}
}

// ErrNoHandler is the error recorded on a job whose kind has no handler in
// the pool that leased it. The job is retried like any failure, so a later
// deploy that registers the handler still runs it.
var ErrNoHandler = errors.New("worker: no handler registered for kind")

// JobFromContext returns the job a handler's context belongs to, for
// middleware and helpers deep in a handler's call tree.
func JobFromContext(ctx context.Context) (*queue.Job, bool) {
	return queue.JobFromContext(ctx)
}

package worker

import (
	"context"
	"fmt"

	"github.com/spooljobs/spool/queue"
)

// HandleArgs registers fn for the jobs of T's kind (queue.Args: the kind
// comes from T's Kind method, called on T's zero value), decoding each
// job's JSON payload into a T as JSON does. Jobs enqueued with
// Queue.EnqueueArgs of a T reach fn: the kind is written once, on the
// type. Mistakes are reported by Start, as Handle's are; so is a Kind
// method that panics on the zero value (a pointer T whose Kind
// dereferences it).
//
//	worker.HandleArgs(pool, func(ctx context.Context, job *queue.Job, r ReceiptArgs) error { ... })
func HandleArgs[T queue.Args](p *Pool, fn func(ctx context.Context, job *queue.Job, args T) error) {
	kind, err := argsKind[T]()
	if err != nil {
		p.refuse(fmt.Errorf("worker: HandleArgs[%T]: %w", *new(T), err))
		return
	}
	p.Handle(kind, JSON(fn))
}

// argsKind returns the kind of T's zero value if T (or *T) implements
// queue.Args; ok is false otherwise. A Kind that panics is an error.
func argsKind[T any]() (kind string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("Kind() panicked on the zero value (give it a value receiver that reads no field): %v", r)
		}
	}()
	var zero T
	if a, ok := any(zero).(queue.Args); ok {
		return a.Kind(), nil
	}
	if a, ok := any(&zero).(queue.Args); ok {
		return a.Kind(), nil
	}
	return "", nil
}

// jsonHandler is the Handler JSON returns: it knows the kind of its
// argument type, if the type names one, for Handle's check.
type jsonHandler[T any] struct {
	fn func(ctx context.Context, job *queue.Job, args T) error
}

// Work decodes the payload into a T and calls fn.
func (h jsonHandler[T]) Work(ctx context.Context, job *queue.Job) error {
	var args T
	if err := job.DecodeArgs(&args); err != nil {
		return queue.Permanent(err)
	}
	return h.fn(ctx, job, args)
}

// argsKind returns the kind T names ("" for none) and T's name.
func (h jsonHandler[T]) argsKind() (string, string, error) {
	kind, err := argsKind[T]()
	return kind, fmt.Sprintf("%T", *new(T)), err
}

// kindedHandler is a handler whose argument type names its kind.
type kindedHandler interface {
	argsKind() (kind, typeName string, err error)
}

// kindMismatch reports a handler registered for kind whose argument type
// names another kind, or whose Kind method panics (nil: neither).
func kindMismatch(kind string, h Handler) error {
	k, ok := h.(kindedHandler)
	if !ok {
		return nil
	}
	named, typeName, err := k.argsKind()
	switch {
	case err != nil:
		return fmt.Errorf("worker: Handle(%q): %s: %w", kind, typeName, err)
	case named != "" && named != kind:
		return fmt.Errorf("worker: Handle(%q): the argument type %s names the kind %q (its Kind method): "+
			"jobs enqueued with EnqueueArgs would never reach this handler; register it with HandleArgs", kind, typeName, named)
	}
	return nil
}

// refuse records a registration mistake, which Start reports.
func (p *Pool) refuse(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.regErrs = append(p.regErrs, err)
}

package queue

import (
	"context"
	"database/sql"
	"fmt"
)

// Args is a job's argument type that names its kind, for the typed path:
// Queue.EnqueueArgs takes the kind from the value, and worker.HandleArgs
// registers a handler under the kind of its argument type, so the two
// cannot drift apart. Kind is called on the zero value too (by
// worker.HandleArgs): it must not depend on the fields, and a pointer
// receiver must not dereference it.
//
//	type ReceiptArgs struct{ OrderID int64 }
//
//	func (ReceiptArgs) Kind() string { return "email.receipt" }
//
// Args are encoded as JSON into the job's payload. The string API
// (NewJob.Kind with NewJob.Args) stays for kinds without a type.
type Args interface {
	Kind() string
}

// EnqueueArgs adds one job of args' kind with args as its payload
// (JSON), and the other settings of opts (queue, priority, delays, keys).
// opts.Kind may be empty; set, it must equal args.Kind(). opts.Args and
// opts.Payload must be empty. Errors as Enqueue's; a kind that disagrees
// wraps ErrInvalidArgument.
func (q *Queue) EnqueueArgs(ctx context.Context, args Args, opts NewJob) (EnqueueResult, error) {
	job, err := argsJob(args, opts)
	if err != nil {
		return EnqueueResult{}, err
	}
	return q.Enqueue(ctx, job)
}

// EnqueueArgsTx is EnqueueArgs inside tx, the app's own transaction, as
// EnqueueTx is Enqueue's.
func (q *Queue) EnqueueArgsTx(ctx context.Context, tx *sql.Tx, args Args, opts NewJob) (EnqueueResult, error) {
	if err := requireTx(tx, "EnqueueArgsTx", "EnqueueArgs"); err != nil {
		return EnqueueResult{}, err
	}
	job, err := argsJob(args, opts)
	if err != nil {
		return EnqueueResult{}, err
	}
	return q.EnqueueTx(ctx, tx, job)
}

// argsJob is the NewJob of EnqueueArgs.
func argsJob(args Args, opts NewJob) (NewJob, error) {
	if args == nil {
		return NewJob{}, fmt.Errorf("%w: EnqueueArgs: args is nil", ErrInvalidArgument)
	}
	kind := args.Kind()
	switch {
	case opts.Kind != "" && opts.Kind != kind:
		return NewJob{}, fmt.Errorf("%w: EnqueueArgs: opts.Kind %q differs from the kind %q of %T (leave opts.Kind empty)",
			ErrInvalidArgument, opts.Kind, kind, args)
	case opts.Args != nil || opts.Payload != nil:
		return NewJob{}, fmt.Errorf("%w: EnqueueArgs: set the job's arguments through args, not opts.Args or opts.Payload", ErrInvalidArgument)
	}
	opts.Kind, opts.Args = kind, args
	return opts, nil
}

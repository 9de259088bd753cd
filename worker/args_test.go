package worker_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

type receiptArgs struct {
	OrderID int64 `json:"order_id"`
}

func (receiptArgs) Kind() string { return "email.receipt" }

type refundArgs struct{ OrderID int64 }

func (*refundArgs) Kind() string { return "payment.refund" }

type derefArgs struct{ K string }

func (a *derefArgs) Kind() string { return a.K }

// A job enqueued with EnqueueArgs (and EnqueueArgsTx) runs the handler
// HandleArgs registered for its type: the kind is written once, on the
// type. A pointer type whose Kind does not read its value works too.
func TestHandleArgsRunsEnqueueArgs(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	got := make(chan int64, 3)
	h.pool(worker.Options{}, func(p *worker.Pool) {
		worker.HandleArgs(p, func(ctx context.Context, job *queue.Job, r receiptArgs) error {
			require.Equal(t, "email.receipt", job.Kind)
			got <- r.OrderID
			return nil
		})
		worker.HandleArgs(p, func(ctx context.Context, job *queue.Job, r *refundArgs) error {
			require.Equal(t, "payment.refund", job.Kind)
			got <- -r.OrderID
			return nil
		})
	})
	_, err := h.q.EnqueueArgs(h.ctx, receiptArgs{OrderID: 42}, queue.NewJob{})
	require.NoError(t, err)
	require.Equal(t, int64(42), recv(t, got))
	_, err = h.q.EnqueueArgs(h.ctx, &refundArgs{OrderID: 7}, queue.NewJob{Queue: queue.DefaultQueue, Priority: 3})
	require.NoError(t, err)
	require.Equal(t, int64(-7), recv(t, got))

	tx, err := h.store.DB().BeginTx(h.ctx, nil)
	require.NoError(t, err)
	res, err := h.q.EnqueueArgsTx(h.ctx, tx, receiptArgs{OrderID: 43}, queue.NewJob{Kind: "email.receipt"})
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	require.Equal(t, int64(43), recv(t, got))
	require.Positive(t, res.ID)
}

// EnqueueArgs refuses a kind in opts that differs from the type's, and
// arguments given twice; EnqueueArgsTx a nil tx.
func TestEnqueueArgsRefusals(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	_, err := h.q.EnqueueArgs(h.ctx, receiptArgs{}, queue.NewJob{Kind: "email.welcome"})
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
	require.ErrorContains(t, err, `"email.welcome"`)
	require.ErrorContains(t, err, `"email.receipt"`)
	_, err = h.q.EnqueueArgs(h.ctx, receiptArgs{}, queue.NewJob{Args: 1})
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
	_, err = h.q.EnqueueArgs(h.ctx, nil, queue.NewJob{})
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
	_, err = h.q.EnqueueArgsTx(h.ctx, nil, receiptArgs{}, queue.NewJob{})
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
	jobs, err := h.q.Inspector().List(h.ctx, queue.ListFilter{})
	require.NoError(t, err)
	require.Empty(t, jobs)
}

// A handler whose argument type names another kind is refused at
// registration, reported by Start as a duplicate kind is; so is a typed
// kind registered twice and a Kind that panics on the zero value. A type
// without Kind registers under any kind.
func TestHandleRefusesMismatchedArgsKind(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	start := func(register func(p *worker.Pool)) error {
		p, err := worker.New(h.q, worker.Options{})
		require.NoError(t, err)
		register(p)
		err = p.Start(h.ctx)
		if err == nil {
			require.NoError(t, p.Stop(h.ctx))
		}
		return err
	}
	noop := func(context.Context, *queue.Job, receiptArgs) error { return nil }

	err := start(func(p *worker.Pool) { p.Handle("email.welcome", worker.JSON(noop)) })
	require.ErrorContains(t, err, `Handle("email.welcome")`)
	require.ErrorContains(t, err, `names the kind "email.receipt"`)
	err = start(func(p *worker.Pool) {
		p.Handle("payment.other", worker.JSON(func(context.Context, *queue.Job, refundArgs) error { return nil }))
	})
	require.ErrorContains(t, err, `names the kind "payment.refund"`, "Kind on *T")
	require.NoError(t, start(func(p *worker.Pool) {
		p.Handle("payment.refund", worker.JSON(func(context.Context, *queue.Job, refundArgs) error { return nil }))
	}), "the matching kind, through *T's method")

	err = start(func(p *worker.Pool) {
		worker.HandleArgs(p, noop)
		p.Handle("email.receipt", worker.JSON(noop))
	})
	require.ErrorContains(t, err, "kind registered twice")
	err = start(func(p *worker.Pool) {
		worker.HandleArgs(p, func(context.Context, *queue.Job, *derefArgs) error { return nil })
	})
	require.ErrorContains(t, err, "Kind() panicked on the zero value")

	require.NoError(t, start(func(p *worker.Pool) {
		worker.HandleArgs(p, noop)
		p.Handle("email.any", worker.JSON(func(context.Context, *queue.Job, map[string]any) error { return nil }))
	}))
}

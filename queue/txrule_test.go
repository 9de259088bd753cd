package queue_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// Every Tx twin follows one rule: it needs the caller's transaction, and a
// nil one is an ErrInvalidArgument naming the call, with nothing written.
func TestEveryTxTwinRefusesANilTx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, nil)
	in, tp := q.Inspector(), q.Topics()
	var tx *sql.Tx
	job := queue.NewJob{Kind: "k"}
	sub := queue.Subscription{Name: "s", Pattern: "orders.created", Kind: "k"}
	dead := queue.DeadFilter{All: true}
	calls := map[string]func() error{
		"EnqueueTx":     func() error { _, err := q.EnqueueTx(ctx, tx, job); return err },
		"EnqueueManyTx": func() error { _, err := q.EnqueueManyTx(ctx, tx, []queue.NewJob{job}); return err },
		"PublishTx": func() error {
			_, err := q.PublishTx(ctx, tx, queue.Event{Topic: "orders.created"})
			return err
		},
		"MarkProcessedTx":      func() error { _, err := q.MarkProcessedTx(ctx, tx, "key"); return err },
		"CancelTx":             func() error { _, err := in.CancelTx(ctx, tx, 1); return err },
		"RetryTx":              func() error { return in.RetryTx(ctx, tx, 1) },
		"RunNowTx":             func() error { return in.RunNowTx(ctx, tx, 1) },
		"CancelWaitingTx":      func() error { return in.CancelWaitingTx(ctx, tx, 1) },
		"RetryDeadTx":          func() error { _, err := in.RetryDeadTx(ctx, tx, dead); return err },
		"DeleteDeadTx":         func() error { _, err := in.DeleteDeadTx(ctx, tx, dead); return err },
		"DeleteTx":             func() error { return in.DeleteTx(ctx, tx, 1) },
		"PauseTx":              func() error { return in.PauseTx(ctx, tx, "default") },
		"ResumeTx":             func() error { return in.ResumeTx(ctx, tx, "default") },
		"SetQueueSettingsTx":   func() error { return in.SetQueueSettingsTx(ctx, tx, "default", queue.QueueSettings{}) },
		"SubscribeTx":          func() error { return tp.SubscribeTx(ctx, tx, sub) },
		"UpdateSubscriptionTx": func() error { return tp.UpdateSubscriptionTx(ctx, tx, sub) },
		"UnsubscribeTx":        func() error { return tp.UnsubscribeTx(ctx, tx, "s") },
		"ReplayTx": func() error {
			_, err := tp.ReplayTx(ctx, tx, "s", queue.EventFilter{Topic: "orders.created"})
			return err
		},
		"SetRetentionTx": func() error { return tp.SetRetentionTx(ctx, tx, "orders.created", queue.Retention{}) },
	}
	for name, call := range calls {
		err := call()
		require.ErrorIs(t, err, queue.ErrInvalidArgument, name)
		require.ErrorContains(t, err, name+": tx is nil", name)
	}
	st, err := in.Stats(ctx)
	require.NoError(t, err)
	require.Empty(t, st.Queues, "nothing was written")
	subs, err := tp.Subscriptions(ctx)
	require.NoError(t, err)
	require.Empty(t, subs)
}

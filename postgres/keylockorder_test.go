package postgres_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/pgtest"
	"github.com/spooljobs/spool/postgres"
	"github.com/spooljobs/spool/queue"
)

// Cancel and Delete of a blocked job take its key's lock before they touch
// its row, as lockKeysInOrder's rule says (key locks first, then job
// rows). Holding the row while waiting for the key would deadlock with a
// write that holds the key and promotes that very job: here a caller's
// transaction holds key k (an enqueue of k), and settles k's head, which
// promotes the blocked job the other transaction is cancelling or
// deleting. PostgreSQL would abort one of them with a deadlock after
// deadlock_timeout; both must go through, one after the other.
func TestCancelAndDeleteLockKeyBeforeRow(t *testing.T) {
	t.Parallel()
	for _, op := range []string{"cancel", "delete"} {
		t.Run(op, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := openStore(t, postgres.Options{MaxConns: 4})
			now := time.Now()
			job := func() queue.NewJob {
				return queue.NewJob{Queue: "q", Kind: "k", OrderKey: "k", RunAt: now, MaxAttempts: 3, Payload: []byte("{}")}
			}
			res, err := s.Enqueue(ctx, nil, now, []queue.NewJob{job(), job()})
			require.NoError(t, err)
			blocked := res[1].ID
			l, err := s.Lease(ctx, queue.LeaseParams{Queue: "q", Limit: 1, Worker: "w", Now: now, Until: now.Add(time.Minute)})
			require.NoError(t, err)
			require.Len(t, l.Jobs, 1)
			head := l.Jobs[0]

			txA, pidA := pgtest.Begin(t, s.DB())
			last, err := s.Enqueue(ctx, txA, now, []queue.NewJob{job()}) // takes k's lock
			require.NoError(t, err)

			done := pgtest.InTx(ctx, s.DB(), func(txB *sql.Tx) error {
				if op == "cancel" {
					_, err := s.Cancel(ctx, txB, blocked, now)
					return err
				}
				return s.Delete(ctx, txB, blocked, now)
			})
			pgtest.WaitBlockedBy(t, s.DB(), pidA, 1)

			errs, err := s.Settle(ctx, txA, []queue.Settlement{{JobID: head.ID, Token: head.LeaseToken, Queue: "q", Kind: "k",
				OrderKey: "k", Outcome: queue.OutcomeComplete, Now: now}})
			require.NoError(t, err)
			require.NoError(t, errs[0])
			require.NoError(t, txA.Commit())
			require.NoError(t, <-done)

			if op == "cancel" {
				j, err := s.Get(ctx, blocked)
				require.NoError(t, err)
				require.Equal(t, queue.StateCancelled, j.State)
			} else {
				_, err := s.Get(ctx, blocked)
				require.ErrorIs(t, err, queue.ErrNotFound)
			}
			j, err := s.Get(ctx, last[0].ID)
			require.NoError(t, err)
			require.Equal(t, queue.StatePending, j.State, "the key moved on to its last job")
		})
	}
}

// EnqueueMany takes the locks of its jobs' ordering keys in the order
// lockKeysInOrder takes a settle batch's (sorted), not in the jobs' order.
// Here a settle batch of keys a and b waits for a (another transaction
// holds it), and then an EnqueueMany of a job of b and a job of a starts:
// taking b first and then waiting for a, it would deadlock with the
// settle once that gets a and wants b.
func TestEnqueueManyLocksKeysInSettleOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, postgres.Options{MaxConns: 6})
	now := time.Now()
	job := func(key string) queue.NewJob {
		return queue.NewJob{Queue: "q", Kind: "k", OrderKey: key, RunAt: now, MaxAttempts: 3, Payload: []byte("{}")}
	}
	_, err := s.Enqueue(ctx, nil, now, []queue.NewJob{job("a"), job("b")})
	require.NoError(t, err)
	l, err := s.Lease(ctx, queue.LeaseParams{Queue: "q", Limit: 2, Worker: "w", Now: now, Until: now.Add(time.Minute)})
	require.NoError(t, err)
	require.Len(t, l.Jobs, 2)

	// txX holds a.
	txX, pidX := pgtest.Begin(t, s.DB())
	_, err = s.Enqueue(ctx, txX, now, []queue.NewJob{job("a")})
	require.NoError(t, err)

	settled := pgtest.InTx(ctx, s.DB(), func(tx *sql.Tx) error {
		var batch []queue.Settlement
		for _, j := range l.Jobs {
			batch = append(batch, queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: "q", Kind: "k",
				OrderKey: j.OrderKey, Outcome: queue.OutcomeComplete, Now: now})
		}
		_, err := s.Settle(ctx, tx, batch)
		return err
	})
	pgtest.WaitBlockedBy(t, s.DB(), pidX, 1)
	enqueued := pgtest.InTx(ctx, s.DB(), func(tx *sql.Tx) error {
		_, err := s.Enqueue(ctx, tx, now, []queue.NewJob{job("b"), job("a")})
		return err
	})
	pgtest.WaitBlockedBy(t, s.DB(), pidX, 2)
	require.NoError(t, txX.Commit())
	require.NoError(t, <-settled)
	require.NoError(t, <-enqueued)
}

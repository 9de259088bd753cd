package sqlite_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// endsAfter is a context that ends at the n-th call of Done, so that a test
// can end it at every point of a call in turn. (The driver calls Done from
// its own goroutines too.)
type endsAfter struct {
	context.Context
	n     int64
	calls atomic.Int64
	once  sync.Once
	done  chan struct{}
}

func (c *endsAfter) Done() <-chan struct{} {
	if c.calls.Add(1) >= c.n {
		c.once.Do(func() { close(c.done) })
	}
	return c.done
}

func (c *endsAfter) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

// A Settle in the caller's transaction (as worker.Pool.CompleteTx does) whose
// context ends part-way, at every point in turn, over a chunk that takes
// the lost-lease path: when it fails, it leaves no savepoint open and the
// caller's transaction as it was.
func TestSettleInCallerTxWhenContextEnds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	failed, settled := 0, 0
	for n := int64(1); settled < 3 && n < 1000; n++ { // every point the context can end at, then a few settles
		s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "spool.db"), sqlite.Options{})
		require.NoError(t, err)
		now := time.Now()
		_, err = s.Enqueue(ctx, nil, now, []queue.NewJob{
			{Queue: queue.DefaultQueue, Kind: "k", Payload: []byte("{}"), MaxAttempts: 5, RunAt: now},
			{Queue: queue.DefaultQueue, Kind: "k", Payload: []byte("{}"), MaxAttempts: 5, RunAt: now}})
		require.NoError(t, err)
		res, err := s.Lease(ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 2, Now: now, Until: now.Add(time.Minute), Worker: "w"})
		require.NoError(t, err)
		require.Len(t, res.Jobs, 2)
		a, b := res.Jobs[0], res.Jobs[1]
		// b's lease ends elsewhere first, so the completions' chunk is one
		// short and is undone.
		errs, err := s.Settle(ctx, nil, []queue.Settlement{{JobID: b.ID, Token: b.LeaseToken, Queue: b.Queue, Now: now, Outcome: queue.OutcomeSnooze, RunAt: now.Add(time.Hour)}})
		require.NoError(t, err)
		require.NoError(t, errs[0])

		tx, err := s.DB().BeginTx(ctx, nil)
		require.NoError(t, err)
		ends := &endsAfter{Context: ctx, n: n, done: make(chan struct{})}
		errs, err = s.Settle(ends, tx, []queue.Settlement{
			{JobID: a.ID, Token: a.LeaseToken, Queue: a.Queue, Now: now, Outcome: queue.OutcomeComplete},
			{JobID: b.ID, Token: b.LeaseToken, Queue: b.Queue, Now: now, Outcome: queue.OutcomeComplete}})
		var left int
		require.NoError(t, tx.QueryRowContext(ctx, `SELECT count(*) FROM spool_jobs WHERE id = ?`, a.ID).Scan(&left))
		if err != nil {
			failed++
			for _, sp := range []string{"spool_settle", "spool_write"} {
				_, relErr := tx.ExecContext(ctx, `RELEASE `+sp)
				require.Error(t, relErr, "n=%d: Settle failed (%v) and left savepoint %s open", n, err, sp)
			}
			require.Equal(t, 1, left, "n=%d: Settle failed (%v) but deleted job %d", n, err, a.ID)
		} else {
			settled++
			require.NoError(t, errs[0], "n=%d", n)
			require.ErrorIs(t, errs[1], queue.ErrLeaseLost, "n=%d", n)
			require.Zero(t, left, "n=%d: job %d completed", n, a.ID)
		}
		// An interrupted write inside a transaction makes SQLite roll back
		// the whole transaction; the caller learns it from the error.
		if rbErr := tx.Rollback(); err == nil {
			require.NoError(t, rbErr, "n=%d", n)
		}
		require.NoError(t, s.Close())
	}
	t.Logf("ended at every point: %d calls failed, %d settled", failed, settled)
	require.NotZero(t, failed)
	require.NotZero(t, settled)
}

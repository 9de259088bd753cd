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

// RetryDead and DeleteDead lock their dead jobs' ordering keys first,
// sorted, before they touch the dead rows. Here dead jobs 1 (key a), 2
// (b), 3 (b) and 4 (a); a transaction H holds a. Call X (jobs 1 and 2)
// waits for a first, then call Y (jobs 3 and 4) starts: taking its
// jobs' keys one by one, Y takes b and waits for a; once H commits, X
// gets a and wants b, and PostgreSQL aborts one of them with a deadlock.
// Both must go through, one after the other.
func TestDeadListsLockKeysInOrder(t *testing.T) {
	t.Parallel()
	for _, op := range []string{"retry", "delete"} {
		t.Run(op, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := openStore(t, postgres.Options{MaxConns: 6})
			now := time.Now()
			job := func(key string) queue.NewJob {
				return queue.NewJob{Queue: "q", Kind: "k", OrderKey: key, RunAt: now, MaxAttempts: 3,
					ExpiresAt: now.Add(time.Minute), Payload: []byte("{}")}
			}
			res, err := s.Enqueue(ctx, nil, now, []queue.NewJob{job("a"), job("b"), job("b"), job("a")})
			require.NoError(t, err)
			// The lease expires all four, into the dead table.
			l, err := s.Lease(ctx, queue.LeaseParams{Queue: "q", Limit: 4, Worker: "w", Now: now.Add(time.Hour),
				Until: now.Add(2 * time.Hour)})
			require.NoError(t, err)
			require.Empty(t, l.Jobs)
			for _, r := range res {
				j, err := s.Get(ctx, r.ID)
				require.NoError(t, err)
				require.Equal(t, queue.StateDead, j.State)
			}

			txH, pidH := pgtest.Begin(t, s.DB())
			_, err = s.Enqueue(ctx, txH, now, []queue.NewJob{{Queue: "q", Kind: "k", OrderKey: "a", RunAt: now,
				MaxAttempts: 3, Payload: []byte("{}")}}) // takes a's lock
			require.NoError(t, err)

			call := func(ids ...int64) <-chan error {
				return pgtest.InTx(ctx, s.DB(), func(tx *sql.Tx) error {
					f := queue.DeadFilter{IDs: ids}
					if op == "retry" {
						r, err := s.RetryDead(ctx, tx, f, now)
						if err == nil && r.Retried != len(ids) {
							t.Errorf("retried %d of %v", r.Retried, ids)
						}
						return err
					}
					n, err := s.DeleteDead(ctx, tx, f, now)
					if err == nil && n != len(ids) {
						t.Errorf("deleted %d of %v", n, ids)
					}
					return err
				})
			}
			x := call(res[0].ID, res[1].ID)
			pgtest.WaitBlockedBy(t, s.DB(), pidH, 1)
			y := call(res[2].ID, res[3].ID)
			pgtest.WaitBlockedBy(t, s.DB(), pidH, 2)
			require.NoError(t, txH.Commit())
			require.NoError(t, <-x)
			require.NoError(t, <-y)
		})
	}
}

// Delete of a dead job locks its key before its row, as RetryDead does:
// deleting the row first and then waiting for the key would deadlock
// with a RetryDead that holds the key and wants the row. Here H holds
// the key, a RetryDead of the job waits for it first, then the Delete
// starts; once H commits, the retry moves the job back and the Delete
// deletes it from the live table.
func TestDeleteOfDeadJobLocksKeyBeforeRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, postgres.Options{MaxConns: 6})
	now := time.Now()
	res, err := s.Enqueue(ctx, nil, now, []queue.NewJob{{Queue: "q", Kind: "k", OrderKey: "a", RunAt: now,
		MaxAttempts: 3, ExpiresAt: now.Add(time.Minute), Payload: []byte("{}")}})
	require.NoError(t, err)
	id := res[0].ID
	_, err = s.Lease(ctx, queue.LeaseParams{Queue: "q", Limit: 1, Worker: "w", Now: now.Add(time.Hour),
		Until: now.Add(2 * time.Hour)})
	require.NoError(t, err)

	txH, pidH := pgtest.Begin(t, s.DB())
	_, err = s.Enqueue(ctx, txH, now, []queue.NewJob{{Queue: "q", Kind: "k", OrderKey: "a", RunAt: now,
		MaxAttempts: 3, Payload: []byte("{}")}}) // takes a's lock
	require.NoError(t, err)

	retried := pgtest.InTx(ctx, s.DB(), func(tx *sql.Tx) error {
		_, err := s.RetryDead(ctx, tx, queue.DeadFilter{IDs: []int64{id}}, now)
		return err
	})
	pgtest.WaitBlockedBy(t, s.DB(), pidH, 1)
	deleted := pgtest.InTx(ctx, s.DB(), func(tx *sql.Tx) error { return s.Delete(ctx, tx, id, now) })
	pgtest.WaitBlockedBy(t, s.DB(), pidH, 2)
	require.NoError(t, txH.Commit())
	require.NoError(t, <-retried)
	require.NoError(t, <-deleted)
	_, err = s.Get(ctx, id)
	require.ErrorIs(t, err, queue.ErrNotFound)
}

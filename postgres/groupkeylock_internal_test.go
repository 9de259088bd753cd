package postgres

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/pgtest"
	"github.com/spooljobs/spool/queue"
)

// A publish group takes the ordering keys of all its publishes'
// deliveries first, sorted, as a settle batch takes its keys: taken
// publish by publish they are out of order across the group. Here a
// settle batch of keys mail:a and mail:b waits for mail:a (transaction X
// holds it), then a group publishes an event of key b and then one of key
// a: locking mail:b for the first and waiting for mail:a for the second,
// it would deadlock with the settle once that gets mail:a and wants
// mail:b. The settle's transaction checks for deadlocks sooner than the
// group's, so that it is the one PostgreSQL aborts (the group's own
// transaction would retry unseen).
func TestPublishGroupLocksKeysInSettleOrder(t *testing.T) {
	ctx := context.Background()
	s := heldPublishStore(t)
	now := time.Now()
	job := func(key string) queue.NewJob {
		return queue.NewJob{Queue: "mail", Kind: "email", OrderKey: key, RunAt: now, MaxAttempts: 3, Payload: []byte("{}")}
	}
	_, err := s.Enqueue(ctx, nil, now, []queue.NewJob{job("mail:a"), job("mail:b")})
	require.NoError(t, err)
	l, err := s.Lease(ctx, queue.LeaseParams{Queue: "mail", Limit: 2, Worker: "w", Now: now, Until: now.Add(time.Minute)})
	require.NoError(t, err)
	require.Len(t, l.Jobs, 2)

	// X holds mail:a.
	txX, pidX := pgtest.Begin(t, s.db)
	_, err = s.Enqueue(ctx, txX, now, []queue.NewJob{job("mail:a")})
	require.NoError(t, err)

	settled := pgtest.InTx(ctx, s.db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `SET LOCAL deadlock_timeout = '50ms'`); err != nil {
			return err
		}
		var batch []queue.Settlement
		for _, j := range l.Jobs {
			batch = append(batch, queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: "mail", Kind: "email",
				OrderKey: j.OrderKey, Outcome: queue.OutcomeComplete, Now: now})
		}
		_, err := s.Settle(ctx, tx, batch)
		return err
	})
	pgtest.WaitBlockedBy(t, s.db, pidX, 1)

	// The group: the publish of key b queued first, then that of key a.
	var calls []*published
	for i, key := range []string{"b", "a"} {
		c := &published{ev: queue.Event{Topic: "orders.created", OrderKey: key, Payload: []byte("{}")}, done: make(chan struct{})}
		calls = append(calls, c)
		go func() {
			defer close(c.done)
			c.res, c.err = s.Publish(ctx, nil, now, c.ev, queue.NewJob{MaxAttempts: 3})
		}()
		require.Eventually(t, func() bool { return len(s.pubGroup.ops) == i+1 }, 10*time.Second, time.Millisecond)
	}
	group := s.pubGroup.gather(<-s.pubGroup.ops)
	require.Len(t, group, 2)
	grouped := make(chan error, 1)
	go func() {
		_, err := s.pubGroup.runTogether(ctx, group)
		for _, op := range group {
			op.done <- err
		}
		grouped <- err
	}()
	pgtest.WaitBlockedBy(t, s.db, pidX, 2)
	require.NoError(t, txX.Commit())
	require.NoError(t, <-settled)
	require.NoError(t, <-grouped)
	for _, c := range calls {
		<-c.done
		require.NoError(t, c.err)
		require.Equal(t, 1, c.res.Jobs)
	}
}

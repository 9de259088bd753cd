package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// EnqueueMany of keyed jobs in chunks (the bulk path) leaves every job in
// the state one-at-a-time inserts leave it in: a key with a head, or held
// by a dead job, gets only blocked jobs; a free key's first job of the
// batch becomes its head and the rest wait; partition keys are kept. Then
// the keys move on as usual.
func TestEnqueueManyKeyedMatchesOneByOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 14, 30, 0, 0, time.UTC)
	setup := func(t *testing.T) *sqlite.Store {
		s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "spool.db"), sqlite.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		_, err = s.Enqueue(ctx, nil, now, []queue.NewJob{
			{Queue: "q", Kind: "k", OrderKey: "a", RunAt: now, MaxAttempts: 3, Payload: []byte("{}")},
			{Queue: "q", Kind: "k", OrderKey: "d", RunAt: now, MaxAttempts: 3, Payload: []byte("{}")},
		})
		require.NoError(t, err)
		// Key d's head dies and holds d; key a's head stays.
		l, err := s.Lease(ctx, queue.LeaseParams{Queue: "q", Limit: 2, Worker: "w", Now: now, Until: now.Add(time.Minute)})
		require.NoError(t, err)
		require.Len(t, l.Jobs, 2)
		errs, err := s.Settle(ctx, nil, []queue.Settlement{{JobID: l.Jobs[1].ID, Token: l.Jobs[1].LeaseToken, Queue: "q", Kind: "k",
			OrderKey: "d", Outcome: queue.OutcomeDead, Reason: "failed", Now: now}})
		require.NoError(t, err)
		require.NoError(t, errs[0])
		return s
	}
	var jobs []queue.NewJob
	for i := range 130 {
		j := queue.NewJob{Queue: "q", Kind: "k", RunAt: now, MaxAttempts: 3, Payload: []byte(fmt.Sprint(i))}
		switch i % 5 {
		case 0:
			j.OrderKey = "a"
		case 1:
			j.OrderKey = "b"
		case 2:
			j.OrderKey = "d"
		case 3:
			j.PartitionKey = "p"
		case 4:
			j.OrderKey, j.PartitionKey = "c", "p"
		}
		jobs = append(jobs, j)
	}
	bulk, single := setup(t), setup(t)
	got, err := bulk.Enqueue(ctx, nil, now, jobs)
	require.NoError(t, err)
	var want []queue.EnqueueResult
	for _, j := range jobs {
		r, err := single.Enqueue(ctx, nil, now, []queue.NewJob{j})
		require.NoError(t, err)
		want = append(want, r[0])
	}
	require.Equal(t, want, got, "the same ids")
	for i, r := range got {
		b, err := bulk.Get(ctx, r.ID)
		require.NoError(t, err)
		s, err := single.Get(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, [3]string{string(s.State), s.OrderKey, s.PartitionKey}, [3]string{string(b.State), b.OrderKey, b.PartitionKey}, "job %d", i)
	}
	b1, err := bulk.Get(ctx, got[1].ID)
	require.NoError(t, err)
	require.Equal(t, queue.StatePending, b1.State, "b's first job is its head")

	// b's head completes: b's next job (the batch's 7th) moves on.
	l, err := bulk.Lease(ctx, queue.LeaseParams{Queue: "q", Limit: 100, Worker: "w", Now: now, Until: now.Add(time.Minute)})
	require.NoError(t, err)
	var settle []queue.Settlement
	for _, j := range l.Jobs {
		if j.OrderKey == "b" {
			settle = append(settle, queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: "q", Kind: "k", OrderKey: "b",
				Outcome: queue.OutcomeComplete, Now: now})
		}
	}
	require.Len(t, settle, 1, "one head of b at a time")
	_, err = bulk.Settle(ctx, nil, settle)
	require.NoError(t, err)
	b6, err := bulk.Get(ctx, got[6].ID)
	require.NoError(t, err)
	require.Equal(t, queue.StatePending, b6.State)
}

package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/spooljobs/spool/postgres"
	"github.com/spooljobs/spool/queue"
)

// TestPerKeyLeaseSkipsLockedRow: a caller's open transaction holding one
// pending job's row (a Cancel in its own transaction) must not stall a
// lease under per-key limits, which holds the queue's row while it leases:
// like the plain lease, it leaves the locked row out and leases the other
// job at once. (Before the fix the per-key lease waited on the row until
// the caller's transaction ended, and every process's leases of the queue
// queued behind it.)
func TestPerKeyLeaseSkipsLockedRow(t *testing.T) {
	for _, perKey := range []int{0, 1} {
		s := openStore(t, postgres.Options{MaxConns: 4})
		ctx := context.Background()
		now := time.Now()
		if err := s.SetQueueSettings(ctx, nil, "q", queue.QueueSettings{MaxRunningPerKey: perKey}, now); err != nil {
			t.Fatal(err)
		}
		res, err := s.Enqueue(ctx, nil, now, []queue.NewJob{
			{Queue: "q", Kind: "k", PartitionKey: "a"},
			{Queue: "q", Kind: "k", PartitionKey: "b"},
		})
		if err != nil {
			t.Fatal(err)
		}
		tx, err := s.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Cancel(ctx, tx, res[0].ID, now); err != nil {
			t.Fatal(err)
		}
		// A deadline far beyond a lease's time: reaching it means the lease
		// waited for the caller's transaction.
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		lr, err := s.Lease(lctx, queue.LeaseParams{Queue: "q", Limit: 10, Now: now, Until: now.Add(time.Minute), Worker: "w"})
		cancel()
		if err != nil || len(lr.Jobs) != 1 || lr.Jobs[0].ID != res[1].ID {
			t.Errorf("MaxRunningPerKey %d: want job %d leased past the locked one, got %d jobs, err %v", perKey, res[1].ID, len(lr.Jobs), err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
	}
}

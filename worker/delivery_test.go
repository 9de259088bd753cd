package worker_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

// TestOrderKeysInProcess: many keys, random failures and retries; for each
// key the completions follow the enqueue order, and keys overlap in time.
func TestOrderKeysInProcess(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	const keys, perKey = 20, 15
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	var mu sync.Mutex
	failures := map[int64]int{}
	for id := int64(1); id <= keys*perKey; id++ {
		if rng.IntN(4) == 0 {
			failures[id] = 1 + rng.IntN(2) // fails once or twice, then succeeds
		}
	}
	completed := map[string][]int{}
	var running, overlap, arrived int
	perKeyRunning := map[string]int{}
	both := make(chan struct{}) // the first two jobs wait for each other: keys overlap
	done := make(chan struct{})
	total := 0
	h.pool(worker.Options{Backoff: queue.Constant(0), Queues: map[string]worker.QueueConfig{"orders": {MaxWorkers: 8}}}, func(p *worker.Pool) {
		p.Handle("apply", worker.JSON(func(ctx context.Context, j *queue.Job, seq int) error {
			mu.Lock()
			running++
			if running > 1 {
				overlap++
			}
			perKeyRunning[j.OrderKey]++
			sameKey := perKeyRunning[j.OrderKey]
			arrived++
			n := arrived
			if n == 2 {
				close(both)
			}
			mu.Unlock()
			if sameKey > 1 {
				t.Errorf("two jobs of %s ran at once", j.OrderKey)
			}
			if n <= 2 {
				select {
				case <-both:
				case <-time.After(10 * time.Second):
					t.Error("no second key ran beside the first")
				}
			}
			mu.Lock()
			fail := failures[j.ID] > 0
			if fail {
				failures[j.ID]--
			}
			mu.Unlock()
			defer func() {
				mu.Lock()
				running--
				perKeyRunning[j.OrderKey]--
				mu.Unlock()
			}()
			if fail {
				return errors.New("partner hiccup")
			}
			mu.Lock()
			defer mu.Unlock()
			completed[j.OrderKey] = append(completed[j.OrderKey], seq)
			total++
			if total == keys*perKey {
				close(done)
			}
			return nil
		}))
	})
	var jobs []queue.NewJob
	for seq := range perKey {
		for k := range keys {
			jobs = append(jobs, queue.NewJob{Kind: "apply", Queue: "orders", OrderKey: fmt.Sprintf("order:%d", k), Args: seq})
		}
	}
	// Half in one batch, half one by one while the pool works.
	_, err := h.q.EnqueueMany(h.ctx, jobs[:len(jobs)/2])
	require.NoError(t, err)
	for _, j := range jobs[len(jobs)/2:] {
		h.enqueue(j)
	}
	recv(t, done)
	mu.Lock()
	defer mu.Unlock()
	for k := range keys {
		key := fmt.Sprintf("order:%d", k)
		want := make([]int, perKey)
		for i := range want {
			want[i] = i
		}
		require.Equal(t, want, completed[key], "key %s ran out of order", key)
	}
	require.Greater(t, overlap, 0, "different keys ran in parallel")
}

// TestCompleteTxAppliesOnce: the handler's effect and the acknowledgement
// commit together; a handler whose lease was lost cannot complete.
func TestCompleteTxAppliesOnce(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	db := h.store.DB()
	_, err := db.Exec(`CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0)`)
	require.NoError(t, err)
	var failed atomic.Bool
	p := h.pool(worker.Options{Backoff: queue.Constant(0)}, func(p *worker.Pool) {
		p.HandleFunc("count", func(ctx context.Context, j *queue.Job) error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(ctx, `UPDATE counter SET n = n + 1`); err != nil {
				return err
			}
			if err := p.CompleteTx(ctx, tx, j); err != nil {
				return err
			}
			if j.ID == 1 && failed.CompareAndSwap(false, true) {
				return errors.New("crash before commit") // rolls back effect and ack together
			}
			return tx.Commit()
		})
	})
	var ids []int64
	for range 10 {
		ids = append(ids, h.enqueue(queue.NewJob{Kind: "count"}))
	}
	for _, id := range ids {
		h.waitState(id, queue.StateCompleted)
	}
	var n int
	require.NoError(t, db.QueryRow(`SELECT n FROM counter`).Scan(&n))
	require.Equal(t, 10, n, "each job's effect applied exactly once")

	require.ErrorIs(t, p.CompleteTx(h.ctx, nil, &queue.Job{ID: ids[0]}), queue.ErrInvalidArgument, "nil tx")
}

func TestCompleteTxLeaseLost(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	got := make(chan error, 1)
	started, proceed := make(chan struct{}), make(chan struct{})
	h.pool(worker.Options{Backoff: queue.Constant(time.Hour)}, func(p *worker.Pool) {
		p.HandleFunc("slow", func(ctx context.Context, j *queue.Job) error {
			close(started)
			<-proceed
			tx, err := h.store.DB().BeginTx(context.Background(), nil)
			require.NoError(t, err)
			defer tx.Rollback()
			got <- p.CompleteTx(ctx, tx, j)
			return nil
		})
	})
	id := h.enqueue(queue.NewJob{Kind: "slow"})
	<-started
	h.clock.Advance(time.Minute) // the lease runs out and a rescuer takes the job
	rescuer, err := worker.New(h.q, worker.Options{Backoff: queue.Constant(time.Hour)})
	require.NoError(t, err)
	n, err := rescuer.Rescue(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	close(proceed)
	require.ErrorIs(t, recv(t, got), queue.ErrLeaseLost)
	j := h.waitState(id, queue.StateScheduled)
	require.Equal(t, 1, j.Attempt)
}

func TestRateLimitWithInjectedClock(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	ran := make(chan int64, 10)
	h.pool(worker.Options{Queues: map[string]worker.QueueConfig{"partner": {MaxWorkers: 10, RateLimit: 1, Burst: 2}}}, func(p *worker.Pool) {
		p.HandleFunc("call", func(ctx context.Context, j *queue.Job) error { ran <- j.ID; return nil })
	})
	for range 5 {
		h.enqueue(queue.NewJob{Kind: "call", Queue: "partner"})
	}
	recv(t, ran)
	recv(t, ran) // the burst
	pending := func() int {
		st, err := h.q.Inspector().Stats(h.ctx)
		require.NoError(t, err)
		if len(st.Queues) == 0 {
			return 0
		}
		return st.Queues[0].Pending
	}
	require.Eventually(t, func() bool { return pending() == 3 }, 5*time.Second, time.Millisecond)
	h.q.Store().(queue.Notifier).Notify("partner") // a wake-up alone brings no token
	require.Equal(t, 3, pending())
	for left := 2; left >= 0; left-- {
		h.clock.Advance(time.Second)
		h.q.Store().(queue.Notifier).Notify("partner")
		recv(t, ran)
		require.Eventually(t, func() bool { return pending() == left }, 5*time.Second, time.Millisecond)
	}
	select {
	case id := <-ran:
		t.Fatalf("job %d ran beyond the rate", id)
	default:
	}
}

func TestCorrelationFlowsToChildJobs(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	childID := make(chan int64, 1)
	h.pool(worker.Options{}, func(p *worker.Pool) {
		p.HandleFunc("order.created", func(ctx context.Context, j *queue.Job) error {
			r, err := h.q.Enqueue(ctx, queue.NewJob{Kind: "email.receipt"})
			childID <- r.ID
			return err
		})
		p.HandleFunc("email.receipt", func(ctx context.Context, j *queue.Job) error { return queue.Snooze(time.Hour) })
	})
	h.enqueue(queue.NewJob{Kind: "order.created", Metadata: map[string]string{"correlation_id": "req-7f3a"}})
	child := h.waitState(recv(t, childID), queue.StateScheduled)
	require.Equal(t, "req-7f3a", child.Metadata["correlation_id"])
}

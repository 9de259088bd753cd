package worker_test

// Ordering keys in one process (ordering_crash_test.go: across crashes).

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

// Many keys, random failures and retries: for each key the completions
// follow the enqueue order, and different keys overlap in time.
func TestOrderKeysRunInOrderOneAtATime(t *testing.T) {
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

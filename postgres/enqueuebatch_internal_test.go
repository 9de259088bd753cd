package postgres

// Group commit of small enqueues: concurrent callers' jobs go in with one
// statement, each caller gets its own jobs' ids, a queue with a limit is
// counted the long way, and one caller's bad job fails no one else.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/pgtest"
	"github.com/spooljobs/spool/queue"
)

// heldStore opens a store on a fresh schema whose batcher has no
// flushers: requests queue up until the test flushes them itself.
func heldStore(t *testing.T) *Store {
	t.Helper()
	url := pgtest.URL(t)
	s, err := Open(context.Background(), url, Options{Schema: pgtest.Schema(t, url)})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	s.batch.close()
	s.batch = newBatcher(s, 0)
	return s
}

// call is one Enqueue running in its own goroutine.
type call struct {
	jobs []queue.NewJob
	res  []queue.EnqueueResult
	err  error
	done chan struct{}
}

// enqueueAll starts an Enqueue per job list and waits until the batcher
// holds every one of them (those that take the long path at once do not
// queue; want says how many queue).
func enqueueAll(t *testing.T, s *Store, want int, lists ...[]queue.NewJob) []*call {
	t.Helper()
	now := time.Now()
	calls := make([]*call, len(lists))
	for i, jobs := range lists {
		c := &call{jobs: jobs, done: make(chan struct{})}
		calls[i] = c
		go func() {
			defer close(c.done)
			c.res, c.err = s.Enqueue(context.Background(), nil, now, c.jobs)
		}()
	}
	require.Eventually(t, func() bool { return len(s.batch.reqs) == want }, 10*time.Second, time.Millisecond)
	return calls
}

// flushHeld flushes every queued request as one batch, as a flusher
// would, and returns how many requests the batch held.
func flushHeld(s *Store) int {
	batch := s.batch.gather(<-s.batch.reqs)
	s.batch.flush(batch)
	return len(batch)
}

// pending counts the pending jobs of the named queue.
func pending(t *testing.T, s *Store, name string) int {
	t.Helper()
	st, err := s.Stats(context.Background(), time.Now())
	require.NoError(t, err)
	for _, q := range st.Queues {
		if q.Name == name {
			return q.Pending
		}
	}
	return 0
}

// payloadJob is a plain job whose payload names it.
func payloadJob(queueName string, n int) queue.NewJob {
	return queue.NewJob{Queue: queueName, Kind: "k", MaxAttempts: 3, Payload: []byte(fmt.Sprintf(`{"n":%d}`, n))}
}

// requireOwnJobs checks that every id a call got back is the row of the
// job it asked for.
func requireOwnJobs(t *testing.T, s *Store, c *call) {
	t.Helper()
	require.NoError(t, c.err)
	require.Len(t, c.res, len(c.jobs))
	for k, r := range c.res {
		got, err := s.Get(context.Background(), r.ID)
		require.NoError(t, err)
		assert.Equal(t, c.jobs[k].Queue, got.Queue, "job %d of a call", k)
		assert.Equal(t, string(c.jobs[k].Payload), string(got.Payload), "job %d of a call: id %d", k, r.ID)
	}
}

func TestGroupCommitOneStatementForManyCallers(t *testing.T) {
	s := heldStore(t)
	var lists [][]queue.NewJob
	for i := range 20 {
		name := "a"
		if i%2 == 1 {
			name = "b"
		}
		jobs := []queue.NewJob{payloadJob(name, 10*i)}
		if i%3 == 0 {
			jobs = append(jobs, payloadJob(name, 10*i+1), payloadJob(name, 10*i+2))
		}
		lists = append(lists, jobs)
	}
	calls := enqueueAll(t, s, len(lists), lists...)
	require.Equal(t, len(lists), flushHeld(s), "one batch takes every waiting request")
	ids := map[int64]bool{}
	for _, c := range calls {
		<-c.done
		requireOwnJobs(t, s, c)
		for _, r := range c.res {
			require.False(t, ids[r.ID], "id %d given twice", r.ID)
			ids[r.ID] = true
		}
	}
	assert.Equal(t, 34, pending(t, s, "a")+pending(t, s, "b"))
}

func TestGroupCommitCountsLimitedQueuesTheLongWay(t *testing.T) {
	s := heldStore(t)
	ctx := context.Background()
	require.NoError(t, s.SetQueueSettings(ctx, nil, "limited", queue.QueueSettings{MaxPending: 2}, time.Now()))
	calls := enqueueAll(t, s, 3,
		[]queue.NewJob{payloadJob("limited", 1)},
		[]queue.NewJob{payloadJob("free", 2)},
		[]queue.NewJob{payloadJob("limited", 5)},
	)
	flushHeld(s)
	var full int
	for _, c := range calls {
		<-c.done
		var qf *queue.QueueFullError
		if errors.As(c.err, &qf) {
			full++
			assert.Equal(t, "limited", qf.Queue)
			continue
		}
		requireOwnJobs(t, s, c)
	}
	assert.Equal(t, 0, full, "two single-job enqueues into a queue of limit 2 both fit")
	assert.Equal(t, 2, pending(t, s, "limited"))
	assert.Equal(t, 1, pending(t, s, "free"))
	third := enqueueAll(t, s, 1, []queue.NewJob{payloadJob("limited", 6)})
	flushHeld(s)
	<-third[0].done
	var qf *queue.QueueFullError
	require.ErrorAs(t, third[0].err, &qf, "the third is refused")
}

// An enqueue of jobs of two queues, one of them full, is refused whole:
// nothing of it is committed (it never joins a batch, whose statement
// skips whole queues and could commit the other half).
func TestGroupCommitRefusedEnqueueCommitsNothing(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	s, err := Open(ctx, url, Options{Schema: pgtest.Schema(t, url)})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.SetQueueSettings(ctx, nil, "b", queue.QueueSettings{MaxPending: 1}, time.Now()))
	_, err = s.Enqueue(ctx, nil, time.Now(), []queue.NewJob{payloadJob("b", 1)})
	require.NoError(t, err)
	for range 3 {
		_, err := s.Enqueue(ctx, nil, time.Now(), []queue.NewJob{payloadJob("a", 2), payloadJob("b", 3)})
		var qf *queue.QueueFullError
		require.ErrorAs(t, err, &qf)
	}
	assert.Equal(t, 0, pending(t, s, "a"), "a refused enqueue committed part of its jobs")
}

func TestGroupCommitBadJobFailsAlone(t *testing.T) {
	s := heldStore(t)
	bad := queue.NewJob{Queue: "a", Kind: "nul\x00kind", MaxAttempts: 3, Payload: []byte(`{}`)}
	calls := enqueueAll(t, s, 3,
		[]queue.NewJob{payloadJob("a", 1)},
		[]queue.NewJob{bad},
		[]queue.NewJob{payloadJob("a", 2)},
	)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); flushHeld(s) }()
	for i, c := range calls {
		<-c.done
		if i == 1 {
			require.Error(t, c.err, "a kind PostgreSQL cannot store")
			continue
		}
		requireOwnJobs(t, s, c)
	}
	wg.Wait()
}

func TestGroupCommitAbandonedRequestIsNotInserted(t *testing.T) {
	s := heldStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.Enqueue(ctx, nil, time.Now(), []queue.NewJob{payloadJob("a", 1)})
		done <- err
	}()
	require.Eventually(t, func() bool { return len(s.batch.reqs) == 1 }, 10*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	calls := enqueueAll(t, s, 2, []queue.NewJob{payloadJob("a", 2)})
	require.Equal(t, 1, flushHeld(s), "the abandoned request is skipped")
	<-calls[0].done
	requireOwnJobs(t, s, calls[0])
	assert.Equal(t, 1, pending(t, s, "a"))
}

func TestGroupCommitCloseAnswersQueuedCallers(t *testing.T) {
	url := pgtest.URL(t)
	s, err := Open(context.Background(), url, Options{Schema: pgtest.Schema(t, url)})
	require.NoError(t, err)
	var calls []*call
	for i := range 50 {
		c := &call{jobs: []queue.NewJob{payloadJob("a", i)}, done: make(chan struct{})}
		calls = append(calls, c)
		go func() {
			defer close(c.done)
			c.res, c.err = s.Enqueue(context.Background(), nil, time.Now(), c.jobs)
		}()
	}
	require.NoError(t, s.Close())
	for _, c := range calls {
		<-c.done // no caller is left waiting; each either got its job in or an error
		if c.err == nil {
			require.Len(t, c.res, 1)
			require.NotZero(t, c.res[0].ID)
		}
	}
}

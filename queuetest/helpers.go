package queuetest

import (
	"errors"
	"sort"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

func (e *env) enqueue(j queue.NewJob) int64 {
	e.t.Helper()
	r, err := e.q.Enqueue(e.ctx, j)
	require.NoError(e.t, err)
	require.False(e.t, r.Duplicate)
	return r.ID
}

func (e *env) lease(name string, limit int) []*queue.Job {
	e.t.Helper()
	now := e.clock.Now()
	res, err := e.store.Lease(e.ctx, queue.LeaseParams{Queue: name, Limit: limit, Now: now, Until: now.Add(30 * time.Second), Worker: "w1"})
	require.NoError(e.t, err)
	return res.Jobs
}

func (e *env) leaseOne(name string) *queue.Job {
	e.t.Helper()
	jobs := e.lease(name, 1)
	require.Len(e.t, jobs, 1)
	return jobs[0]
}

func (e *env) settle(s ...queue.Settlement) []error {
	e.t.Helper()
	for i := range s {
		if s[i].Now.IsZero() {
			s[i].Now = e.clock.Now()
		}
	}
	errs, err := e.store.Settle(e.ctx, nil, s)
	require.NoError(e.t, err)
	require.Len(e.t, errs, len(s))
	return errs
}

// settlement settles the leased j with outcome o, with the kind and wait
// a worker gives.
func settlement(j *queue.Job, o queue.Outcome) queue.Settlement {
	return queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, Kind: j.Kind, Wait: j.Waited(), Outcome: o}
}

func (e *env) get(id int64) *queue.Job {
	e.t.Helper()
	j, err := e.store.Get(e.ctx, id)
	require.NoError(e.t, err)
	return j
}

func ids(jobs []*queue.Job) []int64 {
	out := make([]int64, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

func sortedIDs(jobs []*queue.Job) []int64 {
	out := ids(jobs)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (e *env) complete(j *queue.Job) {
	e.t.Helper()
	s := settlement(j, queue.OutcomeComplete)
	s.OrderKey = j.OrderKey
	require.NoError(e.t, e.settle(s)[0])
}

func (e *env) kill(j *queue.Job) {
	e.t.Helper()
	s := settlement(j, queue.OutcomeDead)
	s.OrderKey, s.Reason = j.OrderKey, "test"
	require.NoError(e.t, e.settle(s)[0])
}

// killNew enqueues a job in queue "r" and lets it die.
func (e *env) killNew(j queue.NewJob) int64 {
	e.t.Helper()
	j.Kind, j.Queue = "charge", "r"
	id := e.enqueue(j)
	got := e.leaseOne("r")
	require.Equal(e.t, id, got.ID)
	e.kill(got)
	require.Equal(e.t, queue.StateDead, e.get(id).State)
	return id
}

// The operator helpers below call the store directly, as a backend's
// contract is what the suite checks.

// cancel cancels job id through the store and returns its state.
func (e *env) cancel(id int64) queue.State {
	e.t.Helper()
	st, err := e.store.Cancel(e.ctx, nil, id, e.clock.Now())
	require.NoError(e.t, err)
	return st
}

// delete deletes job id through the store.
func (e *env) delete(id int64) {
	e.t.Helper()
	require.NoError(e.t, e.store.Delete(e.ctx, nil, id, e.clock.Now()))
}

// settings stores queue name's settings through the store.
func (e *env) settings(name string, qs queue.QueueSettings) {
	e.t.Helper()
	require.NoError(e.t, e.store.SetQueueSettings(e.ctx, nil, name, qs, e.clock.Now()))
}

// queueStats returns the store's stats of queue name (zero if unlisted).
func (e *env) queueStats(name string) queue.QueueStats {
	e.t.Helper()
	st, err := e.store.Stats(e.ctx, e.clock.Now())
	require.NoError(e.t, err)
	for _, qs := range st.Queues {
		if qs.Name == name {
			return qs
		}
	}
	return queue.QueueStats{}
}

// state returns job id's state, or "" when the store has no such job.
func (e *env) state(id int64) queue.State {
	e.t.Helper()
	j, err := e.store.Get(e.ctx, id)
	if errors.Is(err, queue.ErrNotFound) {
		return ""
	}
	require.NoError(e.t, err)
	return j.State
}

// keyed enqueues a job of order key key in queue name and returns its ID,
// with the IDs of n followers enqueued after it.
func (e *env) keyed(name, key string, n int) (head int64, followers []int64) {
	e.t.Helper()
	head = e.enqueue(queue.NewJob{Kind: "k", Queue: name, OrderKey: key})
	for range n {
		followers = append(followers, e.enqueue(queue.NewJob{Kind: "k", Queue: name, OrderKey: key}))
	}
	return head, followers
}

// unique returns a number unique within the case, for names.
func (e *env) unique() int {
	e.seq++
	return e.seq
}

// deadIn enqueues a job in queue name, which must have no other ready job,
// and lets it die.
func (e *env) deadIn(name string) int64 {
	e.t.Helper()
	id := e.enqueue(queue.NewJob{Kind: "k", Queue: name})
	j := e.leaseOne(name)
	require.Equal(e.t, id, j.ID)
	e.kill(j)
	return id
}

// retry moves dead job id back through the store's RetryDead.
func (e *env) retry(id int64) {
	e.t.Helper()
	res, err := e.store.RetryDead(e.ctx, nil, queue.DeadFilter{IDs: []int64{id}}, e.clock.Now())
	require.NoError(e.t, err)
	require.Equal(e.t, queue.RetryDeadResult{Retried: 1}, res, "retry job %d", id)
}

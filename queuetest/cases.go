package queuetest

import (
	"errors"
	"fmt"
	"sort"
	"strings"
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

func settlement(j *queue.Job, o queue.Outcome) queue.Settlement {
	return queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, Outcome: o}
}

func (e *env) get(id int64) *queue.Job {
	e.t.Helper()
	j, err := e.q.Inspector().Get(e.ctx, id)
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

func testEnqueueRoundTrip(e *env) {
	type args struct {
		OrderID int    `json:"order_id"`
		Email   string `json:"email"`
	}
	id := e.enqueue(queue.NewJob{
		Kind: "email.receipt", Queue: "mail", Args: args{OrderID: 42, Email: "a@example.com"},
		Priority: 7, MaxAttempts: 3, Timeout: 90 * time.Second,
		Metadata: map[string]string{"correlation_id": "c-1"}, UniqueKey: "receipt:42",
	})
	j := e.get(id)
	require.Equal(e.t, id, j.ID)
	require.Equal(e.t, "mail", j.Queue)
	require.Equal(e.t, "email.receipt", j.Kind)
	require.JSONEq(e.t, `{"order_id":42,"email":"a@example.com"}`, string(j.Payload))
	var got args
	require.NoError(e.t, j.DecodeArgs(&got))
	require.Equal(e.t, 42, got.OrderID)
	require.Equal(e.t, 7, j.Priority)
	require.Equal(e.t, 3, j.MaxAttempts)
	require.Equal(e.t, 90*time.Second, j.Timeout)
	require.Equal(e.t, map[string]string{"correlation_id": "c-1"}, j.Metadata)
	require.Equal(e.t, "receipt:42", j.UniqueKey)
	require.Equal(e.t, queue.StatePending, j.State)
	require.Equal(e.t, 0, j.Attempt)
	require.True(e.t, j.CreatedAt.Equal(t0), "created %s", j.CreatedAt)
	require.True(e.t, j.RunAt.Equal(t0))

	// Defaults, raw bytes, and a delay.
	raw := []byte{0, 1, 2, 0xff}
	id2 := e.enqueue(queue.NewJob{Kind: "raw", Payload: raw, Delay: time.Minute})
	j2 := e.get(id2)
	require.Equal(e.t, queue.DefaultQueue, j2.Queue)
	require.Equal(e.t, raw, j2.Payload)
	require.Equal(e.t, queue.DefaultMaxAttempts, j2.MaxAttempts)
	require.Equal(e.t, queue.StateScheduled, j2.State)
	require.True(e.t, j2.RunAt.Equal(t0.Add(time.Minute)))
	require.Greater(e.t, id2, id)

	// An empty payload stays empty, not NULL.
	j3 := e.get(e.enqueue(queue.NewJob{Kind: "empty"}))
	require.NotNil(e.t, j3.Payload)
	require.Empty(e.t, j3.Payload)
}

func testEnqueueManyAllOrNothing(e *env) {
	// 200 jobs: bulk chunks, a keyed job that breaks a chunk, and a tail.
	jobs := make([]queue.NewJob, 200)
	for i := range jobs {
		jobs[i] = queue.NewJob{Kind: "bulk", Args: i}
	}
	jobs[100].UniqueKey = "bulk:100"
	res, err := e.q.EnqueueMany(e.ctx, jobs)
	require.NoError(e.t, err)
	require.Len(e.t, res, 200)
	for i := 1; i < len(res); i++ {
		require.Greater(e.t, res[i].ID, res[i-1].ID, "results follow the order of jobs")
		require.Equal(e.t, fmt.Sprint(i), string(e.get(res[i].ID).Payload))
	}
	// One invalid job fails the whole call and inserts nothing.
	jobs[25].Priority = -1
	_, err = e.q.EnqueueMany(e.ctx, jobs)
	var ije *queue.InvalidJobError
	require.ErrorAs(e.t, err, &ije)
	require.Equal(e.t, 25, ije.Index)
	require.Equal(e.t, "Priority", ije.Field)
	list, err := e.q.Inspector().List(e.ctx, queue.ListFilter{Limit: 1000})
	require.NoError(e.t, err)
	require.Len(e.t, list, 200)
}

func testInvalidJobs(e *env) {
	big := make([]byte, queue.DefaultMaxPayloadBytes+1)
	cases := []struct {
		job   queue.NewJob
		field string
		is    error
	}{
		{queue.NewJob{}, "Kind", queue.ErrInvalidJob},
		{queue.NewJob{Kind: "has space"}, "Kind", queue.ErrInvalidJob},
		{queue.NewJob{Kind: strings.Repeat("k", 129)}, "Kind", queue.ErrInvalidJob},
		{queue.NewJob{Kind: "k", Queue: "bad/queue!"}, "Queue", queue.ErrInvalidJob},
		{queue.NewJob{Kind: "k", Priority: -1}, "Priority", queue.ErrInvalidJob},
		{queue.NewJob{Kind: "k", Priority: queue.MaxPriority + 1}, "Priority", queue.ErrInvalidJob},
		{queue.NewJob{Kind: "k", Delay: -time.Second}, "Delay", queue.ErrInvalidJob},
		{queue.NewJob{Kind: "k", MaxAttempts: -1}, "MaxAttempts", queue.ErrInvalidJob},
		{queue.NewJob{Kind: "k", Timeout: -time.Second}, "Timeout", queue.ErrInvalidJob},
		{queue.NewJob{Kind: "k", Payload: big}, "Payload", queue.ErrPayloadTooLarge},
		{queue.NewJob{Kind: "k", Args: make(chan int)}, "Args", queue.ErrInvalidJob},
		{queue.NewJob{Kind: "k", Args: 1, Payload: []byte("1")}, "Args", queue.ErrInvalidJob},
		{queue.NewJob{Kind: "k", Metadata: map[string]string{"": "x"}}, "Metadata", queue.ErrInvalidJob},
		{queue.NewJob{Kind: "k", UniqueKey: strings.Repeat("u", 513)}, "UniqueKey", queue.ErrInvalidJob},
	}
	for _, c := range cases {
		_, err := e.q.Enqueue(e.ctx, c.job)
		require.ErrorIs(e.t, err, c.is, "job %+v", c.job)
		var ije *queue.InvalidJobError
		require.ErrorAs(e.t, err, &ije)
		require.Equal(e.t, c.field, ije.Field, "error %v", err)
		require.Contains(e.t, err.Error(), c.field)
	}
	list, err := e.q.Inspector().List(e.ctx, queue.ListFilter{})
	require.NoError(e.t, err)
	require.Empty(e.t, list, "no invalid job was stored")
}

func testUniqueKey(e *env) {
	first, err := e.q.Enqueue(e.ctx, queue.NewJob{Kind: "sync", UniqueKey: "sync:42"})
	require.NoError(e.t, err)
	dup, err := e.q.Enqueue(e.ctx, queue.NewJob{Kind: "sync", UniqueKey: "sync:42", Args: "other"})
	require.NoError(e.t, err)
	require.True(e.t, dup.Duplicate)
	require.Equal(e.t, first.ID, dup.ID)

	// Within one batch as well.
	res, err := e.q.EnqueueMany(e.ctx, []queue.NewJob{{Kind: "sync", UniqueKey: "sync:7"}, {Kind: "sync", UniqueKey: "sync:7"}})
	require.NoError(e.t, err)
	require.False(e.t, res[0].Duplicate)
	require.True(e.t, res[1].Duplicate)
	require.Equal(e.t, res[0].ID, res[1].ID)

	// Still a duplicate while running; free again once completed.
	j := e.leaseOne(queue.DefaultQueue)
	require.Equal(e.t, first.ID, j.ID)
	dup, err = e.q.Enqueue(e.ctx, queue.NewJob{Kind: "sync", UniqueKey: "sync:42"})
	require.NoError(e.t, err)
	require.True(e.t, dup.Duplicate)
	require.NoError(e.t, e.settle(settlement(j, queue.OutcomeComplete))[0])
	again, err := e.q.Enqueue(e.ctx, queue.NewJob{Kind: "sync", UniqueKey: "sync:42"})
	require.NoError(e.t, err)
	require.False(e.t, again.Duplicate)
	require.Greater(e.t, again.ID, first.ID)
}

func testEnqueueTx(e *env) {
	if e.db == nil {
		e.t.Skip("backend gives no DB handle")
	}
	tx, err := e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	rolled, err := e.q.EnqueueTx(e.ctx, tx, queue.NewJob{Kind: "outbox"})
	require.NoError(e.t, err)
	require.NoError(e.t, tx.Rollback())
	_, err = e.q.Inspector().Get(e.ctx, rolled.ID)
	require.ErrorIs(e.t, err, queue.ErrNotFound, "a rolled-back enqueue leaves no job")

	tx, err = e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	res, err := e.q.EnqueueManyTx(e.ctx, tx, []queue.NewJob{{Kind: "outbox"}, {Kind: "outbox"}})
	require.NoError(e.t, err)
	require.NoError(e.t, tx.Commit())
	for _, r := range res {
		require.Equal(e.t, queue.StatePending, e.get(r.ID).State)
	}
	_, err = e.q.EnqueueTx(e.ctx, nil, queue.NewJob{Kind: "outbox"})
	require.ErrorIs(e.t, err, queue.ErrInvalidArgument)
}

func testLeaseOrder(e *env) {
	low1 := e.enqueue(queue.NewJob{Kind: "k", Priority: 0})
	e.clock.Advance(time.Second)
	high := e.enqueue(queue.NewJob{Kind: "k", Priority: 5})
	low2 := e.enqueue(queue.NewJob{Kind: "k", Priority: 0})
	mid := e.enqueue(queue.NewJob{Kind: "k", Priority: 1})
	other := e.enqueue(queue.NewJob{Kind: "k", Queue: "other"})

	first := e.lease(queue.DefaultQueue, 2)
	require.ElementsMatch(e.t, []int64{high, mid}, ids(first), "highest priority first")
	for _, j := range first {
		require.Equal(e.t, queue.StateRunning, j.State)
		require.Equal(e.t, 1, j.Attempt)
		require.Equal(e.t, "w1", j.LeasedBy)
		require.NotZero(e.t, j.LeaseToken)
		require.True(e.t, j.LeaseUntil.Equal(e.clock.Now().Add(30*time.Second)))
		require.True(e.t, j.AttemptedAt.Equal(e.clock.Now()))
	}
	rest := e.lease(queue.DefaultQueue, 10)
	require.Equal(e.t, []int64{low1, low2}, sortedIDs(rest))
	require.Empty(e.t, e.lease(queue.DefaultQueue, 10), "nothing left to lease")
	require.Equal(e.t, []int64{other}, ids(e.lease("other", 10)), "queues are separate")
	require.Equal(e.t, queue.StateRunning, e.get(high).State)

	// Within a priority, the older run time goes first.
	a := e.enqueue(queue.NewJob{Kind: "k", RunAt: t0.Add(-time.Hour)})
	b := e.enqueue(queue.NewJob{Kind: "k", RunAt: t0.Add(-2 * time.Hour)})
	require.Equal(e.t, b, e.leaseOne(queue.DefaultQueue).ID)
	require.Equal(e.t, a, e.leaseOne(queue.DefaultQueue).ID)
}

func testLeaseScheduled(e *env) {
	later := e.enqueue(queue.NewJob{Kind: "k", Delay: 10 * time.Minute})
	soon := e.enqueue(queue.NewJob{Kind: "k", Delay: time.Minute})
	now := e.clock.Now()
	res, err := e.store.Lease(e.ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 10, Now: now, Until: now.Add(time.Minute)})
	require.NoError(e.t, err)
	require.Empty(e.t, res.Jobs, "scheduled jobs wait for their time")
	require.True(e.t, res.NextRunAt.Equal(t0.Add(time.Minute)), "next run at %s", res.NextRunAt)

	e.clock.Advance(time.Minute)
	require.Equal(e.t, []int64{soon}, ids(e.lease(queue.DefaultQueue, 10)))
	e.clock.Advance(9 * time.Minute)
	require.Equal(e.t, []int64{later}, ids(e.lease(queue.DefaultQueue, 10)))
}

func testLeasePaused(e *env) {
	id := e.enqueue(queue.NewJob{Kind: "k", Queue: "mail"})
	require.NoError(e.t, e.q.Inspector().Pause(e.ctx, "mail"))
	now := e.clock.Now()
	res, err := e.store.Lease(e.ctx, queue.LeaseParams{Queue: "mail", Limit: 10, Now: now, Until: now.Add(time.Minute)})
	require.NoError(e.t, err)
	require.True(e.t, res.Paused)
	require.Empty(e.t, res.Jobs)
	st, err := e.q.Inspector().Stats(e.ctx)
	require.NoError(e.t, err)
	require.Len(e.t, st.Queues, 1)
	require.True(e.t, st.Queues[0].Paused)
	require.NoError(e.t, e.q.Inspector().Resume(e.ctx, "mail"))
	require.Equal(e.t, []int64{id}, ids(e.lease("mail", 10)))
	require.ErrorIs(e.t, e.q.Inspector().Pause(e.ctx, ""), queue.ErrInvalidArgument)
}

func testSettleComplete(e *env) {
	a := e.enqueue(queue.NewJob{Kind: "k"})
	b := e.enqueue(queue.NewJob{Kind: "k"})
	jobs := e.lease(queue.DefaultQueue, 2)
	byID := map[int64]*queue.Job{jobs[0].ID: jobs[0], jobs[1].ID: jobs[1]}
	keep := settlement(byID[b], queue.OutcomeComplete)
	keep.Keep = true
	errs := e.settle(settlement(byID[a], queue.OutcomeComplete), keep)
	require.NoError(e.t, errors.Join(errs...))
	_, err := e.q.Inspector().Get(e.ctx, a)
	require.ErrorIs(e.t, err, queue.ErrNotFound, "completed jobs are deleted by default")
	kept := e.get(b)
	require.Equal(e.t, queue.StateCompleted, kept.State)
	require.True(e.t, kept.FinishedAt.Equal(e.clock.Now()))
	st, err := e.q.Inspector().Stats(e.ctx)
	require.NoError(e.t, err)
	require.Equal(e.t, 2, st.Throughput[len(st.Throughput)-1].Completed)
}

func testSettleRetry(e *env) {
	id := e.enqueue(queue.NewJob{Kind: "k", MaxAttempts: 3})
	j := e.leaseOne(queue.DefaultQueue)
	s := settlement(j, queue.OutcomeRetry)
	s.RunAt = e.clock.Now().Add(time.Minute)
	s.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "partner said 503"}
	require.NoError(e.t, e.settle(s)[0])
	got := e.get(id)
	require.Equal(e.t, queue.StateScheduled, got.State)
	require.True(e.t, got.RunAt.Equal(t0.Add(time.Minute)))
	require.Equal(e.t, 1, got.Attempt)
	require.Zero(e.t, got.LeaseToken)
	require.Len(e.t, got.Errors, 1)
	require.Equal(e.t, "partner said 503", got.Errors[0].Message)
	require.Equal(e.t, 1, got.Errors[0].Attempt)
	require.True(e.t, got.Errors[0].At.Equal(t0))

	require.Empty(e.t, e.lease(queue.DefaultQueue, 1), "not before its run time")
	e.clock.Advance(time.Minute)
	j = e.leaseOne(queue.DefaultQueue)
	require.Equal(e.t, 2, j.Attempt)
	s = settlement(j, queue.OutcomeRetry)
	s.RunAt = e.clock.Now() // immediately ready again
	s.Error = &queue.AttemptError{Attempt: 2, At: e.clock.Now(), Message: "again", Stack: "goroutine 1 [running]"}
	require.NoError(e.t, e.settle(s)[0])
	got = e.get(id)
	require.Equal(e.t, queue.StatePending, got.State)
	require.Len(e.t, got.Errors, 2, "every attempt's error is kept")
	require.Equal(e.t, "goroutine 1 [running]", got.Errors[1].Stack)
	st, err := e.q.Inspector().Stats(e.ctx)
	require.NoError(e.t, err)
	failed := 0
	for _, m := range st.Throughput {
		failed += m.Failed
	}
	require.Equal(e.t, 2, failed)
}

func testSettleSnoozeAndRelease(e *env) {
	id := e.enqueue(queue.NewJob{Kind: "k"})
	j := e.leaseOne(queue.DefaultQueue)
	s := settlement(j, queue.OutcomeSnooze)
	s.RunAt = e.clock.Now().Add(5 * time.Minute)
	require.NoError(e.t, e.settle(s)[0])
	got := e.get(id)
	require.Equal(e.t, queue.StateScheduled, got.State)
	require.Equal(e.t, 0, got.Attempt, "a snooze does not spend an attempt")
	require.Empty(e.t, got.Errors)

	e.clock.Advance(5 * time.Minute)
	j = e.leaseOne(queue.DefaultQueue)
	require.Equal(e.t, 1, j.Attempt)
	s = settlement(j, queue.OutcomeRelease)
	s.RunAt = e.clock.Now()
	require.NoError(e.t, e.settle(s)[0])
	got = e.get(id)
	require.Equal(e.t, queue.StatePending, got.State, "a released job is ready at once")
	require.Equal(e.t, 0, got.Attempt, "a release refunds the attempt")
}

func testSettleDeadAndRetryDead(e *env) {
	id := e.enqueue(queue.NewJob{Kind: "charge", Queue: "payments", Args: map[string]int{"order": 9}, UniqueKey: "charge:9"})
	other := e.enqueue(queue.NewJob{Kind: "refund", Queue: "payments"})
	jobs := e.lease("payments", 2)
	byID := map[int64]*queue.Job{jobs[0].ID: jobs[0], jobs[1].ID: jobs[1]}
	d1 := settlement(byID[id], queue.OutcomeDead)
	d1.Reason = "permanent error: card declined"
	d1.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "card declined"}
	d2 := settlement(byID[other], queue.OutcomeDead)
	d2.Reason = "attempts exhausted"
	require.NoError(e.t, errors.Join(e.settle(d1, d2)...))

	dead := e.get(id)
	require.Equal(e.t, queue.StateDead, dead.State)
	require.Equal(e.t, "permanent error: card declined", dead.DeadReason)
	require.Len(e.t, dead.Errors, 1)
	require.Equal(e.t, "charge:9", dead.UniqueKey)
	require.True(e.t, dead.FinishedAt.Equal(e.clock.Now()))
	require.JSONEq(e.t, `{"order":9}`, string(dead.Payload))
	st, err := e.q.Inspector().Stats(e.ctx)
	require.NoError(e.t, err)
	require.Equal(e.t, 2, st.Queues[0].Dead)
	require.Equal(e.t, 0, st.Queues[0].Running)

	// The key is free while the job is dead.
	fresh, err := e.q.Enqueue(e.ctx, queue.NewJob{Kind: "charge", Queue: "payments", UniqueKey: "charge:9"})
	require.NoError(e.t, err)
	require.False(e.t, fresh.Duplicate)
	require.NoError(e.t, e.q.Inspector().Delete(e.ctx, fresh.ID))

	// Retry one: same id, attempts reset, history kept.
	e.clock.Advance(time.Hour)
	require.NoError(e.t, e.q.Inspector().Retry(e.ctx, id))
	back := e.get(id)
	require.Equal(e.t, queue.StatePending, back.State)
	require.Equal(e.t, 0, back.Attempt)
	require.Len(e.t, back.Errors, 1)
	require.True(e.t, back.RunAt.Equal(e.clock.Now()))
	require.ErrorIs(e.t, e.q.Inspector().Retry(e.ctx, id), queue.ErrNotDead)
	require.ErrorIs(e.t, e.q.Inspector().Retry(e.ctx, 999999), queue.ErrNotFound)

	// Retry by filter.
	_, err = e.q.Inspector().RetryDead(e.ctx, queue.DeadFilter{})
	require.ErrorIs(e.t, err, queue.ErrInvalidArgument, "an empty filter is refused")
	res, err := e.q.Inspector().RetryDead(e.ctx, queue.DeadFilter{Queue: "payments", Kind: "nope"})
	require.NoError(e.t, err)
	require.Zero(e.t, res.Retried)
	res, err = e.q.Inspector().RetryDead(e.ctx, queue.DeadFilter{Queue: "payments"})
	require.NoError(e.t, err)
	require.Equal(e.t, queue.RetryDeadResult{Retried: 1}, res)
	require.Equal(e.t, queue.StatePending, e.get(other).State)
}

// One Settle call carrying many settlements, as a busy pool sends them:
// completions from several leases, interleaved, some with a stale token,
// one twice, beside other outcomes. Each settlement gets its own verdict.
func testSettleBatchMixed(e *env) {
	var jobs []queue.NewJob
	for i := range 300 {
		jobs = append(jobs, queue.NewJob{Kind: "k", Args: i})
	}
	_, err := e.q.EnqueueMany(e.ctx, jobs)
	require.NoError(e.t, err)
	var leased [][]*queue.Job
	for range 3 {
		leased = append(leased, e.lease(queue.DefaultQueue, 100))
	}
	var batch []queue.Settlement
	want := map[int64]bool{} // job id → settled (else lease lost)
	for i := range 100 {
		for l := range leased {
			j := leased[l][i]
			s := settlement(j, queue.OutcomeComplete)
			switch {
			case i%10 == 3:
				s.Token++ // stale
				want[j.ID] = false
			case i%10 == 7 && l == 1:
				s.Outcome = queue.OutcomeRetry
				s.RunAt = e.clock.Now().Add(time.Minute)
				s.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "boom"}
				want[j.ID] = true
			default:
				want[j.ID] = true
			}
			batch = append(batch, s)
		}
	}
	// The same completion twice, once right after the first and once at the
	// end: the first settles the job, the others find no lease.
	lost := make([]bool, len(batch))
	for i, s := range batch {
		lost[i] = !want[s.JobID]
	}
	again := batch[3]
	batch = append(batch[:4], append([]queue.Settlement{again}, batch[4:]...)...)
	lost = append(lost[:4], append([]bool{true}, lost[4:]...)...)
	batch, lost = append(batch, again), append(lost, true)
	errs := e.settle(batch...)
	for i, s := range batch {
		if lost[i] {
			require.ErrorIs(e.t, errs[i], queue.ErrLeaseLost, "settlement %d, job %d", i, s.JobID)
		} else {
			require.NoError(e.t, errs[i], "settlement %d, job %d", i, s.JobID)
		}
	}
	for _, s := range batch {
		j, err := e.q.Inspector().Get(e.ctx, s.JobID)
		switch {
		case !want[s.JobID]:
			require.NoError(e.t, err)
			require.Equal(e.t, queue.StateRunning, j.State, "a stale token changes nothing")
		case s.Outcome == queue.OutcomeRetry:
			require.NoError(e.t, err)
			require.Equal(e.t, queue.StateScheduled, j.State)
		default:
			require.ErrorIs(e.t, err, queue.ErrNotFound, "completed job %d is deleted", s.JobID)
		}
	}
}

// One job settled twice in one call, under different outcomes: the first
// settlement in the call wins and the second finds no lease.
func testSettleSameJobTwice(e *env) {
	lease := func() *queue.Job {
		e.enqueue(queue.NewJob{Kind: "k"})
		return e.leaseOne(queue.DefaultQueue)
	}

	j := lease()
	retry := settlement(j, queue.OutcomeRetry)
	retry.RunAt = e.clock.Now().Add(time.Hour)
	retry.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "boom"}
	errs := e.settle(retry, settlement(j, queue.OutcomeComplete))
	require.NoError(e.t, errs[0])
	require.ErrorIs(e.t, errs[1], queue.ErrLeaseLost)
	require.Equal(e.t, queue.StateScheduled, e.get(j.ID).State, "the retry came first")

	j = lease()
	keep := settlement(j, queue.OutcomeComplete)
	keep.Keep = true
	errs = e.settle(keep, settlement(j, queue.OutcomeComplete))
	require.NoError(e.t, errs[0])
	require.ErrorIs(e.t, errs[1], queue.ErrLeaseLost)
	require.Equal(e.t, queue.StateCompleted, e.get(j.ID).State, "kept: the keeping completion came first")

	j = lease()
	snooze := settlement(j, queue.OutcomeSnooze)
	snooze.RunAt = e.clock.Now().Add(time.Hour)
	errs = e.settle(settlement(j, queue.OutcomeComplete), snooze)
	require.NoError(e.t, errs[0])
	require.ErrorIs(e.t, errs[1], queue.ErrLeaseLost)
	_, err := e.q.Inspector().Get(e.ctx, j.ID)
	require.ErrorIs(e.t, err, queue.ErrNotFound, "the completion came first")
}

func testFencing(e *env) {
	id := e.enqueue(queue.NewJob{Kind: "k"})
	j := e.leaseOne(queue.DefaultQueue)
	stale := settlement(j, queue.OutcomeComplete)
	stale.Token++
	errs := e.settle(stale)
	require.ErrorIs(e.t, errs[0], queue.ErrLeaseLost)
	require.Equal(e.t, queue.StateRunning, e.get(id).State, "a wrong token changes nothing")

	// The lease expires, the job is rescued and leased again: the first
	// worker's token no longer settles it, whatever the outcome.
	e.clock.Advance(time.Minute)
	expired, err := e.store.Expired(e.ctx, e.clock.Now(), 10)
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{id}, ids(expired))
	r := settlement(expired[0], queue.OutcomeRetry)
	r.RunAt = e.clock.Now()
	r.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "lease expired"}
	require.NoError(e.t, e.settle(r)[0])
	j2 := e.leaseOne(queue.DefaultQueue)
	require.NotEqual(e.t, j.LeaseToken, j2.LeaseToken)
	for _, o := range []queue.Outcome{queue.OutcomeComplete, queue.OutcomeRetry, queue.OutcomeDead, queue.OutcomeSnooze, queue.OutcomeRelease, queue.OutcomeCancel} {
		s := settlement(j, o)
		s.RunAt = e.clock.Now()
		require.ErrorIs(e.t, e.settle(s)[0], queue.ErrLeaseLost, "outcome %s", o)
	}
	ext, err := e.store.Extend(e.ctx, []queue.LeaseRef{{JobID: j.ID, Token: j.LeaseToken}, {JobID: j2.ID, Token: j2.LeaseToken}}, e.clock.Now().Add(time.Minute))
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{id}, ext.Lost)
	got := e.get(id)
	require.Equal(e.t, queue.StateRunning, got.State)
	require.Equal(e.t, j2.LeaseToken, got.LeaseToken)
	require.NoError(e.t, e.settle(settlement(j2, queue.OutcomeComplete))[0])
}

func testExtendAndExpired(e *env) {
	a := e.enqueue(queue.NewJob{Kind: "k"})
	b := e.enqueue(queue.NewJob{Kind: "k"})
	jobs := e.lease(queue.DefaultQueue, 2)
	byID := map[int64]*queue.Job{jobs[0].ID: jobs[0], jobs[1].ID: jobs[1]}
	e.clock.Advance(20 * time.Second)
	ext, err := e.store.Extend(e.ctx, []queue.LeaseRef{{JobID: a, Token: byID[a].LeaseToken}}, e.clock.Now().Add(30*time.Second))
	require.NoError(e.t, err)
	require.Empty(e.t, ext.Lost)
	require.True(e.t, e.get(a).LeaseUntil.Equal(e.clock.Now().Add(30*time.Second)))

	e.clock.Advance(15 * time.Second) // b's lease (30s) has run out, a's not
	expired, err := e.store.Expired(e.ctx, e.clock.Now(), 10)
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{b}, ids(expired))
	require.Equal(e.t, byID[b].LeaseToken, expired[0].LeaseToken)

	// A rescuer read b as expired, but b's worker heartbeats before the
	// rescuer settles: the worker keeps the job.
	ext, err = e.store.Extend(e.ctx, []queue.LeaseRef{{JobID: b, Token: byID[b].LeaseToken}}, e.clock.Now().Add(30*time.Second))
	require.NoError(e.t, err)
	require.Empty(e.t, ext.Lost, "a late heartbeat still holds a lease nobody took")
	rescue := settlement(expired[0], queue.OutcomeRetry)
	rescue.RunAt, rescue.IfExpired = e.clock.Now(), true
	rescue.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "lease expired"}
	require.ErrorIs(e.t, e.settle(rescue)[0], queue.ErrLeaseLost)
	dead := settlement(expired[0], queue.OutcomeDead)
	dead.IfExpired = true
	require.ErrorIs(e.t, e.settle(dead)[0], queue.ErrLeaseLost)
	require.Equal(e.t, queue.StateRunning, e.get(b).State)

	// A cancel request shows on the next extend.
	state, err := e.q.Inspector().Cancel(e.ctx, a)
	require.NoError(e.t, err)
	require.Equal(e.t, queue.StateRunning, state)
	ext, err = e.store.Extend(e.ctx, []queue.LeaseRef{{JobID: a, Token: byID[a].LeaseToken}}, e.clock.Now().Add(30*time.Second))
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{a}, ext.CancelRequested)
}

func testCancel(e *env) {
	pending := e.enqueue(queue.NewJob{Kind: "k"})
	scheduled := e.enqueue(queue.NewJob{Kind: "k", Delay: time.Hour})
	running := e.enqueue(queue.NewJob{Kind: "k", Queue: "run"})
	j := e.leaseOne("run")

	for _, id := range []int64{pending, scheduled} {
		state, err := e.q.Inspector().Cancel(e.ctx, id)
		require.NoError(e.t, err)
		require.Equal(e.t, queue.StateCancelled, state)
		require.Equal(e.t, queue.StateCancelled, e.get(id).State)
	}
	require.Empty(e.t, e.lease(queue.DefaultQueue, 10), "cancelled jobs never run")
	e.clock.Advance(2 * time.Hour)
	require.Empty(e.t, e.lease(queue.DefaultQueue, 10))

	state, err := e.q.Inspector().Cancel(e.ctx, running)
	require.NoError(e.t, err)
	require.Equal(e.t, queue.StateRunning, state, "a running job is asked to stop")
	require.True(e.t, e.get(running).CancelRequested)
	// If its handler then fails, the job ends cancelled, not retried.
	s := settlement(j, queue.OutcomeRetry)
	s.RunAt = e.clock.Now()
	s.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "context canceled"}
	require.NoError(e.t, e.settle(s)[0])
	require.Equal(e.t, queue.StateCancelled, e.get(running).State)

	_, err = e.q.Inspector().Cancel(e.ctx, pending)
	require.ErrorIs(e.t, err, queue.ErrNotCancellable)
	_, err = e.q.Inspector().Cancel(e.ctx, 424242)
	require.ErrorIs(e.t, err, queue.ErrNotFound)

	another := e.enqueue(queue.NewJob{Kind: "k"})
	tx, err := e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	_, err = e.q.Inspector().CancelTx(e.ctx, tx, another)
	require.NoError(e.t, err)
	require.NoError(e.t, tx.Rollback())
	require.Equal(e.t, queue.StatePending, e.get(another).State, "a rolled-back cancel changes nothing")
}

func testDelete(e *env) {
	pending := e.enqueue(queue.NewJob{Kind: "k"})
	require.NoError(e.t, e.q.Inspector().Delete(e.ctx, pending))
	_, err := e.q.Inspector().Get(e.ctx, pending)
	require.ErrorIs(e.t, err, queue.ErrNotFound)

	running := e.enqueue(queue.NewJob{Kind: "k"})
	j := e.leaseOne(queue.DefaultQueue)
	require.ErrorIs(e.t, e.q.Inspector().Delete(e.ctx, running), queue.ErrRunning)

	d := settlement(j, queue.OutcomeDead)
	d.Reason = "test"
	require.NoError(e.t, e.settle(d)[0])
	require.NoError(e.t, e.q.Inspector().Delete(e.ctx, running), "dead jobs can be deleted")
	_, err = e.q.Inspector().Get(e.ctx, running)
	require.ErrorIs(e.t, err, queue.ErrNotFound)
	require.ErrorIs(e.t, e.q.Inspector().Delete(e.ctx, running), queue.ErrNotFound)
}

func testIDsNeverReused(e *env) {
	a := e.enqueue(queue.NewJob{Kind: "k"})
	require.NoError(e.t, e.q.Inspector().Delete(e.ctx, a))
	b := e.enqueue(queue.NewJob{Kind: "k"})
	require.Greater(e.t, b, a)
	j := e.leaseOne(queue.DefaultQueue)
	require.NoError(e.t, e.settle(settlement(j, queue.OutcomeComplete))[0])
	c := e.enqueue(queue.NewJob{Kind: "k"})
	require.Greater(e.t, c, b)
	j = e.leaseOne(queue.DefaultQueue)
	d := settlement(j, queue.OutcomeDead)
	d.Reason = "test"
	require.NoError(e.t, e.settle(d)[0])
	require.Greater(e.t, e.enqueue(queue.NewJob{Kind: "k"}), c)
}

func testList(e *env) {
	var mail []int64
	for i := range 5 {
		mail = append(mail, e.enqueue(queue.NewJob{Kind: "email", Queue: "mail", Args: map[string]int{"n": i}}))
	}
	stock := e.enqueue(queue.NewJob{Kind: "stock.sync", Args: map[string]string{"sku": "ABC-123"}})
	j := e.leaseOne(queue.DefaultQueue)
	d := settlement(j, queue.OutcomeDead)
	d.Reason = "warehouse offline"
	d.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "dial tcp: warehouse offline"}
	require.NoError(e.t, e.settle(d)[0])

	all, err := e.q.Inspector().List(e.ctx, queue.ListFilter{})
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{stock, mail[4], mail[3], mail[2], mail[1], mail[0]}, ids(all), "newest first, dead ones included")

	page1, err := e.q.Inspector().List(e.ctx, queue.ListFilter{Queue: "mail", Limit: 2})
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{mail[4], mail[3]}, ids(page1))
	page2, err := e.q.Inspector().List(e.ctx, queue.ListFilter{Queue: "mail", Limit: 2, BeforeID: page1[1].ID})
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{mail[2], mail[1]}, ids(page2))

	dead, err := e.q.Inspector().List(e.ctx, queue.ListFilter{State: queue.StateDead})
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{stock}, ids(dead))
	byKind, err := e.q.Inspector().List(e.ctx, queue.ListFilter{Kind: "email", State: queue.StatePending})
	require.NoError(e.t, err)
	require.Len(e.t, byKind, 5)
	search, err := e.q.Inspector().List(e.ctx, queue.ListFilter{Search: "warehouse"})
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{stock}, ids(search), "search finds text in errors")
	search, err = e.q.Inspector().List(e.ctx, queue.ListFilter{Search: `"n":3`})
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{mail[3]}, ids(search), "search finds text in payloads")
	search, err = e.q.Inspector().List(e.ctx, queue.ListFilter{Search: "dial tcp"})
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{stock}, ids(search), "search finds text in an attempt's error message")

	// A failed attempt's message is searched as text, not as the JSON it is
	// stored in: its field names and escapes match nothing.
	m := e.leaseOne("mail")
	r := settlement(m, queue.OutcomeRetry)
	r.RunAt = e.clock.Now().Add(time.Hour)
	r.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "quota <exceeded> & more"}
	require.NoError(e.t, e.settle(r)[0])
	for q, want := range map[string][]int64{
		"<exceeded> &": {m.ID},
		"attempt":      {},
		`"error"`:      {},
		`\u003c`:       {},
	} {
		search, err = e.q.Inspector().List(e.ctx, queue.ListFilter{Search: q})
		require.NoError(e.t, err)
		require.Equal(e.t, want, ids(search), "search %q", q)
	}

	// OmitPayload: the same jobs without their payloads; search still
	// looks at them.
	for _, state := range []queue.State{"", queue.StatePending, queue.StateDead} {
		full, err := e.q.Inspector().List(e.ctx, queue.ListFilter{State: state})
		require.NoError(e.t, err)
		bare, err := e.q.Inspector().List(e.ctx, queue.ListFilter{State: state, OmitPayload: true})
		require.NoError(e.t, err)
		require.Equal(e.t, ids(full), ids(bare), "state %q", state)
		for i, j := range bare {
			require.Empty(e.t, j.Payload, "job %d", j.ID)
			require.NotEmpty(e.t, full[i].Payload, "job %d", j.ID)
			j.Payload = full[i].Payload
			require.Equal(e.t, full[i], j, "everything else as in the full list")
		}
	}
	search, err = e.q.Inspector().List(e.ctx, queue.ListFilter{Search: `"n":3`, OmitPayload: true})
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{mail[3]}, ids(search))

	for _, f := range []queue.ListFilter{{State: "bogus"}, {Limit: -1}, {Limit: 1001}, {Queue: "bad queue"}, {BeforeID: -5}} {
		_, err := e.q.Inspector().List(e.ctx, f)
		require.ErrorIs(e.t, err, queue.ErrInvalidArgument, "filter %+v", f)
	}
}

func testStats(e *env) {
	e.enqueue(queue.NewJob{Kind: "k", Queue: "a", RunAt: t0.Add(-time.Minute)})
	e.enqueue(queue.NewJob{Kind: "k", Queue: "a"})
	e.enqueue(queue.NewJob{Kind: "k", Queue: "a", Delay: time.Hour})
	e.enqueue(queue.NewJob{Kind: "k", Queue: "b"})
	e.enqueue(queue.NewJob{Kind: "k", Queue: "b", Delay: time.Second})
	e.leaseOne("b")
	e.clock.Advance(2 * time.Second) // b's scheduled job is now due
	st, err := e.q.Inspector().Stats(e.ctx)
	require.NoError(e.t, err)
	require.Len(e.t, st.Queues, 2)
	a, b := st.Queues[0], st.Queues[1]
	require.Equal(e.t, "a", a.Name)
	require.Equal(e.t, 2, a.Pending)
	require.Equal(e.t, 1, a.Scheduled)
	require.Equal(e.t, time.Minute+2*time.Second, a.OldestPending)
	require.Equal(e.t, 1, b.Pending, "a due scheduled job counts as pending")
	require.Equal(e.t, 0, b.Scheduled)
	require.Equal(e.t, 1, b.Running)
	require.Equal(e.t, time.Second, b.OldestPending)
	require.Len(e.t, st.Throughput, 60)
	require.True(e.t, st.Throughput[59].Minute.Equal(e.clock.Now().Truncate(time.Minute)))
}

func testPrune(e *env) {
	kept := e.enqueue(queue.NewJob{Kind: "k"})
	j := e.leaseOne(queue.DefaultQueue)
	s := settlement(j, queue.OutcomeComplete)
	s.Keep = true
	require.NoError(e.t, e.settle(s)[0])
	cancelled := e.enqueue(queue.NewJob{Kind: "k"})
	_, err := e.q.Inspector().Cancel(e.ctx, cancelled)
	require.NoError(e.t, err)
	pending := e.enqueue(queue.NewJob{Kind: "k", Delay: 48 * time.Hour})

	e.clock.Advance(2 * time.Hour)
	n, err := e.store.Prune(e.ctx, queue.PruneParams{CompletedBefore: e.clock.Now().Add(-3 * time.Hour), CancelledBefore: e.clock.Now().Add(-3 * time.Hour)})
	require.NoError(e.t, err)
	require.Zero(e.t, n, "nothing is old enough yet")
	n, err = e.store.Prune(e.ctx, queue.PruneParams{CompletedBefore: e.clock.Now().Add(-time.Hour), CancelledBefore: e.clock.Now().Add(-time.Hour), MetricsBefore: e.clock.Now()})
	require.NoError(e.t, err)
	require.Equal(e.t, 2, n)
	for _, id := range []int64{kept, cancelled} {
		_, err := e.q.Inspector().Get(e.ctx, id)
		require.ErrorIs(e.t, err, queue.ErrNotFound)
	}
	require.Equal(e.t, queue.StateScheduled, e.get(pending).State, "live jobs are never pruned")
	st, err := e.q.Inspector().Stats(e.ctx)
	require.NoError(e.t, err)
	for _, m := range st.Throughput {
		require.Zero(e.t, m.Completed, "old metrics pruned")
	}
}

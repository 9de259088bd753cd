package queuetest

import (
	"fmt"
	"strings"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// enqueueArea: what Enqueue stores.
var enqueueArea = area{"Enqueue", []testCase{
	{"RoundTripKeepsEveryField", testEnqueueRoundTrip},
	{"ManyIsAllOrNothing", testEnqueueManyAllOrNothing},
	{"InvalidJobsStoreNothing", testInvalidJobs},
	{"IDsNeverReused", testIDsNeverReused},
	{"MetadataCarriesCorrelation", testCorrelation},
}}

// uniqueKeyArea: idempotency keys.
var uniqueKeyArea = area{"UniqueKey", []testCase{
	{"HeldByPendingRunningAndBlockedJobs", testUniqueKey},
	{"HeldByScheduledJobFreedWhenFinished", testUniqueKeyScheduledAndFinished},
	{"DuplicateAcceptedWhenFull", testDuplicateWhenFull},
}}

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
	list, err := e.store.List(e.ctx, queue.ListFilter{Limit: 1000})
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
	list, err := e.store.List(e.ctx, queue.ListFilter{})
	require.NoError(e.t, err)
	require.Empty(e.t, list, "no invalid job was stored")
}

func testIDsNeverReused(e *env) {
	a := e.enqueue(queue.NewJob{Kind: "k"})
	e.delete(a)
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

func testCorrelation(e *env) {
	parent := &queue.Job{ID: 1, Metadata: map[string]string{"correlation_id": "c-42", "tenant": "t1"}}
	ctx := queue.ContextWithJob(e.ctx, parent)
	own := map[string]string{"source": "stock"}
	r, err := e.q.Enqueue(ctx, queue.NewJob{Kind: "child", Metadata: own})
	require.NoError(e.t, err)
	require.Equal(e.t, map[string]string{"correlation_id": "c-42", "source": "stock"}, e.get(r.ID).Metadata)
	require.Equal(e.t, map[string]string{"source": "stock"}, own, "the caller's map is not modified")
	r, err = e.q.Enqueue(ctx, queue.NewJob{Kind: "child", Metadata: map[string]string{"correlation_id": "mine"}})
	require.NoError(e.t, err)
	require.Equal(e.t, "mine", e.get(r.ID).Metadata["correlation_id"], "a job's own value wins")
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

// A duplicate enqueue adds nothing, so a full queue does not refuse it; a
// new job is still refused.
func testDuplicateWhenFull(e *env) {
	e.settings("m", queue.QueueSettings{MaxPending: 1})
	first, err := e.q.Enqueue(e.ctx, queue.NewJob{Kind: "k", Queue: "m", UniqueKey: "u"})
	require.NoError(e.t, err)
	again, err := e.q.Enqueue(e.ctx, queue.NewJob{Kind: "k", Queue: "m", UniqueKey: "u"})
	require.NoError(e.t, err, "a duplicate adds no job")
	require.True(e.t, again.Duplicate)
	require.Equal(e.t, first.ID, again.ID)
	_, err = e.q.Enqueue(e.ctx, queue.NewJob{Kind: "k", Queue: "m", UniqueKey: "v"})
	var full *queue.QueueFullError
	require.ErrorAs(e.t, err, &full)
}

// A scheduled job holds its unique key as a pending one does; a cancelled
// job and a completed one kept for inspection do not.
func testUniqueKeyScheduledAndFinished(e *env) {
	dup := func(key string) queue.EnqueueResult {
		e.t.Helper()
		r, err := e.q.Enqueue(e.ctx, queue.NewJob{Kind: "k", UniqueKey: key})
		require.NoError(e.t, err)
		return r
	}
	later := e.enqueue(queue.NewJob{Kind: "k", UniqueKey: "u", Delay: time.Hour})
	require.Equal(e.t, queue.EnqueueResult{ID: later, Duplicate: true}, dup("u"), "held by a scheduled job")
	require.Equal(e.t, queue.StateCancelled, e.cancel(later))
	now := dup("u")
	require.False(e.t, now.Duplicate, "a cancelled job frees its key")
	j := e.leaseOne(queue.DefaultQueue)
	require.Equal(e.t, now.ID, j.ID)
	s := settlement(j, queue.OutcomeComplete)
	s.Keep = true
	require.NoError(e.t, e.settle(s)[0])
	require.Equal(e.t, queue.StateCompleted, e.state(now.ID))
	require.False(e.t, dup("u").Duplicate, "a kept completed job frees its key")
}

package queuetest

import (
	"fmt"
	"strings"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// testErrorHistoryBounded: a backend records attempt errors by
// queue.AppendAttemptError's rule, on every path that records one (retry,
// a rescue of an expired lease, death), and keeps the bounded history and
// its dropped count through a retry from the dead table.
func testErrorHistoryBounded(e *env) {
	id := e.enqueue(queue.NewJob{Kind: "k", MaxAttempts: 100})
	long := strings.Repeat("é", queue.MaxErrorMessage) // twice the cap in bytes
	fail := func(o queue.Outcome, ifExpired bool) {
		e.t.Helper()
		j := e.leaseOne(queue.DefaultQueue)
		if ifExpired {
			e.clock.Advance(time.Minute) // past the lease: the rescuer's case
		}
		s := settlement(j, o)
		s.RunAt, s.IfExpired, s.Reason = e.clock.Now(), ifExpired, "gave up"
		s.Error = &queue.AttemptError{Attempt: j.Attempt, At: e.clock.Now(), Message: fmt.Sprintf("attempt %d %s", j.Attempt, long)}
		require.NoError(e.t, e.settle(s)[0])
		e.clock.Advance(time.Second)
	}
	attempts := func(j *queue.Job) []int {
		var out []int
		for _, a := range j.Errors {
			out = append(out, a.Attempt)
		}
		return out
	}
	for a := 1; a <= 24; a++ {
		fail(queue.OutcomeRetry, a%5 == 0)
	}
	got := e.get(id)
	require.Equal(e.t, []int{1, 16, 17, 18, 19, 20, 21, 22, 23, 24}, attempts(got))
	require.Equal(e.t, 14, got.ErrorsDropped)
	require.Equal(e.t, 1, got.ErrorsGap())
	for _, a := range got.Errors {
		require.LessOrEqual(e.t, len(a.Message), queue.MaxErrorMessage+100, "attempt %d's message is capped", a.Attempt)
		require.Contains(e.t, a.Message, "[truncated:")
	}

	fail(queue.OutcomeDead, false)
	dead := e.get(id)
	require.Equal(e.t, queue.StateDead, dead.State)
	require.Equal(e.t, []int{1, 17, 18, 19, 20, 21, 22, 23, 24, 25}, attempts(dead))
	require.Equal(e.t, 15, dead.ErrorsDropped)

	n, err := e.store.RetryDead(e.ctx, nil, queue.DeadFilter{IDs: []int64{id}}, e.clock.Now())
	require.NoError(e.t, err)
	require.Equal(e.t, 1, n.Retried)
	back := e.get(id)
	require.Equal(e.t, attempts(dead), attempts(back), "a retried dead job keeps its history")
	require.Equal(e.t, 15, back.ErrorsDropped)
	fail(queue.OutcomeRetry, false)
	got = e.get(id)
	require.Equal(e.t, []int{1, 18, 19, 20, 21, 22, 23, 24, 25, 1}, attempts(got), "the new run starts again at attempt 1")
	require.Equal(e.t, 16, got.ErrorsDropped)
	require.Equal(e.t, 26, len(got.Errors)+got.ErrorsDropped, "every failed attempt is counted")
}

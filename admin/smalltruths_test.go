package admin_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/queue"
)

// A job cancelled while it ran shows one badge, "cancelled", on its page
// and in the list; "cancel requested" shows only while it still runs.
func TestCancelledJobOneBadge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	j := e.running(queue.NewJob{Kind: "k", Queue: "q"})
	_, err := e.q.Inspector().Cancel(context.Background(), j.ID)
	require.NoError(t, err)
	page := e.getOK(fmt.Sprintf("/jobs/%d", j.ID))
	require.Contains(t, page, `<span class="badge state-running">running</span> <span class="badge cancelling">cancel requested</span></h1>`)
	require.Contains(t, e.getOK("/jobs"), `cancelling</span>`)

	e.settle(j, queue.OutcomeCancel, "", "")
	require.Equal(t, queue.StateCancelled, e.state(j.ID))
	page = e.getOK(fmt.Sprintf("/jobs/%d", j.ID))
	require.Contains(t, page, `<h1>Job 1 <span class="badge state-cancelled">cancelled</span></h1>`)
	require.NotContains(t, page, "cancel requested")
	list := e.getOK("/jobs")
	require.Contains(t, list, `<span class="badge state-cancelled">cancelled</span></td>`)
	require.NotContains(t, list, "cancelling")
}

var attemptBadgeRE = regexp.MustCompile(`title="failure (\d+) of the job; its run's attempt (\d+)">attempt (\d+)</span>( <span class="badge cancelling"[^>]*>after a retry</span>)?`)

// A dead job retried starts its attempts again at 1; its history counts
// on, so no attempt number shows twice, and the first failure after the
// retry says so.
func TestAttemptNumbersUniqueAcrossRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	ctx := context.Background()
	j := e.running(queue.NewJob{Kind: "k", Queue: "q", MaxAttempts: 2})
	j = e.retryNow(j, "first run, attempt 1")
	e.settle(j, queue.OutcomeDead, "first run, attempt 2", "")
	require.NoError(t, e.q.Inspector().Retry(ctx, j.ID))
	e.clock.Add(time.Second)
	now := e.clock.Now()
	res, err := e.store.Lease(ctx, queue.LeaseParams{Queue: "q", Limit: 1, Now: now, Until: now.Add(time.Minute), Worker: "w"})
	require.NoError(t, err)
	require.Len(t, res.Jobs, 1)
	require.Equal(t, 1, res.Jobs[0].Attempt, "a retry from dead starts the attempts again")
	j = e.retryNow(res.Jobs[0], "second run, attempt 1")
	e.settle(j, queue.OutcomeRetry, "second run, attempt 2", "")

	page := e.getOK(fmt.Sprintf("/jobs/%d", j.ID))
	var shown []string
	for _, m := range attemptBadgeRE.FindAllStringSubmatch(page, -1) {
		require.Equal(t, m[1], m[3])
		shown = append(shown, fmt.Sprintf("%s(run %s)%s", m[3], m[2], map[bool]string{true: " after retry"}[m[4] != ""]))
	}
	require.Equal(t, []string{"4(run 2)", "3(run 1) after retry", "2(run 2)", "1(run 1)"}, shown, "newest first")
}

// Empty cells show one dash, the same everywhere.
func TestEmptyCellsOneDash(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	id := e.enqueue(queue.NewJob{Kind: "k", Queue: "q"})
	seedSchedules(e)
	none := `<span class="muted none">—</span>`
	list := e.getOK("/jobs")
	require.Contains(t, list, `<td class="err" data-label="Last error">`+none+`</td>`, "no last error")
	require.Contains(t, e.getOK(fmt.Sprintf("/jobs/%d", id)), `<dt>Leased by</dt><dd class="mono">`+none+`</dd>`)
	sched := e.getOK("/schedules")
	require.NotContains(t, sched, "not yet")
	require.Contains(t, sched, `<td class="prev" data-label="Previous run">`+none)
	for _, p := range []string{"/jobs", "/schedules", fmt.Sprintf("/jobs/%d", id)} {
		body := e.getOK(p)
		require.False(t, strings.Contains(body, ">-<") || strings.Contains(body, ">–<"), "%s: another dash", p)
	}
}

package admin_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/queue"
)

// A job with more failed attempts than its history keeps shows the gap
// where the dropped ones were, with their count, on its page and in the
// JSON API.
func TestJobDetailShowsDroppedAttempts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	j := e.running(queue.NewJob{Kind: "sync", MaxAttempts: 100})
	for range 14 {
		j = e.retryNow(j, fmt.Sprintf("partner said 503 (attempt %d)", j.Attempt))
	}
	e.settle(j, queue.OutcomeRetry, "partner said 503 (attempt 15)", "")

	body := e.getOK(fmt.Sprintf("/jobs/%d", j.ID))
	require.Contains(t, body, "15 failed, 10 kept, newest first")
	gap := strings.Index(body, "… 5 attempts not kept …")
	require.NotEqual(t, -1, gap, "the page shows the gap: %s", body)
	first := strings.Index(body, ">attempt 1</span>")
	seventh := strings.Index(body, ">attempt 7</span>")
	require.NotEqual(t, -1, first)
	require.NotEqual(t, -1, seventh)
	require.Less(t, strings.Index(body, ">attempt 15</span>"), seventh, "newest first")
	require.Less(t, seventh, gap, "the gap lies between attempt 7 and attempt 1")
	require.Less(t, gap, first)
	for a := 2; a <= 6; a++ {
		require.NotContains(t, body, fmt.Sprintf(">attempt %d</span>", a), "attempt %d was dropped", a)
	}

	api := decode[struct {
		Errors []struct {
			Attempt int
			Error   string
		}
		ErrorsDropped int `json:"errors_dropped"`
	}](t, e.get(fmt.Sprintf("/api/jobs/%d", j.ID)))
	require.Equal(t, 5, api.ErrorsDropped)
	require.Len(t, api.Errors, 10)
	require.Equal(t, 1, api.Errors[0].Attempt)
	require.Equal(t, 7, api.Errors[1].Attempt)
	require.Equal(t, "partner said 503 (attempt 15)", api.Errors[9].Error)

	// A job whose history is whole shows no gap.
	body = e.getOK(fmt.Sprintf("/jobs/%d", e.dead(queue.NewJob{Kind: "sync"}, "card declined", "")))
	require.Contains(t, body, "1 failed, newest first")
	require.NotContains(t, body, "not kept")
}

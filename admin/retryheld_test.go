package admin_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/queue"
)

// A dead job whose unique key a live job holds again (a replay's newer
// delivery) stays dead on a retry. Before the fix, retrying it alone said
// "only dead jobs can be retried" of a dead job, and a bulk retry skipped
// it without a word. Now the single retry names the holder, and a bulk
// retry retries the rest and names the jobs it left dead, on the page and
// in the API.
func TestRetryDeadKeyHeld(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	a := e.dead(queue.NewJob{Queue: "orders", Kind: "charge", UniqueKey: "charge:1"}, "card declined", "")
	b := e.dead(queue.NewJob{Queue: "orders", Kind: "charge", UniqueKey: "charge:2"}, "card declined", "")
	holder := e.enqueue(queue.NewJob{Queue: "orders", Kind: "charge", UniqueKey: "charge:1"})
	held := fmt.Sprintf("live job %d", holder)

	// One job, from its page and from the API: 409 naming the holder.
	w := e.post(fmt.Sprintf("/jobs/%d/retry", a), nil)
	require.Equal(t, http.StatusConflict, w.Code)
	require.Contains(t, w.Body.String(), held)
	require.NotContains(t, w.Body.String(), "only dead jobs")
	w = e.postJSON(fmt.Sprintf("/api/jobs/%d/retry", a), "")
	require.Equal(t, http.StatusConflict, w.Code)
	require.Contains(t, decode[map[string]string](t, w)["error"], held)
	require.Equal(t, queue.StateDead, e.state(a))

	// The API's bulk retry: the others are retried, the held one listed.
	w = e.postJSON("/api/dead/retry", fmt.Sprintf(`{"ids": [%d, %d]}`, a, b))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.JSONEq(t, fmt.Sprintf(`{"retried": 1, "skipped": [{"id": %d, "unique_key": "charge:1", "held_by": %d}]}`, a, holder), w.Body.String())
	require.Equal(t, queue.StatePending, e.state(b))
	require.Equal(t, queue.StateDead, e.state(a))
	require.NoError(t, e.q.Inspector().Delete(t.Context(), b)) // out of the way of the next leases

	// The dead page's "retry all matching", by filter and by text search:
	// the notice names the job left dead and its holder.
	c := e.dead(queue.NewJob{Queue: "orders", Kind: "charge"}, "card declined", "")
	want := fmt.Sprintf("Retried 1 job: it is pending again. 1 job stayed dead: a live job holds its unique key (job %d held by job %d).", a, holder)
	w = e.post("/dead/retry", url.Values{"all": {"1"}, "queue": {"orders"}})
	loc := fmt.Sprintf("/dead?done=retried&held=%d%%3A%d&n=1&queue=orders&skipped=1", a, holder)
	requireRedirect(t, w, loc)
	require.Equal(t, queue.StatePending, e.state(c))
	require.Contains(t, e.getOK(loc), want)
	require.NoError(t, e.q.Inspector().Delete(t.Context(), c))

	d := e.dead(queue.NewJob{Queue: "orders", Kind: "charge"}, "card declined", "")
	w = e.post("/dead/retry", url.Values{"all": {"1"}, "q": {"declined"}})
	loc = fmt.Sprintf("/dead?done=retried&held=%d%%3A%d&n=1&q=declined&skipped=1", a, holder)
	requireRedirect(t, w, loc)
	require.Equal(t, queue.StatePending, e.state(d))
	require.Contains(t, e.getOK(loc), want)

	// Only the held job: nothing retried, and the page says why.
	w = e.post("/dead/retry", url.Values{"id": {fmt.Sprint(a)}})
	loc = fmt.Sprintf("/dead?done=retried&held=%d%%3A%d&n=0&skipped=1", a, holder)
	requireRedirect(t, w, loc)
	require.Contains(t, e.getOK(loc), fmt.Sprintf("Retried no job. 1 job stayed dead: a live job holds its unique key (job %d held by job %d).", a, holder))

	// A notice for more jobs than the URL names counts the rest.
	require.Contains(t, e.getOK("/dead?done=retried&n=2&skipped=12&held=5:9,6:10"),
		"Retried 2 jobs: they are pending again. 12 jobs stayed dead: a live job holds each one&#39;s unique key (job 5 held by job 9, job 6 held by job 10, and 10 more).")
	for _, bad := range []string{"held=5", "held=5:x", "held=0:1", "held=1:2,3"} {
		w := e.get("/dead?done=retried&n=0&skipped=1&" + bad)
		require.Equal(t, http.StatusBadRequest, w.Code, bad)
	}
}

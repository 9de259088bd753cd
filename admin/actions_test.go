package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/queue"
)

// requireRedirect checks a 303 to the given location.
func requireRedirect(t *testing.T, w interface {
	Result() *http.Response
}, location string) {
	t.Helper()
	res := w.Result()
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, location, res.Header.Get("Location"))
}

func TestJobActions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	ids := seed(e)
	id := func(name string) string { return fmt.Sprint(ids[name]) }

	// Retry a dead job from its page.
	w := e.post("/jobs/"+id("dead")+"/retry", nil)
	requireRedirect(t, w, "/jobs/"+id("dead")+"?done=retried&n=1")
	require.Equal(t, queue.StatePending, e.state(ids["dead"]))
	body := e.getOK("/jobs/" + id("dead") + "?done=retried&n=1")
	require.Contains(t, body, `<div class="flash" role="status">Retried 1 job: it is pending again.</div>`)
	require.Contains(t, body, "card declined", "the error history stays")
	// Again: it is not dead any more.
	w = e.post("/jobs/"+id("dead")+"/retry", nil)
	require.Equal(t, http.StatusConflict, w.Code)
	require.Contains(t, w.Body.String(), "only dead jobs can be retried")

	// Cancel a pending job, then a running one (a request to its worker).
	w = e.post("/jobs/"+id("pending0")+"/cancel", nil)
	requireRedirect(t, w, "/jobs/"+id("pending0")+"?done=cancelled&n=1")
	require.Equal(t, queue.StateCancelled, e.state(ids["pending0"]))
	w = e.post("/jobs/"+id("running")+"/cancel", nil)
	requireRedirect(t, w, "/jobs/"+id("running")+"?done=cancel-requested&n=1")
	body = e.getOK("/jobs/" + id("running") + "?done=cancel-requested&n=1")
	require.Contains(t, body, "Cancel requested: the worker stops the job at its next heartbeat.")
	require.Contains(t, body, "cancel requested</span>")
	require.NotContains(t, body, `id="cancel"`, "asked once is enough")
	// A cancelled job cannot be cancelled.
	w = e.post("/jobs/"+id("pending0")+"/cancel", nil)
	require.Equal(t, http.StatusConflict, w.Code)

	// Delete: a running job refuses; a dead one goes back to the dead list;
	// a live one to the jobs list.
	w = e.post("/jobs/"+id("running")+"/delete", nil)
	require.Equal(t, http.StatusConflict, w.Code)
	require.Contains(t, w.Body.String(), "cancel it first")
	w = e.post("/jobs/"+id("dead2")+"/delete", nil)
	requireRedirect(t, w, "/dead?done=deleted&n=1")
	require.Equal(t, queue.State("gone"), e.state(ids["dead2"]))
	w = e.post("/jobs/"+id("pending1")+"/delete", nil)
	requireRedirect(t, w, "/jobs?done=deleted&n=1")
	require.Equal(t, queue.State("gone"), e.state(ids["pending1"]))

	// Unknown jobs.
	for _, a := range []string{"retry", "cancel", "delete"} {
		w = e.post("/jobs/987654/"+a, nil)
		require.Equal(t, http.StatusNotFound, w.Code, a)
		require.Contains(t, w.Body.String(), "job not found")
	}
}

func TestDeadActions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	mk := func(q, kind, msg string) int64 {
		return e.dead(queue.NewJob{Queue: q, Kind: kind, Args: map[string]string{"note": msg}}, msg, "")
	}
	a := mk("orders", "payment.charge", "card declined")
	b := mk("orders", "payment.charge", "card expired")
	c := mk("orders", "warehouse.notify", "warehouse down")
	d := mk("mail", "email.receipt", "mailbox full")
	f := mk("mail", "email.receipt", "mailbox gone")
	g := mk("mail", "email.receipt", "mailbox gone again")

	// One job by its row button; ticked boxes are ignored then.
	w := e.post("/dead/retry", url.Values{"id": {fmt.Sprint(a)}, "ids": {fmt.Sprint(b)}, "queue": {"orders"}})
	requireRedirect(t, w, "/dead?done=retried&n=1&queue=orders")
	require.Equal(t, queue.StatePending, e.state(a))
	require.Equal(t, queue.StateDead, e.state(b))

	// The selected ones.
	w = e.post("/dead/retry", url.Values{"ids": {fmt.Sprint(b), fmt.Sprint(c)}})
	requireRedirect(t, w, "/dead?done=retried&n=2")
	require.Equal(t, queue.StatePending, e.state(b))
	require.Equal(t, queue.StatePending, e.state(c))

	// All matching a text filter (the queue cannot express it): only the
	// "mailbox gone" ones.
	w = e.post("/dead/retry", url.Values{"all": {"1"}, "queue": {"mail"}, "q": {"mailbox gone"}})
	requireRedirect(t, w, "/dead?done=retried&n=2&q=mailbox+gone&queue=mail")
	require.Equal(t, queue.StateDead, e.state(d))
	require.Equal(t, queue.StatePending, e.state(f))
	require.Equal(t, queue.StatePending, e.state(g))
	require.Contains(t, e.getOK("/dead?done=retried&n=2&q=mailbox+gone&queue=mail"), "Retried 2 jobs: they are pending again.")

	// Nothing matches: zero, said plainly.
	w = e.post("/dead/retry", url.Values{"all": {"1"}, "kind": {"nope"}})
	requireRedirect(t, w, "/dead?done=retried&kind=nope&n=0")
	require.Contains(t, e.getOK("/dead?done=retried&kind=nope&n=0"), "No dead job matched: nothing was retried.")

	// Delete the selected: a dead one goes; a live one (retried meanwhile)
	// and an unknown one are left alone.
	w = e.post("/dead/delete", url.Values{"ids": {fmt.Sprint(d), fmt.Sprint(a), "987654"}})
	requireRedirect(t, w, "/dead?done=deleted&n=1")
	require.Equal(t, queue.State("gone"), e.state(d))
	require.Equal(t, queue.StatePending, e.state(a))
	require.Contains(t, e.getOK("/dead?done=deleted&n=1"), "Deleted 1 job.")

	// All, with no filter.
	h := mk("x", "k", "one")
	i := mk("y", "k", "two")
	w = e.post("/dead/retry", url.Values{"all": {"1"}})
	requireRedirect(t, w, "/dead?done=retried&n=2")
	require.Equal(t, queue.StatePending, e.state(h))
	require.Equal(t, queue.StatePending, e.state(i))

	// Paging state survives the redirect.
	j := mk("z", "k", "three")
	w = e.post("/dead/delete", url.Values{"id": {fmt.Sprint(j)}, "before": {"100"}, "limit": {"20"}})
	requireRedirect(t, w, "/dead?before=100&done=deleted&limit=20&n=1")

	// Nothing selected.
	w = e.post("/dead/retry", nil)
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, w.Body.String(), "no job selected")
	w = e.post("/dead/delete", url.Values{"all": {"1"}})
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, w.Body.String(), "give the IDs of the dead jobs to delete")
}

func TestQueueActions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	e.enqueue(queue.NewJob{Kind: "k", Queue: "mail"})
	paused := func(name string) bool {
		st, err := e.q.Inspector().Stats(context.Background())
		require.NoError(t, err)
		for _, q := range st.Queues {
			if q.Name == name {
				return q.Paused
			}
		}
		return false
	}
	w := e.post("/queues/pause", url.Values{"queue": {"mail"}})
	requireRedirect(t, w, "/queues?done=paused&n=1")
	require.True(t, paused("mail"))
	require.Contains(t, e.getOK("/queues?done=paused&n=1"), "Queue paused")
	w = e.post("/queues/resume", url.Values{"queue": {"mail"}})
	requireRedirect(t, w, "/queues?done=resumed&n=1")
	require.False(t, paused("mail"))
	// A queue with no jobs yet, by name.
	w = e.post("/queues/pause", url.Values{"queue": {"future"}})
	requireRedirect(t, w, "/queues?done=paused&n=1")
	require.True(t, paused("future"))

	w = e.post("/queues/pause", nil)
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, w.Body.String(), "parameter &#34;queue&#34; is required")
}

func TestAPIActions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	ids := seed(e)
	id := func(name string) string { return fmt.Sprint(ids[name]) }

	w := e.postJSON("/api/jobs/"+id("dead")+"/retry", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, map[string]any{"id": float64(ids["dead"]), "retried": float64(1)}, decode[map[string]any](t, w))
	require.Equal(t, queue.StatePending, e.state(ids["dead"]))

	w = e.postJSON("/api/jobs/"+id("dead")+"/retry", "")
	require.Equal(t, http.StatusConflict, w.Code)
	require.Contains(t, decode[map[string]string](t, w)["error"], "queue: job is not dead")

	w = e.postJSON("/api/jobs/"+id("running")+"/cancel", "{}")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, map[string]any{"id": float64(ids["running"]), "state": "running", "cancel_requested": true}, decode[map[string]any](t, w))
	w = e.postJSON("/api/jobs/"+id("pending0")+"/cancel", "")
	require.Equal(t, "cancelled", decode[map[string]any](t, w)["state"])

	w = e.postJSON("/api/jobs/"+id("pending1")+"/delete", "")
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, queue.State("gone"), e.state(ids["pending1"]))

	dead3 := e.dead(queue.NewJob{Kind: "k", Queue: "q3"}, "boom", "")
	w = e.postJSON("/api/dead/retry", fmt.Sprintf(`{"ids": [%d]}`, ids["dead2"]))
	require.Equal(t, map[string]int{"retried": 1}, decode[map[string]int](t, w))
	w = e.postJSON("/api/dead/retry", `{"all": true, "queue": "q3", "q": "boom"}`)
	require.Equal(t, map[string]int{"retried": 1}, decode[map[string]int](t, w))
	require.Equal(t, queue.StatePending, e.state(dead3))
	dead4 := e.dead(queue.NewJob{Kind: "k", Queue: "q4"}, "boom", "")
	w = e.postJSON("/api/dead/delete", fmt.Sprintf(`{"ids": [%d]}`, dead4))
	require.Equal(t, map[string]int{"deleted": 1}, decode[map[string]int](t, w))

	w = e.postJSON("/api/queues/pause", `{"queue": "mail"}`)
	require.Equal(t, map[string]any{"queue": "mail", "paused": true}, decode[map[string]any](t, w))
	w = e.postJSON("/api/queues/resume", `{"queue": "mail"}`)
	require.Equal(t, map[string]any{"queue": "mail", "paused": false}, decode[map[string]any](t, w))

	// Bodies are checked strictly.
	for _, c := range []struct {
		path, body string
		status     int
		msg        string
	}{
		{"/api/dead/retry", `{}`, 400, "no job selected"},
		{"/api/dead/retry", `{"ids": [1], "all": true}`, 400, "either job IDs or all"},
		{"/api/dead/retry", `{"ids": [0]}`, 400, "job ID 0 is not positive"},
		{"/api/dead/retry", `{"ids": "1"}`, 400, "bad JSON body"},
		{"/api/dead/retry", `{"idz": [1]}`, 400, `unknown field "idz"`},
		{"/api/dead/retry", `{"all": true, "queue": "bad queue"}`, 400, "queue: name \"bad queue\" has the character ' '"},
		{"/api/dead/retry", `{"all": true} {}`, 400, "more than one value"},
		{"/api/dead/retry", `not json`, 400, "bad JSON body"},
		{"/api/dead/retry", `{"ALL": true}`, 400, `unknown field "ALL" (field names are lower case)`},
		{"/api/dead/retry", `{"all": false, "all": true}`, 400, `field "all" given twice`},
		{"/api/dead/delete", `{"all": true}`, 400, "give the IDs"},
		{"/api/queues/pause", `{}`, 400, `parameter "queue" is required`},
		{"/api/queues/pause", `{"queue": "<x>"}`, 400, "has the character '<'"},
		{"/api/jobs/1/retry", `{"x": 1}`, 400, `unknown field "x"`},
		{"/api/jobs/abc/retry", ``, 400, `job ID "abc" is not a positive whole number`},
		{"/api/jobs/987654/delete", ``, 404, "job not found"},
	} {
		w := e.postJSON(c.path, c.body)
		require.Equal(t, c.status, w.Code, "%s %s: %s", c.path, c.body, w.Body.String())
		require.Contains(t, decode[map[string]string](t, w)["error"], c.msg, "%s %s", c.path, c.body)
	}
	// Too many IDs.
	big := make([]byte, 0, 8000)
	big = append(big, `{"ids": [`...)
	for i := 1; i <= admin.MaxIDs+1; i++ {
		if i > 1 {
			big = append(big, ',')
		}
		big = fmt.Append(big, i)
	}
	big = append(big, "]}"...)
	w = e.postJSON("/api/dead/retry", string(big))
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, w.Body.String(), "1001 job IDs in one request; at most 1000")
	// Not JSON.
	cookie, token := e.csrf()
	r := httptest.NewRequest("POST", "/api/queues/pause", strings.NewReader("queue=mail"))
	r.Header.Set("X-CSRF-Token", token)
	r.AddCookie(cookie)
	r.Header.Set("Content-Type", "text/plain")
	require.Equal(t, http.StatusUnsupportedMediaType, e.serve(r).Code)
}

// A scheduled job's page offers Run now; it makes the job pending at once
// (form and API), and a job that is not scheduled is refused with 409.
func TestRunNowAction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	ids := seed(e)
	id := fmt.Sprint(ids["scheduled"])
	body := e.getOK("/jobs/" + id)
	require.Contains(t, body, `id="run-now"`)
	require.NotContains(t, e.getOK("/jobs/"+fmt.Sprint(ids["pending1"])), `id="run-now"`, "only a scheduled job offers it")

	w := e.post("/jobs/"+id+"/run-now", nil)
	requireRedirect(t, w, "/jobs/"+id+"?done=ran-now&n=1")
	require.Equal(t, queue.StatePending, e.state(ids["scheduled"]))
	require.Contains(t, e.getOK("/jobs/"+id+"?done=ran-now&n=1"), "Job ready: it runs as soon as a worker is free.")

	w = e.post("/jobs/"+id+"/run-now", nil)
	require.Equal(t, http.StatusConflict, w.Code)
	require.Contains(t, w.Body.String(), "only a scheduled job can be run now")
	w = e.postJSON("/api/jobs/"+fmt.Sprint(ids["retry1"])+"/run-now", "{}")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.JSONEq(t, fmt.Sprintf(`{"id": %d, "ready": true}`, ids["retry1"]), w.Body.String())
	w = e.post("/jobs/987654/run-now", nil)
	require.Equal(t, http.StatusNotFound, w.Code)
}

// Bulk cancel and delete on the jobs list: the ticked jobs, or every
// waiting job the filter matches; a job that has started is left as it is
// and counted, and the notice says so.
func TestLiveBulkActions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	ids := seed(e)
	id := func(name string) string { return fmt.Sprint(ids[name]) }

	w := e.post("/jobs/cancel", url.Values{"ids": {id("pending0"), id("pending1"), id("running")}})
	requireRedirect(t, w, "/jobs?done=cancelled&n=2&refused=1")
	require.Equal(t, queue.StateCancelled, e.state(ids["pending0"]))
	require.Equal(t, queue.StateCancelled, e.state(ids["pending1"]))
	require.Equal(t, queue.StateRunning, e.state(ids["running"]), "a running job is not what a bulk cancel takes")
	j, err := e.q.Inspector().Get(context.Background(), ids["running"])
	require.NoError(t, err)
	require.False(t, j.CancelRequested, "nor is its worker asked to stop it")
	require.Contains(t, e.getOK("/jobs?done=cancelled&n=2&refused=1"),
		"Cancelled 2 jobs. 1 selected job had started or finished meanwhile and was left as it is.")

	// Every waiting job of the mail queue, by filter.
	w = e.post("/jobs/delete", url.Values{"all": {"1"}, "queue": {"mail"}})
	res := w.Result()
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Contains(t, res.Header.Get("Location"), "done=deleted")
	for name, jid := range ids {
		if strings.HasPrefix(name, "pending") && name != "pending0" && name != "pending1" {
			require.Equal(t, queue.State("gone"), e.state(jid), name)
		}
	}
	require.Equal(t, queue.StateScheduled, e.state(ids["scheduled"]), "another queue's job stays")

	// The API: scheduled jobs of the reports queue.
	w = e.postJSON("/api/jobs/cancel", `{"all": true, "queue": "reports", "state": "scheduled"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.JSONEq(t, `{"cancelled": 1, "refused": 0}`, w.Body.String())
	require.Equal(t, queue.StateCancelled, e.state(ids["scheduled"]))

	// Refusals: nothing selected, a state a bulk action does not take.
	w = e.postJSON("/api/jobs/delete", `{}`)
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, w.Body.String(), "no job selected")
	w = e.postJSON("/api/jobs/delete", `{"all": true, "state": "running"}`)
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, w.Body.String(), "a bulk action takes pending, scheduled or blocked jobs")
}

// The jobs list offers the bulk bar: a checkbox on each waiting job (not
// on a running one), Cancel all waiting only where the state filter can
// match waiting jobs, and nothing of it when read-only.
func TestJobsListBulkBar(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	ids := seed(e)
	body := e.getOK("/jobs")
	require.Contains(t, body, `id="cancel-selected"`)
	require.Contains(t, body, `id="cancel-all"`)
	require.Contains(t, body, fmt.Sprintf(`name="ids" value="%d"`, ids["pending0"]))
	require.Contains(t, body, fmt.Sprintf(`name="ids" value="%d"`, ids["scheduled"]))
	require.NotContains(t, body, fmt.Sprintf(`name="ids" value="%d"`, ids["running"]), "a running job is not selectable")
	require.NotContains(t, e.getOK("/jobs?state=running"), `id="cancel-all"`)
	require.Contains(t, e.getOK("/jobs?state=scheduled"), `id="cancel-all"`)

	ro, err := admin.New(e.q, admin.Options{NoAuth: true, ReadOnly: true})
	require.NoError(t, err)
	w := httptest.NewRecorder()
	ro.ServeHTTP(w, httptest.NewRequest("GET", "/jobs", nil))
	require.Equal(t, http.StatusOK, w.Code)
	require.NotContains(t, w.Body.String(), `id="bulk"`)
	require.NotContains(t, w.Body.String(), `name="ids"`)
}

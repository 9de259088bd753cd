package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
)

// with returns an env on the same database with another handler.
func (e *env) with(opts admin.Options) *env {
	e.t.Helper()
	if opts.Authorize == nil && !opts.NoAuth {
		opts.Authorize = admin.BasicAuth(testUser, testPass)
	}
	h, err := admin.New(e.q, opts)
	require.NoError(e.t, err)
	c := *e
	c.h, c.prefix, c.cookie, c.token = h, opts.Prefix, nil, ""
	return &c
}

// seedSchedules registers three schedules with a scheduler of its own (as
// the app's process would), stores them at t0 and runs an hour later, so
// that the hourly one has fired once. happy.hour is paused.
func seedSchedules(e *env) *schedule.Scheduler {
	e.t.Helper()
	ctx := context.Background()
	s, err := schedule.New(e.q, schedule.Options{})
	require.NoError(e.t, err)
	for _, en := range []schedule.Entry{
		{Name: "stock.sync.nightly", Spec: "30 2 * * *", TimeZone: "Europe/Berlin", Job: queue.NewJob{Kind: "stock.sync", Queue: "maintenance"}},
		{Name: "feed.export", Spec: "@hourly", Job: queue.NewJob{Kind: "feed.export", Queue: "exports"}},
		{Name: "happy.hour", Spec: "0 17 * * 5", Misfire: schedule.MisfireSkip, Job: queue.NewJob{Kind: "promo.notify"}},
	} {
		require.NoError(e.t, s.Add(en))
	}
	_, err = s.RunOnce(ctx)
	require.NoError(e.t, err)
	e.clock.Add(time.Hour) // 15:30 UTC: feed.export's 15:00 tick is due
	_, err = s.RunOnce(ctx)
	require.NoError(e.t, err)
	require.NoError(e.t, s.Pause(ctx, "happy.hour"))
	return s
}

// scheduleInfo returns a schedule as the store has it.
func scheduleInfo(t *testing.T, s *schedule.Scheduler, name string) schedule.Info {
	t.Helper()
	list, err := s.List(context.Background())
	require.NoError(t, err)
	for _, i := range list {
		if i.Name == name {
			return i
		}
	}
	t.Fatalf("no schedule %q", name)
	return schedule.Info{}
}

// row returns the table row of body whose attribute attr is value.
func row(t *testing.T, body, attr, value string) string {
	t.Helper()
	start := strings.Index(body, fmt.Sprintf(`<tr %s="%s">`, attr, value))
	require.GreaterOrEqual(t, start, 0, "no row %s=%q", attr, value)
	end := strings.Index(body[start:], "</tr>")
	require.Greater(t, end, 0)
	return body[start : start+end]
}

func TestSchedulesPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	require.Contains(t, e.getOK("/schedules"), "No schedules yet.")
	sc := seedSchedules(e)

	body := e.getOK("/schedules")
	require.Contains(t, body, "<title>Schedules · spool admin</title>")
	require.Contains(t, body, `<a href="/schedules" class="active">Schedules</a>`)
	nightly := row(t, body, "data-schedule", "stock.sync.nightly")
	require.Contains(t, nightly, `<code class="mono spec">30 2 * * *</code>`)
	require.Contains(t, nightly, "Europe/Berlin")
	require.Contains(t, nightly, `<span class="cell-sub">→ <a class="mono" href="/jobs?queue=maintenance&amp;kind=stock.sync"`)
	// Next run 02:30 Berlin time (01:30 UTC) on Tuesday; it is 15:30 UTC.
	require.Contains(t, nightly, `<span title="2026-03-03 01:30:00.000 UTC">in 10h</span><span class="cell-sub">Tue 3 Mar 02:30 CET</span>`)
	require.Contains(t, nightly, `<td class="prev" data-label="Previous run"><span class="muted none">—</span>`, "not run yet: one dash")
	require.Contains(t, nightly, `<span class="badge active">active</span>`)
	require.Contains(t, nightly, ">Pause</button>")
	require.Contains(t, nightly, ">Trigger now</button>")

	feed := row(t, body, "data-schedule", "feed.export")
	require.Contains(t, feed, `<td class="prev" data-label="Previous run"><span title="2026-03-02 15:00:00.000 UTC">30m ago</span><span class="cell-sub">Mon 2 Mar 15:00 UTC</span>`)
	require.Contains(t, feed, `in 30m`)

	happy := row(t, body, "data-schedule", "happy.hour")
	require.Contains(t, happy, `<span class="badge paused">paused</span>`)
	require.Contains(t, happy, `<td class="next" data-label="Next run"><span class="muted">paused</span>`)
	require.Contains(t, happy, "skips late ticks")
	require.Contains(t, happy, `action="/schedules/resume"`)
	require.Contains(t, happy, `<input type="hidden" name="name" value="happy.hour"><button class="btn small primary" type="submit">Resume</button>`)
	require.NotContains(t, happy, ">Pause</button>")

	// The handler's own scheduler has nothing registered: the page says
	// so, and leaves the registered flag out.
	require.Contains(t, body, "This admin has no scheduler of its own")
	require.NotContains(t, body, ">Here</th>")

	// With the app's scheduler, the page tells its schedules from those
	// another process stored.
	other, err := schedule.New(e.q, schedule.Options{})
	require.NoError(t, err)
	require.NoError(t, other.Add(schedule.Entry{Name: "elsewhere", Spec: "@daily", Job: queue.NewJob{Kind: "k"}}))
	_, err = other.RunOnce(context.Background())
	require.NoError(t, err)
	body = e.with(admin.Options{Schedules: sc}).getOK("/schedules")
	require.Contains(t, body, ">Here</th>")
	require.NotContains(t, body, "This admin has no scheduler of its own")
	require.Contains(t, row(t, body, "data-schedule", "feed.export"), `<span class="badge registered"`)
	require.NotContains(t, row(t, body, "data-schedule", "elsewhere"), `badge registered`)
}

func TestScheduleActions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	sc := seedSchedules(e)

	w := e.post("/schedules/pause", url.Values{"name": {"feed.export"}})
	requireRedirect(t, w, "/schedules?done=schedule-paused&n=1&name=feed.export")
	require.True(t, scheduleInfo(t, sc, "feed.export").Paused)
	body := e.getOK("/schedules?done=schedule-paused&n=1&name=feed.export")
	require.Contains(t, body, `<div class="flash" role="status">Schedule feed.export paused: its ticks are skipped in every process until it is resumed. Trigger now still runs it.</div>`)
	require.Contains(t, row(t, body, "data-schedule", "feed.export"), "badge paused")

	w = e.post("/schedules/resume", url.Values{"name": {"feed.export"}})
	requireRedirect(t, w, "/schedules?done=schedule-resumed&n=1&name=feed.export")
	require.False(t, scheduleInfo(t, sc, "feed.export").Paused)
	require.Contains(t, e.getOK("/schedules?done=schedule-resumed&n=1&name=feed.export"), "Schedule feed.export resumed: it runs again from its next tick.")

	// Trigger now: a stored request, served by the next round of the
	// scheduler that registered the schedule, paused or not.
	w = e.post("/schedules/trigger", url.Values{"name": {"happy.hour"}})
	requireRedirect(t, w, "/schedules?done=triggered&n=1&name=happy.hour")
	require.Equal(t, t0.Add(time.Hour), scheduleInfo(t, sc, "happy.hour").TriggerAt.UTC())
	body = e.getOK("/schedules?done=triggered&n=1&name=happy.hour")
	require.Contains(t, body, "Schedule happy.hour triggered: the next round of a scheduler that has it registered enqueues one job.")
	require.Contains(t, row(t, body, "data-schedule", "happy.hour"), `<span class="badge trigger" title="Trigger now requested 2026-03-02 15:30:00.000 UTC`)
	e.clock.Add(time.Second)
	_, err := sc.RunOnce(context.Background())
	require.NoError(t, err)
	jobs, err := e.q.Inspector().List(context.Background(), queue.ListFilter{Kind: "promo.notify", Limit: 10})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	require.Equal(t, "happy.hour", jobs[0].Metadata[schedule.MetadataSchedule])
	require.NotEmpty(t, jobs[0].Metadata[schedule.MetadataTrigger])
	happy := row(t, e.getOK("/schedules"), "data-schedule", "happy.hour")
	require.NotContains(t, happy, "trigger pending")
	require.Contains(t, happy, `<td class="prev" data-label="Previous run"><span title="2026-03-02 15:30:00.000 UTC">1s ago</span>`)

	// Unknown and bad names.
	w = e.post("/schedules/trigger", url.Values{"name": {"nope"}})
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Contains(t, htmlUnescape(w.Body.String()), `schedule "nope": queue: schedule not found (a schedule is stored once a scheduler has registered it`)
	for _, c := range []struct {
		form url.Values
		msg  string
	}{
		{nil, `parameter "name" is required: the name of the schedule`},
		{url.Values{"name": {""}}, `parameter "name" is required`},
		{url.Values{"name": {"a b"}}, `schedule name "a b" has the character ' '`},
		{url.Values{"name": {strings.Repeat("n", 129)}}, "is longer than 128 characters"},
		{url.Values{"name": {"x", "y"}}, `parameter "name" is given 2 times`},
		{url.Values{"name": {"feed.export"}, "queue": {"x"}}, `unknown parameter "queue"`},
		{url.Values{"name": {"\xff"}}, "not valid UTF-8"},
	} {
		for _, a := range []string{"pause", "resume", "trigger"} {
			w := e.post("/schedules/"+a, c.form)
			require.Equal(t, http.StatusBadRequest, w.Code, "%s %v: %s", a, c.form, w.Body.String())
			require.Contains(t, htmlUnescape(w.Body.String()), c.msg, a)
		}
	}
	w = e.post("/schedules/pause?name=feed.export", nil)
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, w.Body.String(), "in the form body, not the URL")
	require.False(t, scheduleInfo(t, sc, "feed.export").Paused)
	// The flash names a schedule by a valid name only.
	w = e.get("/schedules?done=triggered&n=1&name=%3Cb%3E")
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Equal(t, http.StatusBadRequest, e.get("/schedules?x=1").Code)
}

func TestScheduleAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	sc := seedSchedules(e)
	require.NoError(t, sc.Add(schedule.Entry{Name: "reports/daily:summary", Spec: "0 6 * * *", Job: queue.NewJob{Kind: "report.daily", Queue: "reports"}}))
	_, err := sc.RunOnce(context.Background())
	require.NoError(t, err)

	type apiSchedule struct {
		Name, Spec, Kind, Queue, Misfire string
		TimeZone                         string     `json:"time_zone"`
		NextRun                          *time.Time `json:"next_run"`
		PrevRun                          *time.Time `json:"prev_run"`
		Paused                           bool
		TriggerRequestedAt               *time.Time `json:"trigger_requested_at"`
		Registered                       bool
	}
	list := decode[struct{ Schedules []apiSchedule }](t, e.get("/api/schedules")).Schedules
	require.Len(t, list, 4)
	at := func(h, m int) *time.Time { x := time.Date(2026, 3, 2, h, m, 0, 0, time.UTC); return &x }
	require.Equal(t, apiSchedule{Name: "feed.export", Spec: "@hourly", Kind: "feed.export", Queue: "exports", Misfire: "catch-up",
		TimeZone: "UTC", NextRun: at(16, 0), PrevRun: at(15, 0)}, list[0])
	require.Equal(t, "happy.hour", list[1].Name)
	require.True(t, list[1].Paused)
	require.Equal(t, "skip", list[1].Misfire)
	require.Equal(t, "reports/daily:summary", list[2].Name)
	require.Equal(t, apiSchedule{Name: "stock.sync.nightly", Spec: "30 2 * * *", Kind: "stock.sync", Queue: "maintenance", Misfire: "catch-up",
		TimeZone: "Europe/Berlin", NextRun: func() *time.Time { x := time.Date(2026, 3, 3, 1, 30, 0, 0, time.UTC); return &x }()}, list[3])
	raw := e.get("/api/schedules").Body.String()
	require.Contains(t, raw, `"prev_run": null`)
	require.Contains(t, raw, `"trigger_requested_at": null`)

	w := e.postJSON("/api/schedules/feed.export/pause", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, map[string]any{"name": "feed.export", "paused": true}, decode[map[string]any](t, w))
	require.True(t, scheduleInfo(t, sc, "feed.export").Paused)
	w = e.postJSON("/api/schedules/feed.export/resume", "{}")
	require.Equal(t, map[string]any{"name": "feed.export", "paused": false}, decode[map[string]any](t, w))
	require.False(t, scheduleInfo(t, sc, "feed.export").Paused)
	// A name with "/" in the path.
	w = e.postJSON("/api/schedules/reports/daily:summary/trigger", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, map[string]any{"name": "reports/daily:summary", "trigger_requested": true}, decode[map[string]any](t, w))
	require.False(t, scheduleInfo(t, sc, "reports/daily:summary").TriggerAt.IsZero())
	list = decode[struct{ Schedules []apiSchedule }](t, e.get("/api/schedules")).Schedules
	require.Equal(t, t0.Add(time.Hour), *list[2].TriggerRequestedAt)

	// The app's scheduler: registered is true for its schedules.
	list = decode[struct{ Schedules []apiSchedule }](t, e.with(admin.Options{Schedules: sc}).get("/api/schedules")).Schedules
	require.True(t, list[0].Registered)

	for _, c := range []struct {
		path, body string
		status     int
		msg        string
	}{
		{"/api/schedules/nope/trigger", "", 404, `schedule "nope": queue: schedule not found (a schedule is stored`},
		{"/api/schedules/nope/pause", "", 404, `schedule "nope": queue: schedule not found`},
		{"/api/schedules/a%20b/pause", "", 400, `schedule name "a b" has the character ' '`},
		{"/api/schedules/%3Cscript%3E/resume", "", 400, `has the character '<'`},
		{"/api/schedules/" + strings.Repeat("s", 129) + "/pause", "", 400, "longer than 128 characters"},
		{"/api/schedules/feed.export/pause", `{"paused": true}`, 400, `unknown field "paused"`},
		{"/api/schedules/feed.export/trigger", `[`, 400, "bad JSON body"},
		{"/api/schedules/feed.export/stop", "", 404, "no admin page"},
	} {
		w := e.postJSON(c.path, c.body)
		require.Equal(t, c.status, w.Code, "%s: %s", c.path, w.Body.String())
		require.Contains(t, decode[map[string]string](t, w)["error"], c.msg, c.path)
	}
	require.False(t, scheduleInfo(t, sc, "feed.export").Paused)
	w = e.get("/api/schedules/feed.export/pause")
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	require.Equal(t, "POST", w.Header().Get("Allow"))
	require.Equal(t, http.StatusBadRequest, e.get("/api/schedules?name=x").Code)
}

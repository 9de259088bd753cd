package admin

import (
	"net/http"
	"slices"
	"strings"
)

// route is one page, action or API call. Patterns are paths below the
// prefix whose "{name}" segments match any one segment and whose one
// "{name...}" segment, if any, matches one or more (schedule, topic and
// subscription names may contain "/"); the handler reads them with
// r.PathValue.
type route struct {
	method  string
	pattern string
	serve   func(w http.ResponseWriter, r *http.Request) error
}

func (h *Handler) routeTable() []route {
	return append(h.liveRoutes(), []route{
		// HTML pages. GET never changes state.
		{"GET", "/", h.dashboardPage},
		{"GET", "/jobs", h.jobsPage},
		{"GET", "/jobs/{id}", h.jobPage},
		{"GET", "/dead", h.deadPage},
		{"GET", "/queues", h.queuesPage},
		{"GET", "/schedules", h.schedulesPage},
		{"GET", "/processes", h.processesPage},
		{"GET", "/charts", h.chartsPage},
		{"GET", "/topics", h.topicsPage},
		{"GET", "/batches", h.batchesPage},
		{"GET", "/topics/{name...}", h.topicPage},
		{"GET", "/static/{file}", h.serveStatic},

		// HTML actions: POST with a CSRF token, then a redirect (303).
		{"POST", "/jobs/{id}/retry", h.jobAction(actRetry)},
		{"POST", "/jobs/{id}/cancel", h.jobAction(actCancel)},
		{"POST", "/jobs/{id}/delete", h.jobAction(actDelete)},
		{"POST", "/jobs/{id}/run-now", h.jobAction(actRunNow)},
		{"POST", "/jobs/cancel", h.liveAction(actCancel)},
		{"POST", "/jobs/delete", h.liveAction(actDelete)},
		{"POST", "/dead/retry", h.deadAction(actRetry)},
		{"POST", "/dead/delete", h.deadAction(actDelete)},
		{"POST", "/queues/pause", h.queueAction(true)},
		{"POST", "/queues/resume", h.queueAction(false)},
		{"POST", "/schedules/pause", h.scheduleAction(schedPause)},
		{"POST", "/schedules/resume", h.scheduleAction(schedResume)},
		{"POST", "/schedules/trigger", h.scheduleAction(schedTrigger)},
		{"POST", "/subscriptions/replay", h.replayAction},

		// JSON API: the same reads and actions (see doc.go).
		{"GET", "/api/stats", h.apiStats},
		{"GET", "/api/queues", h.apiQueues},
		{"GET", "/api/jobs", h.apiJobs(false)},
		{"GET", "/api/jobs/{id}", h.apiJob},
		{"GET", "/api/jobs/{id}/payload", h.apiJobPayload},
		{"GET", "/api/jobs/{id}/output", h.apiJobOutput},
		{"GET", "/api/dead", h.apiJobs(true)},
		{"GET", "/api/schedules", h.apiSchedules},
		{"GET", "/api/processes", h.apiProcesses},
		{"GET", "/api/charts", h.apiCharts},
		{"GET", "/api/topics", h.apiTopics},
		{"GET", "/api/topics/{name...}/events", h.apiEvents},
		{"GET", "/api/topics/{name...}/events/{seq}/payload", h.apiEventPayload},
		{"GET", "/api/subscriptions", h.apiSubscriptions},
		{"GET", "/api/batches", h.apiBatches},
		{"GET", "/api/batches/{id}", h.apiBatch},
		{"GET", "/api/csrf", h.apiCSRF},
		{"POST", "/api/jobs/{id}/retry", h.apiJobAction(actRetry)},
		{"POST", "/api/jobs/{id}/cancel", h.apiJobAction(actCancel)},
		{"POST", "/api/jobs/{id}/delete", h.apiJobAction(actDelete)},
		{"POST", "/api/jobs/{id}/run-now", h.apiJobAction(actRunNow)},
		{"POST", "/api/jobs/cancel", h.apiLiveAction(actCancel)},
		{"POST", "/api/jobs/delete", h.apiLiveAction(actDelete)},
		{"POST", "/api/dead/retry", h.apiDeadAction(actRetry)},
		{"POST", "/api/dead/delete", h.apiDeadAction(actDelete)},
		{"POST", "/api/queues/pause", h.apiQueueAction(true)},
		{"POST", "/api/queues/resume", h.apiQueueAction(false)},
		{"POST", "/api/schedules/{name...}/pause", h.apiScheduleAction(schedPause)},
		{"POST", "/api/schedules/{name...}/resume", h.apiScheduleAction(schedResume)},
		{"POST", "/api/schedules/{name...}/trigger", h.apiScheduleAction(schedTrigger)},
		{"POST", "/api/subscriptions/{name...}/replay", h.apiReplay},
	}...)
}

// dispatch finds the route for path and runs it: 404 when no pattern
// matches, 405 when one matches with another method.
func (h *Handler) dispatch(w http.ResponseWriter, r *http.Request, path string, api bool) {
	segs := splitPath(path)
	var allow []string
	for _, rt := range h.routes {
		vals, ok := matchPattern(rt.pattern, segs)
		if !ok {
			continue
		}
		method := r.Method
		if method == http.MethodHead {
			method = http.MethodGet
		}
		if rt.method != method {
			if !slices.Contains(allow, rt.method) {
				allow = append(allow, rt.method)
			}
			continue
		}
		for k, v := range vals {
			r.SetPathValue(k, v)
		}
		if err := rt.serve(w, r); err != nil {
			h.fail(w, r, api, err)
		}
		return
	}
	if len(allow) > 0 {
		if slices.Contains(allow, "GET") {
			allow = append(allow, "HEAD")
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		h.fail(w, r, api, &httpError{status: http.StatusMethodNotAllowed,
			msg: r.Method + " is not allowed here; use " + strings.Join(allow, " or ")})
		return
	}
	h.fail(w, r, api, errNotFound("no admin page at "+h.url(path)))
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func matchPattern(pattern string, segs []string) (map[string]string, bool) {
	want := splitPath(pattern)
	rest := slices.IndexFunc(want, func(w string) bool { return strings.HasSuffix(w, "...}") })
	extra := 0 // segments the "{name...}" wildcard takes beyond one
	switch {
	case rest < 0 && len(want) != len(segs):
		return nil, false
	case rest >= 0 && len(segs) < len(want):
		return nil, false
	case rest >= 0:
		extra = len(segs) - len(want)
	}
	var vals map[string]string
	for i, w := range want {
		j := i
		if rest >= 0 && i > rest {
			j += extra
		}
		if strings.HasPrefix(w, "{") && strings.HasSuffix(w, "}") {
			if vals == nil {
				vals = map[string]string{}
			}
			if i == rest {
				vals[strings.TrimSuffix(w[1:len(w)-1], "...")] = strings.Join(segs[i:i+extra+1], "/")
				continue
			}
			vals[w[1:len(w)-1]] = segs[j]
			continue
		}
		if w != segs[j] {
			return nil, false
		}
	}
	return vals, true
}

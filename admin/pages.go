package admin

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/spooljobs/spool/queue"
)

// page is what every page template gets.
type page struct {
	Title    string
	Nav      string // the active nav entry
	CSS, JS  string
	CSRF     string
	ReadOnly bool
	Flash    string
	Now      time.Time
	Data     any
	// Corrupt is the banner about a corrupt database file, or nil.
	Corrupt *corruptBanner
	// RefreshURL is the page's fragment (its live parts alone) under
	// /partial, which the script fetches every RefreshMS; empty when the
	// page has no live part or Options.RefreshInterval turns refreshing
	// off. RefreshEvery says the interval to people.
	RefreshURL   string
	RefreshMS    int64
	RefreshEvery string
}

func (h *Handler) newPage(w http.ResponseWriter, r *http.Request, title, nav string, data any) *page {
	p := &page{Title: title, Nav: nav, CSS: h.cssURL, JS: h.jsURL, ReadOnly: h.opts.ReadOnly, Now: h.q.Now(), Data: data, Corrupt: h.banner()}
	if !h.opts.ReadOnly {
		p.CSRF = h.csrfToken(w, r)
	}
	return p
}

// render executes a page template into a buffer first, so that a template
// error becomes a clean 500 instead of half a page. A page whose template
// defines "live" refreshes in place (see live.go): under /partial only its
// live parts are rendered.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name, tmpl string, data any) error {
	if pg, ok := data.(*page); ok && tmpl == "layout" && h.pages[name].Lookup("live") != nil {
		if isFragment(r) {
			tmpl = "live"
		} else {
			h.setRefresh(pg, r)
		}
	}
	var b bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&b, tmpl, data); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		// The page is UTF-8: text from the request (a path in a 404) or
		// the store may hold invalid bytes, which html/template copies.
		// Invisible and control characters of job data show escaped.
		w.Write(showInvisible(bytes.ToValidUTF8(b.Bytes(), []byte("\uFFFD"))))
	}
	return nil
}

func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := &page{Title: http.StatusText(status), CSS: h.cssURL, JS: h.jsURL, ReadOnly: h.opts.ReadOnly, Now: h.q.Now(),
		Data: map[string]any{"Status": status, "StatusText": http.StatusText(status), "Message": msg}, Corrupt: h.banner()}
	if err := h.render(w, r, status, "error", "layout", p); err != nil {
		h.logger.Error("spool admin: render error page", "err", err)
		http.Error(w, msg, status)
	}
}

// readCtx bounds one page's or API call's reads.
func (h *Handler) readCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), h.opts.QueryTimeout)
}

// Dashboard.

type dashboard struct {
	Queues []queueRow // one page of the queues, by name
	// QueuesPage is the Queues page's place in the list; on the
	// dashboard, MoreQueues counts the queues after the first page.
	QueuesPage namePage
	MoreQueues int
	Totals     queue.QueueStats
	AnyBlocked bool
	// Tracked is set when the store keeps worker pools' process rows:
	// the Workers column and the unserved flag mean something.
	Tracked bool
	// Processes counts the live worker pools; AnyUnserved is set when a
	// queue has pending jobs that none of them works, and UnservedNote
	// says what that means.
	Processes    int
	AnyUnserved  bool
	UnservedNote string
	// NoLivePool is set when the store keeps process rows and none is
	// live (queue.Stats.NoLivePool): the page says so once instead of
	// flagging every queue with pending jobs.
	NoLivePool bool
	Chart      chart
	Updated    time.Time
}

type queueRow struct {
	queue.QueueStats
	JobsURL string
	DeadURL string
}

// loadDashboard reads the stats: the totals of every queue, and the rows
// of one page of them (the queues after the name after, at most limit).
func (h *Handler) loadDashboard(r *http.Request, after string, limit int) (*dashboard, error) {
	ctx, cancel := h.readCtx(r)
	defer cancel()
	st, err := h.q.Inspector().Stats(ctx)
	if err != nil {
		return nil, err
	}
	d := &dashboard{Chart: buildChart(st.Throughput), Updated: h.q.Now(),
		Tracked: st.ProcessesTracked, Processes: st.Processes, UnservedNote: queue.UnservedNote, NoLivePool: st.NoLivePool()}
	shown, pg, next := pageByName(st.Queues, func(q queue.QueueStats) string { return q.Name }, after, limit)
	pg.links(after, next, func(a string) string { return h.pageURL("/queues", nil, "after", a, limit) })
	d.QueuesPage, d.MoreQueues = pg, pg.Total-pg.To
	for _, qs := range shown {
		d.Queues = append(d.Queues, queueRow{QueueStats: qs,
			JobsURL: h.url("/jobs?queue=" + url.QueryEscape(qs.Name)),
			DeadURL: h.url("/dead?queue=" + url.QueryEscape(qs.Name))})
	}
	for _, qs := range st.Queues {
		d.Totals.Pending += qs.Pending
		d.Totals.Scheduled += qs.Scheduled
		d.Totals.Blocked += qs.Blocked
		d.Totals.AwaitingParents += qs.AwaitingParents
		d.AnyBlocked = d.AnyBlocked || qs.Blocked > 0 || qs.StuckKeys > 0 || qs.AwaitingParents > 0
		d.AnyUnserved = d.AnyUnserved || qs.Unserved
		d.Totals.Running += qs.Running
		d.Totals.Dead += qs.Dead
		d.Totals.OldestPending = max(d.Totals.OldestPending, qs.OldestPending)
	}
	return d, nil
}

func (h *Handler) dashboardPage(w http.ResponseWriter, r *http.Request) error {
	if p := readQuery(r); p.err != nil {
		return p.err
	}
	d, err := h.loadDashboard(r, "", DefaultPageSize)
	if err != nil {
		return err
	}
	return h.render(w, r, http.StatusOK, "dashboard", "layout", h.newPage(w, r, "Dashboard", "dashboard", d))
}

// Job lists.

type jobList struct {
	Dead      bool
	Filter    listParams
	States    []queue.State
	Jobs      []*queue.Job
	OlderURL  string
	NewestURL string
	FilterURL string
	Matching  bool // queue, kind or text is set (for "retry all matching")
	Filtered  bool // any filter is set (for "clear")
}

func (h *Handler) jobsPage(w http.ResponseWriter, r *http.Request) error {
	return h.listPage(w, r, false)
}

func (h *Handler) deadPage(w http.ResponseWriter, r *http.Request) error {
	return h.listPage(w, r, true)
}

func (h *Handler) listPage(w http.ResponseWriter, r *http.Request, dead bool) error {
	keys := slices.Concat(listKeys, jobsFlashKeys)
	if dead {
		keys = slices.Concat(listKeys, deadFlashKeys)
		keys = slices.DeleteFunc(keys, func(k string) bool { return k == "state" })
	}
	p := readQuery(r, keys...)
	lp := p.list(!dead)
	fl := p.flash()
	if p.err != nil {
		return p.err
	}
	ctx, cancel := h.readCtx(r)
	defer cancel()
	jobs, err := h.q.Inspector().List(ctx, lp.filter())
	if err != nil {
		return err
	}
	path := "/jobs"
	title, nav := "Jobs", "jobs"
	if dead {
		path, title, nav = "/dead", "Dead jobs", "dead"
	}
	l := &jobList{Dead: dead, Filter: lp, States: queue.States, Jobs: jobs, FilterURL: h.url(path),
		Matching: lp.Queue != "" || lp.Kind != "" || lp.Search != ""}
	l.Filtered = l.Matching || (!dead && lp.State != "")
	if len(jobs) > lp.Limit {
		l.Jobs = jobs[:lp.Limit]
		older := lp
		older.Before = l.Jobs[len(l.Jobs)-1].ID
		l.OlderURL = h.listURL(path, older, dead)
	}
	if lp.Before > 0 {
		newest := lp
		newest.Before = 0
		l.NewestURL = h.listURL(path, newest, dead)
	}
	pg := h.newPage(w, r, title, nav, l)
	pg.Flash = fl.Text()
	return h.render(w, r, http.StatusOK, "jobs", "layout", pg)
}

func (h *Handler) listURL(path string, lp listParams, dead bool) string {
	v := lp.values()
	if dead {
		v.Del("state")
	}
	if len(v) == 0 {
		return h.url(path)
	}
	return h.url(path + "?" + v.Encode())
}

// Job detail.

type jobDetail struct {
	Job         *queue.Job
	Payload     string
	PayloadKind string
	PayloadSize int
	PayloadCut  bool   // only the first MaxPayloadShown bytes are shown
	PayloadURL  string // the whole payload, as a download
	// Output is the handler's recorded output formatted as the payload is
	// (HasOutput: there is one), and Percent its progress in whole
	// percent.
	HasOutput  bool
	Output     string
	OutputKind string
	OutputSize int
	OutputCut  bool   // only the first MaxPayloadShown bytes are shown
	OutputURL  string // the whole output, as a download
	Percent    int
	MetaKeys   []string
	Errors     []attemptRow // newest first, with the gap of dropped attempts where it lies
	Failed     int          // failed attempts in all, kept or not
	CanRetry   bool
	CanRunNow  bool
	CanCancel  bool
	CanDelete  bool
	LeaseLeft  string
	// Deps are the job's parents and children (queue.NewJob.DependsOn);
	// nil on a store without dependencies or a job without any.
	Deps *queue.Dependencies
}

// attemptRow is one row of a job's attempt history: a failed attempt, or,
// when Dropped is set, the gap where that many attempts' errors were not
// kept (queue.AppendAttemptError bounds the history).
type attemptRow struct {
	queue.AttemptError
	Dropped int
	// N is the failure's place in the job's whole history, from 1: unique,
	// where AttemptError.Attempt starts again at 1 when a dead job is
	// retried.
	N int
	// Retried marks the first failure after such a retry.
	Retried bool
}

// attemptRows lists j's attempt errors newest first, with the gap of the
// dropped ones in its place, numbered through the whole history.
func attemptRows(j *queue.Job) []attemptRow {
	rows := make([]attemptRow, 0, len(j.Errors)+1)
	gap := j.ErrorsGap()
	n, prev := 0, 0
	for i, e := range j.Errors {
		if i == gap {
			rows = append(rows, attemptRow{Dropped: j.ErrorsDropped})
			n += j.ErrorsDropped
			prev = 0 // unknown across the gap
		}
		n++
		rows = append(rows, attemptRow{AttemptError: e, N: n, Retried: prev > 0 && e.Attempt <= prev})
		prev = e.Attempt
	}
	if gap == len(j.Errors) {
		rows = append(rows, attemptRow{Dropped: j.ErrorsDropped})
	}
	slices.Reverse(rows)
	return rows
}

func (h *Handler) jobPage(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		return err
	}
	p := readQuery(r, flashKeys...)
	fl := p.flash()
	if p.err != nil {
		return p.err
	}
	ctx, cancel := h.readCtx(r)
	defer cancel()
	j, err := h.q.Inspector().Get(ctx, id)
	if err != nil {
		return err
	}
	d := &jobDetail{Job: j, PayloadSize: len(j.Payload), PayloadCut: len(j.Payload) > MaxPayloadShown,
		PayloadURL: h.url("/api/jobs/" + strconv.FormatInt(j.ID, 10) + "/payload")}
	d.Payload, d.PayloadKind = payloadView(j.Payload)
	if j.Output != nil {
		d.HasOutput, d.OutputSize, d.OutputCut = true, len(j.Output), len(j.Output) > MaxPayloadShown
		d.OutputURL = h.url("/api/jobs/" + strconv.FormatInt(j.ID, 10) + "/output")
		d.Output, d.OutputKind = payloadView(j.Output)
	}
	if j.Progress != nil {
		d.Percent = int(math.Floor(j.Progress.Fraction * 100))
	}
	for k := range j.Metadata {
		d.MetaKeys = append(d.MetaKeys, k)
	}
	slices.Sort(d.MetaKeys)
	d.Errors = attemptRows(j)
	d.Failed = len(j.Errors) + j.ErrorsDropped
	switch deps, err := h.q.Inspector().Dependencies(ctx, id); {
	case errors.Is(err, queue.ErrDependenciesUnsupported):
	case err != nil:
		return err
	case len(deps.Parents)+len(deps.Children) > 0:
		d.Deps = deps
	}
	switch j.State {
	case queue.StateDead:
		d.CanRetry, d.CanDelete = true, true
	case queue.StateScheduled:
		d.CanRunNow, d.CanCancel, d.CanDelete = true, true, true
	case queue.StatePending:
		d.CanCancel, d.CanDelete = true, true
	case queue.StateRunning:
		d.CanCancel = !j.CancelRequested
	case queue.StateCompleted, queue.StateCancelled:
		d.CanDelete = true
	}
	pg := h.newPage(w, r, "Job "+strconv.FormatInt(j.ID, 10), "jobs", d)
	if j.State == queue.StateDead {
		pg.Nav = "dead"
	}
	pg.Flash = fl.Text()
	return h.render(w, r, http.StatusOK, "job", "layout", pg)
}

// Queues.

func (h *Handler) queuesPage(w http.ResponseWriter, r *http.Request) error {
	p := readQuery(r, slices.Concat([]string{"after", "limit"}, flashKeys)...)
	after, limit := p.pageParams("after")
	fl := p.flash()
	if p.err != nil {
		return p.err
	}
	d, err := h.loadDashboard(r, after, limit)
	if err != nil {
		return err
	}
	pg := h.newPage(w, r, "Queues", "queues", d)
	pg.Flash = fl.Text()
	return h.render(w, r, http.StatusOK, "queues", "layout", pg)
}

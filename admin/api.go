package admin

import (
	"net/http"
	"time"

	"github.com/spooljobs/spool/queue"
)

// The JSON shapes of the API (documented in doc.go). They are the admin's
// own, with stable snake_case names, rather than the queue package's
// structs.

type apiQueue struct {
	Name                 string  `json:"name"`
	Pending              int     `json:"pending"`
	Scheduled            int     `json:"scheduled"`
	Blocked              int     `json:"blocked"`
	BlockedKeys          int     `json:"blocked_keys"`
	StuckKeys            int     `json:"stuck_keys"`
	Running              int     `json:"running"`
	Completed            int     `json:"completed"`
	Cancelled            int     `json:"cancelled"`
	Dead                 int     `json:"dead"`
	OldestPendingSeconds float64 `json:"oldest_pending_seconds"`
	Paused               bool    `json:"paused"`
	MaxPending           int     `json:"max_pending"`
}

type apiMinute struct {
	Minute    time.Time `json:"minute"`
	Completed int       `json:"completed"`
	Failed    int       `json:"failed"`
	Dead      int       `json:"dead"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func toAPIQueue(q queue.QueueStats) apiQueue {
	return apiQueue{Name: q.Name, Pending: q.Pending, Scheduled: q.Scheduled,
		Blocked: q.Blocked, BlockedKeys: q.BlockedKeys, StuckKeys: q.StuckKeys, Running: q.Running,
		Completed: q.Completed, Cancelled: q.Cancelled, Dead: q.Dead,
		OldestPendingSeconds: q.OldestPending.Seconds(), Paused: q.Paused, MaxPending: q.MaxPending}
}

func (h *Handler) apiStats(w http.ResponseWriter, r *http.Request) error {
	if p := readQuery(r); p.err != nil {
		return p.err
	}
	ctx, cancel := h.readCtx(r)
	defer cancel()
	st, err := h.q.Inspector().Stats(ctx)
	if err != nil {
		return err
	}
	out := struct {
		Now        time.Time   `json:"now"`
		Queues     []apiQueue  `json:"queues"`
		Throughput []apiMinute `json:"throughput"`
	}{Now: h.q.Now().UTC(), Queues: []apiQueue{}, Throughput: []apiMinute{}}
	for _, q := range st.Queues {
		out.Queues = append(out.Queues, toAPIQueue(q))
	}
	for _, m := range st.Throughput {
		out.Throughput = append(out.Throughput, apiMinute{Minute: m.Minute.UTC(), Completed: m.Completed, Failed: m.Failed, Dead: m.Dead})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) apiQueues(w http.ResponseWriter, r *http.Request) error {
	if p := readQuery(r); p.err != nil {
		return p.err
	}
	ctx, cancel := h.readCtx(r)
	defer cancel()
	st, err := h.q.Inspector().Stats(ctx)
	if err != nil {
		return err
	}
	qs := []apiQueue{}
	for _, q := range st.Queues {
		qs = append(qs, toAPIQueue(q))
	}
	writeJSON(w, http.StatusOK, map[string]any{"queues": qs})
	return nil
}

func (h *Handler) apiJobs(dead bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		keys := listKeys
		if dead {
			keys = []string{"queue", "kind", "q", "before", "limit"}
		}
		p := readQuery(r, keys...)
		lp := p.list(!dead)
		if p.err != nil {
			return p.err
		}
		ctx, cancel := h.readCtx(r)
		defer cancel()
		jobs, err := h.q.Inspector().List(ctx, lp.filter())
		if err != nil {
			return err
		}
		out := struct {
			Jobs       []queue.JobJSON `json:"jobs"`
			NextBefore int64           `json:"next_before,omitempty"`
		}{Jobs: []queue.JobJSON{}}
		if len(jobs) > lp.Limit {
			jobs = jobs[:lp.Limit]
			out.NextBefore = jobs[len(jobs)-1].ID
		}
		for _, j := range jobs {
			out.Jobs = append(out.Jobs, queue.NewJobJSON(j, false))
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

func (h *Handler) apiJob(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		return err
	}
	if p := readQuery(r); p.err != nil {
		return p.err
	}
	ctx, cancel := h.readCtx(r)
	defer cancel()
	j, err := h.q.Inspector().Get(ctx, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, queue.NewJobJSON(j, true))
	return nil
}

// apiCSRF hands API clients a CSRF token and sets its cookie.
func (h *Handler) apiCSRF(w http.ResponseWriter, r *http.Request) error {
	if p := readQuery(r); p.err != nil {
		return p.err
	}
	if h.opts.ReadOnly {
		return errForbidden("the admin is read-only (Options.ReadOnly): there are no actions to protect")
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": h.csrfToken(w, r), "header": csrfHeader, "cookie": csrfCookie})
	return nil
}

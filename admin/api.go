package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
)

// The JSON shapes of the API (documented in doc.go) are package wire's,
// the same the spool command prints with -json.

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
	writeJSON(w, http.StatusOK, wire.NewStats(h.q.Now(), st, st.Throughput))
	return nil
}

func (h *Handler) apiQueues(w http.ResponseWriter, r *http.Request) error {
	p := readQuery(r, "after", "limit")
	after, limit := p.pageParams("after")
	if p.err != nil {
		return p.err
	}
	ctx, cancel := h.readCtx(r)
	defer cancel()
	st, err := h.q.Inspector().Stats(ctx)
	if err != nil {
		return err
	}
	shown, _, next := pageByName(st.Queues, func(q queue.QueueStats) string { return q.Name }, after, limit)
	st.Queues = shown
	out := wire.NewQueues(st)
	out.NextAfter = next
	writeJSON(w, http.StatusOK, out)
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
		var next int64
		if len(jobs) > lp.Limit {
			jobs = jobs[:lp.Limit]
			next = jobs[len(jobs)-1].ID
		}
		writeJSON(w, http.StatusOK, wire.NewJobPage(jobs, next))
		return nil
	}
}

// pathJob reads the job the path's {id} names, for a request that takes
// no query parameters.
func (h *Handler) pathJob(r *http.Request) (*queue.Job, error) {
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if p := readQuery(r); p.err != nil {
		return nil, p.err
	}
	ctx, cancel := h.readCtx(r)
	defer cancel()
	return h.q.Inspector().Get(ctx, id)
}

func (h *Handler) apiJob(w http.ResponseWriter, r *http.Request) error {
	j, err := h.pathJob(r)
	if err != nil {
		return err
	}
	a := wire.NewJob(j, true)
	a.CapPayload(j.Payload, MaxPayloadShown, h.url("/api/jobs/"+strconv.FormatInt(j.ID, 10)+"/payload"))
	a.CapOutput(j.Output, MaxPayloadShown, h.url("/api/jobs/"+strconv.FormatInt(j.ID, 10)+"/output"))
	writeJSON(w, http.StatusOK, a)
	return nil
}

// apiJobPayload serves a job's whole payload as it is: application/json
// when it is valid UTF-8 JSON, else application/octet-stream, as a
// download.
func (h *Handler) apiJobPayload(w http.ResponseWriter, r *http.Request) error {
	j, err := h.pathJob(r)
	if err != nil {
		return err
	}
	servePayload(w, r, j.Payload, fmt.Sprintf("job-%d-payload", j.ID))
	return nil
}

// apiJobOutput serves a job's whole output (queue.Job.Output) as
// apiJobPayload serves its payload; a job without output is not found.
func (h *Handler) apiJobOutput(w http.ResponseWriter, r *http.Request) error {
	j, err := h.pathJob(r)
	if err != nil {
		return err
	}
	if j.Output == nil {
		return fmt.Errorf("job %d has recorded no output: %w", j.ID, queue.ErrNotFound)
	}
	servePayload(w, r, j.Output, fmt.Sprintf("job-%d-output", j.ID))
	return nil
}

// servePayload writes a payload as it is, as a download named file plus
// ".json" or ".bin": application/json when it is UTF-8 JSON, else
// application/octet-stream.
func servePayload(w http.ResponseWriter, r *http.Request, p []byte, file string) {
	ct, ext := "application/octet-stream", "bin"
	if len(p) > 0 && utf8.Valid(p) && json.Valid(p) {
		ct, ext = "application/json", "json"
	}
	hdr := w.Header()
	hdr.Set("Content-Type", ct)
	hdr.Set("Content-Length", strconv.Itoa(len(p)))
	hdr.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.%s"`, file, ext))
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(p)
	}
}

// apiCSRF hands API clients a CSRF token and sets its cookie.
func (h *Handler) apiCSRF(w http.ResponseWriter, r *http.Request) error {
	if p := readQuery(r); p.err != nil {
		return p.err
	}
	if h.opts.ReadOnly {
		return errForbidden("the admin is read-only (Options.ReadOnly): there are no actions to protect")
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": h.csrfToken(w, r), "header": csrfHeader, "cookie": h.csrfCookieName(r)})
	return nil
}

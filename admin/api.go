package admin

import (
	"net/http"

	"github.com/spooljobs/spool/internal/wire"
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
	if p := readQuery(r); p.err != nil {
		return p.err
	}
	ctx, cancel := h.readCtx(r)
	defer cancel()
	st, err := h.q.Inspector().Stats(ctx)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.NewQueues(st))
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
	writeJSON(w, http.StatusOK, wire.NewJob(j, true))
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
	writeJSON(w, http.StatusOK, map[string]string{"token": h.csrfToken(w, r), "header": csrfHeader, "cookie": h.csrfCookieName(r)})
	return nil
}

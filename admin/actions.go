package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
)

// The actions on jobs, shared by the HTML forms and the JSON API.
type action int

const (
	actRetry action = iota + 1
	actCancel
	actDelete
	actRunNow
)

// result is what an action did, as a flash notice for the pages.
type result struct {
	done  string
	n     int64
	state queue.State // the job's state after a cancel
	// skipped lists the dead jobs a bulk retry left dead: a live job holds
	// their unique key.
	skipped []queue.KeyHeldError
	// refused counts the jobs a bulk cancel or delete left as they were.
	refused int64
	// stopped says why a bulk cancel or delete stopped before the end of
	// its selection (stopBudget, stopMaxBulk, stopCancelled), and
	// remaining how many selected IDs it did not reach.
	stopped   string
	remaining int64
}

// doJob runs an action on one job.
func (h *Handler) doJob(ctx context.Context, act action, id int64) (result, error) {
	switch act {
	case actRetry:
		if err := h.q.Inspector().Retry(ctx, id); err != nil {
			if errors.Is(err, queue.ErrNotDead) {
				return result{}, fmt.Errorf("%w: only dead jobs can be retried", err)
			}
			return result{}, err
		}
		return result{done: "retried", n: 1}, nil
	case actCancel:
		st, err := h.q.Inspector().Cancel(ctx, id)
		if err != nil {
			return result{}, err
		}
		if st == queue.StateRunning {
			return result{done: "cancel-requested", n: 1, state: st}, nil
		}
		return result{done: "cancelled", n: 1, state: st}, nil
	case actDelete:
		if err := h.q.Inspector().Delete(ctx, id); err != nil {
			return result{}, err
		}
		return result{done: "deleted", n: 1}, nil
	case actRunNow:
		if err := h.q.Inspector().RunNow(ctx, id); err != nil {
			if errors.Is(err, queue.ErrNotScheduled) {
				return result{}, fmt.Errorf("%w: only a scheduled job can be run now", err)
			}
			return result{}, err
		}
		return result{done: "ran-now", n: 1}, nil
	}
	return result{}, fmt.Errorf("admin: unknown action %d", act)
}

// deadRequest selects dead jobs for a bulk action: the IDs, or with All
// every dead job matching Queue, Kind and Search.
type deadRequest struct {
	IDs    []int64 `json:"ids"`
	All    bool    `json:"all"`
	Queue  string  `json:"queue"`
	Kind   string  `json:"kind"`
	Search string  `json:"q"`
}

func (d *deadRequest) validate(act action) error {
	switch {
	case len(d.IDs) > MaxIDs:
		return errBadRequest("%d job IDs in one request; at most %d", len(d.IDs), MaxIDs)
	case len(d.IDs) > 0 && d.All:
		return errBadRequest("give either job IDs or all, not both")
	case len(d.IDs) == 0 && !d.All && act == actRetry:
		return errBadRequest("no job selected: give job IDs, or all to retry every dead job matching queue, kind and q")
	case len(d.IDs) == 0 && act == actDelete:
		return errBadRequest("no job selected: give the IDs of the dead jobs to delete")
	}
	for _, id := range d.IDs {
		if id <= 0 {
			return errBadRequest("job ID %d is not positive", id)
		}
	}
	for _, f := range []struct{ key, v string }{{"queue", d.Queue}, {"kind", d.Kind}} {
		if f.v != "" {
			if err := queue.ValidName(f.v); err != nil {
				return errBadRequest("%s: %v", f.key, err)
			}
		}
	}
	if len(d.Search) > MaxSearchLen {
		return errBadRequest("q is %d bytes long; the longest search is %d bytes", len(d.Search), MaxSearchLen)
	}
	return nil
}

// doDead runs a bulk action on dead jobs and returns how many it changed
// and, for a retry, the jobs that stayed dead because a live job holds
// their unique key.
func (h *Handler) doDead(ctx context.Context, act action, d deadRequest) (result, error) {
	if err := d.validate(act); err != nil {
		return result{}, err
	}
	switch {
	case act == actRetry && len(d.IDs) > 0:
		res, err := h.q.Inspector().RetryDead(ctx, queue.DeadFilter{IDs: d.IDs})
		return result{done: "retried", n: int64(res.Retried), skipped: res.Skipped}, err
	case act == actRetry && d.Search == "":
		res, err := h.q.Inspector().RetryDead(ctx, queue.DeadFilter{Queue: d.Queue, Kind: d.Kind, All: true})
		return result{done: "retried", n: int64(res.Retried), skipped: res.Skipped}, err
	case act == actRetry:
		return h.retryMatching(ctx, d)
	case act == actDelete:
		// Only dead jobs: a job retried meanwhile (by another operator) is
		// live again and not what was selected for deletion.
		n, err := h.q.Inspector().DeleteDead(ctx, queue.DeadFilter{IDs: d.IDs})
		return result{done: "deleted", n: int64(n)}, err
	}
	return result{}, fmt.Errorf("admin: unknown action %d", act)
}

// retryMatching retries every dead job matching a text search, which
// queue.DeadFilter cannot express: it pages through the matching dead jobs
// (each page one bounded query) and retries each page by ID.
func (h *Handler) retryMatching(ctx context.Context, d deadRequest) (result, error) {
	total := result{done: "retried"}
	var before int64
	for {
		lctx, cancel := context.WithTimeout(ctx, h.opts.QueryTimeout)
		jobs, err := h.q.Inspector().List(lctx, queue.ListFilter{State: queue.StateDead, Queue: d.Queue, Kind: d.Kind, Search: d.Search, BeforeID: before, Limit: MaxPageSize, OmitPayload: true})
		cancel()
		if err != nil || len(jobs) == 0 {
			return total, err
		}
		ids := make([]int64, len(jobs))
		for i, j := range jobs {
			ids[i] = j.ID
		}
		res, err := h.q.Inspector().RetryDead(ctx, queue.DeadFilter{IDs: ids})
		total.n += int64(res.Retried)
		total.skipped = append(total.skipped, res.Skipped...)
		if err != nil || len(jobs) < MaxPageSize {
			return total, err
		}
		before = jobs[len(jobs)-1].ID
	}
}

// HTML actions: the form's fields are the parameters; the answer is a
// redirect (303 See Other) to the page to show next, with a notice.

func (h *Handler) formParams(r *http.Request, allowed ...string) (*params, error) {
	if r.URL.RawQuery != "" {
		return nil, errBadRequest("an action takes its parameters in the form body, not the URL")
	}
	p := readParams(r.PostForm, append(allowed, csrfField)...)
	return p, p.err
}

func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, path string, v url.Values, res result) {
	if v == nil {
		v = url.Values{}
	}
	if res.done != "" {
		v.Set("done", res.done)
		v.Set("n", strconv.FormatInt(res.n, 10))
	}
	if res.refused > 0 {
		v.Set("refused", strconv.FormatInt(res.refused, 10))
	}
	if res.stopped != "" {
		v.Set("stopped", res.stopped)
		if res.remaining > 0 {
			v.Set("remaining", strconv.FormatInt(res.remaining, 10))
		}
	}
	if len(res.skipped) > 0 {
		v.Set("skipped", strconv.Itoa(len(res.skipped)))
		v.Set("held", formatHeld(res.skipped))
	}
	target := h.url(path)
	if len(v) > 0 {
		target += "?" + v.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (h *Handler) jobAction(act action) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := parseID(r.PathValue("id"))
		if err != nil {
			return err
		}
		if _, err := h.formParams(r); err != nil {
			return err
		}
		wasDead := false
		if act == actDelete {
			j, err := h.q.Inspector().Get(r.Context(), id)
			if err != nil {
				return err
			}
			wasDead = j.State == queue.StateDead
		}
		res, err := h.doJob(r.Context(), act, id)
		if err != nil {
			return err
		}
		switch {
		case act != actDelete:
			h.redirect(w, r, "/jobs/"+strconv.FormatInt(id, 10), nil, res)
		case wasDead:
			h.redirect(w, r, "/dead", nil, res)
		default:
			h.redirect(w, r, "/jobs", nil, res)
		}
		return nil
	}
}

func (h *Handler) deadAction(act action) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := h.formParams(r, "id", "ids", "all", "queue", "kind", "q", "before", "limit")
		if err != nil {
			return err
		}
		lp := p.list(false)
		d := deadRequest{IDs: p.ids("ids"), All: p.bool("all"), Queue: lp.Queue, Kind: lp.Kind, Search: lp.Search}
		if s := p.str("id"); s != "" && p.err == nil {
			// A row's own button: that job only, whatever else is ticked.
			id, err := parseID(s)
			if err != nil {
				return err
			}
			d.IDs, d.All = []int64{id}, false
		}
		if p.err != nil {
			return p.err
		}
		res, err := h.doDead(r.Context(), act, d)
		if err != nil {
			return err
		}
		back := lp.values()
		back.Del("state")
		h.redirect(w, r, "/dead", back, res)
		return nil
	}
}

func (h *Handler) queueAction(pause bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := h.formParams(r, "queue")
		if err != nil {
			return err
		}
		name := p.name("queue")
		if p.err != nil {
			return p.err
		}
		res, err := h.setPaused(r.Context(), name, pause)
		if err != nil {
			return err
		}
		h.redirect(w, r, "/queues", nil, res)
		return nil
	}
}

func (h *Handler) setPaused(ctx context.Context, name string, pause bool) (result, error) {
	if name == "" {
		return result{}, errBadRequest("parameter \"queue\" is required: the name of the queue")
	}
	if pause {
		return result{done: "paused", n: 1}, h.q.Inspector().Pause(ctx, name)
	}
	return result{done: "resumed", n: 1}, h.q.Inspector().Resume(ctx, name)
}

// API actions: JSON bodies in, JSON out.

// decodeBody decodes a JSON request body into v strictly: no unknown
// fields, one value, at most maxBody bytes. An empty body leaves v as is.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	if r.URL.RawQuery != "" {
		return errBadRequest("an action takes its parameters in a JSON body, not the URL")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return errBadRequest("cannot read the body: %v", err)
	}
	if len(body) == 0 {
		return nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return &httpError{status: http.StatusUnsupportedMediaType, msg: fmt.Sprintf("Content-Type %q: the API takes application/json", ct)}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errBadRequest("bad JSON body: %v", err)
	}
	if dec.More() {
		return errBadRequest("bad JSON body: more than one value")
	}
	return exactKeys(body, v)
}

// exactKeys refuses keys that encoding/json matched only by ignoring case
// ("ALL" for "all"), and keys given twice: both are mistakes a caller
// should hear about, not guesses to act on.
func exactKeys(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil // not an object: Decode above judged it
	}
	known := map[string]bool{}
	if t := reflect.TypeOf(v).Elem(); t.Kind() == reflect.Struct {
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			known[name] = true
		}
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return errBadRequest("bad JSON body: %v", err)
		}
		key, _ := t.(string)
		if !known[key] {
			return errBadRequest("bad JSON body: unknown field %q (field names are lower case)", key)
		}
		if seen[key] {
			return errBadRequest("bad JSON body: field %q given twice", key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return errBadRequest("bad JSON body: %v", err)
		}
	}
	return nil
}

func (h *Handler) apiJobAction(act action) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := parseID(r.PathValue("id"))
		if err != nil {
			return err
		}
		var empty struct{}
		if err := decodeBody(w, r, &empty); err != nil {
			return err
		}
		res, err := h.doJob(r.Context(), act, id)
		if err != nil {
			return err
		}
		var out any
		switch act {
		case actRetry:
			out = wire.RetryResult{ID: id, Retried: 1}
		case actDelete:
			out = wire.DeleteResult{ID: id, Deleted: 1}
		case actCancel:
			out = wire.NewCancelResult(id, res.state)
		case actRunNow:
			out = wire.RunNowResult{ID: id, Ready: true}
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

func (h *Handler) apiDeadAction(act action) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		var d deadRequest
		if err := decodeBody(w, r, &d); err != nil {
			return err
		}
		res, err := h.doDead(r.Context(), act, d)
		if err != nil {
			return err
		}
		if act == actDelete {
			writeJSON(w, http.StatusOK, wire.DeleteResult{Deleted: int(res.n)})
			return nil
		}
		writeJSON(w, http.StatusOK, wire.NewRetryResult(0, int(res.n), res.skipped))
		return nil
	}
}

func (h *Handler) apiQueueAction(pause bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			Queue string `json:"queue"`
		}
		if err := decodeBody(w, r, &body); err != nil {
			return err
		}
		if body.Queue != "" {
			if err := queue.ValidName(body.Queue); err != nil {
				return errBadRequest("queue: %v", err)
			}
		}
		if _, err := h.setPaused(r.Context(), body.Queue, pause); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, wire.PauseResult{Queue: body.Queue, Paused: pause})
		return nil
	}
}

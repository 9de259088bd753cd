package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
)

// Bulk actions on jobs that have not started (pending, scheduled,
// blocked): cancel or delete the selected IDs, or every such job matching
// the list's filter, a page at a time, at most MaxBulk per request and for
// at most Options.BulkBudget (the notice says how many, and when it
// stopped early that the rest is left: the operator repeats for more). A
// job that is no
// longer waiting when its turn comes (it started, or finished) is left as
// it is (a running one is not asked to stop: Inspector.CancelWaiting) and
// counted as refused, never dropped silently.

// MaxBulk is the most jobs one bulk action on the jobs list changes.
const MaxBulk = 10_000

// waitingStates are the states a bulk action on the jobs list selects.
var waitingStates = []queue.State{queue.StatePending, queue.StateScheduled, queue.StateBlocked}

// liveRequest selects waiting jobs: the IDs, or with All every waiting
// job matching Queue, Kind, State (one of waitingStates, or all of them)
// and Search.
type liveRequest struct {
	IDs    []int64 `json:"ids"`
	All    bool    `json:"all"`
	Queue  string  `json:"queue"`
	Kind   string  `json:"kind"`
	State  string  `json:"state"`
	Search string  `json:"q"`
}

func (l *liveRequest) validate() error {
	switch {
	case len(l.IDs) > MaxIDs:
		return errBadRequest("%d job IDs in one request; at most %d", len(l.IDs), MaxIDs)
	case len(l.IDs) > 0 && l.All:
		return errBadRequest("give either job IDs or all, not both")
	case len(l.IDs) == 0 && !l.All:
		return errBadRequest("no job selected: give job IDs, or all for every waiting job matching queue, kind, state and q")
	case l.State != "" && !slices.Contains(waitingStates, queue.State(l.State)):
		return errBadRequest("state %.40q: a bulk action takes pending, scheduled or blocked jobs", l.State)
	case len(l.Search) > MaxSearchLen:
		return errBadRequest("q is %d bytes long; the longest search is %d bytes", len(l.Search), MaxSearchLen)
	}
	for _, id := range l.IDs {
		if id <= 0 {
			return errBadRequest("job ID %d is not positive", id)
		}
	}
	for _, f := range []struct{ key, v string }{{"queue", l.Queue}, {"kind", l.Kind}} {
		if f.v != "" {
			if err := queue.ValidName(f.v); err != nil {
				return errBadRequest("%s: %v", f.key, err)
			}
		}
	}
	return nil
}

// Why a bulk action stopped before the end of its selection
// (wire.BulkResult.Stopped).
const (
	stopBudget    = "budget"
	stopMaxBulk   = "max_bulk"
	stopCancelled = "cancelled"
)

// doLive cancels or deletes the waiting jobs l selects. It stops between
// two jobs once Options.BulkBudget is spent (by the queue's clock) or ctx
// is done, and after MaxBulk jobs, and says so in the result: what it did,
// why it stopped and, for a list of IDs, how many it did not reach.
func (h *Handler) doLive(ctx context.Context, act action, l liveRequest) (result, error) {
	if err := l.validate(); err != nil {
		return result{}, err
	}
	res := result{done: "cancelled"}
	if act == actDelete {
		res.done = "deleted"
	}
	var deadline time.Time
	if h.opts.BulkBudget > 0 {
		deadline = h.q.Now().Add(h.opts.BulkBudget)
	}
	// stop says why no new job may start now ("" when one may).
	stop := func() string {
		switch {
		case ctx.Err() != nil:
			return stopCancelled
		case !deadline.IsZero() && !h.q.Now().Before(deadline):
			return stopBudget
		}
		return ""
	}
	// each runs the action on one job; false when it stopped first.
	each := func(id int64) (bool, error) {
		if why := stop(); why != "" {
			res.stopped = why
			return false, nil
		}
		err := h.liveOne(ctx, act, id)
		switch {
		case err == nil:
			res.n++
		case errors.Is(err, queue.ErrNotCancellable), errors.Is(err, queue.ErrRunning), errors.Is(err, queue.ErrNotFound):
			res.refused++
		case ctx.Err() != nil:
			// The request ended during this job: whether it changed
			// is not known here, and it is not counted.
			res.stopped = stopCancelled
			return false, nil
		default:
			return false, err
		}
		return true, nil
	}
	if !l.All {
		for i, id := range l.IDs {
			goOn, err := each(id)
			if err != nil {
				return res, err
			}
			if !goOn {
				res.remaining = int64(len(l.IDs) - i)
				return res, nil
			}
		}
		return res, nil
	}
	states := waitingStates
	if l.State != "" {
		states = []queue.State{queue.State(l.State)}
	}
	for _, st := range states {
		var before int64
		for {
			if res.n+res.refused >= MaxBulk {
				res.stopped = stopMaxBulk
				return res, nil
			}
			limit := min(MaxPageSize, MaxBulk-int(res.n+res.refused))
			lctx, cancel := context.WithTimeout(ctx, h.opts.QueryTimeout)
			jobs, err := h.q.Inspector().List(lctx, queue.ListFilter{State: st, Queue: l.Queue, Kind: l.Kind, Search: l.Search,
				BeforeID: before, Limit: limit, OmitPayload: true})
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					res.stopped = stopCancelled
					return res, nil
				}
				return res, err
			}
			for _, j := range jobs {
				goOn, err := each(j.ID)
				if err != nil || !goOn {
					return res, err
				}
			}
			if len(jobs) < limit {
				break // the last page of this state
			}
			before = jobs[len(jobs)-1].ID
		}
	}
	return res, nil
}

// liveOne cancels or deletes one job that has not started: a job that
// started meanwhile is refused (ErrNotCancellable, ErrRunning) and left
// running.
// A delete looks at the job first: one that is not waiting is refused (one
// that finishes between the look and the delete is deleted: it was
// selected for deletion while it waited).
func (h *Handler) liveOne(ctx context.Context, act action, id int64) error {
	if act != actDelete {
		return h.q.Inspector().CancelWaiting(ctx, id)
	}
	j, err := h.q.Inspector().Get(ctx, id)
	if err != nil {
		return err
	}
	if !slices.Contains(waitingStates, j.State) {
		return fmt.Errorf("job %d is %s: %w", id, j.State, queue.ErrNotCancellable)
	}
	return h.q.Inspector().Delete(ctx, id)
}

// liveAction is the jobs list's bulk form: cancel or delete the ticked
// jobs, or every waiting job the list's filter matches.
func (h *Handler) liveAction(act action) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := h.formParams(r, "ids", "all", "queue", "kind", "state", "q", "before", "limit")
		if err != nil {
			return err
		}
		lp := p.list(true)
		l := liveRequest{IDs: p.ids("ids"), All: p.bool("all"), Queue: lp.Queue, Kind: lp.Kind, State: string(lp.State), Search: lp.Search}
		if p.err != nil {
			return p.err
		}
		res, err := h.doLive(r.Context(), act, l)
		if err != nil {
			return err
		}
		h.redirect(w, r, "/jobs", lp.values(), res)
		return nil
	}
}

// apiLiveAction is liveAction for the JSON API.
func (h *Handler) apiLiveAction(act action) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		var l liveRequest
		if err := decodeBody(w, r, &l); err != nil {
			return err
		}
		res, err := h.doLive(r.Context(), act, l)
		if err != nil {
			return err
		}
		out := wire.BulkResult{Refused: int(res.refused), Incomplete: res.stopped != "", Stopped: res.stopped, Remaining: int(res.remaining)}
		if act == actDelete {
			out.Deleted = int(res.n)
		} else {
			out.Cancelled = int(res.n)
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

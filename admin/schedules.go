package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
)

// Schedules (issue 7): the periodic jobs of package schedule, with their
// next and previous runs; pause, resume and trigger now.

type schedAction int

const (
	schedPause schedAction = iota + 1
	schedResume
	schedTrigger
)

// scheduler returns the handler's scheduler, or a 501 for a store that
// keeps no schedules.
func (h *Handler) scheduler() (*schedule.Scheduler, error) {
	if h.sched == nil {
		return nil, &httpError{status: http.StatusNotImplemented,
			msg: fmt.Sprintf("the queue's store (%T) keeps no schedules: it does not implement queue.ScheduleStore", h.q.Store())}
	}
	return h.sched, nil
}

// checkScheduleName validates a schedule name from a path or form.
func checkScheduleName(name string) error {
	if name == "" {
		return errBadRequest("parameter \"name\" is required: the name of the schedule")
	}
	if err := queue.ValidName(name); err != nil {
		return errBadRequest("schedule %v", err)
	}
	return nil
}

// doSchedule runs an action on one schedule.
func (h *Handler) doSchedule(ctx context.Context, act schedAction, name string) (result, error) {
	s, err := h.scheduler()
	if err != nil {
		return result{}, err
	}
	if err := checkScheduleName(name); err != nil {
		return result{}, err
	}
	res := result{n: 1}
	switch act {
	case schedPause:
		res.done, err = "schedule-paused", s.Pause(ctx, name)
	case schedResume:
		res.done, err = "schedule-resumed", s.Resume(ctx, name)
	case schedTrigger:
		res.done, err = "triggered", s.Trigger(ctx, name)
	default:
		return result{}, fmt.Errorf("admin: unknown schedule action %d", act)
	}
	return res, err
}

type schedulesView struct {
	Schedules []schedule.Info // one page, by name
	Page      namePage
	// Own is true when the handler made its own scheduler (Options.Schedules
	// is nil): nothing is registered with it, so the registered flag says
	// nothing and the page leaves it out.
	Own bool
}

func (h *Handler) listSchedules(r *http.Request) ([]schedule.Info, error) {
	s, err := h.scheduler()
	if err != nil {
		return nil, err
	}
	ctx, cancel := h.readCtx(r)
	defer cancel()
	return s.List(ctx)
}

func (h *Handler) schedulesPage(w http.ResponseWriter, r *http.Request) error {
	p := readQuery(r, slices.Concat([]string{"after", "limit"}, flashNameKeys)...)
	after, limit := p.pageParams("after")
	fl := p.flash()
	if p.err != nil {
		return p.err
	}
	list, err := h.listSchedules(r)
	if err != nil {
		return err
	}
	shown, place, next := pageByName(list, func(s schedule.Info) string { return s.Name }, after, limit)
	place.links(after, next, func(a string) string { return h.pageURL("/schedules", nil, "after", a, limit) })
	pg := h.newPage(w, r, "Schedules", "schedules", &schedulesView{Schedules: shown, Page: place, Own: h.opts.Schedules == nil})
	pg.Flash = fl.Text()
	return h.render(w, r, http.StatusOK, "schedules", "layout", pg)
}

func (h *Handler) scheduleAction(act schedAction) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := h.formParams(r, "name")
		if err != nil {
			return err
		}
		name := p.str("name")
		if p.err != nil {
			return p.err
		}
		res, err := h.doSchedule(r.Context(), act, name)
		if err != nil {
			return err
		}
		h.redirect(w, r, "/schedules", url.Values{"name": {name}}, res)
		return nil
	}
}

// The JSON API.

func (h *Handler) apiSchedules(w http.ResponseWriter, r *http.Request) error {
	p := readQuery(r, "after", "limit")
	after, limit := p.pageParams("after")
	if p.err != nil {
		return p.err
	}
	list, err := h.listSchedules(r)
	if err != nil {
		return err
	}
	shown, _, next := pageByName(list, func(s schedule.Info) string { return s.Name }, after, limit)
	out := wire.NewSchedules(shown)
	out.NextAfter = next
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) apiScheduleAction(act schedAction) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("name")
		if err := checkScheduleName(name); err != nil {
			return err
		}
		var empty struct{}
		if err := decodeBody(w, r, &empty); err != nil {
			return err
		}
		if _, err := h.doSchedule(r.Context(), act, name); err != nil {
			return err
		}
		out := wire.ScheduleResult{Name: name}
		switch act {
		case schedPause, schedResume:
			paused := act == schedPause
			out.Paused = &paused
		case schedTrigger:
			out.TriggerRequested = true
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

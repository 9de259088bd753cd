package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

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
	if errors.Is(err, queue.ErrScheduleNotFound) {
		return result{}, errNotFound(fmt.Sprintf("no schedule %q on this database: a schedule is stored once a scheduler has registered it (schedule.Scheduler.Add)", name))
	}
	return res, err
}

type schedulesView struct {
	Schedules []schedule.Info
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
	p := readQuery(r, flashNameKeys...)
	fl := p.flash()
	if p.err != nil {
		return p.err
	}
	list, err := h.listSchedules(r)
	if err != nil {
		return err
	}
	pg := h.newPage(w, r, "Schedules", "schedules", &schedulesView{Schedules: list, Own: h.opts.Schedules == nil})
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

type apiSchedule struct {
	Name               string     `json:"name"`
	Spec               string     `json:"spec"`
	TimeZone           string     `json:"time_zone"`
	Kind               string     `json:"kind"`
	Queue              string     `json:"queue"`
	Misfire            string     `json:"misfire"`
	NextRun            *time.Time `json:"next_run"`
	PrevRun            *time.Time `json:"prev_run"`
	Paused             bool       `json:"paused"`
	TriggerRequestedAt *time.Time `json:"trigger_requested_at"`
	Registered         bool       `json:"registered"`
}

func toAPISchedule(i schedule.Info) apiSchedule {
	return apiSchedule{Name: i.Name, Spec: i.Spec, TimeZone: i.TimeZone, Kind: i.Kind, Queue: i.Queue,
		Misfire: string(i.Misfire), NextRun: timePtr(i.Next), PrevRun: timePtr(i.Prev), Paused: i.Paused,
		TriggerRequestedAt: timePtr(i.TriggerAt), Registered: i.Registered}
}

func (h *Handler) apiSchedules(w http.ResponseWriter, r *http.Request) error {
	if p := readQuery(r); p.err != nil {
		return p.err
	}
	list, err := h.listSchedules(r)
	if err != nil {
		return err
	}
	out := []apiSchedule{}
	for _, i := range list {
		out = append(out, toAPISchedule(i))
	}
	writeJSON(w, http.StatusOK, map[string]any{"schedules": out})
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
		out := map[string]any{"name": name}
		switch act {
		case schedPause:
			out["paused"] = true
		case schedResume:
			out["paused"] = false
		case schedTrigger:
			out["trigger_requested"] = true
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

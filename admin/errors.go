package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
)

// httpError is an error with the status code and message the client sees.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errBadRequest(format string, args ...any) error {
	return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func errNotFound(msg string) error { return &httpError{status: http.StatusNotFound, msg: msg} }

func errForbidden(msg string) error { return &httpError{status: http.StatusForbidden, msg: msg} }

// classify turns any error into the status and message to show: the one
// place the admin maps the queue's errors to HTTP. Errors of the queue
// that describe the request keep their text: a missing job, schedule,
// subscription, topic or batch is 404, an invalid argument or job 400, a job in the wrong
// state 409. Anything else is an internal error, logged and shown without
// details.
func (h *Handler) classify(r *http.Request, err error) (int, string) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.status, he.msg
	case errors.Is(err, queue.ErrNotFound), errors.Is(err, queue.ErrSubscriptionNotFound), errors.Is(err, queue.ErrTopicNotFound),
		errors.Is(err, queue.ErrBatchNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, queue.ErrScheduleNotFound):
		return http.StatusNotFound, err.Error() + " (a schedule is stored once a scheduler has registered it: schedule.Scheduler.Add)"
	case errors.Is(err, queue.ErrNoTopics):
		return http.StatusNotImplemented, err.Error() + ": topics need a store that implements queue.TopicStore (package sqlite's does)"
	case errors.Is(err, queue.ErrBatchesUnsupported):
		return http.StatusNotImplemented, err.Error() + ": batches need a store that implements queue.BatchStore (packages sqlite and postgres do)"
	case errors.Is(err, queue.ErrInvalidArgument), errors.Is(err, queue.ErrInvalidJob):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, queue.ErrNotDead), errors.Is(err, queue.ErrNotCancellable), errors.Is(err, queue.ErrNotScheduled), errors.Is(err, queue.ErrRunning),
		errors.Is(err, queue.ErrUniqueKeyHeld):
		return http.StatusConflict, err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, fmt.Sprintf("the query took longer than %s (Options.QueryTimeout): narrow the filter (queue, kind, state) or shorten the search", h.opts.QueryTimeout)
	case errors.Is(err, queue.ErrBusy):
		return http.StatusServiceUnavailable, "the database is busy: try again in a moment (" + err.Error() + ")"
	case errors.Is(err, queue.ErrReadOnly):
		return http.StatusForbidden, "the database is read-only: " + err.Error()
	case errors.Is(err, queue.ErrCorrupt):
		// Not a passing failure: the layout's banner says what to do, on
		// this page and the next ones.
		h.noteCorrupt(err)
		h.logger.Error("spool admin: the database file is corrupt", "method", r.Method, "path", r.URL.Path, "file", h.dbFile(), "err", err)
		return http.StatusInternalServerError, "this page cannot be read: the database file is corrupt (" + err.Error() + ")"
	case errors.Is(err, queue.ErrFileGone):
		h.logger.Error("spool admin: the database file was deleted or replaced", "method", r.Method, "path", r.URL.Path, "err", err)
		return http.StatusServiceUnavailable, err.Error()
	case errors.Is(err, queue.ErrFull):
		return http.StatusInsufficientStorage, "the disk or database is full: " + err.Error()
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return 499, "request cancelled" // the client went away; nobody reads this
	}
	h.logger.Error("spool admin: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	return http.StatusInternalServerError, "internal error; the server log has the details"
}

// fail writes err as a JSON error for the API and as an error page for
// the HTML pages.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, api bool, err error) {
	status, msg := h.classify(r, err)
	if status == 499 {
		return
	}
	if api {
		writeJSON(w, status, wire.Error{Error: msg})
		return
	}
	h.renderError(w, r, status, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

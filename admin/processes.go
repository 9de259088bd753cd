package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
)

// Processes (issue 15): the live worker pools, from their heartbeat rows
// (queue.ProcessStore), with the queues each works.

type processesView struct {
	// Tracked is false for a store that keeps no process rows.
	Tracked   bool
	Processes []processRow
	Store     string // the store's type, for the untracked note
}

type processRow struct {
	queue.ProcessInfo
	Queues []processQueueRow
	// Uptime is how long the pool has been running, at the page's now.
	Uptime time.Duration
}

type processQueueRow struct {
	queue.ProcessQueue
	JobsURL string
}

func (h *Handler) loadProcesses(r *http.Request) ([]queue.ProcessInfo, error) {
	ctx, cancel := h.readCtx(r)
	defer cancel()
	return h.q.Inspector().Processes(ctx)
}

func (h *Handler) processesPage(w http.ResponseWriter, r *http.Request) error {
	if p := readQuery(r); p.err != nil {
		return p.err
	}
	ps, err := h.loadProcesses(r)
	if err != nil {
		return err
	}
	now := h.q.Now()
	v := &processesView{Tracked: h.q.Inspector().TracksProcesses(), Store: fmt.Sprintf("%T", h.q.Store())}
	for _, p := range ps {
		row := processRow{ProcessInfo: p, Uptime: now.Sub(p.StartedAt)}
		for _, q := range p.Queues {
			row.Queues = append(row.Queues, processQueueRow{ProcessQueue: q,
				JobsURL: h.url("/jobs?queue=" + url.QueryEscape(q.Name))})
		}
		v.Processes = append(v.Processes, row)
	}
	return h.render(w, r, http.StatusOK, "processes", "layout", h.newPage(w, r, "Processes", "processes", v))
}

func (h *Handler) apiProcesses(w http.ResponseWriter, r *http.Request) error {
	if p := readQuery(r); p.err != nil {
		return p.err
	}
	ps, err := h.loadProcesses(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.NewProcesses(h.q.Now(), h.q.Inspector().TracksProcesses(), ps))
	return nil
}

package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
)

// Processes (issue 15): the live worker pools, from their heartbeat rows
// (queue.ProcessStore), with the queues each works.

type processesView struct {
	// Tracked is false for a store that keeps no process rows.
	Tracked   bool
	Processes []processRow // one page of the live pools
	Page      namePage
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

// The processes are paged like the lists by name (paging.go), in their
// order: by name, then ID (queue.SortProcesses), so that pools of one name
// on many hosts page too. A page starts after the pool named by "after"
// (its name) and "after_id" (its ID).

// procKey is a pool's place in the list: its name, then its ID (names
// hold no NUL byte in practice; one that did would only sort oddly).
func procKey(p queue.ProcessInfo) string { return p.Name + "\x00" + p.ID }

// procAfter reads the place a page of processes starts after.
func procAfter(p *params) (key string, limit int) {
	name, limit := p.pageParams("after")
	id := p.str("after_id")
	if len(id) > maxAfterLen {
		p.err = errBadRequest("parameter %q is longer than %d bytes", "after_id", maxAfterLen)
	}
	if name == "" && id == "" {
		return "", limit
	}
	return name + "\x00" + id, limit
}

// splitProcKey is procKey's name and ID.
func splitProcKey(key string) (name, id string) {
	name, id, _ = strings.Cut(key, "\x00")
	return name, id
}

// loadProcesses reads the live pools and returns one page of them (after
// key, at most limit), its place, and the key to continue after.
func (h *Handler) loadProcesses(r *http.Request, key string, limit int) ([]queue.ProcessInfo, namePage, string, error) {
	ctx, cancel := h.readCtx(r)
	defer cancel()
	ps, err := h.q.Inspector().Processes(ctx)
	if err != nil {
		return nil, namePage{}, "", err
	}
	shown, pg, next := pageByName(ps, procKey, key, limit)
	return shown, pg, next, nil
}

// processesURL is the Processes page after the pool key.
func (h *Handler) processesURL(key string, limit int) string {
	v := url.Values{}
	name, id := splitProcKey(key)
	if id != "" {
		v.Set("after_id", id)
	}
	return h.pageURL("/processes", v, "after", name, limit)
}

func (h *Handler) processesPage(w http.ResponseWriter, r *http.Request) error {
	p := readQuery(r, "after", "after_id", "limit")
	key, limit := procAfter(p)
	if p.err != nil {
		return p.err
	}
	ps, pg, next, err := h.loadProcesses(r, key, limit)
	if err != nil {
		return err
	}
	pg.links(key, next, func(k string) string { return h.processesURL(k, limit) })
	now := h.q.Now()
	v := &processesView{Tracked: h.q.Inspector().TracksProcesses(), Store: fmt.Sprintf("%T", h.q.Store()), Page: pg}
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
	p := readQuery(r, "after", "after_id", "limit")
	key, limit := procAfter(p)
	if p.err != nil {
		return p.err
	}
	ps, _, next, err := h.loadProcesses(r, key, limit)
	if err != nil {
		return err
	}
	out := wire.NewProcesses(h.q.Now(), h.q.Inspector().TracksProcesses(), ps)
	if next != "" {
		out.NextAfter, out.NextAfterID = splitProcKey(next)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

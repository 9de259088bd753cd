package admin

import (
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
)

// Batches: the newest batches with their progress.

// batchesPageSize is how many batches the page lists.
const batchesPageSize = 100

type batchRow struct {
	*queue.Batch
	// Percent is the share of members done, in whole percent.
	Percent int
	// Fired lists the callbacks whose moment came.
	Fired []firedCallback
}

// firedCallback is a callback whose moment came: Job is the job it
// enqueued, 0 when the batch has no such callback.
type firedCallback struct {
	Name string
	Job  int64
}

type batchesView struct {
	Unsupported bool
	Batches     []batchRow
	// NextURL pages to older batches; empty on the last page.
	NextURL string
}

func (h *Handler) batchesPage(w http.ResponseWriter, r *http.Request) error {
	p := readQuery(r, "before")
	before := p.int("before", 0, math.MaxInt64, 0)
	if p.err != nil {
		return p.err
	}
	ctx, cancel := h.readCtx(r)
	defer cancel()
	v := &batchesView{}
	list, err := h.q.Inspector().Batches(ctx, queue.BatchFilter{Limit: batchesPageSize, BeforeID: before})
	switch {
	case errors.Is(err, queue.ErrBatchesUnsupported):
		v.Unsupported = true
	case err != nil:
		return err
	}
	for _, b := range list {
		row := batchRow{Batch: b, Percent: 100}
		for _, c := range []struct {
			fired bool
			name  string
			job   int64
		}{{b.SuccessFired, "success", b.SuccessJob}, {b.CompleteFired, "complete", b.CompleteJob}, {b.DeathFired, "death", b.DeathJob}} {
			if c.fired {
				row.Fired = append(row.Fired, firedCallback{Name: c.name, Job: c.job})
			}
		}
		if b.Total > 0 {
			row.Percent = b.Done() * 100 / b.Total
		}
		v.Batches = append(v.Batches, row)
	}
	if len(list) == batchesPageSize {
		v.NextURL = h.url("/batches?before=" + strconv.FormatInt(list[len(list)-1].ID, 10))
	}
	return h.render(w, r, http.StatusOK, "batches", "layout", h.newPage(w, r, "Batches", "batches", v))
}

// apiBatches lists batches newest first, a page at a time: before (an id:
// batches older than it) and limit (1 to MaxPageSize, default
// DefaultPageSize).
func (h *Handler) apiBatches(w http.ResponseWriter, r *http.Request) error {
	p := readQuery(r, "before", "limit")
	before := p.int("before", 0, math.MaxInt64, 0)
	limit := int(p.int("limit", 1, MaxPageSize, DefaultPageSize))
	if p.err != nil {
		return p.err
	}
	ctx, cancel := h.readCtx(r)
	defer cancel()
	list, err := h.q.Inspector().Batches(ctx, queue.BatchFilter{Limit: limit, BeforeID: before})
	if err != nil {
		return err
	}
	out := wire.Batches{Batches: make([]wire.Batch, len(list))}
	for i, b := range list {
		out.Batches[i] = wire.NewBatch(b)
	}
	if len(list) == limit {
		out.NextBefore = list[len(list)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// apiBatch shows one batch.
func (h *Handler) apiBatch(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		return err
	}
	if p := readQuery(r); p.err != nil {
		return p.err
	}
	ctx, cancel := h.readCtx(r)
	defer cancel()
	b, err := h.q.Inspector().Batch(ctx, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.NewBatch(b))
	return nil
}

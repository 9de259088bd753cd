package admin

import (
	"errors"
	"math"
	"net/http"
	"strconv"

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

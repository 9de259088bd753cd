package admin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/queue"
)

// The batches page lists batches newest first with their progress,
// counts, and links to the callback jobs they enqueued.
func TestBatchesPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	require.Contains(t, e.getOK("/batches"), "No batches yet.")
	ctx := context.Background()
	id, _, err := e.q.EnqueueBatch(ctx, queue.BatchSpec{Description: "nightly <sync>",
		OnComplete: &queue.NewJob{Kind: "sync.report", Queue: "cb"}, OnDeath: &queue.NewJob{Kind: "sync.alert", Queue: "cb"}},
		[]queue.NewJob{{Kind: "sync.sku", Queue: "sync"}, {Kind: "sync.sku", Queue: "sync"}, {Kind: "sync.sku", Queue: "sync"}})
	require.NoError(t, err)
	now := e.clock.Now()
	l, err := e.store.Lease(ctx, queue.LeaseParams{Queue: "sync", Limit: 2, Now: now, Until: now.Add(time.Minute), Worker: "w"})
	require.NoError(t, err)
	require.Len(t, l.Jobs, 2)
	e.settle(l.Jobs[0], queue.OutcomeComplete, "", "")
	e.settle(l.Jobs[1], queue.OutcomeDead, "bad sku", "")
	open, _, err := e.q.EnqueueBatch(ctx, queue.BatchSpec{Open: true}, nil)
	require.NoError(t, err)
	b, err := e.q.Inspector().Batch(ctx, id)
	require.NoError(t, err)

	body := e.getOK("/batches")
	require.Contains(t, body, `<a href="/batches" class="active">Batches</a>`)
	require.Contains(t, body, fmt.Sprintf(`<tr id="batch-%d">
      <td data-label="Batch"><span class="mono">%d</span> <span class="muted">nightly &lt;sync&gt;</span></td>
      <td class="job-progress" data-label="Progress"><progress max="100" value="66" aria-label="Batch %d progress">66%%</progress> 2 of 3 done</td>`, id, id, id))
	require.Contains(t, body, `<span class="badge state-dead">1</span>`)
	require.Contains(t, body, fmt.Sprintf(`<a href="/jobs/%d">death</a>`, b.DeathJob))
	require.NotContains(t, body, ">complete<")
	openAt, idAt := strings.Index(body, fmt.Sprintf(`id="batch-%d"`, open)), strings.Index(body, fmt.Sprintf(`id="batch-%d"`, id))
	require.True(t, openAt > 0 && openAt < idAt, "newest first")
	require.Equal(t, 400, e.get("/batches?before=x").Code)
}

// The batches API pages batches newest first with their counts and the
// callback jobs that fired, shows one batch, and names a missing one.
func TestBatchesAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	ctx := context.Background()
	type batch struct {
		ID          int64      `json:"id"`
		Description string     `json:"description"`
		ClosedAt    *time.Time `json:"closed_at"`
		Total       int        `json:"total"`
		Done        int        `json:"done"`
		Succeeded   int        `json:"succeeded"`
		Dead        int        `json:"dead"`
		Cancelled   int        `json:"cancelled"`
		SuccessJob  *int64     `json:"success_job"`
		CompleteJob *int64     `json:"complete_job"`
		DeathJob    *int64     `json:"death_job"`
	}
	type page struct {
		Batches    []batch `json:"batches"`
		NextBefore int64   `json:"next_before"`
	}
	require.Empty(t, decode[page](t, e.get("/api/batches")).Batches)

	id, _, err := e.q.EnqueueBatch(ctx, queue.BatchSpec{Description: "nightly <sync>",
		OnComplete: &queue.NewJob{Kind: "sync.report", Queue: "cb"}, OnDeath: &queue.NewJob{Kind: "sync.alert", Queue: "cb"}},
		[]queue.NewJob{{Kind: "sync.sku", Queue: "sync"}, {Kind: "sync.sku", Queue: "sync"}})
	require.NoError(t, err)
	now := e.clock.Now()
	l, err := e.store.Lease(ctx, queue.LeaseParams{Queue: "sync", Limit: 2, Now: now, Until: now.Add(time.Minute), Worker: "w"})
	require.NoError(t, err)
	require.Len(t, l.Jobs, 2)
	e.settle(l.Jobs[0], queue.OutcomeComplete, "", "")
	e.settle(l.Jobs[1], queue.OutcomeDead, "bad sku", "")
	open, _, err := e.q.EnqueueBatch(ctx, queue.BatchSpec{Open: true}, []queue.NewJob{{Kind: "sync.sku", Queue: "sync"}})
	require.NoError(t, err)
	b, err := e.q.Inspector().Batch(ctx, id)
	require.NoError(t, err)
	require.NotZero(t, b.CompleteJob)
	require.NotZero(t, b.DeathJob)

	p := decode[page](t, e.get("/api/batches?limit=1"))
	require.Len(t, p.Batches, 1)
	require.Equal(t, open, p.Batches[0].ID, "newest first")
	require.Nil(t, p.Batches[0].ClosedAt, "an open batch has no closed_at")
	require.Equal(t, 1, p.Batches[0].Total)
	require.Equal(t, 0, p.Batches[0].Done)
	require.Equal(t, open, p.NextBefore)

	p = decode[page](t, e.get(fmt.Sprintf("/api/batches?limit=1&before=%d", p.NextBefore)))
	require.Len(t, p.Batches, 1)
	got := p.Batches[0]
	require.Equal(t, id, got.ID)
	require.Equal(t, "nightly <sync>", got.Description)
	require.NotNil(t, got.ClosedAt)
	require.Equal(t, []int{2, 2, 1, 1, 0}, []int{got.Total, got.Done, got.Succeeded, got.Dead, got.Cancelled})
	require.Nil(t, got.SuccessJob, "a batch with a death never succeeds")
	require.Equal(t, b.CompleteJob, *got.CompleteJob)
	require.Equal(t, b.DeathJob, *got.DeathJob)

	require.Equal(t, got, decode[batch](t, e.get(fmt.Sprintf("/api/batches/%d", id))))
	w := e.get("/api/batches/999999")
	require.Equal(t, 404, w.Code)
	require.Contains(t, w.Body.String(), "batch not found")
	for _, bad := range []string{"/api/batches?limit=0", "/api/batches?limit=501", "/api/batches?before=-1", "/api/batches?nope=1", "/api/batches/x"} {
		require.Equal(t, 400, e.get(bad).Code, bad)
	}
}

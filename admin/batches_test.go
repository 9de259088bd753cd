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

package main

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// batches lists batches with their progress and callbacks; with an ID it
// shows one; -json has the counts; an unknown ID exits 3.
func TestCLIBatches(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id, _, err := f.q.EnqueueBatch(ctx, queue.BatchSpec{Description: "nightly sync",
		OnComplete: &queue.NewJob{Kind: "sync.report", Queue: "cb"},
		OnDeath:    &queue.NewJob{Kind: "sync.alert", Queue: "cb"}},
		[]queue.NewJob{{Kind: "sync.sku", Queue: "sync"}, {Kind: "sync.sku", Queue: "sync"}, {Kind: "sync.sku", Queue: "sync"}})
	require.NoError(t, err)
	now := time.Now()
	l, err := f.store.Lease(ctx, queue.LeaseParams{Queue: "sync", Limit: 2, Now: now, Until: now.Add(time.Minute), Worker: "t"})
	require.NoError(t, err)
	require.Len(t, l.Jobs, 2)
	errs, err := f.store.Settle(ctx, nil, []queue.Settlement{
		{JobID: l.Jobs[0].ID, Token: l.Jobs[0].LeaseToken, Queue: "sync", Outcome: queue.OutcomeComplete, Now: now},
		{JobID: l.Jobs[1].ID, Token: l.Jobs[1].LeaseToken, Queue: "sync", Outcome: queue.OutcomeDead, Reason: "test", Now: now}})
	require.NoError(t, err)
	require.Equal(t, []error{nil, nil}, errs)
	open, _, err := f.q.EnqueueBatch(ctx, queue.BatchSpec{Open: true}, nil)
	require.NoError(t, err)

	r := ok(t, "batches", "-db", f.path)
	require.Regexp(t, `BATCH +DONE +SUCCEEDED +DEAD +CANCELLED +OPEN +CALLBACKS +DESCRIPTION\n`+
		strconv.FormatInt(open, 10)+` +0/0 +0 +0 +0 +yes +- +-\n`+
		strconv.FormatInt(id, 10)+` +2/3 +1 +1 +0 +no +death \(job \d+\) +nightly sync\n`, r.stdout)

	r = ok(t, "batches", "-db", f.path, strconv.FormatInt(id, 10))
	require.Regexp(t, `Progress: +2 of 3 done: 1 succeeded, 1 dead, 0 cancelled\n`, r.stdout)
	require.Regexp(t, `Callbacks: +death \(job \d+\)\n`, r.stdout)

	var j struct {
		Total, Done, Dead int
		DeathJob          *int64 `json:"death_job"`
		CompleteJob       *int64 `json:"complete_job"`
	}
	okJSON(t, &j, "batches", "-db", f.path, strconv.FormatInt(id, 10))
	require.Equal(t, 3, j.Total)
	require.Equal(t, 2, j.Done)
	require.NotNil(t, j.DeathJob)
	require.Nil(t, j.CompleteJob)

	fails(t, 3, "no batch 999999", "batches", "-db", f.path, "999999")
}

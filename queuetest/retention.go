package queuetest

import (
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// retentionArea: Prune's retention rules per queue and kind, and the
// retention of dead jobs.
var retentionArea = area{"Retention", []testCase{
	{"RulesPerQueueAndKind", testRetentionRules},
	{"DeadJobsPerRuleKeptByDefault", testRetentionDead},
	{"LimitPerStateWhateverTheRules", testRetentionLimit},
}}

// finish enqueues a job of kind in queue name (which has no other ready
// job) and ends it in state st: completed (kept), cancelled or dead.
func (e *env) finish(name, kind string, st queue.State) int64 {
	e.t.Helper()
	id := e.enqueue(queue.NewJob{Kind: kind, Queue: name})
	if st == queue.StateCancelled {
		require.Equal(e.t, queue.StateCancelled, e.cancel(id))
		return id
	}
	j := e.leaseOne(name)
	require.Equal(e.t, id, j.ID)
	if st == queue.StateDead {
		e.kill(j)
		return id
	}
	s := settlement(j, queue.OutcomeComplete)
	s.Keep = true
	require.NoError(e.t, e.settle(s)[0])
	return id
}

// A job follows the first rule that matches it, else the default
// cut-offs; a rule's zero cut-off keeps its jobs.
func testRetentionRules(e *env) {
	type job struct {
		name, kind string
		st         queue.State
	}
	jobs := []job{
		{"default", "plain", queue.StateCompleted},   // default: 1h
		{"default", "plain", queue.StateCancelled},   // default: 1h
		{"default", "invoice", queue.StateCompleted}, // kind rule: 30 days
		{"audit", "invoice", queue.StateCompleted},   // first rule (kind in queue): forever
		{"audit", "plain", queue.StateCompleted},     // queue rule: forever
		{"audit", "plain", queue.StateCancelled},     // queue rule: 10 minutes
		{"mail", "invoice", queue.StateCancelled},    // kind rule: forever (zero)
	}
	ids := make([]int64, len(jobs))
	for i, j := range jobs {
		ids[i] = e.finish(j.name, j.kind, j.st)
	}
	e.clock.Advance(2 * time.Hour)
	now := e.clock.Now()
	p := queue.PruneParams{
		CompletedBefore: now.Add(-time.Hour), CancelledBefore: now.Add(-time.Hour),
		Rules: []queue.PruneRule{
			{Queue: "audit", Kind: "invoice"},
			{Kind: "invoice", CompletedBefore: now.Add(-30 * 24 * time.Hour)},
			{Queue: "audit", CancelledBefore: now.Add(-10 * time.Minute)},
		},
		Limit: 10,
	}
	n, err := e.store.Prune(e.ctx, p)
	require.NoError(e.t, err)
	require.Equal(e.t, 3, n)
	for i, want := range []queue.State{"", "", queue.StateCompleted, queue.StateCompleted, queue.StateCompleted, "", queue.StateCancelled} {
		require.Equal(e.t, want, e.state(ids[i]), "job %d: %+v", i, jobs[i])
	}

	// Thirty days on, the invoice of the default queue goes; the others stay.
	e.clock.Advance(30 * 24 * time.Hour)
	now = e.clock.Now()
	p.CompletedBefore, p.CancelledBefore = now.Add(-time.Hour), now.Add(-time.Hour)
	p.Rules[1].CompletedBefore = now.Add(-30 * 24 * time.Hour)
	p.Rules[2].CancelledBefore = now.Add(-10 * time.Minute)
	n, err = e.store.Prune(e.ctx, p)
	require.NoError(e.t, err)
	require.Equal(e.t, 1, n)
	require.Equal(e.t, queue.State(""), e.state(ids[2]))
	for _, i := range []int{3, 4, 6} {
		require.NotEqual(e.t, queue.State(""), e.state(ids[i]), "job %d is kept", i)
	}

	// Without rules, the default cut-offs take every job.
	n, err = e.store.Prune(e.ctx, queue.PruneParams{CompletedBefore: now, CancelledBefore: now, Limit: 2})
	require.NoError(e.t, err)
	require.Equal(e.t, 2+1, n, "at most Limit per state")
}

// Dead jobs are pruned only where a cut-off says so: by a rule, or by
// DeadBefore for the jobs no rule matches.
func testRetentionDead(e *env) {
	imports := e.finish("imports", "csv", queue.StateDead)
	other := e.finish("other", "csv", queue.StateDead)
	e.clock.Advance(48 * time.Hour)
	now := e.clock.Now()
	p := queue.PruneParams{Rules: []queue.PruneRule{{Queue: "imports", DeadBefore: now.Add(-24 * time.Hour)}}, Limit: 10}
	n, err := e.store.Prune(e.ctx, p)
	require.NoError(e.t, err)
	require.Equal(e.t, 1, n)
	require.Equal(e.t, queue.State(""), e.state(imports))
	require.Equal(e.t, queue.StateDead, e.state(other), "no DeadBefore: kept")
	p.DeadBefore = now.Add(-72 * time.Hour)
	n, err = e.store.Prune(e.ctx, p)
	require.NoError(e.t, err)
	require.Zero(e.t, n, "died 48h ago, kept for 72h")
	p.DeadBefore = now.Add(-24 * time.Hour)
	n, err = e.store.Prune(e.ctx, p)
	require.NoError(e.t, err)
	require.Equal(e.t, 1, n)
	require.Equal(e.t, queue.State(""), e.state(other))
}

// One call removes at most Limit jobs of a state, however many rules the
// jobs follow: the rules share the state's one walk of its index, so a
// call's work stays bounded by Limit, not by Limit times the rules.
func testRetentionLimit(e *env) {
	for _, name := range []string{"a", "b", "c"} {
		e.finish(name, "k", queue.StateCompleted)
		e.finish(name, "k", queue.StateDead)
	}
	e.clock.Advance(2 * time.Hour)
	now := e.clock.Now()
	p := queue.PruneParams{CompletedBefore: now.Add(-time.Hour), DeadBefore: now.Add(-time.Hour), Limit: 1,
		Rules: []queue.PruneRule{
			{Queue: "a", CompletedBefore: now.Add(-time.Minute), DeadBefore: now.Add(-time.Minute)},
			{Queue: "b", CompletedBefore: now.Add(-90 * time.Minute), DeadBefore: now.Add(-90 * time.Minute)},
		}}
	for round, want := range []int{2, 2, 2, 0} {
		n, err := e.store.Prune(e.ctx, p)
		require.NoError(e.t, err)
		require.Equal(e.t, want, n, "round %d: one completed and one dead job a call", round)
	}
}

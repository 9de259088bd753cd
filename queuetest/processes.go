package queuetest

import (
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// processArea: queue.ProcessStore, the worker pools' heartbeat rows, and
// what Inspector.Stats makes of them.
var processArea = area{"Processes", []testCase{
	{"RecordedRowReadsBack", testProcessRoundTrip},
	{"RecordReplacesTheRowOfItsID", testProcessReplace},
	{"StaleRowsAreIgnored", testProcessStale},
	{"RemoveDeletes", testProcessRemove},
	{"PruneDeletesOnlyStaleRows", testProcessPrune},
	{"OrderedByName", testProcessOrder},
	{"BadArgumentsRefused", testProcessInvalid},
	{"StatsShowServedQueuesAndFlagUnserved", testProcessStats},
}}

// processTTL is how long a case's rows stay live after their heartbeat.
const processTTL = 30 * time.Second

// processStore returns the store as a ProcessStore, skipping the case when
// the backend keeps no process rows.
func (e *env) processStore() queue.ProcessStore {
	ps, ok := e.store.(queue.ProcessStore)
	if !ok {
		e.t.Skip("backend does not implement queue.ProcessStore: processes untested")
	}
	return ps
}

// process returns a row for id seen at the clock's now, working qs.
func (e *env) process(id, name string, qs ...queue.ProcessQueue) queue.ProcessInfo {
	now := e.clock.Now()
	return queue.ProcessInfo{ID: id, Name: name, Host: "host-1", PID: 4242, Version: "v1.2.3",
		StartedAt: t0.Add(-time.Hour), LastSeen: now, ExpiresAt: now.Add(processTTL), Queues: qs}
}

// record records p.
func (e *env) record(p queue.ProcessInfo) {
	e.t.Helper()
	require.NoError(e.t, e.processStore().RecordProcess(e.ctx, p))
}

// processes returns the live rows at the clock's now, their times in UTC
// for comparison.
func (e *env) processes() []queue.ProcessInfo {
	e.t.Helper()
	ps, err := e.processStore().Processes(e.ctx, e.clock.Now())
	require.NoError(e.t, err)
	for i := range ps {
		ps[i].StartedAt, ps[i].LastSeen, ps[i].ExpiresAt = ps[i].StartedAt.UTC(), ps[i].LastSeen.UTC(), ps[i].ExpiresAt.UTC()
	}
	return ps
}

func testProcessRoundTrip(e *env) {
	require.Empty(e.t, e.processes())
	p := e.process("id-1", "web-1:77",
		queue.ProcessQueue{Name: "default", Concurrency: 10, Running: 3},
		queue.ProcessQueue{Name: "mail", Concurrency: 2})
	e.record(p)
	require.Equal(e.t, []queue.ProcessInfo{p}, e.processes(), "every field reads back, times to the microsecond")
}

func testProcessReplace(e *env) {
	e.record(e.process("id-1", "w", queue.ProcessQueue{Name: "a", Concurrency: 1}))
	e.clock.Advance(10 * time.Second)
	next := e.process("id-1", "w", queue.ProcessQueue{Name: "a", Concurrency: 1, Running: 1})
	e.record(next)
	require.Equal(e.t, []queue.ProcessInfo{next}, e.processes(), "a heartbeat replaces the row: one row per ID")
}

func testProcessStale(e *env) {
	e.record(e.process("id-1", "w"))
	e.clock.Advance(processTTL)
	require.Len(e.t, e.processes(), 1, "live up to its ExpiresAt")
	e.clock.Advance(time.Millisecond)
	require.Empty(e.t, e.processes(), "stale after it: ignored")
}

func testProcessRemove(e *env) {
	ps := e.processStore()
	e.record(e.process("id-1", "w"))
	e.record(e.process("id-2", "x"))
	require.NoError(e.t, ps.RemoveProcess(e.ctx, "id-1"))
	got := e.processes()
	require.Len(e.t, got, 1)
	require.Equal(e.t, "id-2", got[0].ID)
	require.NoError(e.t, ps.RemoveProcess(e.ctx, "nobody"), "removing an unknown row is no error")
}

func testProcessPrune(e *env) {
	ps := e.processStore()
	e.record(e.process("old", "a"))
	e.clock.Advance(processTTL + time.Second)
	e.record(e.process("new", "b"))
	n, err := ps.PruneProcesses(e.ctx, e.clock.Now())
	require.NoError(e.t, err)
	require.Equal(e.t, 1, n, "only the stale row")
	// Rewind: the pruned row is gone, not merely ignored.
	e.clock.Set(t0)
	got := e.processes()
	require.Len(e.t, got, 1)
	require.Equal(e.t, "new", got[0].ID)
	n, err = ps.PruneProcesses(e.ctx, e.clock.Now())
	require.NoError(e.t, err)
	require.Zero(e.t, n)
}

func testProcessOrder(e *env) {
	e.record(e.process("3", "b"))
	e.record(e.process("2", "a"))
	e.record(e.process("1", "b"))
	var ids []string
	for _, p := range e.processes() {
		ids = append(ids, p.ID)
	}
	require.Equal(e.t, []string{"2", "1", "3"}, ids, "by name, then ID")
}

func testProcessInvalid(e *env) {
	ps := e.processStore()
	ok := e.process("id", "w")
	for _, bad := range []func(p *queue.ProcessInfo){
		func(p *queue.ProcessInfo) { p.ID = "" },
		func(p *queue.ProcessInfo) { p.Name = "" },
		func(p *queue.ProcessInfo) { p.ExpiresAt = p.LastSeen.Add(-time.Second) },
		func(p *queue.ProcessInfo) { p.Queues = []queue.ProcessQueue{{Name: "bad name"}} },
	} {
		p := ok
		bad(&p)
		require.ErrorIs(e.t, ps.RecordProcess(e.ctx, p), queue.ErrInvalidArgument, "%+v", p)
	}
	require.Empty(e.t, e.processes(), "nothing was recorded")
}

// Inspector.Stats lists the queues live pools work, idle ones too, with
// their concurrency summed over the pools, and flags a queue with pending
// jobs that no live pool works; a stale pool counts for nothing.
func testProcessStats(e *env) {
	e.processStore()
	e.enqueue(queue.NewJob{Kind: "k", Queue: "typo"})
	e.enqueue(queue.NewJob{Kind: "k", Queue: "mail"})
	e.record(e.process("a", "a", queue.ProcessQueue{Name: "mail", Concurrency: 5}, queue.ProcessQueue{Name: "idle", Concurrency: 2}))
	e.record(e.process("b", "b", queue.ProcessQueue{Name: "mail", Concurrency: 3}))
	stale := e.process("c", "c", queue.ProcessQueue{Name: "typo", Concurrency: 1})
	stale.LastSeen, stale.ExpiresAt = t0.Add(-time.Hour), t0.Add(-time.Minute)
	e.record(stale)

	st, err := e.q.Inspector().Stats(e.ctx)
	require.NoError(e.t, err)
	require.True(e.t, st.ProcessesTracked)
	require.Equal(e.t, 2, st.Processes)
	byName := map[string]queue.QueueStats{}
	var names []string
	for _, q := range st.Queues {
		byName[q.Name] = q
		names = append(names, q.Name)
	}
	require.Equal(e.t, []string{"idle", "mail", "typo"}, names, "an idle queue a pool works is listed")
	require.Equal(e.t, queue.QueueStats{Name: "idle", Workers: 1, Concurrency: 2}, byName["idle"])
	require.Equal(e.t, 2, byName["mail"].Workers)
	require.Equal(e.t, 8, byName["mail"].Concurrency, "summed across pools")
	require.False(e.t, byName["mail"].Unserved)
	require.True(e.t, byName["typo"].Unserved, "pending, and only a stale pool works it")
	require.Zero(e.t, byName["typo"].Concurrency)
}

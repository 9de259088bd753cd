package queuetest

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// txArea: nil and caller transactions.
var txArea = area{"Tx", []testCase{
	{"EnqueueFollowsCallerTx", testEnqueueTx},
	{"MarkProcessedFollowsCallerTx", testMarkProcessed},
	{"WritesFollowCallerTxNilCommitsAtOnce", testWritesFollowCallerTx},
	{"ForeignTxRefused", testForeignTxRefused},
	{"ListTxSeesUncommittedJobs", testListTx},
}}

func testEnqueueTx(e *env) {
	if e.db == nil {
		e.t.Skip("backend gives no DB handle")
	}
	tx, err := e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	rolled, err := e.q.EnqueueTx(e.ctx, tx, queue.NewJob{Kind: "outbox"})
	require.NoError(e.t, err)
	require.NoError(e.t, tx.Rollback())
	_, err = e.store.Get(e.ctx, rolled.ID)
	require.ErrorIs(e.t, err, queue.ErrNotFound, "a rolled-back enqueue leaves no job")

	tx, err = e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	res, err := e.q.EnqueueManyTx(e.ctx, tx, []queue.NewJob{{Kind: "outbox"}, {Kind: "outbox"}})
	require.NoError(e.t, err)
	require.NoError(e.t, tx.Commit())
	for _, r := range res {
		require.Equal(e.t, queue.StatePending, e.get(r.ID).State)
	}
}

func testMarkProcessed(e *env) {
	tx, err := e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	first, err := e.store.MarkProcessed(e.ctx, tx, "payment:order-1", e.clock.Now())
	require.NoError(e.t, err)
	require.True(e.t, first)
	require.NoError(e.t, tx.Rollback())

	for _, want := range []bool{true, false} {
		tx, err = e.db.BeginTx(e.ctx, nil)
		require.NoError(e.t, err)
		first, err = e.store.MarkProcessed(e.ctx, tx, "payment:order-1", e.clock.Now())
		require.NoError(e.t, err)
		require.Equal(e.t, want, first, "a rolled-back mark does not count; a committed one does")
		require.NoError(e.t, tx.Commit())
	}

	e.clock.Advance(time.Hour)
	_, err = e.store.Prune(e.ctx, queue.PruneParams{ProcessedBefore: e.clock.Now()})
	require.NoError(e.t, err)
	tx, err = e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	defer tx.Rollback()
	first, err = e.store.MarkProcessed(e.ctx, tx, "payment:order-1", e.clock.Now())
	require.NoError(e.t, err)
	require.True(e.t, first, "pruned after its retention")
}

// txWrite is one of the store's writes, for the transaction cases: setup
// makes a job for it to act on (its ID), do writes in tx (nil: the store's
// own transaction), and done reports whether the write took effect.
type txWrite struct {
	name  string
	setup func(e *env) int64
	do    func(e *env, tx *sql.Tx, id int64) error
	done  func(e *env, id int64) bool
}

// txWrites are the Store writes that take a *sql.Tx, besides Enqueue and
// MarkProcessed (their own cases).
var txWrites = []txWrite{
	{"Cancel",
		func(e *env) int64 { return e.enqueue(queue.NewJob{Kind: "k"}) },
		func(e *env, tx *sql.Tx, id int64) error {
			_, err := e.store.Cancel(e.ctx, tx, id, e.clock.Now())
			return err
		},
		func(e *env, id int64) bool { return e.state(id) == queue.StateCancelled }},
	{"Delete",
		func(e *env) int64 { return e.enqueue(queue.NewJob{Kind: "k"}) },
		func(e *env, tx *sql.Tx, id int64) error { return e.store.Delete(e.ctx, tx, id, e.clock.Now()) },
		func(e *env, id int64) bool { return e.state(id) == "" }},
	{"Settle",
		func(e *env) int64 {
			id := e.enqueue(queue.NewJob{Kind: "k", Queue: "settle"})
			require.Equal(e.t, id, e.leaseOne("settle").ID)
			return id
		},
		func(e *env, tx *sql.Tx, id int64) error {
			s := settlement(e.get(id), queue.OutcomeComplete)
			s.Keep, s.Now = true, e.clock.Now()
			errs, err := e.store.Settle(e.ctx, tx, []queue.Settlement{s})
			if err != nil {
				return err
			}
			return errs[0]
		},
		func(e *env, id int64) bool { return e.state(id) == queue.StateCompleted }},
	{"RetryDead",
		func(e *env) int64 { return e.deadIn(fmt.Sprint("retry-", e.unique())) },
		func(e *env, tx *sql.Tx, id int64) error {
			_, err := e.store.RetryDead(e.ctx, tx, queue.DeadFilter{IDs: []int64{id}}, e.clock.Now())
			return err
		},
		func(e *env, id int64) bool { return e.state(id) == queue.StatePending }},
	{"DeleteDead",
		func(e *env) int64 { return e.deadIn(fmt.Sprint("delete-", e.unique())) },
		func(e *env, tx *sql.Tx, id int64) error {
			_, err := e.store.DeleteDead(e.ctx, tx, queue.DeadFilter{IDs: []int64{id}}, e.clock.Now())
			return err
		},
		func(e *env, id int64) bool { return e.state(id) == "" }},
	{"SetPaused",
		func(e *env) int64 { return e.enqueue(queue.NewJob{Kind: "k"}) },
		func(e *env, tx *sql.Tx, id int64) error {
			return e.store.SetPaused(e.ctx, tx, fmt.Sprint("p", id), true, e.clock.Now())
		},
		func(e *env, id int64) bool { return e.queueStats(fmt.Sprint("p", id)).Paused }},
	{"SetQueueSettings",
		func(e *env) int64 { return e.enqueue(queue.NewJob{Kind: "k"}) },
		func(e *env, tx *sql.Tx, id int64) error {
			return e.store.SetQueueSettings(e.ctx, tx, queue.DefaultQueue, queue.QueueSettings{MaxPending: int(id) + 100}, e.clock.Now())
		},
		func(e *env, id int64) bool { return e.queueStats(queue.DefaultQueue).MaxPending == int(id)+100 }},
}

// Every write with a caller's transaction follows it: a rollback leaves no
// trace, a commit applies it. With a nil transaction the write commits at
// once.
func testWritesFollowCallerTx(e *env) {
	if e.db == nil {
		e.t.Skip("backend gives no DB handle")
	}
	for _, w := range txWrites {
		id := w.setup(e)
		tx, err := e.db.BeginTx(e.ctx, nil)
		require.NoError(e.t, err)
		require.NoError(e.t, w.do(e, tx, id), w.name)
		require.NoError(e.t, tx.Rollback())
		require.False(e.t, w.done(e, id), "%s in a rolled-back transaction took effect", w.name)

		tx, err = e.db.BeginTx(e.ctx, nil)
		require.NoError(e.t, err)
		require.NoError(e.t, w.do(e, tx, id), w.name)
		require.NoError(e.t, tx.Commit())
		require.True(e.t, w.done(e, id), "%s in a committed transaction", w.name)

		id = w.setup(e)
		require.NoError(e.t, w.do(e, nil, id), w.name)
		require.True(e.t, w.done(e, id), "%s with a nil transaction", w.name)
	}
}

// A transaction of another database is refused with queue.ErrForeignTx by
// every write, and nothing is written.
func testForeignTxRefused(e *env) {
	other := e.open(e.t)
	e.t.Cleanup(func() { other.Store.Close() })
	if e.db == nil || other.DB == nil {
		e.t.Skip("backend gives no DB handle")
	}
	tx, err := other.DB.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	defer tx.Rollback()
	_, err = e.q.EnqueueTx(e.ctx, tx, queue.NewJob{Kind: "k"})
	require.ErrorIs(e.t, err, queue.ErrForeignTx, "Enqueue")
	_, err = e.store.MarkProcessed(e.ctx, tx, "key", e.clock.Now())
	require.ErrorIs(e.t, err, queue.ErrForeignTx, "MarkProcessed")
	for _, w := range txWrites {
		id := w.setup(e)
		require.ErrorIs(e.t, w.do(e, tx, id), queue.ErrForeignTx, w.name)
		require.False(e.t, w.done(e, id), w.name)
	}
	require.NoError(e.t, tx.Rollback())
	list, err := other.Store.List(e.ctx, queue.ListFilter{})
	require.NoError(e.t, err)
	require.Empty(e.t, list, "nothing landed in the other database")
}

// testListTx: ListTx lists the jobs a caller's transaction enqueued before
// it commits, with the committed ones and filters as List, and refuses a
// foreign transaction leaving it usable.
func testListTx(e *env) {
	if e.db == nil {
		e.t.Skip("backend gives no DB handle")
	}
	in := e.q.Inspector()
	before := e.enqueue(queue.NewJob{Kind: "committed"})
	tx, err := e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	defer tx.Rollback()
	res, err := e.q.EnqueueManyTx(e.ctx, tx, []queue.NewJob{
		{Kind: "outbox", Queue: "mail", Args: map[string]int{"order": 1}},
		{Kind: "outbox", Queue: "mail", Args: map[string]int{"order": 2}},
	})
	require.NoError(e.t, err)
	jobs, err := in.ListTx(e.ctx, tx, queue.ListFilter{})
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{res[1].ID, res[0].ID, before}, ids(jobs), "newest first, uncommitted ones too")
	require.JSONEq(e.t, `{"order":2}`, string(jobs[0].Payload))
	require.Equal(e.t, "mail", jobs[0].Queue)
	jobs, err = in.ListTx(e.ctx, tx, queue.ListFilter{Kind: "outbox", Limit: 1})
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{res[1].ID}, ids(jobs))

	other := e.open(e.t)
	e.t.Cleanup(func() { other.Store.Close() })
	if other.DB != nil {
		otx, err := other.DB.BeginTx(e.ctx, nil)
		require.NoError(e.t, err)
		defer otx.Rollback()
		_, err = in.ListTx(e.ctx, otx, queue.ListFilter{})
		require.ErrorIs(e.t, err, queue.ErrForeignTx)
		require.NoError(e.t, otx.Rollback())
	}
	_, err = in.ListTx(e.ctx, nil, queue.ListFilter{})
	require.ErrorIs(e.t, err, queue.ErrInvalidArgument)

	require.NoError(e.t, tx.Rollback())
	jobs, err = in.List(e.ctx, queue.ListFilter{})
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{before}, ids(jobs), "rolled back: only the committed job")
}

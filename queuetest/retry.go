package queuetest

import (
	"errors"
	"fmt"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// killNew enqueues a job in queue "r" and lets it die.
func (e *env) killNew(j queue.NewJob) int64 {
	e.t.Helper()
	j.Kind, j.Queue = "charge", "r"
	id := e.enqueue(j)
	got := e.leaseOne("r")
	require.Equal(e.t, id, got.ID)
	e.kill(got)
	require.Equal(e.t, queue.StateDead, e.get(id).State)
	return id
}

// A dead job whose unique key a live job holds again (a newer delivery of
// the same event, made by a replay) stays dead on a retry, and the caller
// hears which job holds the key: Retry fails with a *KeyHeldError, and
// RetryDead retries the other jobs and lists the held ones in Skipped.
// Nothing is skipped silently.
func testRetryDeadUniqueKeyHeld(e *env) {
	a := e.killNew(queue.NewJob{UniqueKey: "charge:1"})
	b := e.killNew(queue.NewJob{UniqueKey: "charge:2"})
	c := e.killNew(queue.NewJob{})
	holder := e.enqueue(queue.NewJob{Kind: "charge", Queue: "r", UniqueKey: "charge:1"}) // the key is free while a is dead

	// One job: an error that names the holder, not "not dead".
	err := e.q.Inspector().Retry(e.ctx, a)
	require.ErrorIs(e.t, err, queue.ErrUniqueKeyHeld)
	require.NotErrorIs(e.t, err, queue.ErrNotDead, "job %d is dead", a)
	var held *queue.KeyHeldError
	require.ErrorAs(e.t, err, &held)
	require.Equal(e.t, queue.KeyHeldError{JobID: a, Key: "charge:1", HolderID: holder}, *held)
	require.Contains(e.t, err.Error(), fmt.Sprintf("live job %d", holder))
	require.Equal(e.t, queue.StateDead, e.get(a).State)

	// In a transaction: the same.
	tx, err := e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	res, err := e.q.Inspector().RetryDeadTx(e.ctx, tx, queue.DeadFilter{IDs: []int64{a}})
	require.NoError(e.t, err)
	require.Equal(e.t, queue.RetryDeadResult{Skipped: []queue.KeyHeldError{{JobID: a, Key: "charge:1", HolderID: holder}}}, res)
	require.NoError(e.t, tx.Rollback())

	// A filter: retry what can be retried, report the rest.
	res, err = e.q.Inspector().RetryDead(e.ctx, queue.DeadFilter{Queue: "r"})
	require.NoError(e.t, err)
	require.Equal(e.t, 2, res.Retried)
	require.Equal(e.t, []queue.KeyHeldError{{JobID: a, Key: "charge:1", HolderID: holder}}, res.Skipped)
	require.ErrorIs(e.t, res.Err(), queue.ErrUniqueKeyHeld)
	require.ErrorAs(e.t, res.Err(), &held)
	require.Equal(e.t, a, held.JobID)
	require.Equal(e.t, queue.StateDead, e.get(a).State)
	require.Equal(e.t, queue.StatePending, e.get(b).State)
	require.Equal(e.t, queue.StatePending, e.get(c).State)

	// Once the holder is gone, the job can be retried.
	require.NoError(e.t, e.q.Inspector().Delete(e.ctx, holder))
	require.NoError(e.t, e.q.Inspector().Retry(e.ctx, a))
	require.Equal(e.t, queue.StatePending, e.get(a).State)
	for _, id := range []int64{a, b, c} {
		require.NoError(e.t, e.q.Inspector().Delete(e.ctx, id))
	}

	// Two dead jobs with one key, retried together: the first is retried,
	// and holds the key against the second.
	d1 := e.killNew(queue.NewJob{UniqueKey: "charge:3"})
	d2 := e.killNew(queue.NewJob{UniqueKey: "charge:3"})
	res, err = e.q.Inspector().RetryDead(e.ctx, queue.DeadFilter{IDs: []int64{d2, d1}})
	require.NoError(e.t, err)
	require.Equal(e.t, queue.RetryDeadResult{Retried: 1, Skipped: []queue.KeyHeldError{{JobID: d2, Key: "charge:3", HolderID: d1}}}, res)
	require.Equal(e.t, queue.StatePending, e.get(d1).State)
	require.Equal(e.t, queue.StateDead, e.get(d2).State)

	// Nothing skipped: Skipped is empty and Err is nil.
	res, err = e.q.Inspector().RetryDead(e.ctx, queue.DeadFilter{Kind: "nope"})
	require.NoError(e.t, err)
	require.Zero(e.t, res.Retried)
	require.Empty(e.t, res.Skipped)
	require.NoError(e.t, res.Err())
	require.False(e.t, errors.Is(res.Err(), queue.ErrUniqueKeyHeld))
}

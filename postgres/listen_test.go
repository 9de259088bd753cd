package postgres_test

// Wake-ups across hosts: a write committed through one store wakes the
// waiters of every store that LISTENs on its schema, at commit and not
// before; a store with Options.NoListen hears nothing (its workers poll).

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/pgtest"
	"github.com/spooljobs/spool/postgres"
	"github.com/spooljobs/spool/queue"
)

// How long a wake-up may take to arrive, and how long a test watches for
// one that must not come.
const (
	wakeWithin  = 5 * time.Second
	quietWithin = 500 * time.Millisecond
)

// openHosts opens n stores on one fresh schema, as n hosts would: each
// with its own pool and listener, opts applying to all but the first
// (which always listens).
func openHosts(t *testing.T, n int, opts postgres.Options) []*postgres.Store {
	t.Helper()
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url)
	stores := make([]*postgres.Store, n)
	for i := range stores {
		o := opts
		if i == 0 {
			o = postgres.Options{}
		}
		o.Schema, o.MaxConns = schema, 2
		s, err := postgres.Open(context.Background(), url, o)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	return stores
}

// newQueue returns a Queue over s.
func newQueue(t *testing.T, s *postgres.Store) *queue.Queue {
	t.Helper()
	q, err := queue.New(s, queue.Options{})
	require.NoError(t, err)
	return q
}

// wait registers a waiter of the named queue on s, removed when t ends.
func wait(t *testing.T, s *postgres.Store, name string) <-chan struct{} {
	t.Helper()
	ch, stop := s.Wait(name)
	t.Cleanup(stop)
	return ch
}

// woken reports whether ch receives a wake-up within d (d = 0: holds one
// already).
func woken(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	default:
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// notify sends a raw notification on the store's channel, as another
// host's write does at commit.
func notify(t *testing.T, db *sql.DB, s *postgres.Store, payload string) {
	t.Helper()
	_, err := db.ExecContext(context.Background(), `SELECT pg_notify($1, $2)`, "spool_wake_"+s.Schema(), payload)
	require.NoError(t, err)
}

// The listener side alone: a notification on the schema's channel wakes
// the named queue's waiters (an empty payload every queue's) and no other
// queue's.
func TestListenerWakesOnNotification(t *testing.T) {
	t.Parallel()
	s := openHosts(t, 1, postgres.Options{})[0]
	mail, other := wait(t, s, "mail"), wait(t, s, "other")

	notify(t, s.DB(), s, "mail")
	require.True(t, woken(mail, wakeWithin), "the notified queue's waiter")
	require.False(t, woken(other, quietWithin), "another queue's waiter")

	notify(t, s.DB(), s, "")
	require.True(t, woken(mail, wakeWithin), "an empty payload wakes every queue")
	require.True(t, woken(other, wakeWithin), "an empty payload wakes every queue")
}

// A notification on another schema's channel wakes nobody: two apps on
// two schemas of one database do not wake each other.
func TestListenerIgnoresOtherSchemas(t *testing.T) {
	t.Parallel()
	a := openHosts(t, 1, postgres.Options{})[0]
	b := openHosts(t, 1, postgres.Options{})[0]
	mail := wait(t, a, "mail")
	notify(t, a.DB(), b, "mail")
	require.False(t, woken(mail, quietWithin))
}

// With NoListen a store hears no notification, though one that listens on
// the same schema does.
func TestNoListenHearsNothing(t *testing.T) {
	t.Parallel()
	hosts := openHosts(t, 2, postgres.Options{NoListen: true})
	listening, deaf := wait(t, hosts[0], "mail"), wait(t, hosts[1], "mail")

	notify(t, hosts[0].DB(), hosts[0], "mail")
	require.True(t, woken(listening, wakeWithin), "the listening store")
	require.False(t, woken(deaf, quietWithin), "the NoListen store")
}

// An enqueue committed through store A wakes a waiter of store B, another
// host on the same schema, within seconds.
func TestEnqueueWakesOtherHost(t *testing.T) {
	t.Parallel()
	hosts := openHosts(t, 2, postgres.Options{})
	a, b := hosts[0], hosts[1]
	mail, other := wait(t, b, "mail"), wait(t, b, "other")

	_, err := newQueue(t, a).Enqueue(context.Background(), queue.NewJob{Kind: "send", Queue: "mail"})
	require.NoError(t, err)
	require.True(t, woken(mail, wakeWithin), "B's waiter of the job's queue")
	require.False(t, woken(other, quietWithin), "B's waiter of another queue")
}

// An enqueue in the caller's transaction wakes at its commit, not before
// (a worker woken early would find nothing and sleep), on the writing host
// and on the others; a rolled-back one wakes nobody.
func TestEnqueueTxWakesAtCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	hosts := openHosts(t, 2, postgres.Options{})
	a, b := hosts[0], hosts[1]
	qa := newQueue(t, a)
	here, there := wait(t, a, "mail"), wait(t, b, "mail")

	tx, err := a.DB().BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	_, err = qa.EnqueueTx(ctx, tx, queue.NewJob{Kind: "send", Queue: "mail"})
	require.NoError(t, err)
	require.False(t, woken(there, quietWithin), "another host before the commit")
	require.False(t, woken(here, 0), "the writing host before the commit")
	require.NoError(t, tx.Commit())
	require.True(t, woken(there, wakeWithin), "another host after the commit")
	require.True(t, woken(here, wakeWithin), "the writing host after the commit")

	tx, err = a.DB().BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = qa.EnqueueTx(ctx, tx, queue.NewJob{Kind: "send", Queue: "mail"})
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
	require.False(t, woken(there, quietWithin), "another host after a rollback")
	require.False(t, woken(here, 0), "the writing host after a rollback")
}

// With NoListen a store's waiters hear nothing of another host's enqueue;
// its workers find the job by polling.
func TestNoListenHearsNoEnqueue(t *testing.T) {
	t.Parallel()
	hosts := openHosts(t, 3, postgres.Options{NoListen: true})
	listening, deaf := wait(t, hosts[0], "mail"), wait(t, hosts[1], "mail")

	_, err := newQueue(t, hosts[2]).Enqueue(context.Background(), queue.NewJob{Kind: "send", Queue: "mail"})
	require.NoError(t, err)
	require.True(t, woken(listening, wakeWithin), "a listening store")
	require.False(t, woken(deaf, quietWithin), "a NoListen store")
}

// An enqueue through the store's own transaction wakes the writing host at
// once and once only: its own notification, sent after the commit, does
// not wake it again.
func TestEnqueueWakesWriterOnce(t *testing.T) {
	t.Parallel()
	hosts := openHosts(t, 2, postgres.Options{})
	a, b := hosts[0], hosts[1]
	mine, theirs := wait(t, a, "mail"), wait(t, b, "mail")

	_, err := newQueue(t, a).Enqueue(context.Background(), queue.NewJob{Kind: "send", Queue: "mail"})
	require.NoError(t, err)
	require.True(t, woken(mine, wakeWithin), "the writer's waiter")
	require.True(t, woken(theirs, wakeWithin), "the other host's waiter")
	again := wait(t, a, "mail")
	require.False(t, woken(again, quietWithin), "the writer's own notification woke it again")
}

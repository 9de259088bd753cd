package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/spooljobs/spool/queue"
)

// xtx is one write's transaction: the store's own or the caller's. Its
// queries name tables in the schema "spool" (Store.sql rewrites them).
type xtx struct {
	tx    *sql.Tx
	s     *Store
	f     frame           // the clock's offset, for all of this write's times
	own   bool            // the store's own transaction, not the caller's
	wakes map[string]bool // queues ("" every queue) to wake at commit
	// subs are the caught-up subscriptions, once subsRead (topics.go).
	subs     []*subRow
	subsRead bool
	// grouped: a group writer's transaction (groupwrite.go), in which
	// Publish leaves its event in events for one append with the group's
	// (flushEvents, appendgroup.go), and the deliveries without an
	// ordering key in pending for one insert with the group's, before the
	// commit (flushDeliveries).
	grouped bool
	events  []pendingEvent
	pending []pendingDelivery
}

func (x *xtx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return x.tx.ExecContext(ctx, x.s.sql(query), args...)
}

func (x *xtx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return x.tx.QueryContext(ctx, x.s.sql(query), args...)
}

func (x *xtx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return x.tx.QueryRowContext(ctx, x.s.sql(query), args...)
}

// wake asks for the named queue's workers ("" every queue's) to be woken
// once this write commits.
func (x *xtx) wake(name string) {
	if x.wakes == nil {
		x.wakes = map[string]bool{}
	}
	x.wakes[name] = true
}

// wakeJobs wakes the queues of the jobs ready by now.
func (x *xtx) wakeJobs(jobs []queue.NewJob, now time.Time) {
	for _, j := range jobs {
		if !j.RunAt.After(now) {
			x.wake(j.Queue)
		}
	}
}

// maxRetries bounds the runs of a write in the store's own transaction
// that lost a race (a serialization failure or deadlock).
const maxRetries = 5

// The savepoint around a write in a caller's transaction, and the
// notification a write sends to every listening host at commit.
const (
	sqlSavepoint = `SAVEPOINT spool_write`
	sqlRelease   = `RELEASE SAVEPOINT spool_write`
	sqlRollback  = `ROLLBACK TO SAVEPOINT spool_write`
	sqlNotify    = `SELECT pg_notify($1, $2)`
)

// write runs fn in a write transaction: the caller's tx when it is not
// nil (inside a savepoint, so that a failure leaves the caller's
// transaction as it was), else the store's own, run again when it lost a
// race with another transaction.
func (s *Store) write(ctx context.Context, tx *sql.Tx, fn func(ctx context.Context, x *xtx) error) error {
	if tx != nil {
		return s.writeIn(ctx, tx, fn)
	}
	var err error
	for range maxRetries {
		var x *xtx
		if x, err = s.writeOwn(ctx, fn); err == nil {
			s.committed(x.wakes)
			return nil
		}
		if !retryable(err) || ctx.Err() != nil {
			break
		}
	}
	return ctxErr(ctx, mapErr(err))
}

// committed wakes the workers of the queues ("" every queue) that a
// write of the store's own made jobs ready in, once it committed: this
// host's at once, the others' through the sender (wakesend.go), whose
// notifications this host's listener then ignores.
func (s *Store) committed(wakes map[string]bool) {
	for q := range wakes {
		s.wakeups.Notify(q)
	}
	if len(wakes) > 0 {
		s.sender.post(wakes)
	}
}

func (s *Store) writeOwn(ctx context.Context, fn func(ctx context.Context, x *xtx) error) (*xtx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	x := &xtx{tx: tx, s: s, f: s.clock.frame(), own: true}
	if err := fn(ctx, x); err != nil {
		return nil, err
	}
	return x, tx.Commit()
}

func (s *Store) writeIn(ctx context.Context, tx *sql.Tx, fn func(ctx context.Context, x *xtx) error) error {
	if _, err := tx.ExecContext(ctx, sqlSavepoint); err != nil {
		return ctxErr(ctx, mapErr(err))
	}
	// End the savepoint even when ctx has ended: it must not stay open in
	// the caller's transaction.
	end := context.WithoutCancel(ctx)
	x := &xtx{tx: tx, s: s, f: s.clock.frame()}
	err := s.checkTx(ctx, x)
	if err == nil {
		err = fn(ctx, x)
	}
	if err == nil {
		err = s.sendWakes(ctx, x)
	}
	if err == nil {
		if _, err = tx.ExecContext(end, sqlRelease); err == nil {
			return nil
		}
	}
	if _, rerr := tx.ExecContext(end, sqlRollback); rerr == nil {
		tx.ExecContext(end, sqlRelease)
	}
	return ctxErr(ctx, mapErr(err))
}

// sqlStoreID reads the store's identity in a transaction, to tell its
// database from another.
const sqlStoreID = `SELECT store_id FROM spool.meta WHERE id = 1`

// checkTx refuses a caller's transaction on another database: its writes
// would land where this store never looks. A transaction on this database
// begun through any pool (the app's, another schema's store's) is not
// foreign: the store's statements name its own schema, so one transaction
// can write to two apps' schemas and commit or roll back both.
func (s *Store) checkTx(ctx context.Context, x *xtx) error {
	var id string
	err := x.queryRow(ctx, sqlStoreID).Scan(&id)
	switch {
	case err == nil && id == s.id:
		return nil
	case err == nil, errors.Is(err, sql.ErrNoRows), isCode(err, codeUndefinedTable), isCode(err, codeUndefinedSchema):
		return fmt.Errorf("%w (this store: schema %q, store id %s)", queue.ErrForeignTx, s.schema, s.id)
	}
	return err
}

// channel is the notification channel of the store's schema.
func (s *Store) channel() string { return "spool_wake_" + s.schema }

// sendWakes sends the wake-ups of a write in the caller's transaction as
// notifications, delivered at its commit to every host that listens.
func (s *Store) sendWakes(ctx context.Context, x *xtx) error {
	for q := range x.wakes {
		if _, err := x.tx.ExecContext(ctx, sqlNotify, s.channel(), q); err != nil {
			return err
		}
	}
	return nil
}

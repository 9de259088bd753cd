package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/spooljobs/spool/internal/jobcodec"
	"github.com/spooljobs/spool/queue"
)

// Delivery jobs: the jobs Publish, DeliverBacklog and Replay make, each
// one queue.DeliveryJob's. They are inserted as Enqueue inserts jobs,
// except that the queues' MaxPending does not apply: every one has a
// unique key (a live job of the same subscription and event makes the new
// one a duplicate, not inserted), and one whose event had an ordering key
// waits, blocked, behind the key's live job.

const (
	// sqlInsertDelivery inserts one delivery job, or nothing when a live
	// job holds its unique key (the partial unique index decides).
	sqlInsertDelivery = `INSERT INTO spool.jobs
  (queue, kind, state, priority, run_at, max_attempts, timeout_us, created_at, unique_key, order_key, expires_at, metadata, payload)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
  ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ` + liveSQL + ` DO NOTHING
  RETURNING id`
	// sqlDeliveryKeyBusy: does the ordering key have a live job, or a dead
	// job that blocks it? Then a new job of the key waits (blocked).
	sqlDeliveryKeyBusy = `SELECT EXISTS (SELECT 1 FROM spool.jobs WHERE queue = $1 AND order_key = $2 AND state IN ` + liveSQL + `)
  OR EXISTS (SELECT 1 FROM spool.dead WHERE queue = $1 AND order_key = $2 AND blocks_key)`
	// sqlInsertDeliveries inserts delivery jobs without an ordering key
	// from arrays, skipping those whose unique key a live job holds, and
	// returns the new ones' ids. $12 is the creation time of all.
	sqlInsertDeliveries = `INSERT INTO spool.jobs
  (queue, kind, state, priority, run_at, max_attempts, timeout_us, created_at, unique_key, expires_at, metadata, payload)
  SELECT t.queue, t.kind, t.state, t.priority, t.run_at, t.max_attempts, t.timeout_us, $12, t.unique_key, t.expires_at, t.metadata, t.payload
  FROM unnest($1::text[], $2::text[], $3::smallint[], $4::integer[], $5::bigint[], $6::integer[], $7::bigint[], $8::text[], $9::bigint[], $10::text[], $11::bytea[])
    WITH ORDINALITY AS t(queue, kind, state, priority, run_at, max_attempts, timeout_us, unique_key, expires_at, metadata, payload, n)
  ORDER BY t.n
  ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ` + liveSQL + ` DO NOTHING
  RETURNING id`
)

// deliver inserts the delivery jobs in x and returns how many were new.
// It asks for every queue's workers to be woken at commit when any was.
// Jobs without an ordering key go in with one statement; keyed ones one
// at a time, each under its key's lock.
func deliver(ctx context.Context, x *xtx, now time.Time, jobs []queue.NewJob) (int, error) {
	var keyed []queue.NewJob
	var plain []queue.NewJob
	for _, j := range jobs {
		if j.OrderKey != "" {
			keyed = append(keyed, j)
		} else {
			plain = append(plain, j)
		}
	}
	n, err := insertDeliveries(ctx, x, now, plain)
	if err != nil {
		return 0, err
	}
	for i, j := range keyed {
		made, err := insertDelivery(ctx, x, now, j)
		if err != nil {
			return 0, fmt.Errorf("%w (delivery job %d)", err, i)
		}
		if made {
			n++
		}
	}
	if n > 0 {
		x.wake("")
	}
	return n, nil
}

// insertDeliveries inserts delivery jobs that have no ordering key with
// sqlInsertDeliveries and returns how many were new.
func insertDeliveries(ctx context.Context, x *xtx, now time.Time, jobs []queue.NewJob) (int, error) {
	switch len(jobs) {
	case 0:
		return 0, nil
	case 1:
		made, err := insertDelivery(ctx, x, now, jobs[0])
		if made {
			return 1, err
		}
		return 0, err
	}
	var (
		queues, kinds    = make([]string, len(jobs)), make([]string, len(jobs))
		states           = make([]int16, len(jobs))
		prios, attempts  = make([]int32, len(jobs)), make([]int32, len(jobs))
		runAts, timeouts = make([]int64, len(jobs)), make([]int64, len(jobs))
		keys, metas      = make([]*string, len(jobs)), make([]*string, len(jobs))
		expires          = make([]*int64, len(jobs))
		payloads         = make([][]byte, len(jobs))
	)
	for k, j := range jobs {
		meta, err := jobcodec.EncodeMetadata(j.Metadata)
		if err != nil {
			return 0, fmt.Errorf("postgres: delivery job %d: metadata: %w", k, err)
		}
		if m, ok := meta.(string); ok {
			metas[k] = &m
		}
		queues[k], kinds[k] = j.Queue, j.Kind
		states[k] = int16(readyState(j, now))
		prios[k], attempts[k] = int32(j.Priority), int32(j.MaxAttempts)
		runAts[k], timeouts[k] = x.f.us(j.RunAt), j.Timeout.Microseconds()
		if j.UniqueKey != "" {
			keys[k] = &j.UniqueKey
		}
		if !j.ExpiresAt.IsZero() {
			e := x.f.us(j.ExpiresAt)
			expires[k] = &e
		}
		payloads[k] = payloadOf(j)
	}
	rows, err := x.query(ctx, sqlInsertDeliveries, queues, kinds, states, prios, runAts, attempts, timeouts, keys, expires, metas, payloads, x.f.us(now))
	if err != nil {
		return 0, err
	}
	ids, err := collect(rows, func(r scanner) (id int64, err error) { err = r.Scan(&id); return id, err })
	return len(ids), err
}

// insertDelivery inserts one delivery job, reporting whether it was new
// (false: a live job holds its unique key). For a keyed job it first takes
// the key's advisory lock, so that the key's head is decided by one
// transaction at a time.
func insertDelivery(ctx context.Context, x *xtx, now time.Time, j queue.NewJob) (bool, error) {
	meta, err := jobcodec.EncodeMetadata(j.Metadata)
	if err != nil {
		return false, fmt.Errorf("postgres: metadata: %w", err)
	}
	state := stPending
	if j.RunAt.After(now) {
		state = stScheduled
	}
	if j.OrderKey != "" {
		if err := lockKey(ctx, x, j.Queue, j.OrderKey); err != nil {
			return false, err
		}
		var busy bool
		if err := x.queryRow(ctx, sqlDeliveryKeyBusy, j.Queue, j.OrderKey).Scan(&busy); err != nil {
			return false, err
		}
		if busy {
			state = stBlocked
		}
	}
	payload := j.Payload
	if payload == nil {
		payload = []byte{}
	}
	var id int64
	err = x.queryRow(ctx, sqlInsertDelivery, j.Queue, j.Kind, state, j.Priority, x.f.us(j.RunAt),
		j.MaxAttempts, j.Timeout.Microseconds(), x.f.us(now), nullString(j.UniqueKey), nullString(j.OrderKey),
		x.f.nullUS(j.ExpiresAt), meta, payload).Scan(&id)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	}
	return false, err
}

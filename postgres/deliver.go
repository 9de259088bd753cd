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
	sqlDeliveryKeyBusy = `SELECT ` + keyHasHead + `
  OR EXISTS (SELECT 1 FROM spool.jobs WHERE queue = $1 AND order_key = $2 AND state = ` + blockedSQL + `)
  OR EXISTS (SELECT 1 FROM spool.dead WHERE queue = $1 AND order_key = $2 AND blocks_key)`
	// sqlInsertDeliveries inserts delivery jobs without an ordering key
	// from arrays, skipping those whose unique key a live job holds, and
	// returns the new ones' unique keys (every delivery has one).
	sqlInsertDeliveries = `INSERT INTO spool.jobs
  (queue, kind, state, priority, run_at, max_attempts, timeout_us, created_at, unique_key, expires_at, metadata, payload)
  SELECT t.queue, t.kind, t.state, t.priority, t.run_at, t.max_attempts, t.timeout_us, t.created_at, t.unique_key, t.expires_at, t.metadata, t.payload
  FROM unnest($1::text[], $2::text[], $3::smallint[], $4::integer[], $5::bigint[], $6::integer[], $7::bigint[], $8::text[], $9::bigint[], $10::text[], $11::bytea[], $12::bigint[])
    WITH ORDINALITY AS t(queue, kind, state, priority, run_at, max_attempts, timeout_us, unique_key, expires_at, metadata, payload, created_at, n)
  ORDER BY t.n
  ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ` + liveSQL + ` DO NOTHING
  RETURNING unique_key`
)

// deliver inserts the delivery jobs in x and returns how many were new.
// It asks for every queue's workers to be woken at commit when any was.
// Jobs without an ordering key go in with one statement; keyed ones one
// at a time, each under its key's lock (all taken first, sorted:
// lockOrderKeys).
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
	if err := lockOrderKeys(ctx, x, keyed); err != nil {
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

// insertDeliveries inserts delivery jobs that have no ordering key, all
// made at now, and returns how many were new.
func insertDeliveries(ctx context.Context, x *xtx, now time.Time, jobs []queue.NewJob) (int, error) {
	rows := make([]deliveryRow, len(jobs))
	for i, j := range jobs {
		rows[i] = deliveryRow{job: j, now: now}
	}
	made, err := insertDeliveryRows(ctx, x, rows)
	return len(made), err
}

// deliveryRow is a delivery job without an ordering key and the time it
// was made.
type deliveryRow struct {
	job queue.NewJob
	now time.Time
}

// insertDeliveryRows inserts delivery jobs that have no ordering key with
// sqlInsertDeliveries (one statement) and returns the unique keys of the
// new ones.
func insertDeliveryRows(ctx context.Context, x *xtx, rows []deliveryRow) ([]string, error) {
	switch len(rows) {
	case 0:
		return nil, nil
	case 1:
		made, err := insertDelivery(ctx, x, rows[0].now, rows[0].job)
		if err != nil || !made {
			return nil, err
		}
		return []string{rows[0].job.UniqueKey}, nil
	}
	var (
		queues, kinds    = make([]string, len(rows)), make([]string, len(rows))
		states           = make([]int16, len(rows))
		prios, attempts  = make([]int32, len(rows)), make([]int32, len(rows))
		runAts, timeouts = make([]int64, len(rows)), make([]int64, len(rows))
		keys, metas      = make([]*string, len(rows)), make([]*string, len(rows))
		expires          = make([]*int64, len(rows))
		payloads         = make([][]byte, len(rows))
		created          = make([]int64, len(rows))
	)
	for k, r := range rows {
		j := r.job
		meta, err := jobcodec.EncodeMetadata(j.Metadata)
		if err != nil {
			return nil, fmt.Errorf("postgres: delivery job %d: metadata: %w", k, err)
		}
		if m, ok := meta.(string); ok {
			metas[k] = &m
		}
		queues[k], kinds[k] = j.Queue, j.Kind
		states[k] = int16(readyState(j, r.now))
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
		created[k] = x.f.us(r.now)
	}
	res, err := x.query(ctx, sqlInsertDeliveries, queues, kinds, states, prios, runAts, attempts, timeouts, keys, expires, metas, payloads, created)
	if err != nil {
		return nil, err
	}
	return collect(res, func(r scanner) (key string, err error) { err = r.Scan(&key); return key, err })
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
		if j.OrderKey != "" && state != stBlocked {
			return true, setHead(ctx, x, j.Queue, j.OrderKey, id)
		}
		return true, nil
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	}
	return false, err
}

// pendingDelivery is a delivery job waiting for its group's insert, and
// the count of its publish's new jobs.
type pendingDelivery struct {
	row  deliveryRow
	made *int
}

// deliverInGroup delivers a publish's jobs in a group transaction: those
// without an ordering key wait for the group's one insert
// (flushDeliveries), counted into *made then. An ordered one goes in at
// once, after the group's jobs before it, so that ids keep publish order.
func (x *xtx) deliverInGroup(ctx context.Context, now time.Time, jobs []queue.NewJob, made *int) error {
	for _, j := range jobs {
		if j.OrderKey != "" {
			if err := x.flushDeliveries(ctx); err != nil {
				return err
			}
			n, err := deliver(ctx, x, now, jobs)
			*made += n
			return err
		}
	}
	for _, j := range jobs {
		x.pending = append(x.pending, pendingDelivery{row: deliveryRow{job: j, now: now}, made: made})
	}
	return nil
}

// flushDeliveries inserts the group's pending deliveries with one
// statement and counts each new one into its publish's result.
func (x *xtx) flushDeliveries(ctx context.Context) error {
	if len(x.pending) == 0 {
		return nil
	}
	rows := make([]deliveryRow, len(x.pending))
	counts := make(map[string]*int, len(x.pending))
	for i, p := range x.pending {
		rows[i] = p.row
		counts[p.row.job.UniqueKey] = p.made
	}
	x.pending = x.pending[:0]
	made, err := insertDeliveryRows(ctx, x, rows)
	if err != nil {
		return err
	}
	for _, key := range made {
		*counts[key]++
	}
	if len(made) > 0 {
		x.wake("")
	}
	return nil
}

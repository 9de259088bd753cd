package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Enqueueing. A job with a unique key goes in through the partial unique
// index jobs_unique: ON CONFLICT … DO NOTHING skips it when a live job
// holds the key (a concurrent insert of the same key waits for the other
// transaction, then skips or inserts), and the holder is read back. A job
// with an ordering key takes the key's advisory lock before deciding
// whether it heads the key or waits blocked. A queue with a MaxPending
// limit has its spool.queues row locked FOR UPDATE before its waiting
// jobs are counted, so that enqueues on several hosts count one at a time.
// Runs of plain jobs (no unique key, ordering key or expiry) go in as one
// INSERT per run.

const (
	// sqlInsertJob inserts one job and returns its id; no row when a live
	// job holds its unique key.
	sqlInsertJob = `INSERT INTO spool.jobs
  (queue, kind, state, priority, run_at, max_attempts, timeout_us, created_at, unique_key, order_key, expires_at, metadata, payload, partition_key)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
  ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ` + liveSQL + ` DO NOTHING
  RETURNING id`
	// sqlUniqueHolder finds the live job that holds a unique key.
	sqlUniqueHolder = `SELECT id FROM spool.jobs WHERE unique_key = $1 AND state IN ` + liveSQL
	// sqlKeyBusy: does the ordering key have a live job, or a dead job that
	// blocks it? Then a new job of the key waits (blocked). Read under the
	// key's advisory lock.
	sqlKeyBusy = `SELECT ` + keyHasHead + `
  OR EXISTS (SELECT 1 FROM spool.jobs WHERE queue = $1 AND order_key = $2 AND state = ` + blockedSQL + `)
  OR EXISTS (SELECT 1 FROM spool.dead WHERE queue = $1 AND order_key = $2 AND blocks_key)`
	// sqlMaxPending reads a queue's limit, locking its row (only when it
	// has one) until the enqueue commits.
	sqlMaxPending = `SELECT max_pending FROM spool.queues WHERE name = $1 AND max_pending > 0 FOR UPDATE`
	// sqlWaiting counts a queue's waiting jobs, each state through its
	// partial index and no further than the limit $2.
	sqlWaiting = `SELECT
  (SELECT count(*) FROM (SELECT 1 FROM spool.jobs WHERE queue = $1 AND state = ` + pendingSQL + ` LIMIT $2) p) +
  (SELECT count(*) FROM (SELECT 1 FROM spool.jobs WHERE queue = $1 AND state = ` + scheduledSQL + ` LIMIT $2) s) +
  (SELECT count(*) FROM (SELECT 1 FROM spool.jobs WHERE queue = $1 AND order_key IS NOT NULL AND state = ` + blockedSQL + ` LIMIT $2) b)`
	// sqlInsertJobs inserts a run of plain jobs from arrays, one element a
	// job, in array order; $10 is the creation time of all.
	sqlInsertJobs = `INSERT INTO spool.jobs
  (queue, kind, state, priority, run_at, max_attempts, timeout_us, created_at, metadata, payload)
  SELECT t.queue, t.kind, t.state, t.priority, t.run_at, t.max_attempts, t.timeout_us, $10, t.metadata, t.payload
  FROM unnest($1::text[], $2::text[], $3::smallint[], $4::integer[], $5::bigint[], $6::integer[], $7::bigint[], $8::text[], $9::bytea[])
    WITH ORDINALITY AS t(queue, kind, state, priority, run_at, max_attempts, timeout_us, metadata, payload, n)
  ORDER BY t.n
  RETURNING id`
)

// insertChunk bounds the jobs of one bulk INSERT.
const insertChunk = 1000

// uniqueRetries bounds the tries of a unique job whose holder finished
// between the insert that found it and the read of its id.
const uniqueRetries = 3

// Enqueue implements queue.Store.
func (s *Store) Enqueue(ctx context.Context, tx *sql.Tx, now time.Time, jobs []queue.NewJob) ([]queue.EnqueueResult, error) {
	meta, err := sqlstore.JobsMetadata(jobs)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if s.batch != nil && groupable(tx, jobs) {
		res, long, err := s.batch.enqueue(ctx, now, jobs, meta)
		if !long {
			return res, err
		}
	}
	return s.enqueueLong(ctx, tx, now, jobs, meta)
}

// enqueueLong enqueues jobs in one transaction of their own (or tx),
// checking queue limits and keys: every enqueue the batcher does not take.
func (s *Store) enqueueLong(ctx context.Context, tx *sql.Tx, now time.Time, jobs []queue.NewJob, meta []any) ([]queue.EnqueueResult, error) {
	res := make([]queue.EnqueueResult, len(jobs))
	perQueue := map[string]int{}
	for _, j := range jobs {
		perQueue[j.Queue]++
	}
	var full error
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		full = nil
		clear(res)
		if err := lockUniqueKeys(ctx, x, jobs); err != nil {
			return err
		}
		if err := checkRoom(ctx, x, now, jobs, perQueue, &full); err != nil || full != nil {
			return err
		}
		if err := insertJobs(ctx, x, now, jobs, meta, res); err != nil {
			return err
		}
		x.wakeJobs(jobs, now)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if full != nil {
		return nil, full
	}
	return res, nil
}

// checkRoom sets *full when a queue with a MaxPending limit has no room
// for the jobs about to be added to it. A job whose unique key is held
// adds nothing (it is a duplicate). It writes nothing, but locks the
// rows of the queues that have a limit, in name order (so that two
// enqueues on several queues cannot deadlock).
func checkRoom(ctx context.Context, x *xtx, now time.Time, jobs []queue.NewJob, perQueue map[string]int, full *error) error {
	names := make([]string, 0, len(perQueue))
	for name := range perQueue {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		adding := perQueue[name]
		var limit int
		switch err := x.queryRow(ctx, sqlMaxPending, name).Scan(&limit); {
		case errors.Is(err, sql.ErrNoRows):
			continue
		case err != nil:
			return err
		}
		for _, j := range jobs {
			if j.Queue != name || j.UniqueKey == "" {
				continue
			}
			switch id, err := uniqueHolder(ctx, x, j, now); {
			case err != nil:
				return err
			case id != 0:
				adding--
			}
		}
		if adding <= 0 {
			continue
		}
		var waiting int
		if err := x.queryRow(ctx, sqlWaiting, name, limit).Scan(&waiting); err != nil {
			return err
		}
		if waiting+adding > limit {
			*full = &queue.QueueFullError{Queue: name, Limit: limit, Waiting: waiting, Adding: adding}
			return nil
		}
	}
	return nil
}

// insertJobs inserts normalised jobs in x, writing each one's result.
// meta holds each job's encoded metadata. Runs of two or more plain jobs
// take the bulk path.
func insertJobs(ctx context.Context, x *xtx, now time.Time, jobs []queue.NewJob, meta []any, res []queue.EnqueueResult) error {
	if err := lockOrderKeys(ctx, x, jobs); err != nil {
		return err
	}
	nowUS := x.f.us(now)
	for i := 0; i < len(jobs); {
		n := 0
		for i+n < len(jobs) && n < insertChunk && sqlstore.Plain(jobs[i+n]) {
			n++
		}
		if n >= 2 {
			if err := insertPlain(ctx, x, now, nowUS, jobs[i:i+n], meta[i:i+n], res[i:i+n]); err != nil {
				return err
			}
			i += n
			continue
		}
		if err := insertOne(ctx, x, now, nowUS, jobs[i], meta[i], &res[i]); err != nil {
			return fmt.Errorf("%w (job %d)", err, i)
		}
		i++
	}
	return nil
}

// lockOrderKeys takes the locks of the jobs' ordering keys, when they
// have two or more, sorted (lockKeysInOrder) before any is inserted:
// insertOneRow takes each job's key in the jobs' order, and holding one
// key while waiting for another would deadlock with a settle batch, which
// takes its keys sorted. (Taken again, a lock held is a no-op.)
func lockOrderKeys(ctx context.Context, x *xtx, jobs []queue.NewJob) error {
	var keys []queueKey
	for _, j := range jobs {
		if j.OrderKey != "" {
			keys = append(keys, queueKey{j.Queue, j.OrderKey})
		}
	}
	for _, k := range keys {
		if k != keys[0] {
			return lockKeysInOrder(ctx, x, keys)
		}
	}
	return nil // one key at most: insertOneRow takes it
}

// readyState is the state of a new job that heads its key (or has none):
// sqlstore.ReadyCode, under the name deliver.go uses.
func readyState(j queue.NewJob, now time.Time) int { return sqlstore.ReadyCode(j, now) }

// insertPlain inserts plain jobs with one statement. The rows take their
// ids from the sequence in array order, so the returned ids, sorted,
// match the jobs in order.
func insertPlain(ctx context.Context, x *xtx, now time.Time, nowUS int64, jobs []queue.NewJob, meta []any, res []queue.EnqueueResult) error {
	var (
		queues, kinds    = make([]string, len(jobs)), make([]string, len(jobs))
		states           = make([]int16, len(jobs))
		prios, attempts  = make([]int32, len(jobs)), make([]int32, len(jobs))
		runAts, timeouts = make([]int64, len(jobs)), make([]int64, len(jobs))
		metas            = make([]*string, len(jobs))
		payloads         = make([][]byte, len(jobs))
	)
	for k, j := range jobs {
		queues[k], kinds[k] = j.Queue, j.Kind
		states[k] = int16(sqlstore.ReadyCode(j, now))
		prios[k], attempts[k] = int32(j.Priority), int32(j.MaxAttempts)
		runAts[k], timeouts[k] = x.f.us(j.RunAt), j.Timeout.Microseconds()
		if m, ok := meta[k].(string); ok {
			metas[k] = &m
		}
		payloads[k] = payloadOf(j)
	}
	rows, err := x.query(ctx, sqlInsertJobs, queues, kinds, states, prios, runAts, attempts, timeouts, metas, payloads, nowUS)
	if err != nil {
		return err
	}
	ids, err := collect(rows, func(r scanner) (int64, error) {
		var id int64
		err := r.Scan(&id)
		return id, err
	})
	if err != nil {
		return err
	}
	if len(ids) != len(jobs) {
		return fmt.Errorf("postgres: bulk insert stored %d of %d jobs", len(ids), len(jobs))
	}
	slices.Sort(ids)
	for k, id := range ids {
		res[k] = queue.EnqueueResult{ID: id}
	}
	return nil
}

// payloadOf is j's payload, never nil (the column is NOT NULL).
func payloadOf(j queue.NewJob) []byte {
	if j.Payload == nil {
		return []byte{}
	}
	return j.Payload
}

// insertOne inserts one job: the path for keyed jobs and single plain
// ones. A keyed job first takes its key's lock, then heads the key or
// waits blocked behind it.
func insertOne(ctx context.Context, x *xtx, now time.Time, nowUS int64, j queue.NewJob, meta any, res *queue.EnqueueResult) error {
	if sqlstore.UniqueOptions(j) {
		// A period or finished states: under the key's lock
		// (lockUniqueKeys), read the holder first, and start the period
		// with the new job.
		id, err := uniqueHolder(ctx, x, j, now)
		if err != nil {
			return err
		}
		if id != 0 {
			*res = queue.EnqueueResult{ID: id, Duplicate: true}
			return nil
		}
		if err := insertOneRow(ctx, x, now, nowUS, j, meta, res); err != nil || res.Duplicate {
			return err
		}
		return startPeriod(ctx, x, j, res.ID, now)
	}
	return insertOneRow(ctx, x, now, nowUS, j, meta, res)
}

// insertOneRow inserts one job, or finds the live job that holds its
// unique key.
func insertOneRow(ctx context.Context, x *xtx, now time.Time, nowUS int64, j queue.NewJob, meta any, res *queue.EnqueueResult) error {
	state := sqlstore.ReadyCode(j, now)
	if len(j.DependsOn) > 0 {
		state = stBlocked // until insertDeps resolves it
	}
	if j.OrderKey != "" {
		if err := lockKey(ctx, x, j.Queue, j.OrderKey); err != nil {
			return err
		}
		var busy bool
		if err := x.queryRow(ctx, sqlKeyBusy, j.Queue, j.OrderKey).Scan(&busy); err != nil {
			return err
		}
		if busy {
			state = stBlocked
		}
	}
	for try := 0; ; try++ {
		var id int64
		err := x.queryRow(ctx, sqlInsertJob, j.Queue, j.Kind, state, j.Priority, x.f.us(j.RunAt),
			j.MaxAttempts, j.Timeout.Microseconds(), nowUS, nullString(j.UniqueKey), nullString(j.OrderKey),
			x.f.nullUS(j.ExpiresAt), meta, payloadOf(j), nullString(j.PartitionKey)).Scan(&id)
		if err == nil {
			*res = queue.EnqueueResult{ID: id}
			if j.OrderKey != "" && state != stBlocked {
				if err := setHead(ctx, x, j.Queue, j.OrderKey, id); err != nil {
					return err
				}
			}
			if j.Batch != 0 {
				if err := joinBatch(ctx, x, id, j.Batch); err != nil {
					return err
				}
			}
			if len(j.DependsOn) > 0 {
				return insertDeps(ctx, x, id, j, now)
			}
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if j.UniqueKey == "" {
			return fmt.Errorf("postgres: job was not inserted")
		}
		// A live job holds the key: read which. Under READ COMMITTED this
		// statement sees a holder that committed while the insert waited.
		err = x.queryRow(ctx, sqlUniqueHolder, j.UniqueKey).Scan(&id)
		if err == nil {
			*res = queue.EnqueueResult{ID: id, Duplicate: true}
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) || try+1 == uniqueRetries {
			return fmt.Errorf("postgres: unique key %q: %w", j.UniqueKey, err)
		}
		// The holder finished in between: the key is free now, insert again.
	}
}

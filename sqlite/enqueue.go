package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

const (
	// sqlInsertJob inserts one job; ON CONFLICT DO NOTHING skips a job
	// whose unique key a live job holds (the unique index decides).
	sqlInsertJob = `INSERT INTO spool_jobs
  (queue, kind, state, priority, run_at, max_attempts, timeout_us, created_at, unique_key, order_key, expires_at, metadata, payload, partition_key)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT DO NOTHING`
	sqlUniqueHolder = `SELECT id FROM spool_jobs WHERE unique_key = ? AND state IN ` + liveSQL
	// sqlKeyBusy: does the ordering key have a live job (a head, or a
	// blocked job), or a dead job that blocks it? Then a new job of the key
	// waits (blocked).
	sqlKeyBusy = `SELECT ` + keyHasHead12 + `
  OR EXISTS (SELECT 1 FROM spool_jobs WHERE queue = ?1 AND order_key = ?2 AND state = ` + blockedSQL + `)
  OR EXISTS (SELECT 1 FROM spool_dead WHERE queue = ?1 AND order_key = ?2 AND blocks_key)`
	sqlMaxPending = `SELECT max_pending FROM spool_queues WHERE name = ? AND max_pending > 0`
	// sqlWaiting counts a queue's waiting jobs, each state through its
	// partial index and no further than limit.
	sqlWaiting = `SELECT
  (SELECT count(*) FROM (SELECT 1 FROM spool_jobs WHERE queue = ?1 AND state = ` + pendingSQL + ` LIMIT ?2)) +
  (SELECT count(*) FROM (SELECT 1 FROM spool_jobs WHERE queue = ?1 AND state = ` + scheduledSQL + ` LIMIT ?2)) +
  (SELECT count(*) FROM (SELECT 1 FROM spool_jobs WHERE queue = ?1 AND order_key IS NOT NULL AND state = ` + blockedSQL + ` LIMIT ?2))`
)

// Enqueue implements queue.Store.
func (s *Store) Enqueue(ctx context.Context, tx *sql.Tx, now time.Time, jobs []queue.NewJob) ([]queue.EnqueueResult, error) {
	meta, err := sqlstore.JobsMetadata(jobs)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	res := make([]queue.EnqueueResult, len(jobs))
	perQueue := map[string]int{}
	for _, j := range jobs {
		perQueue[j.Queue]++
	}
	var full error
	err = s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		full = nil
		if err := checkRoom(ctx, x, now, jobs, perQueue, &full); err != nil || full != nil {
			return err
		}
		return insertJobs(ctx, x, now, jobs, meta, res)
	})
	if err != nil {
		return nil, err
	}
	if full != nil {
		return nil, full
	}
	s.wakeJobsAfter(tx, jobs, now)
	return res, nil
}

// sqlInsertJobsChunk inserts insertChunk jobs in one statement: the bulk
// path for jobs without unique or ordering keys. No conflict can arise for
// them, and under the write lock AUTOINCREMENT gives the rows consecutive
// ids in VALUES order, so the last insert id names every row.
const insertChunk = 64

var sqlInsertJobsChunk = `INSERT INTO spool_jobs
  (queue, kind, state, priority, run_at, max_attempts, timeout_us, created_at, metadata, payload)
  VALUES ` + strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", insertChunk-1) + "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

// insertJobs inserts normalised jobs in x, writing each one's result.
// meta holds each job's encoded metadata.
func insertJobs(ctx context.Context, x *xtx, now time.Time, jobs []queue.NewJob, meta []any, res []queue.EnqueueResult) error {
	nowUS := micros(now)
	var args []any
	for i := 0; i < len(jobs); {
		// The bulk path: a run of insertChunk keyless jobs.
		if len(jobs)-i >= insertChunk && keyless(jobs[i:i+insertChunk]) {
			args = args[:0]
			for k, j := range jobs[i : i+insertChunk] {
				args = append(args, j.Queue, j.Kind, sqlstore.ReadyCode(j, now), j.Priority, micros(j.RunAt), j.MaxAttempts,
					j.Timeout.Microseconds(), nowUS, meta[i+k], j.Payload)
			}
			r, err := x.exec(ctx, sqlInsertJobsChunk, args...)
			if err != nil {
				return err
			}
			last, err := r.LastInsertId()
			if err != nil {
				return err
			}
			if n, _ := r.RowsAffected(); n != insertChunk {
				return fmt.Errorf("sqlite: bulk insert stored %d of %d jobs", n, insertChunk)
			}
			for k := range insertChunk {
				res[i+k] = queue.EnqueueResult{ID: last - insertChunk + 1 + int64(k)}
			}
			i += insertChunk
			continue
		}
		// A run of insertChunk jobs with ordering or partition keys
		// (enqueuekeyed.go).
		if len(jobs)-i >= insertChunk && bulkKeyed(jobs[i:i+insertChunk]) {
			if err := insertKeyedChunk(ctx, x, now, nowUS, jobs[i:i+insertChunk], meta[i:i+insertChunk], res[i:i+insertChunk]); err != nil {
				return err
			}
			i += insertChunk
			continue
		}
		if err := insertOne(ctx, x, now, nowUS, jobs[i], meta[i], &res[i]); err != nil {
			return fmt.Errorf("%w (job %d)", err, i)
		}
		i++
	}
	return nil
}

// keyless reports whether every job is plain (sqlstore.Plain).
func keyless(jobs []queue.NewJob) bool {
	for _, j := range jobs {
		if !sqlstore.Plain(j) {
			return false
		}
	}
	return true
}

// insertOne inserts one job: the path for keyed jobs and for the tail of a
// batch.
func insertOne(ctx context.Context, x *xtx, now time.Time, nowUS int64, j queue.NewJob, meta any, res *queue.EnqueueResult) error {
	if sqlstore.UniqueOptions(j) {
		// A period or finished states: read the holder first (the write
		// lock keeps it), and start the period with the new job.
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
		var busy bool
		if err := x.queryRow(ctx, sqlKeyBusy, j.Queue, j.OrderKey).Scan(&busy); err != nil {
			return err
		}
		if busy {
			state = stBlocked
		}
	}
	r, err := x.exec(ctx, sqlInsertJob, j.Queue, j.Kind, state, j.Priority, micros(j.RunAt),
		j.MaxAttempts, j.Timeout.Microseconds(), nowUS, nullString(j.UniqueKey), nullString(j.OrderKey),
		nullMicros(j.ExpiresAt), meta, j.Payload, nullString(j.PartitionKey))
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 1 {
		id, err := r.LastInsertId()
		if err != nil {
			return err
		}
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
	if j.UniqueKey == "" {
		return fmt.Errorf("sqlite: job was not inserted")
	}
	var id int64
	if err := x.queryRow(ctx, sqlUniqueHolder, j.UniqueKey).Scan(&id); err != nil {
		return fmt.Errorf("sqlite: unique key %q: %w", j.UniqueKey, err)
	}
	*res = queue.EnqueueResult{ID: id, Duplicate: true}
	return nil
}

// checkRoom sets *full when a queue with a MaxPending limit has no room
// for the jobs about to be added to it. A job whose unique key is held
// adds nothing (it is a duplicate). It writes nothing.
func checkRoom(ctx context.Context, x *xtx, now time.Time, jobs []queue.NewJob, perQueue map[string]int, full *error) error {
	for name, adding := range perQueue {
		limit, ok := x.limits[name]
		if !ok {
			switch err := x.queryRow(ctx, sqlMaxPending, name).Scan(&limit); err {
			case sql.ErrNoRows:
				limit = 0
			case nil:
			default:
				return err
			}
			if x.limits == nil {
				x.limits = map[string]int{}
			}
			x.limits[name] = limit
		}
		if limit == 0 {
			continue
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

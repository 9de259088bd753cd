package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Leasing. Several hosts lease from one queue at once: each takes the
// ready jobs nobody else is taking (FOR UPDATE SKIP LOCKED), so two leases
// never block on, nor share, a job.

const (
	// sqlQueueLease reads the settings a lease obeys. A queue with a
	// MaxRunning or a RateLimit (or their per-key twins) has its row read
	// again and locked
	// (sqlQueueLock): leases of the queue then take turns, each counting
	// the running jobs and the rate's tokens after the last committed.
	sqlQueueLease = `SELECT paused, coalesce(max_running, 0),
  coalesce(rate_limit, 0), coalesce(rate_period_us, 0), coalesce(rate_tokens, -1), coalesce(rate_at, 0),
  coalesce(max_running_per_key, 0), coalesce(rate_limit_per_key, 0), coalesce(rate_period_per_key_us, 0)
  FROM spool.queues WHERE name = $1`
	sqlQueueLock = sqlQueueLease + ` FOR UPDATE`
	// sqlSpendRate stores a queue's rate bucket after a lease spent it.
	sqlSpendRate = `UPDATE spool.queues SET rate_tokens = $1, rate_at = $2 WHERE name = $3`
	// sqlRunningHeld counts a queue's running jobs whose lease holds, for
	// MaxRunning (jobs_running_queue). Expiring and promoting waiting jobs
	// leaves the count as it is.
	sqlRunningHeld = `SELECT count(*) FROM spool.jobs WHERE queue = $1 AND state = ` + runningSQL + ` AND lease_until > $2`
	// sqlProbeLimited is, for a queue with a shared limit, sqlAnyExpiry,
	// sqlRunningHeld and sqlNextRunAt in one round trip: a lease that finds
	// no scheduled job due skips the promotion, and knows the next run
	// time without asking again.
	sqlProbeLimited = `SELECT coalesce((SELECT min(expires_at) FROM spool.jobs
  WHERE queue = $1 AND expires_at IS NOT NULL AND state IN ` + waitingSQL + `) <= $2, false), (` + sqlRunningHeld + `),
  (SELECT min(run_at) FROM spool.jobs WHERE queue = $1 AND state = ` + scheduledSQL + `)`
	// sqlFirstExpiry is the earliest expiry of queue $5's waiting jobs.
	// Due jobs and expiring jobs are found by comparing such a min() with
	// now, never by EXISTS (… <= now): the min() is one step down a
	// partial index, while the planner may answer the EXISTS by scanning
	// the whole table, expecting an early match (on a table with
	// statistics, where past run times of pending jobs look like matches).
	sqlFirstExpiry = `(SELECT min(expires_at) FROM spool.jobs
    WHERE queue = $5 AND expires_at IS NOT NULL AND state IN ` + waitingSQL + `)`
	// sqlAnyExpiry probes the expiry index: one lookup per lease.
	sqlAnyExpiry = `SELECT coalesce((SELECT min(expires_at) FROM spool.jobs
  WHERE queue = $1 AND expires_at IS NOT NULL AND state IN ` + waitingSQL + `) <= $2, false)`
	// sqlPromote makes due scheduled jobs of a queue ready, a bounded number
	// per call so that one call never holds many rows long; rows another
	// lease is promoting are left to it.
	sqlPromote = `UPDATE spool.jobs SET state = ` + pendingSQL + `
  WHERE id = ANY (ARRAY(SELECT id FROM spool.jobs WHERE queue = $1 AND state = ` + scheduledSQL + ` AND run_at <= $2
    ORDER BY run_at LIMIT 1000 FOR UPDATE SKIP LOCKED))`
	// sqlLease takes the first ready jobs in index order (jobs_ready) that
	// no other lease is taking, and returns them.
	sqlLease = `UPDATE spool.jobs
  SET state = ` + runningSQL + `, attempt = attempt + 1, attempted_at = $1, lease_until = $2, lease_token = $3, leased_by = $4
  WHERE id = ANY (ARRAY(SELECT id FROM spool.jobs WHERE queue = $5 AND state = ` + pendingSQL + `
    ORDER BY priority DESC, run_at, id LIMIT $6 FOR UPDATE SKIP LOCKED))
  RETURNING ` + jobColumns
	sqlNextRunAt = `SELECT min(run_at) FROM spool.jobs WHERE queue = $1 AND state = ` + scheduledSQL
	// sqlLeaseFast is Lease in one statement, for the common case: it
	// leases only when the queue is not paused and has no job due for
	// promotion or expiry (else it returns no row and Lease takes the long
	// way), and returns with each job the queue's next scheduled run time.
	// A queue with a shared limit (MaxRunning, RateLimit, or one per key)
	// always takes the long way.
	//
	// Its commit does not wait for the WAL flush (synchronous_commit off
	// for this transaction only): a pool leases one batch at a time, so
	// the flush (0.6 ms and more here) was on every lease's path and on
	// every job's latency. A lease is not data the caller was promised: a
	// server crash that loses one leaves its jobs pending, as an expired
	// lease would, their worker's settle finds the lease lost (fencing),
	// and the jobs run again (at least once). What such a crash forgets is
	// the attempt the lease counted: a job may then get one more attempt
	// per server crash. Enqueues and settles still wait for their flush,
	// and a settle's flush covers the lease before it.
	sqlLeaseFast = `WITH leased AS (
  UPDATE spool.jobs
  SET state = ` + runningSQL + `, attempt = attempt + 1, attempted_at = $1, lease_until = $2, lease_token = $3, leased_by = $4
  WHERE id = ANY (ARRAY(SELECT id FROM spool.jobs WHERE queue = $5 AND state = ` + pendingSQL + `
      ORDER BY priority DESC, run_at, id LIMIT $6 FOR UPDATE SKIP LOCKED))
    AND NOT EXISTS (SELECT 1 FROM spool.queues WHERE name = $5
      AND (paused OR max_running IS NOT NULL OR rate_limit IS NOT NULL
        OR max_running_per_key IS NOT NULL OR rate_limit_per_key IS NOT NULL))
    AND NOT coalesce((SELECT min(run_at) FROM spool.jobs WHERE queue = $5 AND state = ` + scheduledSQL + `) <= $1, false)
    AND NOT coalesce(` + sqlFirstExpiry + ` <= $1, false)
  RETURNING ` + jobColumns + `)
SELECT leased.*, (SELECT min(run_at) FROM spool.jobs WHERE queue = $5 AND state = ` + scheduledSQL + `)
FROM leased, (SELECT set_config('synchronous_commit', 'off', true)) AS async`
)

// Lease implements queue.Store.
//
// Most leases take one round trip (leaseFast); a lease that finds nothing
// that way, or finds the queue paused or with jobs to promote or expire,
// takes the long way: one transaction that expires, promotes, leases and
// reads the next run time. A queue with a MaxRunning or RateLimit takes
// the long way at once (s.limited): there its leases take turns.
func (s *Store) Lease(ctx context.Context, p queue.LeaseParams) (queue.LeaseResult, error) {
	if p.Limit <= 0 {
		return queue.LeaseResult{}, nil
	}
	token := sqlstore.NewToken()
	if _, limited := s.limited.Load(p.Queue); !limited {
		if res, ok, err := s.leaseFast(ctx, p, token); ok || err != nil {
			return res, err
		}
	}
	var res queue.LeaseResult
	err := s.write(ctx, nil, func(ctx context.Context, x *xtx) error {
		res = queue.LeaseResult{}
		var paused, expiring bool
		var maxRunning int
		var rate sqlstore.RateBucket
		var keys sqlstore.KeyPicker
		readSettings := func(query string) error {
			switch err := x.queryRow(ctx, query, p.Queue).Scan(&paused, &maxRunning,
				&rate.Limit, &rate.Period, &rate.Tokens, &rate.At,
				&keys.MaxRunning, &keys.Rate.Limit, &keys.Rate.Period); err {
			case nil, sql.ErrNoRows:
				return nil
			default:
				return err
			}
		}
		// A queue known to be limited is read locked at once; another is
		// read, and read again locked if it turns out limited. Lock first,
		// then count: the count's snapshot is taken after the lock, so it
		// sees the leases of the previous holder.
		_, locked := s.limited.Load(p.Queue)
		query := sqlQueueLease
		if locked {
			query = sqlQueueLock
		}
		if err := readSettings(query); err != nil {
			return err
		}
		if paused {
			res.Paused = true
			return nil
		}
		byKey := keys.MaxRunning > 0 || keys.Rate.Limit > 0
		limited := maxRunning > 0 || rate.Limit > 0 || byKey
		switch {
		case !limited:
			s.limited.Delete(p.Queue)
		case !locked:
			s.limited.Store(p.Queue, struct{}{})
			if err := readSettings(sqlQueueLock); err != nil {
				return err
			}
		}
		now := x.f.us(p.Now)
		var running int
		// firstRun is the queue's earliest scheduled run time, when known
		// (a limited queue's probe) and no promotion moved it.
		var firstRun sql.NullInt64
		promote, knowNext := true, false
		if limited {
			err := x.queryRow(ctx, sqlProbeLimited, p.Queue, now).Scan(&expiring, &running, &firstRun)
			if err != nil {
				return err
			}
			promote = firstRun.Valid && firstRun.Int64 <= now
			knowNext = !promote
		} else if err := x.queryRow(ctx, sqlAnyExpiry, p.Queue, now).Scan(&expiring); err != nil {
			return err
		}
		if expiring {
			if err := expireWaiting(ctx, x, p.Queue, p.Now); err != nil {
				return err
			}
		}
		if promote {
			if _, err := x.exec(ctx, sqlPromote, p.Queue, now); err != nil {
				return err
			}
		}
		limit := p.Limit
		if maxRunning > 0 {
			res.MaxRunning = maxRunning
			if free := maxRunning - running; free < limit {
				limit, res.Limited = max(free, 0), true
			}
		}
		if rate.Limit > 0 && limit > 0 {
			n, next := rate.Take(now, limit)
			if n < limit {
				limit, res.RateLimitedUntil = n, x.f.time(next)
			}
		}
		if limited && limit == 0 {
			return nil
		}
		if byKey {
			res.MaxRunningPerKey = keys.MaxRunning
			keys.Now, keys.Want = now, limit
			var err error
			if res.Jobs, err = leaseByKey(ctx, x, p, &keys, token, now); err != nil {
				return err
			}
			res.Limited = res.Limited || keys.Limited
			// A cut by the queue's own rate comes first: jobs past the cut
			// may start at its next token, whatever their keys.
			if keys.NextToken > 0 && res.RateLimitedUntil.IsZero() {
				res.RateLimitedUntil = x.f.time(keys.NextToken)
			}
		} else {
			rows, err := x.query(ctx, sqlLease, now, x.f.us(p.Until), token, p.Worker, p.Queue, limit)
			if err != nil {
				return err
			}
			if res.Jobs, err = collect(rows, x.f.scanLive); err != nil {
				return err
			}
		}
		if rate.Limit > 0 && len(res.Jobs) > 0 {
			rate.Spend(len(res.Jobs))
			if _, err := x.exec(ctx, sqlSpendRate, rate.Tokens, rate.At, p.Queue); err != nil {
				return err
			}
		}
		if len(res.Jobs) < limit && knowNext {
			res.NextRunAt = x.f.nullTime(firstRun)
		} else if len(res.Jobs) < limit {
			var next sql.NullInt64
			if err := x.queryRow(ctx, sqlNextRunAt, p.Queue).Scan(&next); err != nil {
				return err
			}
			res.NextRunAt = x.f.nullTime(next)
		}
		return nil
	})
	return res, err
}

// Per-partition-key limits (QueueSettings.MaxRunningPerKey, RateLimitPerKey).
// A queue without them never runs these. Its leases take turns (the queue's
// row is locked), so the counts and buckets read are those the previous
// lease left. A lease under them takes four round trips, as one under
// MaxRunning takes three: the row lock, the probe, one page of the walk
// (sqlKeyWalk: the ready jobs with their keys' running counts and rate
// buckets) and the update; a second page only when the first did not fill
// the lease, and one more statement for the rate buckets it spent.
const (
	// sqlKeyWalk reads a page of a queue's ready jobs in lease order
	// (jobs_ready), $2 jobs after the first $3, each with its key's stored
	// rate bucket, if any; and before them, one row per key of the queue's
	// keyed running jobs whose lease holds at $4 (jobs_running_key; a few
	// hundred at most), with the count in the third column (NULL on job
	// rows). A union, not a join: a planner without statistics ran a
	// joined count once per page row (80 ms for a page of 64; this takes
	// 0.3 ms).
	sqlKeyWalk = `SELECT NULL::bigint, partition_key, count(*), NULL::double precision, NULL::bigint,
    NULL::integer AS priority, NULL::bigint AS run_at, NULL::bigint AS id
  FROM spool.jobs WHERE queue = $1 AND state = ` + runningSQL + ` AND partition_key IS NOT NULL AND lease_until > $4
  GROUP BY partition_key
UNION ALL
SELECT p.id, p.partition_key, NULL, b.tokens, b.rate_at, p.priority, p.run_at, p.id
FROM (SELECT id, partition_key, priority, run_at FROM spool.jobs WHERE queue = $1 AND state = ` + pendingSQL + `
    ORDER BY priority DESC, run_at, id LIMIT $2 OFFSET $3) p
  LEFT JOIN spool.partition_rates b ON b.queue = $1 AND b.key = p.partition_key
ORDER BY priority DESC NULLS FIRST, run_at, id`
	// sqlSpendKeyRates stores the rate buckets a lease spent: keys $2 with
	// their tokens $3 at $4, full again at $5.
	sqlSpendKeyRates = `INSERT INTO spool.partition_rates (queue, key, tokens, rate_at, full_at)
  SELECT $1, k, t, a, f FROM unnest($2::text[], $3::double precision[], $4::bigint[], $5::bigint[]) AS b(k, t, a, f)
  ON CONFLICT (queue, key) DO UPDATE SET tokens = excluded.tokens, rate_at = excluded.rate_at, full_at = excluded.full_at`
	// sqlLeaseIDs leases the jobs a KeyPicker chose ($5) that are still
	// ready (pending, state 0), and returns them. Their rows are locked
	// first with SKIP LOCKED, as the plain lease does: a row another
	// transaction holds (a caller's Cancel in its own transaction) is left
	// out, never waited for, since this lease holds the queue's row and
	// every per-key lease of the queue would queue behind it. "state < 1",
	// not "state = 0": with the latter the planner finds the ids by walking
	// all of jobs_ready (whose predicate it matches), 26 ms a lease behind
	// 20k ready jobs, instead of looking each up in jobs_pkey (0.2 ms).
	sqlLeaseIDs = `UPDATE spool.jobs
  SET state = ` + runningSQL + `, attempt = attempt + 1, attempted_at = $1, lease_until = $2, lease_token = $3, leased_by = $4
  WHERE id = ANY (ARRAY(SELECT id FROM spool.jobs WHERE id = ANY ($5) AND state < 1 ORDER BY id FOR UPDATE SKIP LOCKED))
    AND state < 1
  RETURNING ` + jobColumns
)

// keyRow is a row of sqlKeyWalk: a ready job (id set), or a key's count
// of running jobs (running set).
type keyRow struct {
	id      sql.NullInt64
	key     string
	running sql.NullInt64
	tokens  sql.NullFloat64
	at      sql.NullInt64
}

func scanKeyRow(r scanner) (keyRow, error) {
	var k keyRow
	var key sql.NullString
	var priority, runAt, id sql.NullInt64 // the sort columns
	err := r.Scan(&k.id, &key, &k.running, &k.tokens, &k.at, &priority, &runAt, &id)
	k.key = key.String
	return k, err
}

// leaseByKey leases the first ready jobs whose partition keys have room
// (keys: the queue's per-key limits, Now and Want set) and returns them,
// spending their keys' tokens. It reads the ready jobs in two pages at
// most: a first of sqlstore.KeyWalkFirst, and the rest of the walk (to
// queue.MaxKeyWalk) only when that did not fill the lease.
func leaseByKey(ctx context.Context, x *xtx, p queue.LeaseParams, keys *sqlstore.KeyPicker, token, now int64) ([]*queue.Job, error) {
	keys.Running = map[string]int{}
	type stored struct {
		tokens float64
		at     int64
	}
	buckets := map[string]stored{}
	offered := map[int64]bool{}
	keys.Load = func(key string) (float64, int64, bool, error) {
		b, ok := buckets[key]
		return b.tokens, b.at, ok, nil
	}
	for offset, size := 0, sqlstore.KeyWalkFirst(keys.Want); size > 0 && !keys.Done(); {
		rows, err := x.query(ctx, sqlKeyWalk, p.Queue, size, offset, now)
		if err != nil {
			return nil, err
		}
		page, err := collect(rows, scanKeyRow)
		if err != nil {
			return nil, err
		}
		jobs := 0
		for _, r := range page {
			switch {
			case r.running.Valid:
				keys.Running[r.key] = int(r.running.Int64)
			case r.key != "" && r.tokens.Valid && r.at.Valid:
				buckets[r.key] = stored{r.tokens.Float64, r.at.Int64}
			}
		}
		for _, r := range page {
			if !r.id.Valid {
				continue
			}
			jobs++
			// The pages are two statements: a job enqueued or cancelled
			// between them shifts the offset, and the second page may
			// begin with a job the first one offered. Offered twice, it
			// would count twice toward the lease and its key.
			if offered[r.id.Int64] {
				continue
			}
			offered[r.id.Int64] = true
			if err := keys.Offer(r.id.Int64, r.key); err != nil {
				return nil, err
			}
		}
		if jobs < size {
			break
		}
		offset += size
		size = queue.MaxKeyWalk - offset
	}
	if len(keys.IDs) == 0 {
		return nil, nil
	}
	rows, err := x.query(ctx, sqlLeaseIDs, now, x.f.us(p.Until), token, p.Worker, keys.IDs)
	if err != nil {
		return nil, err
	}
	jobs, err := collect(rows, x.f.scanLive)
	if err != nil {
		return nil, err
	}
	if spent := keys.Spent(jobs); len(spent) > 0 {
		var (
			names        = make([]string, len(spent))
			tokens       = make([]float64, len(spent))
			ats, fullAts = make([]int64, len(spent)), make([]int64, len(spent))
		)
		for i, b := range spent {
			names[i], tokens[i], ats[i], fullAts[i] = b.Key, b.Tokens, b.At, b.FullAt
		}
		if _, err := x.exec(ctx, sqlSpendKeyRates, p.Queue, names, tokens, ats, fullAts); err != nil {
			return nil, err
		}
	}
	return jobs, nil
}

// leaseFast leases with sqlLeaseFast, in an implicit transaction; ok
// reports that it leased something.
func (s *Store) leaseFast(ctx context.Context, p queue.LeaseParams, token int64) (res queue.LeaseResult, ok bool, err error) {
	f := s.clock.frame()
	for range maxRetries {
		var rows *sql.Rows
		rows, err = s.db.QueryContext(ctx, s.sql(sqlLeaseFast), f.us(p.Now), f.us(p.Until), token, p.Worker, p.Queue, p.Limit)
		if err == nil {
			var next sql.NullInt64
			res.Jobs, err = collect(rows, func(r scanner) (*queue.Job, error) {
				return f.scanJobAnd(r, &next)
			})
			if err == nil {
				if len(res.Jobs) < p.Limit {
					res.NextRunAt = f.nullTime(next)
				}
				return res, len(res.Jobs) > 0, nil
			}
		}
		if !retryable(err) || ctx.Err() != nil {
			break
		}
	}
	return queue.LeaseResult{}, false, ctxErr(ctx, mapErr(err))
}

// scanLive reads a row of jobColumns.
func (f frame) scanLive(r scanner) (*queue.Job, error) { return f.scanJob(r, false) }

// sqlExtend moves the expiry of the leases ($2 ids, $3 their tokens)
// that still hold, and returns them with whether an operator asked to
// cancel the job meanwhile.
const sqlExtend = `UPDATE spool.jobs j SET lease_until = $1
  FROM unnest($2::bigint[], $3::bigint[]) AS l(id, token)
  WHERE j.id = l.id AND j.lease_token = l.token AND j.state = ` + runningSQL + `
  RETURNING j.id, j.lease_token, j.cancel_requested`

// extended is a lease sqlExtend moved.
type extended struct {
	lease  queue.LeaseRef
	cancel bool
}

func scanExtended(r scanner) (extended, error) {
	var e extended
	err := r.Scan(&e.lease.JobID, &e.lease.Token, &e.cancel)
	return e, err
}

// Extend implements queue.Store, in two statements however many leases:
// it first locks the jobs' rows in id order, the order Settle locks them
// in (sqlLockJobs), so that a heartbeat and a settle or rescue of the
// same jobs never wait on each other in a cycle; then one UPDATE moves
// every lease that still holds.
func (s *Store) Extend(ctx context.Context, leases []queue.LeaseRef, until time.Time) (queue.ExtendResult, error) {
	ids := make([]int64, len(leases))
	tokens := make([]int64, len(leases))
	for i, l := range leases {
		ids[i], tokens[i] = l.JobID, l.Token
	}
	var res queue.ExtendResult
	err := s.write(ctx, nil, func(ctx context.Context, x *xtx) error {
		res = queue.ExtendResult{}
		if err := lockJobs(ctx, x, ids); err != nil {
			return err
		}
		rows, err := x.query(ctx, sqlExtend, x.f.us(until), ids, tokens)
		if err != nil {
			return err
		}
		extended, err := collect(rows, scanExtended)
		if err != nil {
			return err
		}
		held := make(map[queue.LeaseRef]bool, len(extended))
		for _, e := range extended {
			held[e.lease] = true
			if e.cancel {
				res.CancelRequested = append(res.CancelRequested, e.lease.JobID)
			}
		}
		for _, l := range leases {
			if !held[l] {
				res.Lost = append(res.Lost, l.JobID)
			}
		}
		return nil
	})
	return res, err
}

// sqlExpired lists the running jobs whose lease has expired, for the
// rescuer.
const sqlExpired = `SELECT ` + jobColumns + ` FROM spool.jobs WHERE state = ` + runningSQL + ` AND lease_until < $1
  ORDER BY lease_until LIMIT $2`

// Expired implements queue.Store.
func (s *Store) Expired(ctx context.Context, now time.Time, limit int) ([]*queue.Job, error) {
	f := s.clock.frame()
	rows, err := s.db.QueryContext(ctx, s.sql(sqlExpired), f.us(now), limit)
	if err != nil {
		return nil, ctxErr(ctx, mapErr(err))
	}
	jobs, err := collect(rows, f.scanLive)
	return jobs, ctxErr(ctx, mapErr(err))
}

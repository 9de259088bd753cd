package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

const (
	// sqlQueueLease reads, in one statement, what a lease must know before
	// it takes jobs: the settings it obeys (one row, defaults for a queue
	// without a row, so a queue without a limit costs no extra statement);
	// whether a waiting job has expired (the expiry index, as
	// sqlAnyExpiry); and the queue's earliest scheduled run time (the
	// scheduled index, as sqlNextRunAt), which says whether anything is due
	// for promotion and, when nothing was promoted or expired, when to look
	// again. Three statements before, each a fixed cost of every lease
	// (measured: ~2.7k instructions per job at leases of 50). ?1 queue,
	// ?2 now.
	sqlQueueLease = `SELECT coalesce(q.paused, 0), coalesce(q.max_running, 0),
  coalesce(q.rate_limit, 0), coalesce(q.rate_period_us, 0), coalesce(q.rate_tokens, -1), coalesce(q.rate_at, 0),
  coalesce(q.max_running_per_key, 0), coalesce(q.rate_limit_per_key, 0), coalesce(q.rate_period_per_key_us, 0),
  EXISTS (SELECT 1 FROM spool_jobs
    WHERE queue = ?1 AND expires_at <= ?2 AND expires_at IS NOT NULL AND state IN ` + waitingSQL + `),
  (SELECT min(run_at) FROM spool_jobs WHERE queue = ?1 AND state = ` + scheduledSQL + `)
  FROM (SELECT 1) LEFT JOIN spool_queues q ON q.name = ?1`
	// sqlSpendRate stores a queue's rate bucket after a lease spent it.
	sqlSpendRate = `UPDATE spool_queues SET rate_tokens = ?, rate_at = ? WHERE name = ?`
	// sqlRunningHeld counts a queue's running jobs whose lease holds, for
	// MaxRunning. It walks spool_jobs_running (every running job, a few
	// hundred at most: bounded by the pools' concurrency) rather than an
	// index of its own, which cost every lease and settle ~40 % more.
	sqlRunningHeld = `SELECT count(*) FROM spool_jobs WHERE queue = ? AND state = ` + runningSQL + ` AND lease_until > ?`
	// sqlPromote makes due scheduled jobs of a queue ready, a bounded number
	// per call so that one call never holds the writer long.
	sqlPromote = `UPDATE spool_jobs SET state = ` + pendingSQL + `
  WHERE id IN (SELECT id FROM spool_jobs WHERE queue = ? AND state = ` + scheduledSQL + ` AND run_at <= ? ORDER BY run_at LIMIT 1000)`
	// sqlLease takes the first ready jobs in index order (spool_jobs_ready).
	// "LIMIT ? + 0": SQLite re-prepares a statement whose bare bound LIMIT
	// changes value between runs; an expression does not count as one.
	sqlLease = `UPDATE spool_jobs
  SET state = ` + runningSQL + `, attempt = attempt + 1, attempted_at = ?, lease_until = ?, lease_token = ?, leased_by = ?
  WHERE id IN (SELECT id FROM spool_jobs WHERE queue = ? AND state = ` + pendingSQL + ` ORDER BY priority DESC, run_at, id LIMIT ? + 0)`
	// sqlLeased reads the jobs sqlLease just took back through the running
	// index: they share the lease's token and expiry. (RETURNING costs more:
	// SQLite buffers its rows before the first is read.) Every job of one
	// lease starts at once, so their order does not matter.
	sqlLeased = `SELECT ` + leasedColumns + ` FROM spool_jobs
  WHERE state = ` + runningSQL + ` AND lease_until = ? AND lease_token = ?`
	// leasedColumns is what sqlLeased reads, in scanLeased's order: the
	// columns the lease itself did not just set.
	leasedColumns = `id, kind, priority, run_at, attempt, max_attempts, timeout_us, created_at,
  unique_key, order_key, partition_key, expires_at, metadata, errors, payload`
	sqlNextRunAt = `SELECT min(run_at) FROM spool_jobs WHERE queue = ? AND state = ` + scheduledSQL
)

// Per-partition-key limits (QueueSettings.MaxRunningPerKey, RateLimitPerKey).
// A queue without them never runs these.
const (
	// sqlRunningByKey counts each partition key's running jobs of a queue
	// whose lease holds (spool_jobs_running_key: only keyed running jobs).
	sqlRunningByKey = `SELECT partition_key, count(*) FROM spool_jobs
  WHERE queue = ? AND state = ` + runningSQL + ` AND partition_key IS NOT NULL AND lease_until > ?
  GROUP BY partition_key`
	// sqlKeyWalk reads a queue's ready jobs in lease order (spool_jobs_ready)
	// with their keys, at most queue.MaxKeyWalk; the lease reads no further
	// than it needs.
	sqlKeyWalk = `SELECT id, partition_key FROM spool_jobs WHERE queue = ? AND state = ` + pendingSQL + `
  ORDER BY priority DESC, run_at, id LIMIT ?`
	// sqlKeyRate reads a key's rate bucket.
	sqlKeyRate = `SELECT tokens, rate_at FROM spool_partition_rates WHERE queue = ? AND key = ?`
	// sqlSpendKeyRate stores a key's rate bucket after a lease spent it.
	sqlSpendKeyRate = `INSERT INTO spool_partition_rates (queue, key, tokens, rate_at, full_at) VALUES (?1, ?2, ?3, ?4, ?5)
  ON CONFLICT (queue, key) DO UPDATE SET tokens = ?3, rate_at = ?4, full_at = ?5`
	// sqlLeaseIDs leases the jobs a KeyPicker chose (a JSON array of ids).
	sqlLeaseIDs = `UPDATE spool_jobs
  SET state = ` + runningSQL + `, attempt = attempt + 1, attempted_at = ?, lease_until = ?, lease_token = ?, leased_by = ?
  WHERE id IN (SELECT value FROM json_each(?)) AND state = ` + pendingSQL
)

// leaseByKey leases the first ready jobs whose partition keys have room
// (keys: the queue's per-key limits, Now and Want set), walking the ready
// jobs no further than it needs, and returns how many it leased.
func leaseByKey(ctx context.Context, x *xtx, p queue.LeaseParams, keys *sqlstore.KeyPicker, token, now, until int64) (int64, error) {
	if keys.MaxRunning > 0 {
		rows, err := x.query(ctx, sqlRunningByKey, p.Queue, now)
		if err != nil {
			return 0, err
		}
		keys.Running = map[string]int{}
		for rows.Next() {
			var key string
			var n int
			if err := rows.Scan(&key, &n); err != nil {
				rows.Close()
				return 0, err
			}
			keys.Running[key] = n
		}
		if err := closeRows(rows); err != nil {
			return 0, err
		}
	}
	keys.Load = func(key string) (float64, int64, bool, error) {
		var tokens float64
		var at int64
		switch err := x.queryRow(ctx, sqlKeyRate, p.Queue, key).Scan(&tokens, &at); err {
		case nil:
			return tokens, at, true, nil
		case sql.ErrNoRows:
			return 0, 0, false, nil
		default:
			return 0, 0, false, err
		}
	}
	rows, err := x.query(ctx, sqlKeyWalk, p.Queue, queue.MaxKeyWalk)
	if err != nil {
		return 0, err
	}
	for !keys.Done() && rows.Next() {
		var id int64
		var key sql.NullString
		if err := rows.Scan(&id, &key); err != nil {
			rows.Close()
			return 0, err
		}
		if err := keys.Offer(id, key.String); err != nil {
			rows.Close()
			return 0, err
		}
	}
	if err := closeRows(rows); err != nil {
		return 0, err
	}
	if len(keys.IDs) == 0 {
		return 0, nil
	}
	ids, err := json.Marshal(keys.IDs)
	if err != nil {
		return 0, err
	}
	r, err := x.exec(ctx, sqlLeaseIDs, now, until, token, p.Worker, string(ids))
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

// closeRows closes rows read in part or in full, and returns the error
// that ended them.
func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

// leaseSelectSQL is the job-selecting part of sqlLease, for the query-plan
// test.
const leaseSelectSQL = `SELECT id FROM spool_jobs WHERE queue = ? AND state = ` + pendingSQL + ` ORDER BY priority DESC, run_at, id LIMIT ?`

// Lease implements queue.Store.
func (s *Store) Lease(ctx context.Context, p queue.LeaseParams) (queue.LeaseResult, error) {
	var res queue.LeaseResult
	if p.Limit <= 0 {
		return res, nil
	}
	token := sqlstore.NewToken()
	err := s.write(ctx, nil, func(ctx context.Context, x *xtx) error {
		res = queue.LeaseResult{}
		var paused, expiring bool
		var maxRunning int
		var rate sqlstore.RateBucket
		var keys sqlstore.KeyPicker
		var nextScheduled sql.NullInt64
		now := micros(p.Now)
		if err := x.queryRow(ctx, sqlQueueLease, p.Queue, now).Scan(&paused, &maxRunning,
			&rate.Limit, &rate.Period, &rate.Tokens, &rate.At,
			&keys.MaxRunning, &keys.Rate.Limit, &keys.Rate.Period,
			&expiring, &nextScheduled); err != nil {
			return err
		}
		if paused {
			res.Paused = true
			return nil
		}
		if expiring {
			if err := expireWaiting(ctx, x, p.Queue, p.Now); err != nil {
				return err
			}
		}
		// Promote only when a scheduled job is due. The transaction holds
		// the write lock, so no other process adds one meanwhile, and
		// expiring jobs only takes some away.
		promoting := nextScheduled.Valid && nextScheduled.Int64 <= now
		if promoting {
			if _, err := x.exec(ctx, sqlPromote, p.Queue, now); err != nil {
				return err
			}
		}
		limit := p.Limit
		if maxRunning > 0 {
			res.MaxRunning = maxRunning
			var running int
			if err := x.queryRow(ctx, sqlRunningHeld, p.Queue, now).Scan(&running); err != nil {
				return err
			}
			if free := maxRunning - running; free < limit {
				limit, res.Limited = max(free, 0), true
			}
		}
		if rate.Limit > 0 && limit > 0 {
			n, next := rate.Take(now, limit)
			if n < limit {
				limit, res.RateLimitedUntil = n, time.UnixMicro(next)
			}
		}
		until := micros(p.Until)
		if limit == 0 {
			return nil
		}
		var n int64
		if keys.MaxRunning > 0 || keys.Rate.Limit > 0 {
			res.MaxRunningPerKey = keys.MaxRunning
			keys.Now, keys.Want = now, limit
			var err error
			if n, err = leaseByKey(ctx, x, p, &keys, token, now, until); err != nil {
				return err
			}
			res.Limited = res.Limited || keys.Limited
			// A cut by the queue's own rate comes first: jobs past the cut
			// may start at its next token, whatever their keys.
			if keys.NextToken > 0 && res.RateLimitedUntil.IsZero() {
				res.RateLimitedUntil = time.UnixMicro(keys.NextToken)
			}
		} else {
			r, err := x.exec(ctx, sqlLease, now, until, token, p.Worker, p.Queue, limit)
			if err != nil {
				return err
			}
			n, _ = r.RowsAffected()
		}
		if n > 0 {
			var err error
			if res.Jobs, err = readLeased(ctx, x, p, token, now, until); err != nil {
				return err
			}
			if rate.Limit > 0 {
				rate.Spend(len(res.Jobs))
				if _, err := x.exec(ctx, sqlSpendRate, rate.Tokens, rate.At, p.Queue); err != nil {
					return err
				}
			}
			for _, b := range keys.Spent(res.Jobs) {
				if _, err := x.exec(ctx, sqlSpendKeyRate, p.Queue, b.Key, b.Tokens, b.At, b.FullAt); err != nil {
					return err
				}
			}
		}
		if len(res.Jobs) < limit {
			// The lease leaves scheduled jobs alone: unless a promotion or
			// an expiry changed them, the earliest is the one read above.
			next := nextScheduled
			if promoting || expiring {
				if err := x.queryRow(ctx, sqlNextRunAt, p.Queue).Scan(&next); err != nil {
					return err
				}
			}
			res.NextRunAt = fromMicros(next)
		}
		return nil
	})
	return res, err
}

// readLeased reads back the jobs a lease with token just took.
func readLeased(ctx context.Context, x *xtx, p queue.LeaseParams, token, now, until int64) ([]*queue.Job, error) {
	jobs, err := queryLeased(ctx, x, until, token)
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		j.Queue, j.State, j.LeaseToken, j.LeasedBy = p.Queue, queue.StateRunning, token, p.Worker
		j.AttemptedAt, j.LeaseUntil = time.UnixMicro(now), time.UnixMicro(until)
	}
	return jobs, nil
}

// leasedWidth is the number of leasedColumns.
const leasedWidth = 15

// queryLeased runs sqlLeased. On the writer's connection it reads the rows
// straight from the driver (sql.Conn.Raw) with a statement the writer keeps
// prepared (leasedStmt): database/sql's Rows.Scan converts and copies
// every column of every row, about a fifth of what reading a leased job
// back costs. In a caller's transaction it reads them through
// database/sql.
func queryLeased(ctx context.Context, x *xtx, until, token int64) ([]*queue.Job, error) {
	if x.conn == nil {
		rows, err := x.query(ctx, sqlLeased, until, token)
		if err != nil {
			return nil, err
		}
		return collect(rows, scanLeased)
	}
	var jobs []*queue.Job
	err := x.conn.Raw(func(dc any) (err error) {
		st, done, err := x.s.w.leased.stmt(ctx, dc)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, done(err)) }()
		rows, err := st.QueryContext(ctx, []driver.NamedValue{{Ordinal: 1, Value: until}, {Ordinal: 2, Value: token}})
		if err != nil {
			return err
		}
		defer func() {
			if cerr := rows.Close(); err == nil {
				err = cerr
			}
		}()
		v := make([]driver.Value, leasedWidth)
		for {
			if err := rows.Next(v); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			j, err := leasedJob(v)
			if err != nil {
				return err
			}
			jobs = append(jobs, j)
		}
	})
	return jobs, err
}

// scanLeased reads a row of sqlLeased (leasedColumns) through database/sql.
func scanLeased(r scanner) (*queue.Job, error) {
	var (
		a    [leasedWidth]any
		dest [leasedWidth]any
		v    [leasedWidth]driver.Value
	)
	for i := range a {
		dest[i] = &a[i]
	}
	if err := r.Scan(dest[:]...); err != nil {
		return nil, err
	}
	for i := range a {
		v[i] = a[i]
	}
	return leasedJob(v[:])
}

// leasedJob makes the job of a row of sqlLeased (leasedColumns), as the
// driver returns it. A leased job is running and was never cancelled while
// it waited: the caller fills in the lease's own fields.
func leasedJob(v []driver.Value) (*queue.Job, error) {
	var (
		j                                 queue.Job
		runAt, createdAt, timeout         int64
		expiresAt                         sql.NullInt64
		uniqueKey, orderKey, partitionKey sql.NullString
		metadata, errs                    sql.NullString
		priority, attempt, maxAttempts    int64
	)
	for i, dest := range []any{&j.ID, &j.Kind, &priority, &runAt, &attempt, &maxAttempts, &timeout, &createdAt,
		&uniqueKey, &orderKey, &partitionKey, &expiresAt, &metadata, &errs, &j.Payload} {
		if !assignLeased(dest, v[i]) {
			return nil, fmt.Errorf("sqlite: read a leased job: column %d is %T", i, v[i])
		}
	}
	j.Priority, j.Attempt, j.MaxAttempts = int(priority), int(attempt), int(maxAttempts)
	j.RunAt = time.UnixMicro(runAt)
	j.CreatedAt = time.UnixMicro(createdAt)
	j.Timeout = time.Duration(timeout) * time.Microsecond
	j.UniqueKey = uniqueKey.String
	j.OrderKey = orderKey.String
	j.PartitionKey = partitionKey.String
	j.ExpiresAt = fromMicros(expiresAt)
	if err := decodeJSONColumns(&j, metadata, errs); err != nil {
		return nil, err
	}
	return &j, nil
}

// assignLeased stores the driver's value v in dest, one of the types
// leasedJob reads, and reports whether v had a type dest takes. The
// driver hands out bytes it copied for this row, so a []byte is kept as
// it is.
func assignLeased(dest any, v driver.Value) bool {
	switch d := dest.(type) {
	case *int64:
		n, ok := v.(int64)
		*d = n
		return ok
	case *sql.NullInt64:
		n, ok := v.(int64)
		*d = sql.NullInt64{Int64: n, Valid: ok}
		return ok || v == nil
	case *string:
		s, ok := v.(string)
		*d = s
		return ok
	case *sql.NullString:
		s, ok := v.(string)
		*d = sql.NullString{String: s, Valid: ok}
		return ok || v == nil
	case *[]byte:
		switch b := v.(type) {
		case []byte:
			*d = b
		case string:
			*d = []byte(b)
		case nil:
			*d = nil
		default:
			return false
		}
		return true
	}
	return false
}

// sqlExtend moves a lease's expiry while the lease holds, and says
// whether an operator asked to cancel the job meanwhile.
const sqlExtend = `UPDATE spool_jobs SET lease_until = ? WHERE id = ? AND lease_token = ? AND state = ` + runningSQL + `
  RETURNING cancel_requested`

// Extend implements queue.Store.
func (s *Store) Extend(ctx context.Context, leases []queue.LeaseRef, until time.Time) (queue.ExtendResult, error) {
	var res queue.ExtendResult
	err := s.write(ctx, nil, func(ctx context.Context, x *xtx) error {
		res = queue.ExtendResult{}
		for _, l := range leases {
			var cancel bool
			switch err := x.queryRow(ctx, sqlExtend, micros(until), l.JobID, l.Token).Scan(&cancel); err {
			case nil:
				if cancel {
					res.CancelRequested = append(res.CancelRequested, l.JobID)
				}
			case sql.ErrNoRows:
				res.Lost = append(res.Lost, l.JobID)
			default:
				return err
			}
		}
		return nil
	})
	return res, err
}

// sqlExpired lists the running jobs whose lease has expired, for the
// rescuer.
const sqlExpired = `SELECT ` + jobColumns + ` FROM spool_jobs WHERE state = ` + runningSQL + ` AND lease_until < ? ORDER BY lease_until LIMIT ?`

// Expired implements queue.Store.
func (s *Store) Expired(ctx context.Context, now time.Time, limit int) ([]*queue.Job, error) {
	return s.queryJobs(ctx, false, sqlExpired, micros(now), limit)
}

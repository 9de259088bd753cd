package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spooljobs/spool/queue"
)

const (
	sqlGetJob  = `SELECT ` + jobColumns + ` FROM spool_jobs WHERE id = ?`
	sqlGetDead = `SELECT ` + deadColumns + ` FROM spool_dead WHERE id = ?`
)

// Get implements queue.Store.
func (s *Store) Get(ctx context.Context, id int64) (*queue.Job, error) {
	j, err := scanJob(s.readDB.QueryRowContext(ctx, sqlGetJob, id), false)
	if errors.Is(err, sql.ErrNoRows) {
		j, err = scanJob(s.readDB.QueryRowContext(ctx, sqlGetDead, id), true)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("job %d: %w", id, queue.ErrNotFound)
	}
	return j, mapErr(err)
}

// The list queries are assembled from fixed fragments, one per filter the
// caller set, every value a bound parameter: a condition written as
// "(? = ” OR col = ?)" would keep SQLite from using an index or the
// primary key's range, so a deep page would scan every newer row. Keyset
// paging on id keeps every page as cheap as the first.
const (
	listJobsFrom = `SELECT ` + jobColumns + ` FROM spool_jobs WHERE 1`
	listDeadFrom = `SELECT ` + deadColumns + ` FROM spool_dead WHERE 1`
	// The same without the payload (ListFilter.OmitPayload).
	listJobsFromNoPayload = `SELECT ` + jobColumnsNoPayload + ` FROM spool_jobs WHERE 1`
	listDeadFromNoPayload = `SELECT ` + deadColumnsNoPayload + ` FROM spool_dead WHERE 1`
	listByQueue           = ` AND queue = ?`
	listByKind            = ` AND kind = ?`
	listByState           = ` AND state = ?`
	listBeforeID          = ` AND id < ?`
	// Search looks at the payload's text and at each attempt's decoded
	// error message, not at the errors column's JSON (whose keys and
	// timestamps would match "error" or a year in every failed job, and
	// whose escapes hide "<").
	listSearch = ` AND (instr(CAST(payload AS TEXT), ?) > 0
  OR EXISTS (SELECT 1 FROM json_each(errors) WHERE instr(json_extract(value, '$.error'), ?) > 0))`
	listSearchDead = ` AND (instr(CAST(payload AS TEXT), ?) > 0
  OR EXISTS (SELECT 1 FROM json_each(errors) WHERE instr(json_extract(value, '$.error'), ?) > 0)
  OR instr(reason, ?) > 0)`
	listOrder = ` ORDER BY id DESC LIMIT ?`
)

func listQuery(dead bool, f queue.ListFilter, state int, limit int) (string, []any) {
	var b strings.Builder
	var args []any
	switch {
	case dead && f.OmitPayload:
		b.WriteString(listDeadFromNoPayload)
	case dead:
		b.WriteString(listDeadFrom)
	case f.OmitPayload:
		b.WriteString(listJobsFromNoPayload)
	default:
		b.WriteString(listJobsFrom)
	}
	if f.Queue != "" {
		b.WriteString(listByQueue)
		args = append(args, f.Queue)
	}
	if f.Kind != "" {
		b.WriteString(listByKind)
		args = append(args, f.Kind)
	}
	if !dead && state >= 0 {
		b.WriteString(listByState)
		args = append(args, state)
	}
	if f.BeforeID > 0 {
		b.WriteString(listBeforeID)
		args = append(args, f.BeforeID)
	}
	if f.Search != "" {
		if dead {
			b.WriteString(listSearchDead)
			args = append(args, f.Search, f.Search, f.Search)
		} else {
			b.WriteString(listSearch)
			args = append(args, f.Search, f.Search)
		}
	}
	b.WriteString(listOrder)
	return b.String(), append(args, limit)
}

// List implements queue.Store.
func (s *Store) List(ctx context.Context, f queue.ListFilter) ([]*queue.Job, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	switch f.State {
	case queue.StateDead:
		q, args := listQuery(true, f, -1, limit)
		return s.queryJobs(ctx, true, q, args...)
	case "":
		// Live jobs first, then dead ones, merged newest first.
		q, args := listQuery(false, f, -1, limit)
		live, err := s.queryJobs(ctx, false, q, args...)
		if err != nil {
			return nil, err
		}
		q, args = listQuery(true, f, -1, limit)
		dead, err := s.queryJobs(ctx, true, q, args...)
		if err != nil {
			return nil, err
		}
		return mergeByID(live, dead, limit), nil
	default:
		code := stateCode(f.State)
		if code < 0 {
			return nil, fmt.Errorf("%w: unknown state %q", queue.ErrInvalidArgument, f.State)
		}
		q, args := listQuery(false, f, code, limit)
		return s.queryJobs(ctx, false, q, args...)
	}
}

func mergeByID(a, b []*queue.Job, limit int) []*queue.Job {
	out := make([]*queue.Job, 0, min(limit, len(a)+len(b)))
	for len(out) < limit && (len(a) > 0 || len(b) > 0) {
		if len(b) == 0 || (len(a) > 0 && a[0].ID > b[0].ID) {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return out
}

const (
	sqlCancelWaiting = `UPDATE spool_jobs SET state = ` + cancelledSQL + `, finished_at = ? WHERE id = ? AND state IN ` + waitingSQL + `
  RETURNING queue, order_key`
	sqlRequestCancel = `UPDATE spool_jobs SET cancel_requested = 1 WHERE id = ? AND state = ` + runningSQL
	sqlStateOf       = `SELECT state FROM spool_jobs WHERE id = ?`
	sqlIsDead        = `SELECT 1 FROM spool_dead WHERE id = ?`
)

// Cancel implements queue.Store.
func (s *Store) Cancel(ctx context.Context, tx *sql.Tx, id int64, now time.Time) (queue.State, error) {
	var (
		state  queue.State
		result error
	)
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		state, result = "", nil
		var qname string
		var key sql.NullString
		switch err := x.queryRow(ctx, sqlCancelWaiting, micros(now), id).Scan(&qname, &key); err {
		case nil:
			state = queue.StateCancelled
			return promoteNext(ctx, x, qname, key.String, now)
		case sql.ErrNoRows:
		default:
			return err
		}
		r, err := x.exec(ctx, sqlRequestCancel, id)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 1 {
			state = queue.StateRunning
			return nil
		}
		var code int
		switch err := x.queryRow(ctx, sqlStateOf, id).Scan(&code); err {
		case nil:
			state = stateNames[code]
			result = fmt.Errorf("cancel job %d (%s): %w", id, state, queue.ErrNotCancellable)
			return nil
		case sql.ErrNoRows:
		default:
			return err
		}
		var one int
		switch err := x.queryRow(ctx, sqlIsDead, id).Scan(&one); err {
		case nil:
			state = queue.StateDead
			result = fmt.Errorf("cancel job %d (dead): %w", id, queue.ErrNotCancellable)
		case sql.ErrNoRows:
			result = fmt.Errorf("cancel job %d: %w", id, queue.ErrNotFound)
		default:
			return err
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return state, result
}

// Retrying from the dead table reinserts each job under its own id with its
// attempts reset and its error history kept, oldest first. A job whose
// ordering key has a live job again waits behind it (blocked). A job whose
// unique key a live job holds again (sqlUniqueHolder: a replay's newer
// delivery, a fresh enqueue, or a dead job of the same key retried just
// before it) stays dead and is reported with the holder, never skipped
// silently.
const (
	sqlDeadMatching = `SELECT id, queue, order_key FROM spool_dead
  WHERE (?1 IS NULL OR id IN (SELECT value FROM json_each(?1)))
    AND (?2 = '' OR queue = ?2) AND (?3 = '' OR kind = ?3)
  ORDER BY id`
	sqlDeadToRetry = `SELECT id, queue, order_key, unique_key FROM spool_dead
  WHERE (?1 IS NULL OR id IN (SELECT value FROM json_each(?1)))
    AND (?2 = '' OR queue = ?2) AND (?3 = '' OR kind = ?3)
  ORDER BY id`
	// sqlKeyHasHead: must a retried dead job wait? Yes while its key has a
	// live head, or an older dead job that holds the key.
	sqlKeyHasHead = `SELECT EXISTS (SELECT 1 FROM spool_jobs WHERE queue = ?1 AND order_key = ?2 AND state IN ` + keyHeadSQL + `)
  OR EXISTS (SELECT 1 FROM spool_dead WHERE queue = ?1 AND order_key = ?2 AND blocks_key AND id < ?3)`
	sqlRetryOneDead = `INSERT INTO spool_jobs
  (id, queue, kind, state, priority, run_at, attempt, max_attempts, timeout_us, created_at,
   unique_key, order_key, expires_at, metadata, errors, payload)
  SELECT id, queue, kind, ?2, priority, ?3, 0, max_attempts, timeout_us, created_at,
   unique_key, order_key, NULL, metadata, errors, payload
  FROM spool_dead WHERE id = ?1`
	sqlDeleteOneDead = `DELETE FROM spool_dead WHERE id = ?`
)

// RetryDead implements queue.Store.
func (s *Store) RetryDead(ctx context.Context, tx *sql.Tx, f queue.DeadFilter, now time.Time) (queue.RetryDeadResult, error) {
	var ids any
	if len(f.IDs) > 0 {
		b, _ := json.Marshal(f.IDs)
		ids = string(b)
	}
	var res queue.RetryDeadResult
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		res = queue.RetryDeadResult{}
		type dead struct {
			id        int64
			queue     string
			key, ukey sql.NullString
		}
		var list []dead
		rows, err := x.query(ctx, sqlDeadToRetry, ids, f.Queue, f.Kind)
		if err != nil {
			return err
		}
		for rows.Next() {
			var d dead
			if err := rows.Scan(&d.id, &d.queue, &d.key, &d.ukey); err != nil {
				rows.Close()
				return err
			}
			list = append(list, d)
		}
		if err := endRows(rows); err != nil {
			return err
		}
		for _, d := range list {
			if d.ukey.Valid {
				var holder int64
				switch err := x.queryRow(ctx, sqlUniqueHolder, d.ukey.String).Scan(&holder); err {
				case nil:
					res.Skipped = append(res.Skipped, queue.KeyHeldError{JobID: d.id, Key: d.ukey.String, HolderID: holder})
					continue
				case sql.ErrNoRows:
				default:
					return err
				}
			}
			state := stPending
			if d.key.Valid {
				var busy bool
				if err := x.queryRow(ctx, sqlKeyHasHead, d.queue, d.key.String, d.id).Scan(&busy); err != nil {
					return err
				}
				if busy {
					state = stBlocked
				}
			}
			if _, err := x.exec(ctx, sqlRetryOneDead, d.id, state, micros(now)); err != nil {
				return err
			}
			if _, err := x.exec(ctx, sqlDeleteOneDead, d.id); err != nil {
				return err
			}
			res.Retried++
		}
		return nil
	})
	return res, err
}

const (
	sqlDeleteJob  = `DELETE FROM spool_jobs WHERE id = ? AND state <> ` + runningSQL + ` RETURNING queue, order_key`
	sqlDeleteDead = `DELETE FROM spool_dead WHERE id = ? RETURNING queue, order_key`
)

// DeleteDead implements queue.Store.
func (s *Store) DeleteDead(ctx context.Context, tx *sql.Tx, f queue.DeadFilter, now time.Time) (int, error) {
	var ids any
	if len(f.IDs) > 0 {
		b, _ := json.Marshal(f.IDs)
		ids = string(b)
	}
	var n int
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		n = 0
		var list []int64
		rows, err := x.query(ctx, sqlDeadMatching, ids, f.Queue, f.Kind)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			var qname string
			var key sql.NullString
			if err := rows.Scan(&id, &qname, &key); err != nil {
				rows.Close()
				return err
			}
			list = append(list, id)
		}
		if err := endRows(rows); err != nil {
			return err
		}
		for _, id := range list {
			var qname string
			var key sql.NullString
			switch err := x.queryRow(ctx, sqlDeleteDead, id).Scan(&qname, &key); err {
			case nil:
			case sql.ErrNoRows:
				continue
			default:
				return err
			}
			if err := promoteNext(ctx, x, qname, key.String, now); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// Delete implements queue.Store.
func (s *Store) Delete(ctx context.Context, tx *sql.Tx, id int64, now time.Time) error {
	var result error
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		result = nil
		var qname string
		var key sql.NullString
		for _, q := range []string{sqlDeleteJob, sqlDeleteDead} {
			switch err := x.queryRow(ctx, q, id).Scan(&qname, &key); err {
			case nil:
				return promoteNext(ctx, x, qname, key.String, now)
			case sql.ErrNoRows:
			default:
				return err
			}
		}
		var code int
		switch err := x.queryRow(ctx, sqlStateOf, id).Scan(&code); err {
		case nil:
			result = fmt.Errorf("delete job %d: %w: cancel it first", id, queue.ErrRunning)
		case sql.ErrNoRows:
			result = fmt.Errorf("delete job %d: %w", id, queue.ErrNotFound)
		default:
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return result
}

const sqlSetPaused = `INSERT INTO spool_queues (name, paused, updated_at) VALUES (?, ?, ?)
  ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at`

// SetPaused implements queue.Store.
func (s *Store) SetPaused(ctx context.Context, tx *sql.Tx, name string, paused bool, now time.Time) error {
	return s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		_, err := x.exec(ctx, sqlSetPaused, name, paused, micros(now))
		return err
	})
}

package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// The common settle in one round trip. A worker's settle batch is mostly
// completions of jobs without an ordering key that are not kept: they
// delete their rows and add to the minute's throughput, and nothing else.
// Such a batch settles with one statement in an implicit transaction
// instead of a transaction of four or more: it locks the rows whose lease
// still holds in id order (as Extend and the long way lock them), deletes
// them, and counts them in spool.metrics_slots. Any other batch, or one in a
// caller's transaction, takes the long way (Settle).

// sqlSettleFast completes and deletes jobs $1 under their lease tokens
// $2, counting them in minute $3's throughput (slot $4), and returns the ids whose
// lease still held.
const sqlSettleFast = `WITH held AS (
  SELECT j.id FROM spool.jobs j
    JOIN unnest($1::bigint[], $2::bigint[]) AS l(id, token) ON j.id = l.id AND j.lease_token = l.token
  WHERE j.id = ANY($1) AND j.state = ` + runningSQL + `
  ORDER BY j.id FOR UPDATE OF j),
deleted AS (
  DELETE FROM spool.jobs WHERE id = ANY (ARRAY(SELECT id FROM held)) RETURNING id, queue),
counted AS (
  INSERT INTO spool.metrics_slots AS m (minute, queue, completed, failed, dead, slot)
  SELECT $3, queue, count(*), 0, 0, $4 FROM deleted GROUP BY queue ORDER BY queue
  ON CONFLICT (minute, queue, slot) DO UPDATE SET completed = m.completed + excluded.completed)
SELECT id FROM deleted`

// settleFast settles settlements with sqlSettleFast when they all can be
// (fastSettlable); ok reports that it did.
func (s *Store) settleFast(ctx context.Context, tx *sql.Tx, settlements []queue.Settlement) (errs []error, ok bool, err error) {
	minute, can := fastSettlable(tx, settlements)
	if !can {
		return nil, false, nil
	}
	ids := make([]int64, len(settlements))
	tokens := make([]int64, len(settlements))
	for i, st := range settlements {
		ids[i], tokens[i] = st.JobID, st.Token
	}
	var deleted []int64
	for range maxRetries {
		var rows *sql.Rows
		rows, err = s.db.QueryContext(ctx, s.sql(sqlSettleFast), ids, tokens, minute+s.clock.frame().minuteShift(), s.metricSlot)
		if err == nil {
			deleted, err = collect(rows, func(r scanner) (id int64, err error) { err = r.Scan(&id); return id, err })
			if err == nil {
				break
			}
		}
		if !retryable(err) || ctx.Err() != nil {
			return nil, true, ctxErr(ctx, mapErr(err))
		}
	}
	if err != nil {
		return nil, true, ctxErr(ctx, mapErr(err))
	}
	held := make(map[int64]bool, len(deleted))
	for _, id := range deleted {
		held[id] = true
	}
	errs = make([]error, len(settlements))
	for i, st := range settlements {
		if !held[st.JobID] {
			errs[i] = sqlstore.LeaseLost(st.JobID, queue.OutcomeComplete)
		}
	}
	return errs, true, nil
}

// fastSettlable reports whether settlements can settle with
// sqlSettleFast: outside a caller's transaction, each a completion that
// deletes a job without an ordering key, no job twice, all in one minute
// (returned, for spool.metrics).
func fastSettlable(tx *sql.Tx, settlements []queue.Settlement) (minute int64, ok bool) {
	if tx != nil || len(settlements) == 0 {
		return 0, false
	}
	minute = settlements[0].Now.Truncate(time.Minute).Unix()
	seen := make(map[int64]bool, len(settlements))
	for _, st := range settlements {
		if !sqlstore.DeletesJob(st) || st.OrderKey != "" || seen[st.JobID] || st.Now.Truncate(time.Minute).Unix() != minute {
			return 0, false
		}
		seen[st.JobID] = true
	}
	return minute, true
}

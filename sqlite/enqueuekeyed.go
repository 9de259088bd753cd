package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// The bulk path for jobs with ordering or partition keys: insertChunk of
// them in one statement, as plain jobs go (insertJobs), where they went one
// statement (and one "is the key busy" read) at a time. A partition key is
// only a column. An ordering key decides the job's state: the chunk's keys
// are read once (sqlBusyKeys), and in the chunk's order the first job of a
// free key becomes its head and every other keyed job waits, blocked, as
// one-at-a-time inserts would have left them.

const (
	// sqlBusyKeys returns the index of every [queue, key] pair of ?1 (a
	// JSON array) whose key is busy, as sqlKeyBusy decides it.
	sqlBusyKeys = `SELECT k.key FROM json_each(?1) k
  WHERE EXISTS (SELECT 1 FROM spool_jobs hj WHERE hj.id = (SELECT head_id FROM spool_order_heads
      WHERE queue = k.value ->> 0 AND order_key = k.value ->> 1) AND hj.state ` + keyHeadRangeSQL + `)
    OR EXISTS (SELECT 1 FROM spool_jobs WHERE queue = k.value ->> 0 AND order_key = k.value ->> 1 AND state = ` + blockedSQL + `)
    OR EXISTS (SELECT 1 FROM spool_dead WHERE queue = k.value ->> 0 AND order_key = k.value ->> 1 AND blocks_key)`
)

// sqlInsertKeyedChunk inserts insertChunk jobs with their ordering and
// partition keys and states in one statement.
var sqlInsertKeyedChunk = `INSERT INTO spool_jobs
  (queue, kind, state, priority, run_at, max_attempts, timeout_us, created_at, order_key, partition_key, metadata, payload)
  VALUES ` + strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", insertChunk-1) + "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

// bulkKeyed reports whether every job may take the keyed bulk path (plain
// but for its ordering and partition keys) and one at least has a key.
func bulkKeyed(jobs []queue.NewJob) bool {
	keyed := false
	for _, j := range jobs {
		k := j
		k.OrderKey, k.PartitionKey = "", ""
		if !sqlstore.Plain(k) {
			return false
		}
		keyed = keyed || j.OrderKey != "" || j.PartitionKey != ""
	}
	return keyed
}

// insertKeyedChunk inserts insertChunk jobs (bulkKeyed) in one statement
// and names the heads of the keys they made busy.
func insertKeyedChunk(ctx context.Context, x *xtx, now time.Time, nowUS int64, jobs []queue.NewJob, meta []any, res []queue.EnqueueResult) error {
	type queueKey struct{ queue, key string }
	pairs := map[queueKey]int{} // → index in list
	var list [][2]string
	for _, j := range jobs {
		if j.OrderKey == "" {
			continue
		}
		k := queueKey{j.Queue, j.OrderKey}
		if _, ok := pairs[k]; !ok {
			pairs[k] = len(list)
			list = append(list, [2]string{j.Queue, j.OrderKey})
		}
	}
	busy := make([]bool, len(list))
	if len(list) > 0 {
		b, _ := json.Marshal(list) // strings always encode
		rows, err := x.query(ctx, sqlBusyKeys, string(b))
		if err != nil {
			return err
		}
		idx, err := collect(rows, func(r scanner) (int, error) {
			var i int
			err := r.Scan(&i)
			return i, err
		})
		if err != nil {
			return err
		}
		for _, i := range idx {
			busy[i] = true
		}
	}
	args := make([]any, 0, 12*len(jobs))
	var heads []int // indexes of the jobs that become their key's head
	for n, j := range jobs {
		state := sqlstore.ReadyCode(j, now)
		if j.OrderKey != "" {
			i := pairs[queueKey{j.Queue, j.OrderKey}]
			if busy[i] {
				state = stBlocked
			} else {
				busy[i] = true // the jobs after it wait for it
				heads = append(heads, n)
			}
		}
		args = append(args, j.Queue, j.Kind, state, j.Priority, micros(j.RunAt), j.MaxAttempts,
			j.Timeout.Microseconds(), nowUS, nullString(j.OrderKey), nullString(j.PartitionKey), meta[n], j.Payload)
	}
	r, err := x.exec(ctx, sqlInsertKeyedChunk, args...)
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
		res[k] = queue.EnqueueResult{ID: last - insertChunk + 1 + int64(k)}
	}
	if len(heads) == 0 {
		return nil
	}
	ids := make([]int64, len(heads))
	for i, n := range heads {
		ids[i] = res[n].ID
	}
	b, _ := json.Marshal(ids) // []int64 always encodes
	_, err = x.exec(ctx, sqlSetHeads, string(b))
	return err
}

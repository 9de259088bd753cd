package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spooljobs/spool/internal/jobcodec"
	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// A publish window is a run of Publish operations in one write
// transaction with no other operation between them: the writer's group
// commit puts the Publish calls of many goroutines in one transaction, and
// the window writes their rows together instead of seven statements per
// event (measured in BENCHMARKS.md, "Issue 18: topic fan-out").
//
// The transaction holds the write lock, so within it only the window's own
// publishes change the rows a publish reads: the subscriptions and the
// newest event id are read once, at the window's first publish, and each
// topic's sequence at its first event; the window then numbers events
// itself (event ids are AUTOINCREMENT and so follow the newest one with no
// gap), keeps the caught-up subscriptions' cursors in memory, and writes
// the events, the topics' counters, the delivery jobs and the cursors in a
// few multi-row statements (flush) before anything else reads them: before
// the writer runs any other operation, before it commits, and at the end
// of a publish in a caller's transaction. Another process's subscription
// changes committed before the transaction began are read at the window's
// start; those after it commit wait for the lock and apply to the next
// publish. A window ends with its transaction, so a rolled-back batch,
// rerun one operation per transaction, starts a new one each time.
type pubWindow struct {
	subs  []*subRow        // every subscription; caught-up cursors as of the window's last event
	start int64            // the newest event id when the window began
	last  int64            // the newest event id, pending ones included
	seqs  map[string]int64 // topic → last seq, pending ones included
	// written is the newest event id flushed; events holds the pending
	// ones (after written), topics the pending counters, jobs the pending
	// deliveries.
	written int64
	events  []pendingEvent
	topics  map[string]int64 // topic → updated_at of its newest pending event
	jobs    []pendingJob
}

type pendingEvent struct {
	id, seq, at int64
	topic       string
	orderKey    any
	metadata    any
	payload     []byte
}

type pendingJob struct {
	job  queue.NewJob
	meta any
	now  time.Time
	// delivered counts the job in its publish's result once it is stored.
	delivered *int
}

const (
	sqlTopicSeq = `SELECT coalesce((SELECT last_seq FROM spool_topics WHERE name = ?), 0)`
	// sqlSetTopicSeq writes a topic's counter after the window's events.
	sqlSetTopicSeq = `INSERT INTO spool_topics (name, last_seq, updated_at) VALUES (?1, ?2, ?3)
  ON CONFLICT (name) DO UPDATE SET last_seq = ?2, updated_at = ?3`
	// sqlAdvanceCursors moves the subscriptions caught up at the window's
	// start (cursor = its newest event) to the window's last event, as a
	// statement per event would have.
	sqlAdvanceCursors = `UPDATE spool_subscriptions SET cursor = ?1 WHERE cursor = ?2`
)

// bulkSizes are the row counts of the multi-row inserts, each prepared
// once: n rows take a statement of 64 rows per 64, then one per bit of the
// rest.
var bulkSizes = []int{64, 32, 16, 8, 4, 2, 1}

// The multi-row inserts are INSERT OR IGNORE: a statement that writes many
// rows and may abort half-way (a NOT NULL or unique constraint's default)
// keeps a statement journal of the pages it changes, and past 64 KiB
// SQLite spills it to a temporary file: opened and written for every
// flush, a sixth of the writer's time. Ignored rows are counted instead: no
// event can conflict (its id is new), and a delivery only with a job
// enqueued by hand under its unique key (flushDeliveries).
var (
	sqlInsertEventsBulk = bulkInserts(`INSERT OR IGNORE INTO spool_events (id, topic, seq, published_at, order_key, metadata, payload) VALUES `,
		`(?, ?, ?, ?, ?, ?, ?)`)
	sqlInsertDeliveries = bulkInserts(`INSERT OR IGNORE INTO spool_jobs
  (queue, kind, state, priority, run_at, max_attempts, timeout_us, created_at, unique_key, metadata, payload) VALUES `,
		`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
)

const sqlLastJobID = `SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'spool_jobs'), 0)`

// bulkInserts is head followed by n times row, for each of bulkSizes.
func bulkInserts(head, row string) map[int]string {
	m := make(map[int]string, len(bulkSizes))
	for _, n := range bulkSizes {
		m[n] = head + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
	}
	return m
}

// publishStatements are the window's statements that hotStatements
// prepares.
func publishStatements() []string {
	qs := []string{sqlTopicSeq, sqlSetTopicSeq, sqlAdvanceCursors, sqlLastJobID, sqlUniqueHolder}
	for _, n := range bulkSizes {
		qs = append(qs, sqlInsertEventsBulk[n], sqlInsertDeliveries[n])
	}
	return qs
}

// bulkChunk is the size of the next statement for n rows.
func bulkChunk(n int) int {
	for _, c := range bulkSizes {
		if n >= c {
			return c
		}
	}
	return 0
}

// bulkDelivery reports whether j can wait for the window's multi-row
// insert: a delivery whose unique key is its only key (no ordering key to
// check, no unique period or states, no expiry, parents or batch).
func bulkDelivery(j queue.NewJob) bool {
	plain := j
	plain.UniqueKey = ""
	return sqlstore.Plain(plain) && !sqlstore.UniqueOptions(j)
}

// window is x's publish window, begun when it has none.
func (x *xtx) window(ctx context.Context) (*pubWindow, error) {
	if x.pub != nil {
		return x.pub, nil
	}
	w := &pubWindow{seqs: map[string]int64{}, topics: map[string]int64{}}
	if err := x.queryRow(ctx, sqlLastEventID).Scan(&w.start); err != nil {
		return nil, err
	}
	w.last, w.written = w.start, w.start
	rows, err := x.query(ctx, sqlSubscriptions)
	if w.subs, err = readSubs(ctx, rows, err); err != nil {
		return nil, err
	}
	x.pub = w
	return w, nil
}

// publish appends ev to the window and delivers it to the subscriptions
// caught up with the log; res gets the event's id and sequence and counts
// its jobs as they are stored.
func (x *xtx) publish(ctx context.Context, now time.Time, ev queue.Event, md any, defaults queue.NewJob, res *queue.PublishResult) error {
	w, err := x.window(ctx)
	if err != nil {
		return err
	}
	seq, ok := w.seqs[ev.Topic]
	if !ok {
		if err := x.queryRow(ctx, sqlTopicSeq, ev.Topic).Scan(&seq); err != nil {
			return err
		}
	}
	seq++
	w.seqs[ev.Topic] = seq
	w.last++
	res.EventID, res.Seq = w.last, seq
	nowUS := micros(now)
	w.events = append(w.events, pendingEvent{id: w.last, seq: seq, at: nowUS, topic: ev.Topic,
		orderKey: nullString(ev.OrderKey), metadata: md, payload: ev.Payload})
	w.topics[ev.Topic] = nowUS

	rec := &queue.EventRecord{ID: res.EventID, Topic: ev.Topic, Seq: res.Seq, PublishedAt: now,
		OrderKey: ev.OrderKey, Metadata: ev.Metadata, Payload: ev.Payload}
	var jobs []queue.NewJob
	bulk := true
	for _, sub := range w.subs {
		if sub.cursor != w.last-1 {
			continue // behind: DeliverBacklog's
		}
		sub.cursor = w.last // caught up, matching or not
		if sub.matches(ev.Topic, ev.Metadata) {
			j := queue.DeliveryJob(sub.Subscription, *rec, now, defaults)
			bulk = bulk && bulkDelivery(j)
			jobs = append(jobs, j)
		}
	}
	if !bulk {
		// Ordered deliveries check their keys row by row; the jobs
		// before them go in first, so that ids keep publish order.
		if err := x.flushPublishes(ctx, false); err != nil {
			return err
		}
		n, err := deliver(ctx, x, now, jobs)
		res.Jobs += n
		return err
	}
	for _, j := range jobs {
		meta, err := jobcodec.EncodeMetadata(j.Metadata)
		if err != nil {
			return err
		}
		w.jobs = append(w.jobs, pendingJob{job: j, meta: meta, now: now, delivered: &res.Jobs})
	}
	return nil
}

// flushPublishes writes the window's pending rows; end also ends the
// window, for an operation that may read or change what it keeps.
func (x *xtx) flushPublishes(ctx context.Context, end bool) error {
	w := x.pub
	if w == nil {
		return nil
	}
	if end {
		x.pub = nil
	}
	if err := x.flushEvents(ctx, w); err != nil {
		return err
	}
	for topic, at := range w.topics {
		if _, err := x.exec(ctx, sqlSetTopicSeq, topic, w.seqs[topic], at); err != nil {
			return err
		}
	}
	clear(w.topics)
	if err := x.flushDeliveries(ctx, w); err != nil {
		return err
	}
	if w.last != w.written {
		if _, err := x.exec(ctx, sqlAdvanceCursors, w.last, w.written); err != nil {
			return err
		}
		w.written = w.last
	}
	return nil
}

func (x *xtx) flushEvents(ctx context.Context, w *pubWindow) error {
	var args []any
	for evs := w.events; len(evs) > 0; {
		n := bulkChunk(len(evs))
		args = args[:0]
		for _, e := range evs[:n] {
			args = append(args, e.id, e.topic, e.seq, e.at, e.orderKey, e.metadata, e.payload)
		}
		r, err := x.exec(ctx, sqlInsertEventsBulk[n], args...)
		if err != nil {
			return err
		}
		if got, _ := r.RowsAffected(); got != int64(n) {
			return fmt.Errorf("sqlite: publish stored %d of events %d-%d", got, evs[0].id, evs[n-1].id)
		}
		evs = evs[n:]
	}
	w.events = w.events[:0]
	return nil
}

func (x *xtx) flushDeliveries(ctx context.Context, w *pubWindow) error {
	if len(w.jobs) == 0 {
		return nil
	}
	// before: every job with a greater id is one of this flush's.
	var before int64
	if err := x.queryRow(ctx, sqlLastJobID).Scan(&before); err != nil {
		return err
	}
	var args []any
	for jobs := w.jobs; len(jobs) > 0; {
		n := bulkChunk(len(jobs))
		args = args[:0]
		for _, p := range jobs[:n] {
			j := p.job
			args = append(args, j.Queue, j.Kind, sqlstore.ReadyCode(j, p.now), j.Priority, micros(j.RunAt), j.MaxAttempts,
				j.Timeout.Microseconds(), micros(p.now), j.UniqueKey, p.meta, j.Payload)
		}
		r, err := x.exec(ctx, sqlInsertDeliveries[n], args...)
		if err != nil {
			return err
		}
		if got, _ := r.RowsAffected(); got == int64(n) {
			for _, p := range jobs[:n] {
				*p.delivered++
			}
			if before, err = r.LastInsertId(); err != nil {
				return err
			}
		} else {
			if err := heldDeliveries(ctx, x, jobs[:n], before); err != nil {
				return err
			}
			if err := x.queryRow(ctx, sqlLastJobID).Scan(&before); err != nil {
				return err
			}
		}
		jobs = jobs[n:]
	}
	w.jobs = w.jobs[:0]
	return nil
}

// heldDeliveries counts the jobs of a multi-row insert that stored fewer
// rows than it had: a job enqueued by hand held some of their unique keys.
// A key's live job with an id above before is the one just stored.
func heldDeliveries(ctx context.Context, x *xtx, jobs []pendingJob, before int64) error {
	for _, p := range jobs {
		var id int64
		err := x.queryRow(ctx, sqlUniqueHolder, p.job.UniqueKey).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			// Skipped, and no job holds its key: the insert ignored it for
			// a constraint other than the key (INSERT OR IGNORE hides which).
			return fmt.Errorf("sqlite: delivery %q of a publish not stored: a constraint of spool_jobs refused its row, and no job holds its key", p.job.UniqueKey)
		}
		if err != nil {
			return fmt.Errorf("sqlite: delivery %q not stored: %w", p.job.UniqueKey, err)
		}
		if id > before {
			*p.delivered++
		}
	}
	return nil
}

package postgres

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/spooljobs/spool/queue"
)

// A group's events in one statement. Publishers commit one group at a time
// (the event_log row, topics.go), so everything a group transaction does
// is on every publisher's path: a statement per event (sqlAppendEvent) was
// a round trip per event while the row was held. In a group transaction a
// publish only records its event (appendInGroup); before the commit one
// statement appends the group's events in publish order (sqlAppendEvents),
// and then each publish's deliveries are made from its event, as Publish
// makes them alone.

// sqlAppendEvents appends events $1 (topics), $2 (times), $3 (ordering
// keys), $4 (metadata), $5 (payloads), in array order, and returns their
// ids and seqs. It takes the event_log row first, and with it as many ids
// as events (consecutive: the row is held until commit), then each topic's
// row once, in topic order, moving its last seq by the topic's count; the
// k-th event of a topic takes the topic's old last seq plus k. A topic's
// updated_at is its last event's time, as with one publish after another.
const sqlAppendEvents = `WITH ev AS (
  SELECT e.*, row_number() OVER (PARTITION BY e.topic ORDER BY e.ord) AS k
  FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bytea[])
    WITH ORDINALITY AS e(topic, at, order_key, metadata, payload, ord)),
next AS (
  UPDATE spool.event_log SET last_event_id = last_event_id + cardinality($1::text[]) WHERE id = 1
  RETURNING last_event_id - cardinality($1::text[]) AS base),
counts AS (
  SELECT topic, count(*) AS n, (array_agg(at ORDER BY ord DESC))[1] AS at FROM ev GROUP BY topic),
bumped AS (
  INSERT INTO spool.topics AS t (name, last_seq, updated_at)
  SELECT c.topic, c.n, c.at FROM next, counts c ORDER BY c.topic
  ON CONFLICT (name) DO UPDATE SET last_seq = t.last_seq + excluded.last_seq, updated_at = excluded.updated_at
  RETURNING t.name, t.last_seq)
INSERT INTO spool.events (id, topic, seq, published_at, order_key, metadata, payload)
  SELECT next.base + ev.ord, ev.topic, b.last_seq - c.n + ev.k, ev.at, ev.order_key, ev.metadata, ev.payload
  FROM next, ev JOIN counts c ON c.topic = ev.topic JOIN bumped b ON b.name = ev.topic
  ORDER BY ev.ord
RETURNING id, seq`

// pendingEvent is a publish waiting in a group transaction for the
// group's append (flushEvents).
type pendingEvent struct {
	ev       queue.Event
	now      time.Time
	md       any // the encoded metadata: nil or a string
	payload  []byte
	defaults queue.NewJob
	res      *queue.PublishResult
}

// appendInGroup records a publish in a group transaction; flushEvents
// appends it and makes its deliveries, setting *p.res.
func (x *xtx) appendInGroup(p pendingEvent) {
	x.events = append(x.events, p)
}

// flushEvents appends the group's recorded events with one statement and
// makes each one's deliveries, in publish order, after locking all their
// ordering keys.
func (x *xtx) flushEvents(ctx context.Context) error {
	if len(x.events) == 0 {
		return nil
	}
	events := x.events
	x.events = nil
	n := len(events)
	topics, keys, metas := make([]string, n), make([]*string, n), make([]*string, n)
	ats, payloads := make([]int64, n), make([][]byte, n)
	for i, p := range events {
		topics[i], ats[i], payloads[i] = p.ev.Topic, x.f.us(p.now), p.payload
		if p.ev.OrderKey != "" {
			keys[i] = &events[i].ev.OrderKey
		}
		if m, ok := p.md.(string); ok {
			metas[i] = &m
		}
	}
	rows, err := x.query(ctx, sqlAppendEvents, topics, ats, keys, metas, payloads)
	if err != nil {
		return err
	}
	type appended struct{ id, seq int64 }
	got, err := collect(rows, func(r scanner) (a appended, err error) { err = r.Scan(&a.id, &a.seq); return a, err })
	if err != nil {
		return err
	}
	if len(got) != n {
		return fmt.Errorf("postgres: append %d events: %d appended", n, len(got))
	}
	// Ids were taken in publish order (next.base + ordinality).
	sort.Slice(got, func(i, j int) bool { return got[i].id < got[j].id })
	// The event_log row is held from here to commit: the caught-up
	// subscriptions read now are those every event of the group goes to.
	subs, err := x.caughtUpSubs(ctx)
	if err != nil {
		return err
	}
	jobs := make([][]queue.NewJob, n)
	var keyed []queue.NewJob
	for i, p := range events {
		p.res.EventID, p.res.Seq = got[i].id, got[i].seq
		jobs[i] = deliveryJobs(subs, p.ev, p.now, p.payload, p.defaults, p.res)
		for _, j := range jobs[i] {
			if j.OrderKey != "" {
				keyed = append(keyed, j)
			}
		}
	}
	// Every ordering key the group's deliveries take, locked first, sorted
	// (lockKeysInOrder): each publish locks its own keys sorted, but one
	// after another the group's publishes would take them out of order,
	// and deadlock with a settle batch that takes the same keys sorted.
	// The publishes' own locks below are then taken again, at no wait.
	if err := lockOrderKeys(ctx, x, keyed); err != nil {
		return err
	}
	for i, p := range events {
		if err := x.deliverInGroup(ctx, p.now, jobs[i], &p.res.Jobs); err != nil {
			return err
		}
	}
	return nil
}

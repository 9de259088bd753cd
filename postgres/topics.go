package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spooljobs/spool/internal/jobcodec"
	"github.com/spooljobs/spool/queue"
)

var _ queue.TopicStore = (*Store)(nil)

// A subscription is caught up or behind. A caught-up one keeps no moving
// cursor (its cursor column is NULL): it receives each new event from
// Publish, in the publishing transaction, so what it has seen is the
// newest event, and Subscriptions reports event_log's last_event_id as its
// cursor. A behind one (it started in the past) keeps the id of the last
// event it has seen; DeliverBacklog walks the log after it, in id order,
// and marks it caught up once it reaches the newest event. Publish leaves
// behind ones alone, so each receives its backlog before any new event.
//
// Why publishers serialise on one row, and on no subscription row. The
// hand-over from DeliverBacklog to Publish (and a subscription from now)
// needs a point in the log before which every event is the backlog's and
// after which every one is Publish's: the newest event id, read while no
// publish is in flight. So event ids are gap-free and in commit order
// store-wide. They come from the one row of spool.event_log
// (migrations/0002_event_log.sql), not from a sequence: Publish takes the
// next id by updating the row, whose lock, held until commit, serialises
// publishers. Subscribe and DeliverBacklog update the same row (to the
// same id) before they add a caught-up subscription or mark one, so they
// run between publishes too: a publisher that takes the row after them
// sees the subscription, one that took it before committed its event
// before they read the newest id. (They write the row rather than only
// lock it so that a publisher in a caller's REPEATABLE READ transaction
// whose snapshot is older than them, and so cannot see the subscription,
// fails with a serialization failure instead of committing an event the
// subscription would never receive.) That one row orders Publish against
// every change to the set of caught-up subscriptions, so Publish reads
// them without locking or writing any: no subscription row lock, and no
// dead tuple per subscription per event. Unsubscribe and
// UpdateSubscription need no such order: a publish concurrent with them
// delivers by the definition it read, as though it ran first.
//
// The price is that all publishers commit one at a time, whatever their
// topics. Topics already order their own seqs (the topic row, locked until
// commit, see migrations/0001_init.sql), but one int cursor over ids in
// store-wide commit order is what lets a subscription with a pattern span
// topics. A per-topic design that lets publishers of different topics run
// in parallel would take ids from a sequence and need another cursor: a
// position per (subscription, topic) in seq order (a row per pair, with
// the hand-over to Publish under the topic row's lock, and patterns
// discovering new topics), or a position in a store-wide order that later
// commits cannot fall behind, such as (xid, id) read only below the
// reader's snapshot xmin, as transactional outboxes do.

const (
	// sqlAppendEvent appends an event to the log in one statement: it takes
	// the next event id (and the event_log row's lock), then the topic's
	// next seq (and the topic row's lock: bumped reads next, so the locks
	// are always taken in that order), and inserts the event ($1 topic, $2
	// time, $3 ordering key, $4 metadata, $5 payload).
	sqlAppendEvent = `WITH next AS (
  UPDATE spool.event_log SET last_event_id = last_event_id + 1 WHERE id = 1 RETURNING last_event_id AS id),
bumped AS (
  INSERT INTO spool.topics AS t (name, last_seq, updated_at) SELECT $1, 1, $2 FROM next
  ON CONFLICT (name) DO UPDATE SET last_seq = t.last_seq + 1, updated_at = excluded.updated_at
  RETURNING last_seq AS seq)
INSERT INTO spool.events (id, topic, seq, published_at, order_key, metadata, payload)
  SELECT next.id, $1, bumped.seq, $2, $3, $4, $5 FROM next, bumped
RETURNING id, seq`
	// sqlLockEventLog reads the newest event id (pruning never lowers it)
	// and takes the event_log row's lock as a publisher does, writing the
	// row unchanged: a publisher waiting for the row then sees this
	// transaction's writes (READ COMMITTED), or fails with a serialization
	// failure when its snapshot is older (REPEATABLE READ, SERIALIZABLE).
	sqlLockEventLog = `UPDATE spool.event_log SET last_event_id = last_event_id WHERE id = 1
  RETURNING last_event_id`
	// sqlSubColumns are the columns scanSub reads.
	sqlSubColumns    = `name, pattern, filter, queue, kind, priority, max_attempts, cursor, created_at`
	sqlSubscriptions = `SELECT ` + sqlSubColumns + ` FROM spool.subscriptions ORDER BY name`
	// sqlCaughtUpSubs are the subscriptions Publish delivers to, read
	// without locks (the event_log row orders them, see above).
	sqlCaughtUpSubs = `SELECT ` + sqlSubColumns + ` FROM spool.subscriptions WHERE cursor IS NULL ORDER BY name`
)

// subRow is a stored subscription with its place in the log.
type subRow struct {
	queue.Subscription
	caughtUp  bool  // cursor NULL: Publish delivers each new event
	cursor    int64 // when behind: the id of the last event seen
	createdAt int64
}

// matches reports whether the subscription receives an event of topic
// with metadata md: its pattern matches the topic and md has every pair of
// its filter.
func (r *subRow) matches(topic string, md map[string]string) bool {
	if !queue.MatchTopic(r.Pattern, topic) {
		return false
	}
	for k, v := range r.Filter {
		if md[k] != v {
			return false
		}
	}
	return true
}

// readSubs reads the subscriptions a query returned (the columns
// sqlSubColumns), given with the query's error.
func readSubs(rows *sql.Rows, err error) ([]*subRow, error) {
	if err != nil {
		return nil, err
	}
	return collect(rows, scanSub)
}

// scanSub reads one row of sqlSubColumns.
func scanSub(r scanner) (*subRow, error) {
	var sub subRow
	var filter sql.NullString
	var cursor sql.NullInt64
	if err := r.Scan(&sub.Name, &sub.Pattern, &filter, &sub.Queue, &sub.Kind, &sub.Priority, &sub.MaxAttempts, &cursor, &sub.createdAt); err != nil {
		return nil, err
	}
	sub.caughtUp, sub.cursor = !cursor.Valid, cursor.Int64
	if filter.Valid && filter.String != "" {
		if err := json.Unmarshal([]byte(filter.String), &sub.Filter); err != nil {
			return nil, fmt.Errorf("postgres: subscription %q: filter: %w", sub.Name, err)
		}
	}
	return &sub, nil
}

// Publish implements queue.TopicStore.
func (s *Store) Publish(ctx context.Context, tx *sql.Tx, now time.Time, ev queue.Event, defaults queue.NewJob) (queue.PublishResult, error) {
	md, err := jobcodec.EncodeMetadata(ev.Metadata)
	if err != nil {
		return queue.PublishResult{}, err
	}
	payload := ev.Payload
	if payload == nil {
		payload = []byte{}
	}
	var res queue.PublishResult
	write := s.write
	if tx == nil {
		write = s.pubGroup.writeOwn // group commit (groupwrite.go)
	}
	err = write(ctx, tx, func(ctx context.Context, x *xtx) error {
		res = queue.PublishResult{}
		if x.grouped {
			// The group appends its events with one statement before it
			// commits, and delivers them then (appendgroup.go).
			x.appendInGroup(pendingEvent{ev: ev, now: now, md: md, payload: payload, defaults: defaults, res: &res})
			return nil
		}
		// First: the event_log row's lock serialises publishers from here
		// to commit, and orders this publish against subscriptions
		// becoming caught up.
		if err := x.queryRow(ctx, sqlAppendEvent, ev.Topic, x.f.us(now), nullString(ev.OrderKey), md, payload).Scan(&res.EventID, &res.Seq); err != nil {
			return err
		}
		subs, err := x.caughtUpSubs(ctx)
		if err != nil {
			return err
		}
		return x.deliverEvent(ctx, subs, ev, now, payload, defaults, &res)
	})
	return res, err
}

// deliverEvent makes the deliveries of an appended event (res.EventID and
// res.Seq set) to the caught-up subscriptions subs that match it, and
// counts them into res.Jobs.
func (x *xtx) deliverEvent(ctx context.Context, subs []*subRow, ev queue.Event, now time.Time, payload []byte, defaults queue.NewJob, res *queue.PublishResult) error {
	var err error
	res.Jobs, err = deliver(ctx, x, now, deliveryJobs(subs, ev, now, payload, defaults, res))
	return err
}

// deliveryJobs returns the delivery jobs of an appended event (res.EventID
// and res.Seq set) to the caught-up subscriptions subs that match it.
func deliveryJobs(subs []*subRow, ev queue.Event, now time.Time, payload []byte, defaults queue.NewJob, res *queue.PublishResult) []queue.NewJob {
	rec := queue.EventRecord{ID: res.EventID, Topic: ev.Topic, Seq: res.Seq, PublishedAt: now,
		OrderKey: ev.OrderKey, Metadata: ev.Metadata, Payload: payload}
	var jobs []queue.NewJob
	for _, sub := range subs {
		if sub.matches(ev.Topic, ev.Metadata) {
			jobs = append(jobs, queue.DeliveryJob(sub.Subscription, rec, now, defaults))
		}
	}
	return jobs
}

// caughtUpSubs reads the caught-up subscriptions once per transaction:
// from the first publish on, the transaction holds the event_log row, so
// no subscription becomes caught up or falls behind until it commits, and
// the publishes of a group (groupwrite.go) share one read.
func (x *xtx) caughtUpSubs(ctx context.Context) ([]*subRow, error) {
	if x.subsRead {
		return x.subs, nil
	}
	subs, err := readSubs(x.query(ctx, sqlCaughtUpSubs))
	if err != nil {
		return nil, err
	}
	x.subs, x.subsRead = subs, true
	return subs, nil
}

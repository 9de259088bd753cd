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

// A subscription's cursor is the id of the last event it has seen. A
// subscription is caught up when its cursor is the newest event's id: then
// Publish delivers to it directly, in the publishing transaction. One that
// started in the past is behind; DeliverBacklog walks the log for it, in id
// order, until it has caught up, and Publish leaves it alone meanwhile, so
// it receives its backlog before any new event.
//
// That needs event ids gap-free and in commit order store-wide. They come
// from the one row of spool.event_log (migrations/0002_event_log.sql), not
// from a sequence: Publish takes the next id by updating the row, and the
// row's lock, held until commit, serialises publishers, so the ids commit
// in order. (A later change may relax this, at the price of another
// cursor design.) Subscribe and DeliverBacklog read the newest id with
// FOR UPDATE, so they too see the log as it stands between publishes.

const (
	// sqlNextEventID takes the next event id and the event_log row's lock.
	sqlNextEventID = `UPDATE spool.event_log SET last_event_id = last_event_id + 1 WHERE id = 1
  RETURNING last_event_id`
	// sqlLastEventID reads the newest event id (pruning never lowers it),
	// locking the event_log row as a publisher does.
	sqlLastEventID = `SELECT last_event_id FROM spool.event_log WHERE id = 1 FOR UPDATE`
	// sqlBumpTopic takes the topic's next sequence number; the topic's row
	// stays locked until commit, so its numbers commit in order.
	sqlBumpTopic = `INSERT INTO spool.topics AS t (name, last_seq, updated_at) VALUES ($1, 1, $2)
  ON CONFLICT (name) DO UPDATE SET last_seq = t.last_seq + 1, updated_at = $2
  RETURNING last_seq`
	sqlInsertEvent = `INSERT INTO spool.events (id, topic, seq, published_at, order_key, metadata, payload)
  VALUES ($1, $2, $3, $4, $5, $6, $7)`
	// sqlSubColumns are the columns scanSub reads.
	sqlSubColumns    = `name, pattern, filter, queue, kind, priority, max_attempts, cursor, created_at`
	sqlSubscriptions = `SELECT ` + sqlSubColumns + ` FROM spool.subscriptions ORDER BY name`
	// sqlCaughtUpSubs are the subscriptions whose cursor is the event
	// before $1: those Publish delivers event $1 to.
	sqlCaughtUpSubs = `SELECT ` + sqlSubColumns + ` FROM spool.subscriptions WHERE cursor = $1::bigint - 1 ORDER BY name`
	// sqlAdvanceCaughtUp moves the caught-up cursors past event $1.
	sqlAdvanceCaughtUp = `UPDATE spool.subscriptions SET cursor = $1::bigint WHERE cursor = $1::bigint - 1`
)

// subRow is a stored subscription with its cursor.
type subRow struct {
	queue.Subscription
	cursor    int64
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
	if err := r.Scan(&sub.Name, &sub.Pattern, &filter, &sub.Queue, &sub.Kind, &sub.Priority, &sub.MaxAttempts, &sub.cursor, &sub.createdAt); err != nil {
		return nil, err
	}
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
	err = s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		res = queue.PublishResult{}
		// First: the event_log row's lock serialises publishers from here
		// to commit.
		if err := x.queryRow(ctx, sqlNextEventID).Scan(&res.EventID); err != nil {
			return err
		}
		if err := x.queryRow(ctx, sqlBumpTopic, ev.Topic, x.f.us(now)).Scan(&res.Seq); err != nil {
			return err
		}
		if _, err := x.exec(ctx, sqlInsertEvent, res.EventID, ev.Topic, res.Seq, x.f.us(now), nullString(ev.OrderKey), md, payload); err != nil {
			return err
		}
		subs, err := readSubs(x.query(ctx, sqlCaughtUpSubs, res.EventID))
		if err != nil {
			return err
		}
		rec := queue.EventRecord{ID: res.EventID, Topic: ev.Topic, Seq: res.Seq, PublishedAt: now,
			OrderKey: ev.OrderKey, Metadata: ev.Metadata, Payload: payload}
		var jobs []queue.NewJob
		for _, sub := range subs {
			if sub.matches(ev.Topic, ev.Metadata) {
				jobs = append(jobs, queue.DeliveryJob(sub.Subscription, rec, now, defaults))
			}
		}
		if res.Jobs, err = deliver(ctx, x, now, jobs); err != nil {
			return err
		}
		_, err = x.exec(ctx, sqlAdvanceCaughtUp, res.EventID)
		return err
	})
	return res, err
}

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

var _ queue.TopicStore = (*Store)(nil)

// A subscription's cursor is the id of the last event it has seen. A
// subscription is caught up when its cursor is the newest event's id: then
// Publish delivers to it directly, in the publishing transaction. One that
// started in the past is behind; DeliverBacklog walks the log for it, in id
// order, until it has caught up, and Publish leaves it alone meanwhile, so
// it receives its backlog before any new event.

const (
	sqlBumpTopic = `INSERT INTO spool_topics (name, last_seq, updated_at) VALUES (?1, 1, ?2)
  ON CONFLICT (name) DO UPDATE SET last_seq = last_seq + 1, updated_at = ?2
  RETURNING last_seq`
	sqlInsertEvent = `INSERT INTO spool_events (topic, seq, published_at, order_key, metadata, payload)
  VALUES (?, ?, ?, ?, ?, ?)`
	sqlSubscriptions = `SELECT name, pattern, filter, queue, kind, priority, max_attempts, cursor, created_at
  FROM spool_subscriptions ORDER BY name`
	sqlAdvanceCaughtUp = `UPDATE spool_subscriptions SET cursor = ?1 WHERE cursor = ?1 - 1`
	sqlLastEventID     = `SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'spool_events'), 0)`
)

type subRow struct {
	queue.Subscription
	cursor    int64
	createdAt int64
}

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

// readSubs reads the subscriptions a query returned (the columns of
// sqlSubscriptions), given with the query's error.
func readSubs(ctx context.Context, rows *sql.Rows, err error) ([]*subRow, error) {
	if err != nil {
		return nil, err
	}
	return collect(rows, scanSub)
}

func scanSub(r scanner) (*subRow, error) {
	var sub subRow
	var filter sql.NullString
	if err := r.Scan(&sub.Name, &sub.Pattern, &filter, &sub.Queue, &sub.Kind, &sub.Priority, &sub.MaxAttempts, &sub.cursor, &sub.createdAt); err != nil {
		return nil, err
	}
	if filter.Valid && filter.String != "" {
		if err := json.Unmarshal([]byte(filter.String), &sub.Filter); err != nil {
			return nil, fmt.Errorf("sqlite: subscription %q: filter: %w", sub.Name, err)
		}
	}
	return &sub, nil
}

// deliver inserts the delivery jobs and returns how many were new.
func deliver(ctx context.Context, x *xtx, now time.Time, jobs []queue.NewJob) (int, error) {
	if len(jobs) == 0 {
		return 0, nil
	}
	meta := make([]any, len(jobs))
	for i, j := range jobs {
		m, err := encodeMetadata(j.Metadata)
		if err != nil {
			return 0, err
		}
		meta[i] = m
	}
	res := make([]queue.EnqueueResult, len(jobs))
	if err := insertJobs(ctx, x, now, jobs, meta, res); err != nil {
		return 0, err
	}
	n := 0
	for _, r := range res {
		if !r.Duplicate {
			n++
		}
	}
	return n, nil
}

// Publish implements queue.TopicStore.
func (s *Store) Publish(ctx context.Context, tx *sql.Tx, now time.Time, ev queue.Event, defaults queue.NewJob) (queue.PublishResult, error) {
	md, err := encodeMetadata(ev.Metadata)
	if err != nil {
		return queue.PublishResult{}, err
	}
	var res queue.PublishResult
	err = s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		res = queue.PublishResult{}
		if err := x.queryRow(ctx, sqlBumpTopic, ev.Topic, micros(now)).Scan(&res.Seq); err != nil {
			return err
		}
		r, err := x.exec(ctx, sqlInsertEvent, ev.Topic, res.Seq, micros(now), nullString(ev.OrderKey), md, ev.Payload)
		if err != nil {
			return err
		}
		if res.EventID, err = r.LastInsertId(); err != nil {
			return err
		}
		rows, err := x.query(ctx, sqlSubscriptions)
		subs, err := readSubs(ctx, rows, err)
		if err != nil {
			return err
		}
		rec := &queue.EventRecord{ID: res.EventID, Topic: ev.Topic, Seq: res.Seq, PublishedAt: now,
			OrderKey: ev.OrderKey, Metadata: ev.Metadata, Payload: ev.Payload}
		var jobs []queue.NewJob
		for _, sub := range subs {
			if sub.cursor == res.EventID-1 && sub.matches(ev.Topic, ev.Metadata) {
				jobs = append(jobs, queue.DeliveryJob(sub.Subscription, *rec, now, defaults))
			}
		}
		if res.Jobs, err = deliver(ctx, x, now, jobs); err != nil {
			return err
		}
		_, err = x.exec(ctx, sqlAdvanceCaughtUp, res.EventID)
		return err
	})
	if err == nil && res.Jobs > 0 {
		s.wakeAfter(tx, "")
	}
	return res, err
}

const (
	sqlInsertSub = `INSERT INTO spool_subscriptions
  (name, pattern, filter, queue, kind, priority, max_attempts, cursor, created_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlUpdateSub = `UPDATE spool_subscriptions
  SET pattern = ?, filter = ?, queue = ?, kind = ?, priority = ?, max_attempts = ?
  WHERE name = ?`
	sqlFirstEventAt  = `SELECT coalesce(min(id), 0) FROM spool_events WHERE published_at >= ?`
	sqlFirstEventSeq = `SELECT coalesce(min(id), 0) FROM spool_events WHERE topic = ? AND seq >= ?`
	sqlDeleteSub     = `DELETE FROM spool_subscriptions WHERE name = ?`
	sqlEventsAfter   = `SELECT id, topic, seq, published_at, order_key, metadata, payload FROM spool_events WHERE id > ? ORDER BY id LIMIT ?`
	sqlSetCursor     = `UPDATE spool_subscriptions SET cursor = ? WHERE name = ? AND cursor = ?`
	sqlBehindSubs    = `SELECT name, pattern, filter, queue, kind, priority, max_attempts, cursor, created_at
  FROM spool_subscriptions WHERE cursor < ? ORDER BY cursor`
	sqlEventColumns = `id, topic, seq, published_at, order_key, metadata, payload`
)

// encodeFilter is a subscription's filter as stored: JSON, or NULL when
// empty.
func encodeFilter(f map[string]string) (any, error) {
	if len(f) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// Subscribe implements queue.TopicStore. A subscription that exists is
// left as it is: the same definition is a no-op, another one an error.
func (s *Store) Subscribe(ctx context.Context, tx *sql.Tx, sub queue.Subscription, now time.Time) error {
	filter, err := encodeFilter(sub.Filter)
	if err != nil {
		return err
	}
	var result error
	err = s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		result = nil
		rows, err := x.query(ctx, sqlSubByName, sub.Name)
		have, err := readSubs(ctx, rows, err)
		if err != nil {
			return err
		}
		if len(have) > 0 {
			if len(have[0].Diff(sub)) > 0 {
				result = &queue.SubscriptionChangedError{Name: sub.Name, Stored: have[0].Subscription, Given: sub}
			}
			return nil
		}
		var last int64
		if err := x.queryRow(ctx, sqlLastEventID).Scan(&last); err != nil {
			return err
		}
		cursor := last // from now on
		first := int64(0)
		switch {
		case sub.From.Beginning:
			cursor = 0
		case !sub.From.Time.IsZero():
			if err := x.queryRow(ctx, sqlFirstEventAt, micros(sub.From.Time)).Scan(&first); err != nil {
				return err
			}
		case sub.From.Seq > 0:
			if err := x.queryRow(ctx, sqlFirstEventSeq, sub.Pattern, sub.From.Seq).Scan(&first); err != nil {
				return err
			}
		}
		if first > 0 {
			cursor = first - 1
		}
		_, err = x.exec(ctx, sqlInsertSub, sub.Name, sub.Pattern, filter, sub.Queue, sub.Kind, sub.Priority, sub.MaxAttempts, cursor, micros(now))
		return err
	})
	if err != nil {
		return err
	}
	return result
}

// UpdateSubscription implements queue.TopicStore.
func (s *Store) UpdateSubscription(ctx context.Context, tx *sql.Tx, sub queue.Subscription, now time.Time) error {
	filter, err := encodeFilter(sub.Filter)
	if err != nil {
		return err
	}
	var found bool
	err = s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		r, err := x.exec(ctx, sqlUpdateSub, sub.Pattern, filter, sub.Queue, sub.Kind, sub.Priority, sub.MaxAttempts, sub.Name)
		if err != nil {
			return err
		}
		n, _ := r.RowsAffected()
		found = n == 1
		return nil
	})
	if err == nil && !found {
		return fmt.Errorf("%w: no subscription %q to update (Subscribe creates one)", queue.ErrSubscriptionNotFound, sub.Name)
	}
	return err
}

// Unsubscribe implements queue.TopicStore.
func (s *Store) Unsubscribe(ctx context.Context, tx *sql.Tx, name string) error {
	var found bool
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		r, err := x.exec(ctx, sqlDeleteSub, name)
		if err != nil {
			return err
		}
		n, _ := r.RowsAffected()
		found = n == 1
		return nil
	})
	if err == nil && !found {
		return fmt.Errorf("%w: no subscription %q", queue.ErrSubscriptionNotFound, name)
	}
	return err
}

func scanEvent(r scanner) (*queue.EventRecord, error) {
	var (
		e       queue.EventRecord
		at      int64
		key, md sql.NullString
	)
	if err := r.Scan(&e.ID, &e.Topic, &e.Seq, &at, &key, &md, &e.Payload); err != nil {
		return nil, err
	}
	e.PublishedAt = time.UnixMicro(at)
	e.OrderKey = key.String
	if md.Valid && md.String != "" {
		if err := json.Unmarshal([]byte(md.String), &e.Metadata); err != nil {
			return nil, err
		}
	}
	if e.Payload == nil {
		e.Payload = []byte{}
	}
	return &e, nil
}

// readEvents reads the events a query returned (sqlEventColumns), given
// with the query's error.
func readEvents(rows *sql.Rows, err error) ([]*queue.EventRecord, error) {
	if err != nil {
		return nil, err
	}
	return collect(rows, scanEvent)
}

// DeliverBacklog implements queue.TopicStore.
func (s *Store) DeliverBacklog(ctx context.Context, now time.Time, limit int, defaults queue.NewJob) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	total := 0
	err := s.write(ctx, nil, func(ctx context.Context, x *xtx) error {
		total = 0
		var last int64
		if err := x.queryRow(ctx, sqlLastEventID).Scan(&last); err != nil {
			return err
		}
		rows, err := x.query(ctx, sqlBehindSubs, last)
		subs, err := readSubs(ctx, rows, err)
		if err != nil {
			return err
		}
		for _, sub := range subs {
			events, err := readEvents(x.query(ctx, sqlEventsAfter, sub.cursor, limit))
			if err != nil {
				return err
			}
			var jobs []queue.NewJob
			cursor := sub.cursor
			for _, ev := range events {
				if sub.matches(ev.Topic, ev.Metadata) {
					jobs = append(jobs, queue.DeliveryJob(sub.Subscription, *ev, now, defaults))
				}
				cursor = ev.ID
			}
			if len(events) == 0 {
				cursor = last // the rest was pruned away
			}
			n, err := deliver(ctx, x, now, jobs)
			if err != nil {
				return err
			}
			total += n
			if _, err := x.exec(ctx, sqlSetCursor, cursor, sub.Name, sub.cursor); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && total > 0 {
		s.wakeAfter(nil, "")
	}
	return total, err
}

const (
	sqlSubByName = `SELECT name, pattern, filter, queue, kind, priority, max_attempts, cursor, created_at
  FROM spool_subscriptions WHERE name = ?`
	sqlEventRange = `SELECT ` + sqlEventColumns + ` FROM spool_events
  WHERE topic = ?1 AND (?2 = 0 OR seq >= ?2) AND (?3 = 0 OR seq <= ?3)
    AND (?4 = 0 OR published_at >= ?4) AND (?5 = 0 OR published_at < ?5)
  ORDER BY seq LIMIT ?6`
)

func timeOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return micros(t)
}

// Replay implements queue.TopicStore.
func (s *Store) Replay(ctx context.Context, tx *sql.Tx, subscription string, f queue.EventFilter, now time.Time, defaults queue.NewJob) (int, error) {
	var n int
	var result error
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		n, result = 0, nil
		rows, err := x.query(ctx, sqlSubByName, subscription)
		subs, err := readSubs(ctx, rows, err)
		if err != nil {
			return err
		}
		if len(subs) == 0 {
			result = fmt.Errorf("%w: no subscription %q", queue.ErrSubscriptionNotFound, subscription)
			return nil
		}
		sub := subs[0]
		if result, err = replayRefusal(ctx, x, sub, f); result != nil || err != nil {
			return err
		}
		events, err := readEvents(x.query(ctx, sqlEventRange, f.Topic, f.FromSeq, f.ToSeq, timeOrZero(f.Since), timeOrZero(f.Until), f.Limit))
		if err != nil {
			return err
		}
		var jobs []queue.NewJob
		for _, ev := range events {
			if ev.ID <= sub.cursor && sub.matches(ev.Topic, ev.Metadata) { // past events only: the rest come anyway
				jobs = append(jobs, queue.DeliveryJob(sub.Subscription, *ev, now, defaults))
			}
		}
		n, err = deliver(ctx, x, now, jobs)
		return err
	})
	if err != nil {
		return 0, err
	}
	if result == nil && n > 0 {
		s.wakeAfter(tx, "")
	}
	return n, result
}

// sqlTopicLog reads a topic's last sequence number and its oldest
// retained one (0 when it retains none).
const sqlTopicLog = `SELECT t.last_seq, coalesce((SELECT min(seq) FROM spool_events e WHERE e.topic = t.name), 0)
  FROM spool_topics t WHERE t.name = ?`

// replayRefusal says why a replay of f to sub is refused, or nil: sub must
// receive the topic, the topic must have a log, and f's sequence bounds
// must lie within what the log retains.
func replayRefusal(ctx context.Context, x *xtx, sub *subRow, f queue.EventFilter) (refused, err error) {
	bad := func(format string, a ...any) (error, error) {
		return fmt.Errorf("%w: "+format, append([]any{queue.ErrInvalidArgument}, a...)...), nil
	}
	if !queue.MatchTopic(sub.Pattern, f.Topic) {
		return bad("subscription %q (pattern %q) does not receive topic %q", sub.Name, sub.Pattern, f.Topic)
	}
	var last, first int64
	switch err = x.queryRow(ctx, sqlTopicLog, f.Topic).Scan(&last, &first); {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: no topic %q: a topic appears once an event is published to it", queue.ErrTopicNotFound, f.Topic), nil
	case err != nil:
		return nil, err
	}
	switch {
	case first == 0:
		return bad("topic %q retains no events to replay (its last was seq %d)", f.Topic, last)
	case f.ToSeq > last:
		return bad("to seq %d is past the last event of topic %q, seq %d", f.ToSeq, f.Topic, last)
	case f.FromSeq != 0 && f.FromSeq < first:
		return bad("from seq %d is before the oldest event topic %q retains, seq %d: its retention dropped the older ones", f.FromSeq, f.Topic, first)
	}
	return nil, nil
}

// Events implements queue.TopicStore.
func (s *Store) Events(ctx context.Context, f queue.EventFilter) ([]queue.EventRecord, error) {
	list, err := readEvents(s.readDB.QueryContext(ctx, sqlEventRange, f.Topic, f.FromSeq, f.ToSeq, timeOrZero(f.Since), timeOrZero(f.Until), f.Limit))
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]queue.EventRecord, len(list))
	for i, e := range list {
		out[i] = *e
	}
	return out, nil
}

const (
	// sqlSubLag counts a subscription's live jobs: their unique keys share
	// a prefix, a range of the unique index.
	sqlSubLag = `SELECT count(*) FROM spool_jobs
  WHERE unique_key >= ?1 AND unique_key < ?2 AND unique_key IS NOT NULL AND state IN ` + liveSQL
	sqlTopics = `SELECT t.name, t.last_seq, t.retain_age_us, t.retain_events,
  coalesce((SELECT min(seq) FROM spool_events e WHERE e.topic = t.name), 0),
  (SELECT count(*) FROM spool_events e WHERE e.topic = t.name)
  FROM spool_topics t ORDER BY t.name`
)

// Subscriptions implements queue.TopicStore.
func (s *Store) Subscriptions(ctx context.Context) ([]queue.SubscriptionInfo, error) {
	tx, err := s.readDB.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, mapErr(err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, sqlSubscriptions)
	subs, err := readSubs(ctx, rows, err)
	if err != nil {
		return nil, mapErr(err)
	}
	var last int64
	if err := tx.QueryRowContext(ctx, sqlLastEventID).Scan(&last); err != nil {
		return nil, mapErr(err)
	}
	out := make([]queue.SubscriptionInfo, len(subs))
	for i, sub := range subs {
		p := queue.DeliveryKeyPrefix(sub.Name)
		var lag int
		if err := tx.QueryRowContext(ctx, sqlSubLag, p, strings.TrimSuffix(p, ":")+";").Scan(&lag); err != nil {
			return nil, mapErr(err)
		}
		out[i] = queue.SubscriptionInfo{Subscription: sub.Subscription, CreatedAt: time.UnixMicro(sub.createdAt),
			Cursor: sub.cursor, Backlog: int(max(0, last-sub.cursor)), Lag: lag}
	}
	return out, nil
}

// Topics implements queue.TopicStore.
func (s *Store) Topics(ctx context.Context) ([]queue.TopicInfo, error) {
	rows, err := s.readDB.QueryContext(ctx, sqlTopics)
	if err != nil {
		return nil, mapErr(err)
	}
	topics, err := collect(rows, scanTopic)
	return topics, mapErr(err)
}

func scanTopic(r scanner) (queue.TopicInfo, error) {
	var t queue.TopicInfo
	var age int64
	err := r.Scan(&t.Name, &t.LastSeq, &age, &t.Retention.MaxEvents, &t.FirstSeq, &t.Events)
	t.Retention.MaxAge = time.Duration(age) * time.Microsecond
	return t, err
}

const (
	sqlSetRetention = `INSERT INTO spool_topics (name, retain_age_us, retain_events, updated_at) VALUES (?1, ?2, ?3, ?4)
  ON CONFLICT (name) DO UPDATE SET retain_age_us = ?2, retain_events = ?3, updated_at = ?4`
	sqlRetainedTopics = `SELECT name, last_seq, retain_age_us, retain_events FROM spool_topics
  WHERE retain_age_us > 0 OR retain_events > 0`
	sqlPruneEventsAge = `DELETE FROM spool_events WHERE id IN
  (SELECT id FROM spool_events WHERE topic = ? AND published_at < ? ORDER BY published_at LIMIT ?)`
	sqlPruneEventsCount = `DELETE FROM spool_events WHERE id IN
  (SELECT id FROM spool_events WHERE topic = ? AND seq <= ? ORDER BY seq LIMIT ?)`
)

// SetRetention implements queue.TopicStore.
func (s *Store) SetRetention(ctx context.Context, tx *sql.Tx, topic string, r queue.Retention, now time.Time) error {
	return s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		_, err := x.exec(ctx, sqlSetRetention, topic, r.MaxAge.Microseconds(), r.MaxEvents, micros(now))
		return err
	})
}

// PruneEvents implements queue.TopicStore.
func (s *Store) PruneEvents(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	var n int64
	err := s.write(ctx, nil, func(ctx context.Context, x *xtx) error {
		n = 0
		rows, err := x.query(ctx, sqlRetainedTopics)
		if err != nil {
			return err
		}
		list, err := collect(rows, scanRetained)
		if err != nil {
			return err
		}
		for _, r := range list {
			if r.age > 0 {
				res, err := x.exec(ctx, sqlPruneEventsAge, r.name, micros(now)-r.age, limit)
				if err != nil {
					return err
				}
				k, _ := res.RowsAffected()
				n += k
			}
			if r.ev > 0 && r.last > r.ev {
				res, err := x.exec(ctx, sqlPruneEventsCount, r.name, r.last-r.ev, limit)
				if err != nil {
					return err
				}
				k, _ := res.RowsAffected()
				n += k
			}
		}
		return nil
	})
	return int(n), err
}

// retained is a topic with a retention, as sqlRetainedTopics reads it.
type retained struct {
	name          string
	last, age, ev int64
}

func scanRetained(r scanner) (retained, error) {
	var t retained
	err := r.Scan(&t.name, &t.last, &t.age, &t.ev)
	return t, err
}

package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/spooljobs/spool/queue"
)

// Events implements queue.TopicStore.
func (s *Store) Events(ctx context.Context, f queue.EventFilter) ([]queue.EventRecord, error) {
	fr := s.clock.frame()
	list, err := fr.readEvents(s.db.QueryContext(ctx, s.sql(sqlEventRange), f.Topic, f.FromSeq, f.ToSeq, fr.usOrZero(f.Since), fr.usOrZero(f.Until), f.Limit))
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
	// sqlSubLag counts a subscription's live jobs: those whose unique key
	// starts with its delivery key prefix. (starts_with, not a range of
	// the unique index: under the database's collation ":" and ";" need
	// not sort next to each other.)
	sqlSubLag = `SELECT count(*) FROM spool.jobs
  WHERE unique_key IS NOT NULL AND state IN ` + liveSQL + ` AND starts_with(unique_key, $1)`
	// sqlLastEventIDRead reads the newest event id without locking.
	sqlLastEventIDRead = `SELECT last_event_id FROM spool.event_log WHERE id = 1`
	sqlTopics          = `SELECT t.name, t.last_seq, t.retain_age_us, t.retain_events,
  coalesce((SELECT min(seq) FROM spool.events e WHERE e.topic = t.name), 0),
  (SELECT count(*) FROM spool.events e WHERE e.topic = t.name)
  FROM spool.topics t ORDER BY t.name`
	// sqlTopic is sqlTopics for one topic, by its primary key.
	sqlTopic = `SELECT t.name, t.last_seq, t.retain_age_us, t.retain_events,
  coalesce((SELECT min(seq) FROM spool.events e WHERE e.topic = t.name), 0),
  (SELECT count(*) FROM spool.events e WHERE e.topic = t.name)
  FROM spool.topics t WHERE t.name = $1`
)

// Subscriptions implements queue.TopicStore. It reads in one snapshot
// (repeatable read), so every backlog counts against the same log.
func (s *Store) Subscriptions(ctx context.Context) ([]queue.SubscriptionInfo, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, mapErr(err)
	}
	defer tx.Rollback()
	f := s.clock.frame()
	subs, err := readSubs(tx.QueryContext(ctx, s.sql(sqlSubscriptions)))
	if err != nil {
		return nil, mapErr(err)
	}
	var last int64
	if err := tx.QueryRowContext(ctx, s.sql(sqlLastEventIDRead)).Scan(&last); err != nil {
		return nil, mapErr(err)
	}
	out := make([]queue.SubscriptionInfo, len(subs))
	for i, sub := range subs {
		var lag int
		if err := tx.QueryRowContext(ctx, s.sql(sqlSubLag), queue.DeliveryKeyPrefix(sub.Name)).Scan(&lag); err != nil {
			return nil, mapErr(err)
		}
		cursor := sub.cursor
		if sub.caughtUp {
			cursor = last // it has seen every event Publish made
		}
		out[i] = queue.SubscriptionInfo{Subscription: sub.Subscription, CreatedAt: f.time(sub.createdAt),
			Cursor: cursor, Backlog: int(max(0, last-cursor)), Lag: lag}
	}
	return out, nil
}

// Topic implements queue.TopicStore.
func (s *Store) Topic(ctx context.Context, name string) (queue.TopicInfo, error) {
	t, err := scanTopic(s.db.QueryRowContext(ctx, s.sql(sqlTopic), name))
	if errors.Is(err, sql.ErrNoRows) {
		return queue.TopicInfo{}, fmt.Errorf("%w: no topic %q: a topic appears once an event is published to it", queue.ErrTopicNotFound, name)
	}
	return t, mapErr(err)
}

// Topics implements queue.TopicStore.
func (s *Store) Topics(ctx context.Context) ([]queue.TopicInfo, error) {
	rows, err := s.db.QueryContext(ctx, s.sql(sqlTopics))
	if err != nil {
		return nil, mapErr(err)
	}
	topics, err := collect(rows, scanTopic)
	return topics, mapErr(err)
}

// scanTopic reads one row of sqlTopics.
func scanTopic(r scanner) (queue.TopicInfo, error) {
	var t queue.TopicInfo
	var age int64
	err := r.Scan(&t.Name, &t.LastSeq, &age, &t.Retention.MaxEvents, &t.FirstSeq, &t.Events)
	t.Retention.MaxAge = time.Duration(age) * time.Microsecond
	return t, err
}

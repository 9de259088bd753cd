package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spooljobs/spool/queue"
)

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
	// sqlTopic is sqlTopics for one topic, by its primary key.
	sqlTopic = `SELECT t.name, t.last_seq, t.retain_age_us, t.retain_events,
  coalesce((SELECT min(seq) FROM spool_events e WHERE e.topic = t.name), 0),
  (SELECT count(*) FROM spool_events e WHERE e.topic = t.name)
  FROM spool_topics t WHERE t.name = ?1`
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

// Topic implements queue.TopicStore.
func (s *Store) Topic(ctx context.Context, name string) (queue.TopicInfo, error) {
	t, err := scanTopic(s.readDB.QueryRowContext(ctx, sqlTopic, name))
	if errors.Is(err, sql.ErrNoRows) {
		return queue.TopicInfo{}, fmt.Errorf("%w: no topic %q: a topic appears once an event is published to it", queue.ErrTopicNotFound, name)
	}
	return t, mapErr(err)
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

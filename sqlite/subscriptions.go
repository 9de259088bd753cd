package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spooljobs/spool/queue"
)

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

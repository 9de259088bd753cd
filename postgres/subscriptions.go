package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spooljobs/spool/queue"
)

const (
	sqlSubByName = `SELECT ` + sqlSubColumns + ` FROM spool.subscriptions WHERE name = $1`
	// sqlInsertSub creates a subscription; nothing when another
	// transaction created one of that name first (Subscribe then compares
	// with it).
	sqlInsertSub = `INSERT INTO spool.subscriptions
  (name, pattern, filter, queue, kind, priority, max_attempts, cursor, created_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
  ON CONFLICT (name) DO NOTHING`
	sqlUpdateSub = `UPDATE spool.subscriptions
  SET pattern = $1, filter = $2, queue = $3, kind = $4, priority = $5, max_attempts = $6
  WHERE name = $7`
	sqlFirstEventAt  = `SELECT coalesce(min(id), 0) FROM spool.events WHERE published_at >= $1`
	sqlFirstEventSeq = `SELECT coalesce(min(id), 0) FROM spool.events WHERE topic = $1 AND seq >= $2`
	sqlDeleteSub     = `DELETE FROM spool.subscriptions WHERE name = $1`
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
		if have, err := readSubs(x.query(ctx, sqlSubByName, sub.Name)); err != nil || len(have) > 0 {
			if err == nil {
				result = subChangedErr(have[0], sub)
			}
			return err
		}
		// The newest event id, with the event_log row locked: no publish
		// runs between this read and commit, so one from now on (stored
		// caught up) misses nothing and receives nothing twice.
		var last int64
		if err := x.queryRow(ctx, sqlLockEventLog).Scan(&last); err != nil {
			return err
		}
		cursor := last // from now on
		first := int64(0)
		switch {
		case sub.From.Beginning:
			cursor = 0
		case !sub.From.Time.IsZero():
			if err := x.queryRow(ctx, sqlFirstEventAt, x.f.us(sub.From.Time)).Scan(&first); err != nil {
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
		stored := sql.NullInt64{Int64: cursor, Valid: cursor < last} // NULL: caught up (topics.go)
		r, err := x.exec(ctx, sqlInsertSub, sub.Name, sub.Pattern, filter, sub.Queue, sub.Kind, sub.Priority, sub.MaxAttempts, stored, x.f.us(now))
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 1 {
			return nil
		}
		// Another transaction created the name meanwhile: compare with it.
		have, err := readSubs(x.query(ctx, sqlSubByName, sub.Name))
		if err == nil && len(have) > 0 {
			result = subChangedErr(have[0], sub)
		}
		return err
	})
	if err != nil {
		return err
	}
	return result
}

// subChangedErr is the error for subscribing sub where have exists: nil when
// they define the same subscription.
func subChangedErr(have *subRow, sub queue.Subscription) error {
	if len(have.Diff(sub)) == 0 {
		return nil
	}
	return &queue.SubscriptionChangedError{Name: sub.Name, Stored: have.Subscription, Given: sub}
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

package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/spooljobs/spool/queue"
)

const (
	sqlSetRetention = `INSERT INTO spool.topics (name, retain_age_us, retain_events, updated_at) VALUES ($1, $2, $3, $4)
  ON CONFLICT (name) DO UPDATE SET retain_age_us = $2, retain_events = $3, updated_at = $4`
	sqlRetainedTopics = `SELECT name, last_seq, retain_age_us, retain_events FROM spool.topics
  WHERE retain_age_us > 0 OR retain_events > 0`
	sqlPruneEventsAge = `DELETE FROM spool.events WHERE id = ANY (ARRAY
  (SELECT id FROM spool.events WHERE topic = $1 AND published_at < $2 ORDER BY published_at LIMIT $3))`
	sqlPruneEventsCount = `DELETE FROM spool.events WHERE id = ANY (ARRAY
  (SELECT id FROM spool.events WHERE topic = $1 AND seq <= $2 ORDER BY seq LIMIT $3))`
)

// SetRetention implements queue.TopicStore.
func (s *Store) SetRetention(ctx context.Context, tx *sql.Tx, topic string, r queue.Retention, now time.Time) error {
	return s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		_, err := x.exec(ctx, sqlSetRetention, topic, r.MaxAge.Microseconds(), r.MaxEvents, x.f.us(now))
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
				res, err := x.exec(ctx, sqlPruneEventsAge, r.name, x.f.us(now)-r.age, limit)
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

// scanRetained reads one row of sqlRetainedTopics.
func scanRetained(r scanner) (retained, error) {
	var t retained
	err := r.Scan(&t.name, &t.last, &t.age, &t.ev)
	return t, err
}

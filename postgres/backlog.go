package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/spooljobs/spool/internal/jobcodec"
	"github.com/spooljobs/spool/queue"
)

const (
	// sqlEventColumns are the columns scanEvent reads.
	sqlEventColumns = `id, topic, seq, published_at, order_key, metadata, payload`
	sqlEventsAfter  = `SELECT ` + sqlEventColumns + ` FROM spool.events WHERE id > $1 ORDER BY id LIMIT $2`
	// sqlBehindSubs are the subscriptions catching up: those with a
	// cursor (topics.go).
	sqlBehindSubs = `SELECT ` + sqlSubColumns + ` FROM spool.subscriptions WHERE cursor IS NOT NULL ORDER BY cursor, name`
	// sqlAnyBehind: is any subscription catching up? Read without locks.
	sqlAnyBehind = `SELECT EXISTS (SELECT 1 FROM spool.subscriptions WHERE cursor IS NOT NULL)`
	// sqlSetCursor moves a cursor, or marks the subscription caught up
	// with $1 NULL, unless it moved meanwhile.
	sqlSetCursor = `UPDATE spool.subscriptions SET cursor = $1 WHERE name = $2 AND cursor = $3`
)

// scanEvent reads one event of the log (a row of sqlEventColumns), its
// time translated by f.
func (f frame) scanEvent(r scanner) (*queue.EventRecord, error) {
	var (
		e       queue.EventRecord
		at      int64
		key, md sql.NullString
	)
	if err := r.Scan(&e.ID, &e.Topic, &e.Seq, &at, &key, &md, &e.Payload); err != nil {
		return nil, err
	}
	e.PublishedAt = f.time(at)
	e.OrderKey = key.String
	var err error
	if e.Metadata, err = jobcodec.DecodeMetadata(md.String); err != nil {
		return nil, err
	}
	if e.Payload == nil {
		e.Payload = []byte{}
	}
	return &e, nil
}

// readEvents reads the events a query returned (sqlEventColumns), given
// with the query's error.
func (f frame) readEvents(rows *sql.Rows, err error) ([]*queue.EventRecord, error) {
	if err != nil {
		return nil, err
	}
	return collect(rows, f.scanEvent)
}

// DeliverBacklog implements queue.TopicStore.
func (s *Store) DeliverBacklog(ctx context.Context, now time.Time, limit int, defaults queue.NewJob) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	// Most runs find every subscription caught up: they answer so without
	// the event_log row's lock, which would hold publishers up.
	var behind bool
	if err := s.db.QueryRowContext(ctx, s.sql(sqlAnyBehind)).Scan(&behind); err != nil || !behind {
		return 0, mapErr(err)
	}
	total := 0
	err := s.write(ctx, nil, func(ctx context.Context, x *xtx) error {
		total = 0
		// The event_log row's lock holds publishers (and other backlog
		// runs) off until commit: the cursors this moves stay behind or
		// reach the newest event, never past one being published, and a
		// subscription that reaches it is Publish's from the next event
		// on (topics.go).
		var last int64
		if err := x.queryRow(ctx, sqlLockEventLog).Scan(&last); err != nil {
			return err
		}
		subs, err := readSubs(x.query(ctx, sqlBehindSubs))
		if err != nil {
			return err
		}
		for _, sub := range subs {
			events, err := x.f.readEvents(x.query(ctx, sqlEventsAfter, sub.cursor, limit))
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
			if len(events) < limit {
				cursor = last // it read the rest of the log (pruning may have dropped its end)
			}
			n, err := deliver(ctx, x, now, jobs)
			if err != nil {
				return err
			}
			total += n
			next := sql.NullInt64{Int64: cursor, Valid: cursor < last} // NULL: caught up
			if _, err := x.exec(ctx, sqlSetCursor, next, sub.Name, sub.cursor); err != nil {
				return err
			}
		}
		return nil
	})
	return total, err
}

package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/spooljobs/spool/queue"
)

// scanEvent reads one event of the log.
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

package sqlite

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

const (
	sqlSubscriptions = `SELECT name, pattern, filter, queue, kind, priority, max_attempts, cursor, created_at
  FROM spool_subscriptions ORDER BY name`
	sqlLastEventID = `SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'spool_events'), 0)`
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
		m, err := jobcodec.EncodeMetadata(j.Metadata)
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

// Publish implements queue.TopicStore. The event and its deliveries join
// the transaction's publish window (publishwindow.go), written with the
// other publishes of the writer's transaction.
func (s *Store) Publish(ctx context.Context, tx *sql.Tx, now time.Time, ev queue.Event, defaults queue.NewJob) (queue.PublishResult, error) {
	md, err := jobcodec.EncodeMetadata(ev.Metadata)
	if err != nil {
		return queue.PublishResult{}, err
	}
	var res queue.PublishResult
	err = s.writePublish(ctx, tx, func(ctx context.Context, x *xtx) error {
		res = queue.PublishResult{}
		return x.publish(ctx, now, ev, md, defaults, &res)
	})
	if err == nil && res.Jobs > 0 {
		s.wakeAfter(tx, "")
	}
	return res, err
}

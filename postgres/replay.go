package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/spooljobs/spool/queue"
)

// sqlEventRange reads f's events of one topic in seq order: $1 topic,
// $2..$3 seq bounds, $4..$5 publish-time bounds (zero: open), $6 limit.
const sqlEventRange = `SELECT ` + sqlEventColumns + ` FROM spool.events
  WHERE topic = $1 AND ($2::bigint = 0 OR seq >= $2::bigint) AND ($3::bigint = 0 OR seq <= $3::bigint)
    AND ($4::bigint = 0 OR published_at >= $4::bigint) AND ($5::bigint = 0 OR published_at < $5::bigint)
  ORDER BY seq LIMIT $6`

// Replay implements queue.TopicStore.
func (s *Store) Replay(ctx context.Context, tx *sql.Tx, subscription string, f queue.EventFilter, now time.Time, defaults queue.NewJob) (int, error) {
	var n int
	var result error
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		n, result = 0, nil
		subs, err := readSubs(x.query(ctx, sqlSubByName, subscription))
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
		events, err := x.f.readEvents(x.query(ctx, sqlEventRange, f.Topic, f.FromSeq, f.ToSeq, x.f.usOrZero(f.Since), x.f.usOrZero(f.Until), f.Limit))
		if err != nil {
			return err
		}
		var jobs []queue.NewJob
		for _, ev := range events {
			// Past events only (a caught-up subscription has seen every
			// committed one): the rest come anyway.
			if (sub.caughtUp || ev.ID <= sub.cursor) && sub.matches(ev.Topic, ev.Metadata) {
				jobs = append(jobs, queue.DeliveryJob(sub.Subscription, *ev, now, defaults))
			}
		}
		n, err = deliver(ctx, x, now, jobs)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, result
}

// sqlTopicLog reads a topic's last sequence number and its oldest
// retained one (0 when it retains none).
const sqlTopicLog = `SELECT t.last_seq, coalesce((SELECT min(seq) FROM spool.events e WHERE e.topic = t.name), 0)
  FROM spool.topics t WHERE t.name = $1`

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

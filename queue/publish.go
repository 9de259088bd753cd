package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

func (q *Queue) topics() (TopicStore, error) {
	ts, ok := q.store.(TopicStore)
	if !ok {
		return nil, ErrNoTopics
	}
	return ts, nil
}

// jobDefaults is what delivered jobs get where a subscription leaves a
// field zero.
func (q *Queue) jobDefaults() NewJob {
	return NewJob{Queue: DefaultQueue, MaxAttempts: q.opts.MaxAttempts}
}

// Publish appends ev to its topic's log and, in the same transaction,
// enqueues one job per matching subscription.
//
// A subscription's queue at its MaxPending does not refuse a publish: the
// event is already in the log for every other subscriber, and one slow
// subscriber must not stop the publisher. Watch a subscription's backlog
// (Subscriptions) instead.
func (q *Queue) Publish(ctx context.Context, ev Event) (PublishResult, error) {
	return q.publish(ctx, nil, ev)
}

// PublishTx is Publish inside tx (the outbox: the event and its jobs commit
// or roll back with the caller's rows).
func (q *Queue) PublishTx(ctx context.Context, tx *sql.Tx, ev Event) (PublishResult, error) {
	if err := requireTx(tx, "PublishTx", "Publish"); err != nil {
		return PublishResult{}, err
	}
	return q.publish(ctx, tx, ev)
}

func (q *Queue) publish(ctx context.Context, tx *sql.Tx, ev Event) (PublishResult, error) {
	o := q.opts.Observer
	if o == nil {
		return q.publishEvent(ctx, tx, ev)
	}
	start := time.Now()
	if o.PublishStart != nil {
		var md map[string]string
		ctx, md = o.PublishStart(ctx, ev)
		ev.Metadata = withMetadata(NewJob{Metadata: ev.Metadata}, md).Metadata
	}
	res, err := q.publishEvent(ctx, tx, ev)
	if o.PublishDone != nil {
		o.PublishDone(ctx, PublishEvent{Topic: ev.Topic, Result: res, Err: err, Tx: tx != nil, Duration: time.Since(start)})
	}
	return res, err
}

func (q *Queue) publishEvent(ctx context.Context, tx *sql.Tx, ev Event) (PublishResult, error) {
	ts, err := q.topics()
	if err != nil {
		return PublishResult{}, err
	}
	if parent, ok := JobFromContext(ctx); ok {
		ev.Metadata = q.inherit(NewJob{Metadata: ev.Metadata}, parent).Metadata
	}
	if ev, err = q.validateEvent(ev); err != nil {
		return PublishResult{}, err
	}
	return ts.Publish(ctx, tx, q.opts.Now(), ev, q.jobDefaults())
}

// validateEvent checks ev and encodes its Args. Every subscriber's job
// carries the event's payload, metadata and ordering key, so Enqueue's
// rules apply to them, checked by the same code (normalize).
func (q *Queue) validateEvent(ev Event) (Event, error) {
	if err := ValidTopic(ev.Topic); err != nil {
		return ev, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	j, err := q.normalize(0, NewJob{Kind: "event", Payload: ev.Payload, Args: ev.Args,
		Metadata: ev.Metadata, OrderKey: ev.OrderKey}, q.opts.Now())
	if err != nil {
		var ie *InvalidJobError
		if !errors.As(err, &ie) {
			return ev, err
		}
		if ie.Err != nil {
			return ev, fmt.Errorf("%w: event %s: %s (%w)", ErrInvalidArgument, ie.Field, ie.Reason, ie.Err)
		}
		return ev, fmt.Errorf("%w: event %s: %s", ErrInvalidArgument, ie.Field, ie.Reason)
	}
	ev.Payload, ev.Args = j.Payload, nil
	return ev, nil
}

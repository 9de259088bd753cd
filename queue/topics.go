package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Topics administers the store's topics: subscriptions, the event log,
// replay and retention (Queue publishes). Get one from Queue.Topics; the
// store must implement TopicStore, else every call returns ErrNoTopics.
// Every write has a Tx twin that runs inside the caller's transaction; a
// nil tx there is an ErrInvalidArgument (call the twin without Tx).
type Topics struct {
	q *Queue
}

// Subscribe creates a durable subscription. It starts with the next event
// unless s.From says otherwise; a subscription starting in the past
// receives the backlog, in order, before new events: Subscribe delivers
// the first 1000 backlog events itself, worker pools' maintenance (or
// DeliverBacklog) the rest.
//
// Subscribe is idempotent, so an app calls it for each of its
// subscriptions every time it starts, from any number of processes: when
// the subscription exists with the same definition (see Subscription.Diff;
// From is not compared) it does nothing and returns nil, and the
// subscription keeps its place in the log. When it exists with another
// definition, Subscribe changes nothing and returns a
// *SubscriptionChangedError (ErrSubscriptionChanged) naming the fields that
// differ: change a subscription on purpose with UpdateSubscription.
func (t *Topics) Subscribe(ctx context.Context, s Subscription) error {
	if err := t.subscribe(ctx, nil, s); err != nil {
		return err
	}
	// A subscription starting in the past gets its first backlog now; the
	// rest follows through worker pools' maintenance.
	if _, err := t.DeliverBacklog(ctx, 1000); err != nil {
		t.q.logger.Warn("spool: backlog delivery after subscribe", "subscription", s.Name, "err", err)
	}
	return nil
}

// SubscribeTx is Subscribe inside tx: the subscription exists once tx
// commits, and not at all if it rolls back. Its backlog, if it starts in
// the past, is delivered after the commit by worker pools' maintenance or
// DeliverBacklog.
func (t *Topics) SubscribeTx(ctx context.Context, tx *sql.Tx, s Subscription) error {
	if err := requireTx(tx, "SubscribeTx", "Subscribe"); err != nil {
		return err
	}
	return t.subscribe(ctx, tx, s)
}

func (t *Topics) subscribe(ctx context.Context, tx *sql.Tx, s Subscription) error {
	ts, err := t.q.topics()
	if err != nil {
		return err
	}
	if err := t.checkSubscription(&s); err != nil {
		return err
	}
	return ts.Subscribe(ctx, tx, s, t.q.opts.Now())
}

// UpdateSubscription changes the definition of an existing subscription
// (pattern, filter, queue, kind, priority, max attempts) to s, found by
// s.Name. It keeps the subscription's place in the log: events published
// from then on are delivered by the new definition, jobs already delivered
// stay as they are, and s.From is ignored. A name with no subscription is
// an ErrSubscriptionNotFound: create it with Subscribe.
func (t *Topics) UpdateSubscription(ctx context.Context, s Subscription) error {
	return t.updateSubscription(ctx, nil, s)
}

// UpdateSubscriptionTx is UpdateSubscription inside tx.
func (t *Topics) UpdateSubscriptionTx(ctx context.Context, tx *sql.Tx, s Subscription) error {
	if err := requireTx(tx, "UpdateSubscriptionTx", "UpdateSubscription"); err != nil {
		return err
	}
	return t.updateSubscription(ctx, tx, s)
}

func (t *Topics) updateSubscription(ctx context.Context, tx *sql.Tx, s Subscription) error {
	ts, err := t.q.topics()
	if err != nil {
		return err
	}
	if err := t.checkSubscription(&s); err != nil {
		return err
	}
	return ts.UpdateSubscription(ctx, tx, s, t.q.opts.Now())
}

// checkSubscription validates s and applies its defaults.
func (t *Topics) checkSubscription(s *Subscription) error {
	if err := ValidName(s.Name); err != nil {
		return fmt.Errorf("%w: subscription name: %v", ErrInvalidArgument, err)
	}
	if err := ValidPattern(s.Pattern); err != nil {
		return fmt.Errorf("%w: subscription %q: pattern: %v", ErrInvalidArgument, s.Name, err)
	}
	if s.Queue == "" {
		s.Queue = DefaultQueue
	}
	// The fields a delivered job takes from the subscription follow
	// Enqueue's rules, checked by the same code.
	if err := t.q.ValidateJob(NewJob{Kind: s.Kind, Queue: s.Queue, Priority: s.Priority, MaxAttempts: s.MaxAttempts}); err != nil {
		var ie *InvalidJobError
		if errors.As(err, &ie) {
			return fmt.Errorf("%w: subscription %q: %s: %s", ErrInvalidArgument, s.Name, ie.Field, ie.Reason)
		}
		return err
	}
	set := 0
	for _, b := range []bool{s.From.Beginning, !s.From.Time.IsZero(), s.From.Seq != 0} {
		if b {
			set++
		}
	}
	if set > 1 {
		return fmt.Errorf("%w: subscription %q: set at most one of From.Beginning, From.Time, From.Seq", ErrInvalidArgument, s.Name)
	}
	if s.From.Seq < 0 || (s.From.Seq > 0 && strings.ContainsAny(s.Pattern, "*#")) {
		return fmt.Errorf("%w: subscription %q: From.Seq needs a positive sequence and a pattern without wildcards", ErrInvalidArgument, s.Name)
	}
	if !s.From.Time.IsZero() {
		// Refused, not clamped: the store would wrap a far-future time
		// around, and the subscription would receive the whole log.
		if r := outOfRange(s.From.Time); r != "" {
			return fmt.Errorf("%w: subscription %q: From.Time %s (%w)", ErrInvalidArgument, s.Name, r, ErrTimeOutOfRange)
		}
	}
	return nil
}

// Unsubscribe deletes a subscription. Jobs already delivered stay.
func (t *Topics) Unsubscribe(ctx context.Context, name string) error {
	return t.unsubscribe(ctx, nil, name)
}

// UnsubscribeTx is Unsubscribe inside tx.
func (t *Topics) UnsubscribeTx(ctx context.Context, tx *sql.Tx, name string) error {
	if err := requireTx(tx, "UnsubscribeTx", "Unsubscribe"); err != nil {
		return err
	}
	return t.unsubscribe(ctx, tx, name)
}

func (t *Topics) unsubscribe(ctx context.Context, tx *sql.Tx, name string) error {
	ts, err := t.q.topics()
	if err != nil {
		return err
	}
	return ts.Unsubscribe(ctx, tx, name)
}

// Subscriptions lists subscriptions with their backlog and lag.
func (t *Topics) Subscriptions(ctx context.Context) ([]SubscriptionInfo, error) {
	ts, err := t.q.topics()
	if err != nil {
		return nil, err
	}
	return ts.Subscriptions(ctx)
}

// List lists the topics in the event log.
func (t *Topics) List(ctx context.Context) ([]TopicInfo, error) {
	ts, err := t.q.topics()
	if err != nil {
		return nil, err
	}
	return ts.Topics(ctx)
}

// Get returns one topic of the log by name: ErrTopicNotFound when no
// event was ever published to it, ErrInvalidArgument for a name that is
// not a topic's. It reads that topic only, where List reads every one.
func (t *Topics) Get(ctx context.Context, name string) (TopicInfo, error) {
	ts, err := t.q.topics()
	if err != nil {
		return TopicInfo{}, err
	}
	if err := ValidTopic(name); err != nil {
		return TopicInfo{}, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	return ts.Topic(ctx, name)
}

// Events reads a topic's log, oldest first.
func (t *Topics) Events(ctx context.Context, f EventFilter) ([]EventRecord, error) {
	ts, err := t.q.topics()
	if err != nil {
		return nil, err
	}
	if err := checkEventFilter(&f); err != nil {
		return nil, err
	}
	return ts.Events(ctx, f)
}

func checkEventFilter(f *EventFilter) error {
	if err := ValidTopic(f.Topic); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	switch {
	case f.Limit == 0:
		f.Limit = 100
	case f.Limit < 0 || f.Limit > 1000:
		return fmt.Errorf("%w: limit %d is outside 1..1000", ErrInvalidArgument, f.Limit)
	}
	if f.FromSeq < 0 || f.ToSeq < 0 || (f.ToSeq > 0 && f.ToSeq < f.FromSeq) {
		return fmt.Errorf("%w: sequence range %d..%d", ErrInvalidArgument, f.FromSeq, f.ToSeq)
	}
	return checkEventTimes(f)
}

// checkEventTimes clamps or refuses f's time bounds outside the range a
// store keeps (years 1 to 9999). No event is published outside it, so a
// Since before it or an Until after it is clamped to zero (an open end):
// the filter keeps its meaning, and the store never sees a time it would
// wrap around. A Since after it or an Until before it leaves nothing to
// match and is refused as the mistake it must be.
func checkEventTimes(f *EventFilter) error {
	if !f.Since.IsZero() && outOfRange(f.Since) != "" {
		if f.Since.After(maxTime) {
			return fmt.Errorf("%w: event filter Since %s (%w)", ErrInvalidArgument, outOfRange(f.Since), ErrTimeOutOfRange)
		}
		f.Since = time.Time{}
	}
	if !f.Until.IsZero() && outOfRange(f.Until) != "" {
		if f.Until.Before(minTime) {
			return fmt.Errorf("%w: event filter Until %s (%w)", ErrInvalidArgument, outOfRange(f.Until), ErrTimeOutOfRange)
		}
		f.Until = time.Time{}
	}
	return nil
}

// DeliverBacklog delivers backlog events to subscriptions that started in
// the past, up to limit events per call, and returns how many jobs it made.
// Worker pools call it in their maintenance loop; call it to catch a
// subscription up without one. A store without topics delivers nothing.
func (t *Topics) DeliverBacklog(ctx context.Context, limit int) (int, error) {
	ts, err := t.q.topics()
	if err != nil {
		return 0, nil // nothing to deliver on a store without topics
	}
	return ts.DeliverBacklog(ctx, t.q.opts.Now(), limit, t.q.jobDefaults())
}

// Replay delivers the events of one topic in f's range (sequence and/or
// time) again to one subscription, after a bug in its handler was fixed.
// Other subscriptions see nothing. It returns how many jobs it made (a
// range of at most 10000 events per call; events whose job is still live
// are not delivered twice).
func (t *Topics) Replay(ctx context.Context, subscription string, f EventFilter) (int, error) {
	return t.replay(ctx, nil, subscription, f)
}

// ReplayTx is Replay inside tx: the jobs exist once tx commits.
func (t *Topics) ReplayTx(ctx context.Context, tx *sql.Tx, subscription string, f EventFilter) (int, error) {
	if err := requireTx(tx, "ReplayTx", "Replay"); err != nil {
		return 0, err
	}
	return t.replay(ctx, tx, subscription, f)
}

func (t *Topics) replay(ctx context.Context, tx *sql.Tx, subscription string, f EventFilter) (int, error) {
	ts, err := t.q.topics()
	if err != nil {
		return 0, err
	}
	if f.Limit == 0 {
		f.Limit = 10000
	}
	if f.Limit < 0 || f.Limit > 10000 {
		return 0, fmt.Errorf("%w: replay limit %d is outside 1..10000", ErrInvalidArgument, f.Limit)
	}
	if err := ValidTopic(f.Topic); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	if f.FromSeq < 0 || f.ToSeq < 0 || (f.ToSeq > 0 && f.ToSeq < f.FromSeq) {
		return 0, fmt.Errorf("%w: sequence range %d..%d", ErrInvalidArgument, f.FromSeq, f.ToSeq)
	}
	if err := checkEventTimes(&f); err != nil {
		return 0, err
	}
	return ts.Replay(ctx, tx, subscription, f, t.q.opts.Now(), t.q.jobDefaults())
}

// SetRetention bounds a topic's log (by age and/or count); PruneEvents, run
// by worker pools' maintenance, applies it.
func (t *Topics) SetRetention(ctx context.Context, topic string, r Retention) error {
	return t.setRetention(ctx, nil, topic, r)
}

// SetRetentionTx is SetRetention inside tx.
func (t *Topics) SetRetentionTx(ctx context.Context, tx *sql.Tx, topic string, r Retention) error {
	if err := requireTx(tx, "SetRetentionTx", "SetRetention"); err != nil {
		return err
	}
	return t.setRetention(ctx, tx, topic, r)
}

func (t *Topics) setRetention(ctx context.Context, tx *sql.Tx, topic string, r Retention) error {
	ts, err := t.q.topics()
	if err != nil {
		return err
	}
	if err := ValidTopic(topic); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	if r.MaxAge < 0 || r.MaxEvents < 0 {
		return fmt.Errorf("%w: retention must not be negative", ErrInvalidArgument)
	}
	return ts.SetRetention(ctx, tx, topic, r, t.q.opts.Now())
}

// PruneEvents drops events past their topic's retention, up to limit.
func (t *Topics) PruneEvents(ctx context.Context, limit int) (int, error) {
	ts, err := t.q.topics()
	if err != nil {
		return 0, nil
	}
	return ts.PruneEvents(ctx, t.q.opts.Now(), limit)
}

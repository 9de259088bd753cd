package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Topics: publish-subscribe fan-out and a replayable event log, in the same
// store as the jobs.
//
// Publish appends an event to its topic's log (with a per-topic sequence
// number) and, in the same transaction, creates one job per matching
// subscription: every subscriber gets its own copy, retried and
// dead-lettered on its own, and the publisher knows none of them. A
// subscription binds a topic pattern (and an optional metadata filter) to a
// queue and a kind; adding one touches no publisher code.
//
// Topic names are dot-separated words ("orders.created"). Patterns match
// word by word: "*" matches exactly one word, "#" matches any number of
// words, including none. So "orders.*" matches "orders.created" but not
// "orders" or "orders.line.added"; "orders.#" matches all three; "#"
// matches every topic.

// Event is something that happened, published to a topic.
type Event struct {
	// Topic is the event's topic, dot-separated words of the characters
	// allowed in queue names (no "*" or "#").
	Topic string
	// Payload is the event's raw bytes; Args is encoded as JSON into it
	// when Payload is nil. Each subscriber's job carries it as its payload.
	Payload []byte
	Args    any
	// Metadata is copied onto every delivered job, with the topic, the
	// event's sequence number and the subscription added under the keys
	// "spool.topic", "spool.seq" and "spool.subscription".
	Metadata map[string]string
	// OrderKey keeps events of one key (an order id) in order per
	// subscription.
	OrderKey string
}

// PublishResult tells what a publish did.
type PublishResult struct {
	// EventID identifies the event in the log: unique in the store and
	// increasing within a topic (see the package documentation).
	EventID int64
	// Seq is the event's sequence number within its topic, from 1.
	Seq int64
	// Jobs is how many subscriptions received the event.
	Jobs int
}

// Subscription binds a topic pattern to a queue and kind.
type Subscription struct {
	// Name identifies the subscription; same rules as queue names.
	Name string
	// Pattern selects topics (see the package's topic rules).
	Pattern string
	// Filter, when set, delivers only events whose metadata has every one
	// of these key-value pairs.
	Filter map[string]string
	// Queue and Kind are where and how delivered jobs run. Queue defaults
	// to "default"; Kind is required.
	Queue string
	Kind  string
	// Priority and MaxAttempts apply to delivered jobs (defaults as for
	// NewJob).
	Priority    int
	MaxAttempts int
	// From is where a new subscription starts in the log. The zero value
	// starts with the next event published. It is not part of the
	// definition: a subscription that exists keeps its place in the log.
	From StartAt
}

// Diff lists the fields of the definition that differ between s and o,
// such as `Kind "mail.send" -> "mail.receipt"`, or returns nil when they
// define the same subscription. The definition is Name, Pattern, Filter,
// Queue (empty meaning DefaultQueue), Kind, Priority and MaxAttempts; an
// empty Filter equals a nil one, and From is not compared. Subscribe uses
// it (through the store) to tell a repeated subscribe from a changed one.
func (s Subscription) Diff(o Subscription) []string {
	var out []string
	str := func(field, a, b string) {
		if a != b {
			out = append(out, fmt.Sprintf("%s %q -> %q", field, a, b))
		}
	}
	num := func(field string, a, b int) {
		if a != b {
			out = append(out, fmt.Sprintf("%s %d -> %d", field, a, b))
		}
	}
	orDefault := func(q string) string {
		if q == "" {
			return DefaultQueue
		}
		return q
	}
	str("Name", s.Name, o.Name)
	str("Pattern", s.Pattern, o.Pattern)
	if !maps.Equal(s.Filter, o.Filter) {
		out = append(out, fmt.Sprintf("Filter %s -> %s", formatFilter(s.Filter), formatFilter(o.Filter)))
	}
	str("Queue", orDefault(s.Queue), orDefault(o.Queue))
	str("Kind", s.Kind, o.Kind)
	num("Priority", s.Priority, o.Priority)
	num("MaxAttempts", s.MaxAttempts, o.MaxAttempts)
	return out
}

// formatFilter writes a filter with its keys sorted, so a message is the
// same every time.
func formatFilter(f map[string]string) string {
	keys := slices.Sorted(maps.Keys(f))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%q: %q", k, f[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// StartAt says where a new subscription starts reading the event log. At
// most one field may be set.
type StartAt struct {
	// Beginning delivers the whole retained log first, in order.
	Beginning bool
	// Time delivers events published at or after it. It must lie in years
	// 1 to 9999 (UTC), as every time a store keeps.
	Time time.Time
	// Seq delivers events of the topic from this sequence number on; only
	// for a pattern without wildcards.
	Seq int64
}

// SubscriptionInfo is a subscription with its progress.
type SubscriptionInfo struct {
	Subscription
	CreatedAt time.Time
	// Cursor is the subscription's position in the log, for operators to
	// compare over time; only its backend interprets it (package sqlite:
	// the ID of the last event delivered).
	Cursor int64
	// Backlog counts matching events in the log not yet delivered (a new
	// subscription catching up); Lag counts events delivered but not yet
	// handled (its live jobs). Backlog+Lag is how far it trails.
	Backlog int
	Lag     int
}

// TopicInfo describes one topic's log.
type TopicInfo struct {
	Name string
	// LastSeq is the sequence number of the latest event; Events counts the
	// events retained, from FirstSeq on.
	LastSeq  int64
	FirstSeq int64
	Events   int
	// Retention is the topic's retention setting.
	Retention Retention
}

// Retention bounds a topic's log. Zero fields mean no bound; a log with
// neither bound keeps every event.
type Retention struct {
	// MaxAge drops events older than it.
	MaxAge time.Duration
	// MaxEvents keeps at most this many newest events.
	MaxEvents int
}

// EventRecord is an event as stored in the log.
type EventRecord struct {
	ID          int64
	Topic       string
	Seq         int64
	PublishedAt time.Time
	OrderKey    string
	Metadata    map[string]string
	Payload     []byte
}

// EventFilter selects events of one topic's log, by sequence range.
type EventFilter struct {
	Topic string
	// FromSeq and ToSeq bound the range (inclusive); zero means open.
	FromSeq, ToSeq int64
	// Since and Until bound by publish time, Since included and Until
	// excluded; zero means open. Events are
	// published in years 1 to 9999 (UTC): a Since before them or an Until
	// after them is an open end too, while a Since after them or an Until
	// before them is refused (ErrTimeOutOfRange).
	Since, Until time.Time
	// Limit is the most events returned. Defaults to 100; at most 1000.
	Limit int
}

// TopicStore is the part of a store that keeps topics; package sqlite's
// Store implements it. Queue's topic methods need a store that does.
//
// Every delivery job a TopicStore makes is DeliveryJob's, and sequence
// numbers within a topic are gap-free in commit order.
type TopicStore interface {
	// Publish appends ev to its topic's log with the topic's next sequence
	// number and, in the same transaction, enqueues DeliveryJob(sub, ev,
	// now, defaults) for each subscription whose pattern and filter match,
	// ignoring the queues' MaxPending.
	Publish(ctx context.Context, tx *sql.Tx, now time.Time, ev Event, defaults NewJob) (PublishResult, error)
	// Subscribe creates the subscription s, validated and normalised by
	// Queue. If one of that name exists, it changes nothing: it returns nil
	// when the stored definition equals s (Subscription.Diff is empty), and
	// a *SubscriptionChangedError otherwise.
	Subscribe(ctx context.Context, tx *sql.Tx, s Subscription, now time.Time) error
	// UpdateSubscription replaces the definition of the existing
	// subscription s.Name with s, keeping its place in the log (s.From is
	// ignored). A name with no subscription is an ErrSubscriptionNotFound.
	UpdateSubscription(ctx context.Context, tx *sql.Tx, s Subscription, now time.Time) error
	// Unsubscribe deletes a subscription; ErrSubscriptionNotFound when
	// none has the name.
	Unsubscribe(ctx context.Context, tx *sql.Tx, name string) error
	// Subscriptions lists every subscription with its backlog and lag,
	// ordered by name.
	Subscriptions(ctx context.Context) ([]SubscriptionInfo, error)
	// Topics lists every topic in the log, ordered by name.
	Topics(ctx context.Context) ([]TopicInfo, error)
	// Topic returns one topic of the log by name, reading that topic
	// only; ErrTopicNotFound when no event was ever published to it.
	Topic(ctx context.Context, name string) (TopicInfo, error)
	// Events returns the events of f, oldest first. f comes validated and
	// with its defaults applied by Topics (Limit is 1 to 1000).
	Events(ctx context.Context, f EventFilter) ([]EventRecord, error)
	// DeliverBacklog delivers up to limit backlog events to subscriptions
	// that are catching up, in log order; it returns how many jobs it made.
	DeliverBacklog(ctx context.Context, now time.Time, limit int, defaults NewJob) (int, error)
	// Replay delivers the events of f's range again to one subscription,
	// in tx when it is not nil. It refuses, delivering nothing:
	// ErrSubscriptionNotFound when no subscription has the name,
	// ErrTopicNotFound when f.Topic has no log, and ErrInvalidArgument when
	// the subscription does not receive f.Topic, the topic retains no
	// events, or a sequence bound lies outside the retained log (FromSeq
	// before its oldest event, ToSeq past its last).
	Replay(ctx context.Context, tx *sql.Tx, subscription string, f EventFilter, now time.Time, defaults NewJob) (int, error)
	// SetRetention stores a topic's retention, in tx when it is not nil.
	SetRetention(ctx context.Context, tx *sql.Tx, topic string, r Retention, now time.Time) error
	// PruneEvents drops events past their topic's retention.
	PruneEvents(ctx context.Context, now time.Time, limit int) (int, error)
}

// ErrNoTopics means the store does not implement TopicStore.
var ErrNoTopics = errors.New("queue: the store does not support topics")

// MatchTopic reports whether topic matches pattern ("*" one word, "#" any
// number of words).
func MatchTopic(pattern, topic string) bool {
	return matchWords(strings.Split(pattern, "."), strings.Split(topic, "."))
}

// matchWords matches word by word in time proportional to len(p) ×
// len(t), whatever the pattern: backtracking over several "#" would be
// exponential, and patterns come from subscriptions anyone may create.
func matchWords(p, t []string) bool {
	if !slices.Contains(p, "#") {
		if len(p) != len(t) {
			return false
		}
		for i, w := range p {
			if w != "*" && w != t[i] {
				return false
			}
		}
		return true
	}
	// cur[j]: the pattern words so far match t[:j].
	cur, next := make([]bool, len(t)+1), make([]bool, len(t)+1)
	cur[0] = true
	for _, w := range p {
		if w == "#" {
			seen := false
			for j := range cur {
				seen = seen || cur[j]
				next[j] = seen
			}
		} else {
			next[0] = false
			for j := 1; j <= len(t); j++ {
				next[j] = cur[j-1] && (w == "*" || w == t[j-1])
			}
		}
		cur, next = next, cur
	}
	return cur[len(t)]
}

// ValidTopic checks a topic name: dot-separated words of letters, digits
// and "_:-/".
func ValidTopic(topic string) error { return validWords(topic, false) }

// ValidPattern checks a subscription pattern: a topic whose words may also
// be "*" or "#".
func ValidPattern(pattern string) error { return validWords(pattern, true) }

func validWords(s string, wild bool) error {
	if s == "" {
		return errors.New("empty topic")
	}
	if len(s) > maxNameLen {
		return fmt.Errorf("topic %.20q... is longer than %d characters", s, maxNameLen)
	}
	for _, w := range strings.Split(s, ".") {
		if w == "" {
			return fmt.Errorf("topic %q has an empty word (two dots, or a dot at an end)", s)
		}
		if w == "*" || w == "#" {
			if !wild {
				return fmt.Errorf("topic %q has the wildcard %q; wildcards belong in subscription patterns", s, w)
			}
			continue
		}
		if strings.ContainsAny(w, "*#") {
			return fmt.Errorf("%q: a wildcard must be a whole word", s)
		}
		if err := ValidName(w); err != nil {
			return fmt.Errorf("topic %q: %v", s, err)
		}
	}
	return nil
}

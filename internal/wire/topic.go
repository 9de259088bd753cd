package wire

import (
	"time"

	"github.com/spooljobs/spool/queue"
)

// Topic is a topic of the event log: its newest sequence number, the
// retained events from FirstSeq on, and its retention.
type Topic struct {
	Name      string    `json:"name"`
	LastSeq   int64     `json:"last_seq"`
	FirstSeq  int64     `json:"first_seq"`
	Events    int       `json:"events"`
	Retention Retention `json:"retention"`
}

// Retention is a topic's retention; zero means no bound.
type Retention struct {
	MaxAgeSeconds float64 `json:"max_age_seconds"`
	MaxEvents     int     `json:"max_events"`
}

// NewTopic returns t's JSON form.
func NewTopic(t queue.TopicInfo) Topic {
	return Topic{Name: t.Name, LastSeq: t.LastSeq, FirstSeq: t.FirstSeq, Events: t.Events,
		Retention: Retention{MaxAgeSeconds: t.Retention.MaxAge.Seconds(), MaxEvents: t.Retention.MaxEvents}}
}

// Topics is the list of topics, or one page of it: NextAfter, when set,
// is the name to pass as "after" for the next page.
type Topics struct {
	Topics    []Topic `json:"topics"`
	NextAfter string  `json:"next_after,omitempty"`
}

// NewTopics returns the list's JSON form.
func NewTopics(list []queue.TopicInfo) Topics {
	out := Topics{Topics: make([]Topic, len(list))}
	for i, t := range list {
		out.Topics[i] = NewTopic(t)
	}
	return out
}

// Subscription is a subscription with its cursor (the ID of the last event
// delivered), backlog and lag. Filter is {} when it has none.
type Subscription struct {
	Name        string            `json:"name"`
	Pattern     string            `json:"pattern"`
	Filter      map[string]string `json:"filter"`
	Queue       string            `json:"queue"`
	Kind        string            `json:"kind"`
	Priority    int               `json:"priority"`
	MaxAttempts int               `json:"max_attempts"`
	CreatedAt   time.Time         `json:"created_at"`
	Cursor      int64             `json:"cursor"`
	Backlog     int               `json:"backlog"`
	Lag         int               `json:"lag"`
}

// NewSubscription returns s's JSON form.
func NewSubscription(s queue.SubscriptionInfo) Subscription {
	f := s.Filter
	if f == nil {
		f = map[string]string{}
	}
	return Subscription{Name: s.Name, Pattern: s.Pattern, Filter: f, Queue: s.Queue, Kind: s.Kind,
		Priority: s.Priority, MaxAttempts: s.MaxAttempts, CreatedAt: s.CreatedAt.UTC(),
		Cursor: s.Cursor, Backlog: s.Backlog, Lag: s.Lag}
}

// Subscriptions is the list of subscriptions, or one page of it:
// NextAfter, when set, is the name to pass as "after" for the next page.
type Subscriptions struct {
	Subscriptions []Subscription `json:"subscriptions"`
	NextAfter     string         `json:"next_after,omitempty"`
}

// NewSubscriptions returns the list's JSON form.
func NewSubscriptions(list []queue.SubscriptionInfo) Subscriptions {
	out := Subscriptions{Subscriptions: make([]Subscription, len(list))}
	for i, s := range list {
		out.Subscriptions[i] = NewSubscription(s)
	}
	return out
}

// Event is an event of a topic's log, its payload written as for a job
// (see Payload).
type Event struct {
	ID              int64             `json:"id"`
	Topic           string            `json:"topic"`
	Seq             int64             `json:"seq"`
	PublishedAt     time.Time         `json:"published_at"`
	OrderKey        string            `json:"order_key,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	PayloadEncoding string            `json:"payload_encoding"`
	Payload         any               `json:"payload"`
	// PayloadBytes, PayloadTruncated and PayloadURL are set by
	// NewEventCapped: the payload's whole size, whether Payload holds only
	// its start, and where the whole payload is served.
	PayloadBytes     int    `json:"payload_bytes,omitempty"`
	PayloadTruncated bool   `json:"payload_truncated,omitempty"`
	PayloadURL       string `json:"payload_url,omitempty"`
}

// NewEvent returns ev's JSON form.
func NewEvent(ev queue.EventRecord) Event {
	e := Event{ID: ev.ID, Topic: ev.Topic, Seq: ev.Seq, PublishedAt: ev.PublishedAt.UTC(), OrderKey: ev.OrderKey, Metadata: ev.Metadata}
	e.PayloadEncoding, e.Payload = Payload(ev.Payload)
	return e
}

// NewEventCapped returns ev's JSON form with at most limit bytes of its
// payload (see CappedPayload), its size, and url, where the whole payload
// is served.
func NewEventCapped(ev queue.EventRecord, limit int, url string) Event {
	e := Event{ID: ev.ID, Topic: ev.Topic, Seq: ev.Seq, PublishedAt: ev.PublishedAt.UTC(), OrderKey: ev.OrderKey, Metadata: ev.Metadata,
		PayloadBytes: len(ev.Payload), PayloadURL: url}
	e.PayloadEncoding, e.Payload, e.PayloadTruncated = CappedPayload(ev.Payload, limit)
	return e
}

// EventPage is a page of one topic's events, oldest first. NextFrom, when
// set, is the sequence number to pass as "from" for the next page.
type EventPage struct {
	Topic    string  `json:"topic"`
	Events   []Event `json:"events"`
	NextFrom int64   `json:"next_from,omitempty"`
}

// NewEventPage returns the page of topic's events and the sequence number
// that continues it (0: none).
func NewEventPage(topic string, events []queue.EventRecord, nextFrom int64) EventPage {
	p := EventPage{Topic: topic, Events: make([]Event, len(events)), NextFrom: nextFrom}
	for i, ev := range events {
		p.Events[i] = NewEvent(ev)
	}
	return p
}

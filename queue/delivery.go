package queue

import (
	"strconv"
	"time"
)

// Metadata keys a delivery job carries besides its event's metadata.
const (
	// MetadataTopic is the event's topic.
	MetadataTopic = "spool.topic"
	// MetadataSeq is the event's sequence number within its topic.
	MetadataSeq = "spool.seq"
	// MetadataEventID is the event's ID in the log (store-wide).
	MetadataEventID = "spool.event_id"
	// MetadataSubscription is the subscription that received the event.
	MetadataSubscription = "spool.subscription"
)

// DeliveryJob is the job subscription sub gets for event ev, ready at now.
// It is the one rule for delivery jobs: backends call it from Publish,
// DeliverBacklog and Replay and store what it returns, so that every
// backend delivers the same jobs.
//
// The job runs in the subscription's queue and kind (defaults.Queue and
// defaults.MaxAttempts where the subscription leaves them zero), carries
// the event's payload and its metadata plus the keys MetadataTopic,
// MetadataSeq, MetadataEventID and MetadataSubscription, and has the
// unique key DeliveryUniqueKey(sub.Name, ev.ID): one live job per
// subscription and event, so a replay never doubles one. An event's
// OrderKey becomes the ordering key sub.Name+":"+OrderKey: ordered per
// subscription, so subscribers never wait on each other.
func DeliveryJob(sub Subscription, ev EventRecord, now time.Time, defaults NewJob) NewJob {
	md := make(map[string]string, len(ev.Metadata)+4)
	for k, v := range ev.Metadata {
		md[k] = v
	}
	md[MetadataTopic] = ev.Topic
	md[MetadataSeq] = strconv.FormatInt(ev.Seq, 10)
	md[MetadataEventID] = strconv.FormatInt(ev.ID, 10)
	md[MetadataSubscription] = sub.Name
	j := NewJob{
		Queue: sub.Queue, Kind: sub.Kind, Priority: sub.Priority, MaxAttempts: sub.MaxAttempts,
		Payload: ev.Payload, Metadata: md, RunAt: now,
		UniqueKey: DeliveryUniqueKey(sub.Name, ev.ID),
	}
	if ev.OrderKey != "" {
		j.OrderKey = sub.Name + ":" + ev.OrderKey
	}
	if j.Queue == "" {
		j.Queue = defaults.Queue
	}
	if j.Queue == "" {
		j.Queue = DefaultQueue
	}
	if j.MaxAttempts == 0 {
		j.MaxAttempts = defaults.MaxAttempts
	}
	return j
}

// DeliveryKeyPrefix is the prefix of the unique keys of subscription
// name's delivery jobs.
func DeliveryKeyPrefix(name string) string { return "spool.sub:" + name + ":" }

// DeliveryUniqueKey is the unique key of the job subscription name gets
// for the event with ID eventID.
func DeliveryUniqueKey(name string, eventID int64) string {
	return DeliveryKeyPrefix(name) + strconv.FormatInt(eventID, 10)
}

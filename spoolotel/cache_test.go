package spoolotel

import (
	"runtime"
	"strconv"
	"testing"

	"go.opentelemetry.io/otel/attribute"
)

// A new attribute set costs the same however many the cache holds:
// topics, subscriptions and schedules are labels an app may have many of
// (a publish to each of 20 000 topics took 50 s of CPU when every miss
// copied the whole cache).
func TestAttrCacheMissCostIsFlat(t *testing.T) {
	var c attrCache
	topic := func(n int) []attribute.KeyValue {
		return []attribute.KeyValue{AttrSubscription.String("t" + strconv.Itoa(n))}
	}
	miss := func(n int) {
		c.get(attrKey{use: usePublish, a: "topic." + strconv.Itoa(n)}, func() []attribute.KeyValue { return topic(n) })
	}
	for n := range 5000 {
		miss(n)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for n := 5000; n < 5200; n++ {
		miss(n)
	}
	runtime.ReadMemStats(&after)
	// About 1 KiB per new set; a copy of 5 000 entries per miss is 72 MB.
	if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
		t.Fatalf("200 new attribute sets on a cache of 5 000 allocated %d bytes, want under 8 MiB", got)
	}
	if o, ok := c.load(attrKey{use: usePublish, a: "topic.17"}); !ok || o != c.get(attrKey{use: usePublish, a: "topic.17"}, nil) {
		t.Fatal("a stored set is not returned as it is")
	}
}

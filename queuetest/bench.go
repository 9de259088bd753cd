package queuetest

import (
	"context"
	"testing"

	"github.com/spooljobs/spool/queue"
)

// BenchPublishFanOut measures a backend's Publish: 16 goroutines (on 2
// cores) publish events to three subscriptions of q, each event becoming
// three jobs in its transaction. It reports events/s and jobs/s. Call it
// from a benchmark with a queue over a fresh store:
//
//	func BenchmarkPublishFanOut(b *testing.B) { queuetest.BenchPublishFanOut(b, newQueue(b)) }
func BenchPublishFanOut(b *testing.B, q *queue.Queue) {
	ctx := context.Background()
	for _, s := range []queue.Subscription{
		{Name: "stock", Pattern: "orders.created", Queue: "stock", Kind: "stock.reserve"},
		{Name: "payment", Pattern: "orders.*", Queue: "payment", Kind: "payment.charge"},
		{Name: "email", Pattern: "orders.#", Queue: "mail", Kind: "email.receipt"},
	} {
		if err := q.Topics().Subscribe(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	payload := []byte(`{"order_id":"10245","customer":"c-4711","items":3,"total_cents":6997}`)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := q.Publish(ctx, queue.Event{Topic: "orders.created", Payload: payload}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(3*float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

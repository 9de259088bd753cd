package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// BenchmarkPublishFanOut publishes events from 16 goroutines to three
// subscriptions; each event becomes three jobs in its transaction.
//
//	go test -run '^$' -bench PublishFanOut -benchtime 20000x ./sqlite/
func BenchmarkPublishFanOut(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	q, err := queue.New(st, queue.Options{})
	if err != nil {
		b.Fatal(err)
	}
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
	b.SetParallelism(8) // 16 goroutines on 2 cores
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

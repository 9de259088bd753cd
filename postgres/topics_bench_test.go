package postgres_test

import (
	"context"
	"testing"

	"github.com/spooljobs/spool/internal/pgtest"
	"github.com/spooljobs/spool/postgres"
	"github.com/spooljobs/spool/queue"
)

// BenchmarkPublish publishes events from 16 goroutines to three caught-up
// subscriptions; each event becomes three jobs in its transaction.
//
//	SPOOL_REQUIRE_POSTGRES=1 go test -run '^$' -bench Publish -benchtime 3000x ./postgres/
func BenchmarkPublish(b *testing.B) {
	ctx := context.Background()
	url := pgtest.URL(b)
	st, err := postgres.Open(ctx, url, postgres.Options{Schema: pgtest.Schema(b, url), MaxConns: 16})
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

package worker_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

// BenchmarkDrain drains b.N no-op jobs with the default pool, without
// ordering keys and with them (b.N jobs spread over 1000 keys, so at most
// 1000 can be ready at once):
//
//	go test -run '^$' -bench Drain -benchtime 100000x ./worker/
func BenchmarkDrain(b *testing.B) {
	for _, keys := range []int{0, 1000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
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
			jobs := make([]queue.NewJob, 0, 1000)
			for i := 0; i < b.N; i++ {
				j := queue.NewJob{Kind: "noop", Payload: []byte(`{"order_id":10245}`)}
				if keys > 0 {
					j.OrderKey = fmt.Sprint("order:", i%keys)
				}
				jobs = append(jobs, j)
				if len(jobs) == cap(jobs) || i == b.N-1 {
					if _, err := q.EnqueueMany(ctx, jobs); err != nil {
						b.Fatal(err)
					}
					jobs = jobs[:0]
				}
			}
			if err := st.Checkpoint(ctx); err != nil {
				b.Fatal(err)
			}
			var done atomic.Int64
			finished := make(chan struct{})
			pool, err := worker.New(q, worker.Options{})
			if err != nil {
				b.Fatal(err)
			}
			pool.HandleFunc("noop", func(context.Context, *queue.Job) error {
				if done.Add(1) == int64(b.N) {
					close(finished)
				}
				return nil
			})
			b.ResetTimer()
			if err := pool.Start(ctx); err != nil {
				b.Fatal(err)
			}
			<-finished
			b.StopTimer()
			pool.Stop(ctx)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
		})
	}
}

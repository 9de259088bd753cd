package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// The hot paths of the store, each on a fresh file. One op is one job in
// every benchmark (ns/op is per job; jobs/s is reported beside it), so
// `-benchtime=2000x` runs 2000 jobs through each path:
//
//	go test -run='^$' -bench=. -benchtime=2000x ./sqlite/
//
// `spool bench` measures the same paths end to end with a worker pool.

// benchPayload is about as large as a small real payload.
var benchPayload = []byte(`{"order_id":"10245","customer":"c-4711","items":3,"total_cents":6997,"note":"bench"}`)

func benchJob() queue.NewJob { return queue.NewJob{Kind: "bench", Payload: benchPayload} }

func benchOpen(b *testing.B) (*sqlite.Store, *queue.Queue) {
	b.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	q, err := queue.New(s, queue.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return s, q
}

// benchFill enqueues n ready jobs, 1000 per transaction.
func benchFill(b *testing.B, q *queue.Queue, n int) {
	b.Helper()
	batch := make([]queue.NewJob, 1000)
	for i := range batch {
		batch[i] = benchJob()
	}
	for done := 0; done < n; {
		k := min(len(batch), n-done)
		if _, err := q.EnqueueMany(context.Background(), batch[:k]); err != nil {
			b.Fatal(err)
		}
		done += k
	}
}

// benchLeaseAll leases n jobs in batches of limit and returns their leases.
func benchLeaseAll(b *testing.B, s *sqlite.Store, n, limit int) []queue.LeaseRef {
	b.Helper()
	refs := make([]queue.LeaseRef, 0, n)
	for len(refs) < n {
		now := time.Now()
		res, err := s.Lease(context.Background(), queue.LeaseParams{Queue: queue.DefaultQueue,
			Limit: min(limit, n-len(refs)), Now: now, Until: now.Add(time.Minute), Worker: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Jobs) == 0 {
			b.Fatalf("leased %d of %d jobs, then none", len(refs), n)
		}
		for _, j := range res.Jobs {
			refs = append(refs, queue.LeaseRef{JobID: j.ID, Token: j.LeaseToken})
		}
	}
	return refs
}

func benchReportJobs(b *testing.B, jobs int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(jobs)/s, "jobs/s")
	}
}

// BenchmarkEnqueue: Queue.Enqueue, one job per call, each durable when the
// call returns. "parallel" runs 16 goroutines on a 2-core machine, whose
// calls the store's writer group-commits.
func BenchmarkEnqueue(b *testing.B) {
	ctx := context.Background()
	b.Run("single", func(b *testing.B) {
		_, q := benchOpen(b)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if _, err := q.Enqueue(ctx, benchJob()); err != nil {
				b.Fatal(err)
			}
		}
		benchReportJobs(b, b.N)
	})
	b.Run("parallel", func(b *testing.B) {
		_, q := benchOpen(b)
		b.ReportAllocs()
		b.SetParallelism(8) // 8 × GOMAXPROCS goroutines
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := q.Enqueue(ctx, benchJob()); err != nil {
					b.Error(err)
					return
				}
			}
		})
		benchReportJobs(b, b.N)
	})
}

// BenchmarkEnqueueMany: Queue.EnqueueMany with 1000 jobs per call.
func BenchmarkEnqueueMany(b *testing.B) {
	ctx := context.Background()
	_, q := benchOpen(b)
	batch := make([]queue.NewJob, 1000)
	for i := range batch {
		batch[i] = benchJob()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(len(batch), b.N-done)
		if _, err := q.EnqueueMany(ctx, batch[:k]); err != nil {
			b.Fatal(err)
		}
		done += k
	}
	benchReportJobs(b, b.N)
}

// BenchmarkEnqueueManyKeyed: Queue.EnqueueMany with 1000 jobs per call,
// spread over 1000 ordering keys, as BenchmarkDrain keys=1000 fills its
// queue.
func BenchmarkEnqueueManyKeyed(b *testing.B) {
	ctx := context.Background()
	_, q := benchOpen(b)
	batch := make([]queue.NewJob, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(len(batch), b.N-done)
		for i := range batch[:k] {
			batch[i] = benchJob()
			batch[i].OrderKey = fmt.Sprint("order:", (done+i)%1000)
		}
		if _, err := q.EnqueueMany(ctx, batch[:k]); err != nil {
			b.Fatal(err)
		}
		done += k
	}
	benchReportJobs(b, b.N)
}

// BenchmarkLease: Store.Lease of 100 ready jobs per call, as a worker
// pool's fetch loop calls it.
func BenchmarkLease(b *testing.B) {
	s, q := benchOpen(b)
	benchFill(b, q, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	benchLeaseAll(b, s, b.N, 100)
	benchReportJobs(b, b.N)
}

// BenchmarkSettle: Store.Settle of 100 completions per call (the job rows
// are deleted), as a worker pool's settle loop calls it.
func BenchmarkSettle(b *testing.B) {
	ctx := context.Background()
	s, q := benchOpen(b)
	benchFill(b, q, b.N)
	refs := benchLeaseAll(b, s, b.N, 1000)
	batch := make([]queue.Settlement, 0, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for len(refs) > 0 {
		batch = batch[:0]
		now := time.Now()
		for _, r := range refs[:min(100, len(refs))] {
			batch = append(batch, queue.Settlement{JobID: r.JobID, Token: r.Token, Queue: queue.DefaultQueue,
				Outcome: queue.OutcomeComplete, Now: now})
		}
		refs = refs[len(batch):]
		errs, err := s.Settle(ctx, nil, batch)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range errs {
			if e != nil {
				b.Fatal(e)
			}
		}
	}
	benchReportJobs(b, b.N)
}

// BenchmarkDrainPieces runs the writer's work of a drain in cumulative
// steps, batches of 50 as the default pool leases and settles them: "fill"
// enqueues b.N jobs, "lease" also leases them all, "settle" also completes
// them all. Under callgrind the difference between two steps' instruction
// totals, divided by b.N, is what a lease or a settle costs per job (see
// BENCHMARKS.md, "Issue 18, round 3"):
//
//	GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 valgrind --tool=callgrind ./sqlite.test \
//	  -test.run '^$' -test.bench 'DrainPieces/lease' -test.benchtime 20000x
func BenchmarkDrainPieces(b *testing.B) {
	for _, step := range []string{"fill", "lease", "settle"} {
		b.Run(step, func(b *testing.B) {
			ctx := context.Background()
			s, q := benchOpen(b)
			benchFill(b, q, b.N)
			if step == "fill" {
				return
			}
			refs := benchLeaseAll(b, s, b.N, 50)
			if step == "lease" {
				return
			}
			batch := make([]queue.Settlement, 0, 50)
			for len(refs) > 0 {
				batch = batch[:0]
				now := time.Now()
				for _, r := range refs[:min(50, len(refs))] {
					batch = append(batch, queue.Settlement{JobID: r.JobID, Token: r.Token, Queue: queue.DefaultQueue,
						Outcome: queue.OutcomeComplete, Now: now})
				}
				refs = refs[len(batch):]
				if _, err := s.Settle(ctx, nil, batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

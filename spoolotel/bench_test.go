package spoolotel_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/spoolotel"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

// The cost of the instrumentation hook on the hot paths, as in
// sqlite.BenchmarkEnqueue ("parallel") and worker.BenchmarkDrain, with
// three set-ups:
//
//	hook=none  no Observer (queue.Options.Observer nil)
//	hook=funcs an Observer with every function set to one that does nothing:
//	           the core's own cost of the hook
//	hook=noop  spoolotel on OpenTelemetry's no-op providers, its middleware installed
//	           (it then sets no function: nothing would be kept)
//	hook=sdk   spoolotel on the SDK's meter provider with a reader that never
//	           collects (no exporter) and a no-op tracer, its middleware installed
//
// Run the set-ups in alternation, so that the machine's drift hits them
// alike (BENCHMARKS.md has the loop):
//
//	go test -run '^$' -bench 'Hook/enqueue/hook=none' -benchtime 50000x ./spoolotel/
func BenchmarkHook(b *testing.B) {
	for _, hook := range []string{"none", "funcs", "noop", "sdk"} {
		b.Run("enqueue/hook="+hook, func(b *testing.B) {
			q, _ := benchQueue(b, hook)
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(8) // 16 goroutines on 2 cores, as spool bench's enqueue
			b.ResetTimer()
			cpu := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := q.Enqueue(ctx, queue.NewJob{Kind: "noop", Payload: []byte(`{"order_id":10245}`)}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/job")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
		})
		b.Run("drain/hook="+hook, func(b *testing.B) {
			q, mws := benchQueue(b, hook)
			ctx := context.Background()
			jobs := make([]queue.NewJob, 0, 1000)
			for i := range b.N {
				jobs = append(jobs, queue.NewJob{Kind: "noop", Payload: []byte(`{"order_id":10245}`)})
				if len(jobs) == cap(jobs) || i == b.N-1 {
					if _, err := q.EnqueueMany(ctx, jobs); err != nil {
						b.Fatal(err)
					}
					jobs = jobs[:0]
				}
			}
			if err := q.Store().(*sqlite.Store).Checkpoint(ctx); err != nil {
				b.Fatal(err)
			}
			var done atomic.Int64
			finished := make(chan struct{})
			pool, err := worker.New(q, worker.Options{})
			if err != nil {
				b.Fatal(err)
			}
			pool.Use(mws...)
			pool.HandleFunc("noop", func(context.Context, *queue.Job) error {
				if done.Add(1) == int64(b.N) {
					close(finished)
				}
				return nil
			})
			b.ResetTimer()
			cpu := cpuTime()
			if err := pool.Start(ctx); err != nil {
				b.Fatal(err)
			}
			<-finished
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/job")
			pool.Stop(ctx)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
		})
	}
}

// cpuTime is the CPU time the process has used (user and system), in
// nanoseconds: on a machine shared with other work it moves less than the
// wall-clock time of a run.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkHookCalls times the adapter's work for one job's life with no
// store: an enqueue (start and done), its share of a lease, the start and
// end of its attempt, and its share of a settle batch; the CPU the hook
// adds per job, to compare with a job's whole cost in BenchmarkHook.
func BenchmarkHookCalls(b *testing.B) {
	for _, hook := range []string{"noop", "sdk"} {
		b.Run("hook="+hook, func(b *testing.B) {
			inst, err := spoolotel.New(benchOptions(hook))
			if err != nil {
				b.Fatal(err)
			}
			o := inst.Observer()
			ctx := context.Background()
			jobs := []queue.NewJob{{Kind: "noop", Queue: "default"}}
			res := []queue.EnqueueResult{{ID: 1}}
			job := &queue.Job{ID: 1, Kind: "noop", Queue: "default", Attempt: 1, MaxAttempts: 25}
			leased := []*queue.Job{job}
			batch := []queue.Settlement{{JobID: 1, Queue: "default", Outcome: queue.OutcomeComplete}}
			kinds := []string{"noop"}
			h := inst.Middleware()(worker.HandlerFunc(func(context.Context, *queue.Job) error { return nil }))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c, _ := o.EnqueueStart(ctx, jobs)
				o.EnqueueDone(c, queue.EnqueueEvent{Jobs: jobs, Results: res})
				o.Leased(ctx, queue.LeaseEvent{Queue: "default", Requested: 1, Jobs: leased})
				o.RunStart(ctx, queue.RunStartEvent{Job: job})
				_ = h.Work(ctx, job)
				o.RunEnd(ctx, queue.RunEndEvent{Job: job, Outcome: queue.OutcomeComplete})
				o.Settled(ctx, queue.SettleEvent{Settlements: batch, Kinds: kinds})
			}
		})
	}
}

// benchQueue opens a store on a fresh file and a queue with the hook set-up
// named, and returns the middleware that goes with it.
func benchQueue(b *testing.B, hook string) (*queue.Queue, []worker.Middleware) {
	b.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	var opts queue.Options
	var mws []worker.Middleware
	switch hook {
	case "none":
	case "funcs":
		opts.Observer = doNothing()
	case "noop", "sdk":
		inst, err := spoolotel.New(benchOptions(hook))
		if err != nil {
			b.Fatal(err)
		}
		opts.Observer = inst.Observer()
		mws = append(mws, inst.Middleware())
	default:
		b.Fatalf("unknown hook %q", hook)
	}
	q, err := queue.New(st, opts)
	if err != nil {
		b.Fatal(err)
	}
	return q, mws
}

// benchOptions are spoolotel's options for a hook set-up.
func benchOptions(hook string) spoolotel.Options {
	if hook == "sdk" {
		return spoolotel.Options{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader())),
			TracerProvider: tracenoop.NewTracerProvider()}
	}
	return spoolotel.Options{MeterProvider: metricnoop.NewMeterProvider(), TracerProvider: tracenoop.NewTracerProvider()}
}

// doNothing is an Observer with every function set to one that does
// nothing.
func doNothing() *queue.Observer {
	return &queue.Observer{
		EnqueueStart:  func(ctx context.Context, _ []queue.NewJob) (context.Context, map[string]string) { return ctx, nil },
		EnqueueDone:   func(context.Context, queue.EnqueueEvent) {},
		PublishStart:  func(ctx context.Context, _ queue.Event) (context.Context, map[string]string) { return ctx, nil },
		PublishDone:   func(context.Context, queue.PublishEvent) {},
		Leased:        func(context.Context, queue.LeaseEvent) {},
		RunStart:      func(context.Context, queue.RunStartEvent) {},
		RunEnd:        func(context.Context, queue.RunEndEvent) {},
		Settled:       func(context.Context, queue.SettleEvent) {},
		Rescued:       func(context.Context, queue.RescueEvent) {},
		ScheduleFired: func(context.Context, queue.ScheduleFireEvent) {},
	}
}

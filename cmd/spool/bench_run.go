package main

// One run of a single-process scenario: the store, the pool, the timed
// phase and the waits shared by the scenarios.

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

// bench is one run of a scenario.
type bench struct {
	cfg    benchConfig
	stderr io.Writer
	res    *benchResult

	db    *benchDB
	store queue.Store
	file  *sqlite.Store // store on SQLite; nil on PostgreSQL
	ts    *timedStore
	q     *queue.Queue
	pool  *worker.Pool
	tr    *tracker

	endProfile func() // stops the CPU profile of the timed phase, if one runs
}

// runBenchConfig runs a single-process scenario on a new database (a file,
// or a fresh schema on a PostgreSQL server) and returns its result.
func runBenchConfig(ctx context.Context, cfg benchConfig, stderr io.Writer) (res *benchResult, err error) {
	b := &bench{cfg: cfg, stderr: stderr, res: &benchResult{
		Scenario: cfg.scenario.name, Jobs: cfg.jobs, Workers: cfg.workers,
		Producers: cfg.producers, Rate: cfg.rate, Apart: cfg.apart, MaxRunning: cfg.maxRunning,
		Keys:          cfg.keys,
		PartitionKeys: cfg.partitionKeys, MaxRunningPerKey: cfg.maxRunningPerKey,
	}}
	d, err := newBenchDB(cfg.dbPath)
	if err != nil {
		return nil, err
	}
	b.db = d
	defer func() {
		if rerr := d.remove(context.WithoutCancel(ctx)); err == nil && rerr != nil {
			res, err = nil, rerr
		}
	}()
	if b.store, b.file, err = d.open(ctx, benchOpen{}); err != nil {
		return nil, err
	}
	defer func() {
		if perr := b.stopPool(); err == nil && perr != nil {
			err = perr
		}
		if cerr := b.store.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close the store: %w", cerr)
		}
		if err != nil {
			res = nil
		}
	}()
	b.ts = &timedStore{Store: b.store}
	if b.q, err = queue.New(b.ts, queue.Options{}); err != nil {
		return nil, err
	}
	b.logf("%s: database %s", cfg.scenario.name, d.shown)
	if err := cfg.scenario.run(b, ctx); err != nil {
		b.stopProfile()
		return nil, err
	}
	if err := b.stopPool(); err != nil {
		return nil, err
	}
	b.res.Seconds = round(b.res.Seconds, 4)
	b.res.JobsPerSec = round(b.res.JobsPerSec, 0)
	if rss, ok := peakRSS(); ok {
		b.res.PeakRSSMB = &rss
	}
	return b.res, nil
}

// logf prints a progress line on stderr.
func (b *bench) logf(format string, a ...any) {
	fmt.Fprintf(b.stderr, format+"\n", a...)
}

// startTimed starts the CPU profile of the timed phase, if asked for.
func (b *bench) startTimed() error {
	stop, err := startProfile(b.cfg.cpuProfile)
	b.endProfile = stop
	return err
}

// stopProfile stops the CPU profile, if one runs.
func (b *bench) stopProfile() {
	if b.endProfile != nil {
		b.endProfile()
		b.endProfile = nil
	}
}

// startProfile starts a CPU profile written to path ("": none) and returns
// the function that stops it and closes the file.
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// startPool starts a pool of cfg.workers running the no-op handler.
func (b *bench) startPool(ctx context.Context) error {
	opts := worker.Options{}
	if b.cfg.workers != benchDefaultWorkers {
		opts.Queues = map[string]worker.QueueConfig{queue.DefaultQueue: {MaxWorkers: b.cfg.workers}}
	}
	if b.cfg.maxRunning > 0 || b.cfg.maxRunningPerKey > 0 {
		s := queue.QueueSettings{MaxRunning: b.cfg.maxRunning, MaxRunningPerKey: b.cfg.maxRunningPerKey}
		if err := b.q.Inspector().SetQueueSettings(ctx, queue.DefaultQueue, s); err != nil {
			return err
		}
	}
	p, err := worker.New(b.q, opts)
	if err != nil {
		return err
	}
	p.HandleFunc(benchKind, b.handle)
	if err := p.Start(ctx); err != nil {
		return err
	}
	b.pool = p
	return nil
}

// stopPool stops the pool, if one runs, within 30s.
func (b *bench) stopPool() error {
	if b.pool == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := b.pool.Stop(ctx)
	b.pool = nil
	if err != nil {
		return fmt.Errorf("stop the pool: %w", err)
	}
	return nil
}

// handle is the no-op handler: it only records that the job ran.
func (b *bench) handle(_ context.Context, j *queue.Job) error {
	seq, ok := payloadSeq(j.Payload)
	if !ok || seq >= len(b.tr.counts) {
		return queue.Permanent(fmt.Errorf("bench: job %d has a payload that is not the bench's: %.40q", j.ID, j.Payload))
	}
	b.tr.handle(seq)
	return nil
}

// await waits until the tracker's awaited jobs were all handled, or none was
// handled for cfg.stall, and returns the moment the last of them was
// handled (the last progress after a stall). It reports progress every
// second.
func (b *bench) await(ctx context.Context, phase string, start time.Time) (time.Time, error) {
	t := b.tr
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last, lastAt := t.unique.Load(), time.Now()
	reported, reportedAt := last, time.Now()
	for {
		select {
		case <-t.done:
			return t.base.Add(time.Duration(t.doneAt.Load())), nil
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case now := <-tick.C:
			n := t.unique.Load()
			if n != last {
				last, lastAt = n, now
			} else if now.Sub(lastAt) > b.cfg.stall {
				b.logf("%s: no job handled for %s; giving up with %d of %d handled", phase, b.cfg.stall, n, t.limit)
				return lastAt, nil
			}
			if now.Sub(reportedAt) >= time.Second {
				b.logf("%s: %d of %d handled, %.0f/s (%.1fs)", phase, n, t.limit,
					float64(n-reported)/now.Sub(reportedAt).Seconds(), now.Sub(start).Seconds())
				reported, reportedAt = n, now
			}
		}
	}
}

// fill enqueues jobs seq from..to-1 untimed, 1000 per EnqueueMany call.
func (b *bench) fill(ctx context.Context, from, to int, job func(seq int) queue.NewJob) error {
	const size = 1000
	start := time.Now()
	b.logf("%s: enqueueing %s (untimed)", b.cfg.scenario.name, plural(to-from, "job"))
	next := start.Add(time.Second)
	batch := make([]queue.NewJob, 0, size)
	for seq := from; seq < to; seq++ {
		batch = append(batch, job(seq))
		if len(batch) < size && seq < to-1 {
			continue
		}
		if _, err := b.q.EnqueueMany(ctx, batch); err != nil {
			return fmt.Errorf("enqueue jobs %d..%d: %w", seq+1-len(batch), seq, err)
		}
		batch = batch[:0]
		if now := time.Now(); now.After(next) {
			b.logf("%s: %d of %d enqueued (%.1fs)", b.cfg.scenario.name, seq+1-from, to-from, now.Sub(start).Seconds())
			next = now.Add(time.Second)
		}
	}
	return nil
}

// setRate sets the result's seconds and jobs per second.
func (b *bench) setRate(jobs int, d time.Duration) {
	b.res.Seconds = d.Seconds()
	if d > 0 {
		b.res.JobsPerSec = float64(jobs) / d.Seconds()
	}
}

// timedProducers runs fn in cfg.producers goroutines and times them,
// reporting done of n every second.
func (b *bench) timedProducers(ctx context.Context, n int, done *atomic.Int64, fn func(p int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := b.startTimed(); err != nil {
		return err
	}
	start := time.Now()
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for p := range b.cfg.producers {
		wg.Go(func() {
			if err := fn(p); err != nil {
				errOnce.Do(func() { firstErr = err; cancel() })
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
wait:
	for {
		select {
		case <-finished:
			break wait
		case now := <-tick.C:
			b.logf("%s: %d of %d enqueued (%.1fs)", b.cfg.scenario.name, done.Load(), n, now.Sub(start).Seconds())
		}
	}
	d := time.Since(start)
	b.stopProfile()
	if firstErr != nil {
		return firstErr
	}
	b.setRate(n, d)
	return nil
}

// verify drains every enqueued job (untimed) to check delivery.
func (b *bench) verify(ctx context.Context) error {
	b.logf("%s: draining to check delivery (untimed)", b.cfg.scenario.name)
	start := time.Now()
	if err := b.startPool(ctx); err != nil {
		return err
	}
	if _, err := b.await(ctx, b.cfg.scenario.name+" check", start); err != nil {
		return err
	}
	b.res.Lost, b.res.Duplicates = b.tr.lost(), int(b.tr.dups.Load())
	return nil
}

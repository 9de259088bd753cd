package main

// A multiproc child: one of the processes sharing the database file.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

// runMultiprocChild is child process cfg.child: it gets ready, waits for the
// parent's start line on stdin, enqueues and works jobs for cfg.duration,
// and prints its results as one JSON line.
func runMultiprocChild(ctx context.Context, cfg benchConfig, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	logs := &logCounter{counts: map[string]int{}, out: slog.NewTextHandler(stderr, nil)}
	logger := slog.New(logs)
	store, err := sqlite.Open(ctx, cfg.dbPath, sqlite.Options{BusyTimeout: cfg.busyTimeout, Logger: logger})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := store.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close the store: %w", cerr)
		}
	}()
	q, err := queue.New(store, queue.Options{Logger: logger})
	if err != nil {
		return err
	}
	pool, err := worker.New(q, worker.Options{
		Queues:        map[string]worker.QueueConfig{queue.DefaultQueue: {MaxWorkers: cfg.workers}},
		LeaseDuration: cfg.lease,
		Logger:        logger,
	})
	if err != nil {
		return err
	}
	var (
		ranMu    sync.Mutex
		ran      []int64 // IDs of the jobs this process's handlers ran
		ranCount atomic.Int64
	)
	pool.HandleFunc(benchKind, func(_ context.Context, j *queue.Job) error {
		ranMu.Lock()
		ran = append(ran, j.ID)
		ranMu.Unlock()
		ranCount.Add(1)
		return nil
	})

	if _, err := fmt.Fprintln(stdout, multiprocReady); err != nil {
		return err
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if strings.TrimSpace(line) != multiprocGo {
		return fmt.Errorf("multiproc child %d: no start line %q from the parent on stdin (read %q, %v)", cfg.child, multiprocGo, line, err)
	}

	start := time.Now()
	if err := pool.Start(ctx); err != nil {
		return err
	}
	producers := make([]*producer, cfg.producers)
	var (
		stop     atomic.Bool
		enqueued atomic.Int64
		wg       sync.WaitGroup
	)
	for i := range producers {
		p := &producer{errors: map[string]int{}}
		producers[i] = p
		// A payload like the other scenarios', with an ID unique across
		// the processes of a run.
		seq := cfg.child*1_000_000_000_000 + i*1_000_000_000
		wg.Go(func() {
			for !stop.Load() && ctx.Err() == nil {
				t0 := time.Now()
				r, err := q.Enqueue(ctx, queue.NewJob{Kind: benchKind, Payload: benchPayload(seq)})
				t1 := time.Now()
				seq++
				p.latency = append(p.latency, t1.Sub(t0))
				if err != nil {
					kind := enqueueErrorKind(err)
					if p.errors[kind] == 0 {
						fmt.Fprintf(stderr, "first %s error of producer %d: %v\n", kind, i, err)
					}
					p.errors[kind]++
					continue
				}
				p.acked = append(p.acked, r.ID)
				p.returned = append(p.returned, t1.Sub(start))
				enqueued.Add(1)
			}
		})
	}
	timer := time.NewTimer(cfg.duration)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
wait:
	for {
		select {
		case <-timer.C:
			break wait
		case <-ctx.Done():
			timer.Stop()
			fmt.Fprintf(stderr, "interrupted after %.1fs; stopping\n", time.Since(start).Seconds())
			break wait
		case now := <-tick.C:
			fmt.Fprintf(stderr, "%.0fs: %d enqueued, %d run\n", now.Sub(start).Seconds(), enqueued.Load(), ranCount.Load())
		}
	}
	stop.Store(true)
	window := time.Since(start)
	ranInWindow := ranCount.Load()
	wg.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), multiprocStopTimeout)
	defer cancel()
	if err := pool.Stop(sctx); err != nil {
		return fmt.Errorf("multiproc child %d: stop the pool: %w", cfg.child, err)
	}

	res := multiprocProc{Proc: cfg.child, PID: os.Getpid(), Seconds: round(window.Seconds(), 3), Errors: map[string]int{}}
	var (
		acked     []int64
		latencies []time.Duration
		returned  []time.Duration
	)
	for _, p := range producers {
		acked = append(acked, p.acked...)
		latencies = append(latencies, p.latency...)
		returned = append(returned, p.returned...)
		for k, n := range p.errors {
			res.Errors[k] += n
		}
	}
	ranMu.Lock()
	runs := slices.Clone(ran)
	ranMu.Unlock()
	if err := writeIDs(filepath.Join(cfg.childDir, idsFile("enqueued", cfg.child)), acked); err != nil {
		return err
	}
	if err := writeIDs(filepath.Join(cfg.childDir, idsFile("ran", cfg.child)), runs); err != nil {
		return err
	}
	res.Enqueued, res.Completed = len(acked), len(runs)
	slices.Sort(returned)
	inWindow, _ := slices.BinarySearch(returned, window+1)
	res.EnqueuedPerSec = round(float64(inWindow)/window.Seconds(), 0)
	res.CompletedPerSec = round(float64(ranInWindow)/window.Seconds(), 0)
	if len(latencies) > 0 {
		slices.Sort(latencies)
		res.P50ms = ms(percentile(latencies, 50))
		res.P99ms = ms(percentile(latencies, 99))
		res.P999ms = ms(percentile(latencies, 99.9))
		res.MaxMs = ms(latencies[len(latencies)-1])
	}
	res.LongestStallMs = ms(longestGap(returned, window))
	res.BusyErrors = res.Errors["busy"]
	res.Warnings = logs.snapshot()
	for msg, n := range res.Warnings {
		switch {
		case strings.HasPrefix(msg, logRescued):
			res.Rescued += n
		case strings.HasPrefix(msg, logLostBeforeSettle), strings.HasPrefix(msg, logHandlerLostLease):
			res.LeaseLost += n
		}
	}
	if rss, ok := peakRSS(); ok {
		res.PeakRSSMB = &rss
	}
	return json.NewEncoder(stdout).Encode(res)
}

// producer is one enqueueing goroutine's record.
type producer struct {
	latency  []time.Duration // every call
	returned []time.Duration // successful calls' returns, after the start
	acked    []int64         // job IDs of successful calls
	errors   map[string]int  // failed calls by kind
}

// enqueueErrorKind names the kind of a failed Enqueue's error.
func enqueueErrorKind(err error) string {
	switch {
	case errors.Is(err, queue.ErrBusy):
		return "busy"
	case errors.Is(err, queue.ErrQueueFull):
		return "queue_full"
	case errors.Is(err, queue.ErrFull):
		return "disk_full"
	case errors.Is(err, queue.ErrReadOnly):
		return "read_only"
	case errors.Is(err, queue.ErrClosed):
		return "closed"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	default:
		return "other"
	}
}

// logCounter is a slog.Handler that counts warning and error records by
// message and passes the first few of each message on to out.
type logCounter struct {
	mu     sync.Mutex
	counts map[string]int
	out    slog.Handler
}

// logShown is how many records of one message a logCounter passes on.
const logShown = 3

func (h *logCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *logCounter) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	h.counts[r.Message]++
	n := h.counts[r.Message]
	h.mu.Unlock()
	if n > logShown {
		return nil
	}
	if n == logShown {
		r.AddAttrs(slog.String("note", "further records of this message are only counted"))
	}
	return h.out.Handle(ctx, r)
}

// WithAttrs and WithGroup keep counting by message; the attributes and
// groups are dropped from the records passed on.
func (h *logCounter) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h *logCounter) WithGroup(string) slog.Handler { return h }

func (h *logCounter) snapshot() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.counts)
}

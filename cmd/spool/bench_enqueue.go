package main

// The scenarios that time producers: enqueue, enqueue-many and latency.

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/spooljobs/spool/queue"
)

// enqueue: P producers call Enqueue N/P times each.
func (b *bench) enqueue(ctx context.Context) error {
	b.res.Workers = 0
	per := b.cfg.jobs / b.cfg.producers
	n := per * b.cfg.producers
	b.res.Jobs = n
	b.tr = newTracker(n, n, false)
	payloads := make([][]byte, n)
	for i := range payloads {
		payloads[i] = benchPayload(i)
	}
	var done atomic.Int64
	err := b.timedProducers(ctx, n, &done, func(p int) error {
		for seq := p * per; seq < (p+1)*per; seq++ {
			if _, err := b.q.Enqueue(ctx, queue.NewJob{Kind: benchKind, Payload: payloads[seq]}); err != nil {
				return fmt.Errorf("enqueue job %d: %w", seq, err)
			}
			done.Add(1)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return b.verify(ctx)
}

// enqueueMany: P producers take batches of 1000 in turn.
func (b *bench) enqueueMany(ctx context.Context) error {
	const size = 1000
	b.res.Workers = 0
	n := b.cfg.jobs
	b.tr = newTracker(n, n, false)
	var batches [][]queue.NewJob
	for from := 0; from < n; from += size {
		batch := make([]queue.NewJob, 0, min(size, n-from))
		for seq := from; seq < from+cap(batch); seq++ {
			batch = append(batch, plainJob(seq))
		}
		batches = append(batches, batch)
	}
	var next, done atomic.Int64
	err := b.timedProducers(ctx, n, &done, func(int) error {
		for {
			i := int(next.Add(1) - 1)
			if i >= len(batches) {
				return nil
			}
			if _, err := b.q.EnqueueMany(ctx, batches[i]); err != nil {
				return fmt.Errorf("enqueue batch %d: %w", i, err)
			}
			done.Add(int64(len(batches[i])))
		}
	})
	if err != nil {
		return err
	}
	return b.verify(ctx)
}

// latency: workers running, producers enqueue at a fixed total rate (open
// loop: job seq is due at start + seq/rate whatever happened before).
func (b *bench) latency(ctx context.Context) error {
	n, P := b.cfg.jobs, b.cfg.producers
	b.tr = newTracker(n, n, true)
	if err := b.startPool(ctx); err != nil {
		return err
	}
	time.Sleep(100 * time.Millisecond) // let the pool's fetch loops subscribe to wake-ups
	payloads := make([][]byte, n)
	for i := range payloads {
		payloads[i] = benchPayload(i)
	}
	pq, closePQ, err := b.producerQueue(ctx)
	if err != nil {
		return err
	}
	defer closePQ()
	sent := make([]int64, n) // ns after tr.base, just before Enqueue
	interval := float64(time.Second) / float64(b.cfg.rate)
	var done atomic.Int64
	b.logf("latency: %s at %d/s from %s for %s", plural(n, "job"), b.cfg.rate, plural(P, "producer"), b.cfg.duration)
	start := time.Now()
	err = b.timedProducers(ctx, n, &done, func(p int) error {
		for seq := p; seq < n; seq += P {
			if d := time.Until(start.Add(time.Duration(float64(seq) * interval))); d > 0 {
				time.Sleep(d)
			}
			sent[seq] = int64(time.Since(b.tr.base))
			if _, err := pq.Enqueue(ctx, queue.NewJob{Kind: benchKind, Payload: payloads[seq]}); err != nil {
				return fmt.Errorf("enqueue job %d: %w", seq, err)
			}
			done.Add(1)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := b.await(ctx, "latency: last jobs", start); err != nil {
		return err
	}
	if err := b.stopPool(); err != nil {
		return err
	}
	lat := make([]time.Duration, 0, n)
	for seq := range n {
		if s := b.tr.starts[seq].Load(); s != 0 {
			lat = append(lat, time.Duration(s-sent[seq]))
		}
	}
	b.setLatencies(lat)
	b.res.Lost, b.res.Duplicates = b.tr.lost(), int(b.tr.dups.Load())
	return nil
}

// producerQueue is the queue latency's producers enqueue through: the
// workers' own, or with -apart a queue over a second store on the same
// database, as an app on another host would have; done closes that store.
func (b *bench) producerQueue(ctx context.Context) (q *queue.Queue, done func(), err error) {
	if !b.cfg.apart {
		return b.q, func() {}, nil
	}
	store, _, err := b.db.open(ctx, benchOpen{})
	if err != nil {
		return nil, nil, err
	}
	if q, err = queue.New(store, queue.Options{}); err != nil {
		store.Close()
		return nil, nil, err
	}
	return q, func() { store.Close() }, nil
}

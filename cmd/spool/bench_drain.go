package main

// The scenarios that time a pool draining jobs enqueued beforehand:
// drain, mixed and backlog.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/spooljobs/spool/queue"
)

func plainJob(seq int) queue.NewJob {
	return queue.NewJob{Kind: benchKind, Payload: benchPayload(seq)}
}

// drainTimed starts the pool and times it until the tracker's awaited jobs
// were handled.
func (b *bench) drainTimed(ctx context.Context) error {
	// On SQLite, start from a checkpointed WAL, so that the timed phase
	// does not also copy the untimed enqueue into the database file.
	if b.file != nil {
		if err := b.file.Checkpoint(ctx); err != nil {
			return fmt.Errorf("checkpoint after enqueueing: %w", err)
		}
	}
	if err := b.startTimed(); err != nil {
		return err
	}
	start := time.Now()
	if err := b.startPool(ctx); err != nil {
		return err
	}
	end, err := b.await(ctx, b.cfg.scenario.name, start)
	b.stopProfile()
	if err != nil {
		return err
	}
	b.setRate(b.tr.limit-b.tr.lost(), end.Sub(start))
	b.res.Lost, b.res.Duplicates = b.tr.lost(), int(b.tr.dups.Load())
	return nil
}

// drain times the pool handling cfg.jobs jobs enqueued beforehand, spread
// over cfg.keys ordering keys and cfg.partitionKeys partition keys if set.
func (b *bench) drain(ctx context.Context) error {
	n := b.cfg.jobs
	b.tr = newTracker(n, n, false)
	job := plainJob
	if k, pk := b.cfg.keys, b.cfg.partitionKeys; k > 0 || pk > 0 {
		job = func(seq int) queue.NewJob {
			j := plainJob(seq)
			if k > 0 {
				j.OrderKey = fmt.Sprint("order:", seq%k)
			}
			if pk > 0 {
				j.PartitionKey = "p" + strconv.Itoa(seq%pk)
			}
			return j
		}
	}
	if err := b.fill(ctx, 0, n, job); err != nil {
		return err
	}
	return b.drainTimed(ctx)
}

// mixed is drain with four priorities and a fifth of the jobs due within a
// second before or after their enqueue, interleaved by id.
func (b *bench) mixed(ctx context.Context) error {
	n := b.cfg.jobs
	b.tr = newTracker(n, n, false)
	err := b.fill(ctx, 0, n, func(seq int) queue.NewJob {
		j := plainJob(seq)
		j.Priority = rand.IntN(4)
		if seq%5 == 0 {
			j.RunAt = time.Now().Add(time.Duration(rand.Int64N(int64(2*time.Second))) - time.Second)
		}
		return j
	})
	if err != nil {
		return err
	}
	return b.drainTimed(ctx)
}

// backlog enqueues cfg.drained jobs and behind them -jobs more, then times
// the drain of the first cfg.drained: -jobs jobs wait throughout. The
// latency fields are the Lease calls of that drain.
func (b *bench) backlog(ctx context.Context) error {
	k := b.cfg.drained
	n := k + b.cfg.jobs
	b.tr = newTracker(n, k, false)
	if err := b.fill(ctx, 0, n, plainJob); err != nil {
		return err
	}
	b.logf("backlog: draining the first %s, %d waiting behind them", plural(k, "job"), b.cfg.jobs)
	b.ts.record.Store(true)
	err := b.drainTimed(ctx)
	b.ts.record.Store(false)
	if err != nil {
		return err
	}
	b.ts.mu.Lock()
	b.setLatencies(b.ts.leases)
	b.ts.mu.Unlock()
	return nil
}

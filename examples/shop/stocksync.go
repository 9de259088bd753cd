package main

// The nightly stock sync as a batch: the scheduled stock.sync job
// enqueues one stock.sync.page job per warehouse and page of SKUs, as one
// batch whose callbacks report the night's result. The admin's Batches
// page shows its progress.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
	"github.com/spooljobs/spool/worker"
)

// syncPagesPerWarehouse is how many pages of SKUs each warehouse's stock
// list has.
const syncPagesPerWarehouse = 3

// SyncPage is the payload of a stock.sync.page job: one page of one
// warehouse's stock list.
type SyncPage struct {
	Warehouse string `json:"warehouse"`
	Page      int    `json:"page"`
}

// nightlySync is the schedule of the nightly stock sync: every process may
// run the scheduler; each night's tick is enqueued once.
var nightlySync = schedule.Entry{Name: "stock.sync.nightly", Spec: "30 2 * * *", TimeZone: "Europe/Berlin",
	Job: queue.NewJob{Kind: "stock.sync", Queue: "maintenance"}, Misfire: schedule.MisfireSkip}

// newScheduler builds the shop's scheduler on q with the nightly sync.
func newScheduler(q *queue.Queue) (*schedule.Scheduler, error) {
	sched, err := schedule.New(q, schedule.Options{})
	if err != nil {
		return nil, err
	}
	if err := sched.Add(nightlySync); err != nil {
		return nil, err
	}
	return sched, nil
}

// syncStock is the scheduled nightly sync: it enqueues the night's pages
// as one batch and completes its own job in the same transaction, so that
// a crash or a redelivery never starts the night's batch twice.
//
// The callbacks: OnSuccess reports the night's sync once every page
// synced; OnDeath raises an alert as soon as one page died (attempts used
// up), without waiting for the other pages. No OnComplete: success and
// death between them say all there is to say, and an operator sees the
// rest (done/total, dead, cancelled) on the admin's Batches page.
func (s *shop) syncStock(ctx context.Context, job *queue.Job) error {
	var pages []queue.NewJob
	for _, w := range warehouses {
		for p := 1; p <= syncPagesPerWarehouse; p++ {
			pages = append(pages, queue.NewJob{Kind: "stock.sync.page", Queue: "maintenance", Args: SyncPage{Warehouse: w, Page: p}})
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	id, _, err := s.q.EnqueueBatchTx(ctx, tx, queue.BatchSpec{
		Description: "nightly stock sync (job " + strconv.FormatInt(job.ID, 10) + ")",
		OnSuccess:   &queue.NewJob{Kind: "stock.sync.done", Queue: "maintenance"},
		OnDeath:     &queue.NewJob{Kind: "stock.sync.alert", Queue: "maintenance", Priority: 10},
	}, pages)
	if err != nil {
		return err
	}
	if err := s.pool.CompleteTx(ctx, tx, job); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "%s  nightly stock sync (job %d): batch %d of %d pages\n", time.Now().Format("15:04:05"), job.ID, id, len(pages))
	return nil
}

// syncPage syncs one page of a warehouse's stock list. A real shop reads
// the warehouse's API here and updates its counts.
func (s *shop) syncPage(ctx context.Context, job *queue.Job, p SyncPage) error {
	return worker.RecordOutput(ctx, map[string]any{"warehouse": p.Warehouse, "page": p.Page, "skus": 50})
}

// syncBatch returns the batch whose callback job is running.
func (s *shop) syncBatch(ctx context.Context, job *queue.Job) (*queue.Batch, error) {
	id, err := strconv.ParseInt(job.Metadata[queue.BatchMetadataKey], 10, 64)
	if err != nil {
		return nil, queue.Permanent(fmt.Errorf("job %d is no batch callback: %w", job.ID, err))
	}
	return s.q.Inspector().Batch(ctx, id)
}

// syncDone is the batch's OnSuccess callback: every page synced.
func (s *shop) syncDone(ctx context.Context, job *queue.Job) error {
	b, err := s.syncBatch(ctx, job)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "%s  %s done: %d of %d pages synced (batch %d)\n", time.Now().Format("15:04:05"), b.Description, b.Succeeded, b.Total, b.ID)
	return nil
}

// syncAlert is the batch's OnDeath callback: a page died. A real shop
// pages someone here.
func (s *shop) syncAlert(ctx context.Context, job *queue.Job) error {
	b, err := s.syncBatch(ctx, job)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "%s  ALERT: %s: %d of %d pages dead so far (batch %d, see the admin's Batches page)\n",
		time.Now().Format("15:04:05"), b.Description, b.Dead, b.Total, b.ID)
	return nil
}

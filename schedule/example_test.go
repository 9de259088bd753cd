package schedule_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

// A nightly stock sync at 02:30 in the shop's time zone. A fake clock
// drives four nights through RunOnce, one of them the night Berlin's clocks
// spring forward, when 02:30 does not exist and the job does not run. A
// program leaves the clock alone and calls Start instead (see
// Scheduler.Start).
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "spool-schedule")
	defer os.RemoveAll(dir)
	store, err := sqlite.Open(ctx, filepath.Join(dir, "shop.db"), sqlite.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	now := time.Date(2026, 3, 27, 12, 0, 0, 0, time.UTC)
	q, err := queue.New(store, queue.Options{Now: func() time.Time { return now }})
	if err != nil {
		log.Fatal(err)
	}
	s, err := schedule.New(q, schedule.Options{})
	if err != nil {
		log.Fatal(err)
	}
	err = s.Add(schedule.Entry{
		Name:     "stock.sync.nightly",
		Spec:     "30 2 * * *",
		TimeZone: "Europe/Berlin",
		Job:      queue.NewJob{Kind: "stock.sync", Queue: "maintenance", Args: map[string]string{"warehouse": "main"}},
	})
	if err != nil {
		log.Fatal(err)
	}

	for end := now.Add(4 * 24 * time.Hour); now.Before(end); now = now.Add(10 * time.Minute) {
		if _, err := s.RunOnce(ctx); err != nil {
			log.Fatal(err)
		}
	}

	jobs, err := q.Inspector().List(ctx, queue.ListFilter{Kind: "stock.sync"})
	if err != nil {
		log.Fatal(err)
	}
	for _, j := range slices.Backward(jobs) {
		fmt.Println(j.Metadata[schedule.MetadataTick], j.Queue, string(j.Payload))
	}
	list, err := s.List(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("next:", list[0].Next, "previous:", list[0].Prev)
	// Output:
	// 2026-03-28T02:30:00+01:00 maintenance {"warehouse":"main"}
	// 2026-03-30T02:30:00+02:00 maintenance {"warehouse":"main"}
	// 2026-03-31T02:30:00+02:00 maintenance {"warehouse":"main"}
	// next: 2026-04-01 02:30:00 +0200 CEST previous: 2026-03-31 02:30:00 +0200 CEST
}

// A scheduler runs next to a worker pool in the same program. Trigger
// runs a schedule once now, outside its ticks; an admin page or the CLI can
// trigger it from another process too.
func ExampleScheduler_Start() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "spool-schedule")
	defer os.RemoveAll(dir)
	store, err := sqlite.Open(ctx, filepath.Join(dir, "shop.db"), sqlite.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	q, err := queue.New(store, queue.Options{})
	if err != nil {
		log.Fatal(err)
	}

	done := make(chan struct{})
	pool, err := worker.New(q, worker.Options{})
	if err != nil {
		log.Fatal(err)
	}
	pool.HandleFunc("stock.sync", func(ctx context.Context, job *queue.Job) error {
		fmt.Println("stock sync, schedule", job.Metadata[schedule.MetadataSchedule])
		close(done)
		return nil
	})

	s, err := schedule.New(q, schedule.Options{})
	if err != nil {
		log.Fatal(err)
	}
	err = s.Add(schedule.Entry{Name: "stock.sync.nightly", Spec: "CRON_TZ=Europe/Berlin 30 2 * * *",
		Job: queue.NewJob{Kind: "stock.sync"}})
	if err != nil {
		log.Fatal(err)
	}
	if err := pool.Start(ctx); err != nil {
		log.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		log.Fatal(err)
	}
	if err := s.Trigger(ctx, "stock.sync.nightly"); err != nil {
		log.Fatal(err)
	}
	<-done
	if err := s.Stop(ctx); err != nil {
		log.Fatal(err)
	}
	if err := pool.Stop(ctx); err != nil {
		log.Fatal(err)
	}
	// Output: stock sync, schedule stock.sync.nightly
}

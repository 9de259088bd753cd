package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// Many goroutines enqueueing one job each share transactions (group
// commit), yet each caller gets its own job's id and returns only once that
// job is committed.
func TestGroupCommitConcurrentEnqueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openStore(t, sqlite.Options{})
	q := newQueue(t, s)

	const goroutines, each = 16, 300
	ids := make([][]int64, goroutines)
	errs := make(chan error, goroutines)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			<-start
			for i := range each {
				payload := fmt.Sprintf("g%d-i%d", g, i)
				res, err := q.Enqueue(ctx, queue.NewJob{Kind: "group", Payload: []byte(payload)})
				if err != nil {
					errs <- fmt.Errorf("goroutine %d enqueue %d: %w", g, i, err)
					return
				}
				// Committed by the time Enqueue returned: a reader on
				// another connection sees it, and it is this caller's job.
				j, err := s.Get(ctx, res.ID)
				if err != nil {
					errs <- fmt.Errorf("goroutine %d: job %d not visible after Enqueue returned: %w", g, res.ID, err)
					return
				}
				if string(j.Payload) != payload {
					errs <- fmt.Errorf("goroutine %d: id %d holds %q, want %q", g, res.ID, j.Payload, payload)
					return
				}
				ids[g] = append(ids[g], res.ID)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	seen := map[int64]bool{}
	for _, gi := range ids {
		require.Len(t, gi, each)
		for _, id := range gi {
			require.False(t, seen[id], "id %d returned twice", id)
			seen[id] = true
		}
	}
	require.Len(t, seen, goroutines*each)

	rows, err := s.DB().Query(`SELECT id FROM spool_jobs`)
	require.NoError(t, err)
	defer rows.Close()
	inDB := 0
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		require.True(t, seen[id], "row %d was never returned to a caller", id)
		inDB++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, goroutines*each, inDB)
}

// One bad operation in a shared batch fails alone: the others commit.
func TestGroupCommitIsolatesAFailingOperation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openStore(t, sqlite.Options{})
	q := newQueue(t, s)
	res, err := q.Enqueue(ctx, queue.NewJob{Kind: "k"})
	require.NoError(t, err)
	now := time.Now()
	lease, err := s.Lease(ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 1, Now: now, Until: now.Add(time.Minute), Worker: "w"})
	require.NoError(t, err)
	require.Len(t, lease.Jobs, 1)

	// Settle with an unknown outcome fails its whole call; enqueues racing
	// with it in the same batch must still commit.
	const n = 32
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			if i%8 == 0 {
				_, errs[i] = s.Settle(ctx, nil, []queue.Settlement{{JobID: res.ID, Token: lease.Jobs[0].LeaseToken, Queue: queue.DefaultQueue, Outcome: queue.Outcome(99), Now: now}})
				return
			}
			_, errs[i] = q.Enqueue(ctx, queue.NewJob{Kind: "ok"})
		})
	}
	close(start)
	wg.Wait()
	good := 0
	for i, err := range errs {
		if i%8 == 0 {
			require.Error(t, err)
			require.Contains(t, err.Error(), "unknown outcome")
			continue
		}
		require.NoError(t, err, "call %d", i)
		good++
	}
	require.Equal(t, good+1, countRows(t, s.DB(), "spool_jobs"))
	j, err := s.Get(ctx, res.ID)
	require.NoError(t, err)
	require.Equal(t, queue.StateRunning, j.State, "the failed settle changed nothing")
}

func TestEnqueueWithDoneContext(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t, sqlite.Options{})
	q := newQueue(t, s)

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := q.Enqueue(cancelled, queue.NewJob{Kind: "k"})
	require.ErrorIs(t, err, context.Canceled)
	_, err = q.EnqueueMany(cancelled, []queue.NewJob{{Kind: "a"}, {Kind: "b"}})
	require.ErrorIs(t, err, context.Canceled)

	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel2()
	_, err = q.Enqueue(expired, queue.NewJob{Kind: "k"})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	require.Equal(t, 0, countRows(t, s.DB(), "spool_jobs"))
}

func TestWritesAfterClose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openStore(t, sqlite.Options{})
	q := newQueue(t, s)
	res, err := q.Enqueue(ctx, queue.NewJob{Kind: "k"})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	_, err = q.Enqueue(ctx, queue.NewJob{Kind: "k"})
	require.ErrorIs(t, err, queue.ErrClosed)
	_, err = q.EnqueueMany(ctx, []queue.NewJob{{Kind: "a"}, {Kind: "b"}})
	require.ErrorIs(t, err, queue.ErrClosed)
	now := time.Now()
	_, err = s.Lease(ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 1, Now: now, Until: now.Add(time.Minute)})
	require.ErrorIs(t, err, queue.ErrClosed)
	_, err = s.Settle(ctx, nil, []queue.Settlement{{JobID: res.ID, Token: 1, Outcome: queue.OutcomeComplete, Now: now}})
	require.ErrorIs(t, err, queue.ErrClosed)
	require.ErrorIs(t, q.Inspector().Delete(ctx, res.ID), queue.ErrClosed)
}

// Enqueues racing with Close either commit (and the job is there) or fail
// with ErrClosed; none hangs.
func TestEnqueueRacingClose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for round := range 10 {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("close%d.db", round))
		s, err := sqlite.Open(ctx, path, sqlite.Options{})
		require.NoError(t, err)
		q := newQueue(t, s)

		const goroutines = 8
		var (
			mu      sync.Mutex
			ok      []int64
			badErrs []error
			wg      sync.WaitGroup
		)
		started := make(chan struct{}, goroutines)
		for g := range goroutines {
			wg.Go(func() {
				for i := 0; ; i++ {
					res, err := q.Enqueue(ctx, queue.NewJob{Kind: "k", Args: g})
					if i == 0 {
						started <- struct{}{}
					}
					mu.Lock()
					switch {
					case err == nil:
						ok = append(ok, res.ID)
					case !errors.Is(err, queue.ErrClosed):
						badErrs = append(badErrs, err)
					}
					mu.Unlock()
					if err != nil {
						return
					}
				}
			})
		}
		for range goroutines {
			<-started
		}
		require.NoError(t, s.Close())
		finished := make(chan struct{})
		go func() { wg.Wait(); close(finished) }()
		select {
		case <-finished:
		case <-time.After(10 * time.Second): // a guard, not a wait: the goroutines finish in microseconds
			t.Fatalf("round %d: an Enqueue racing with Close never returned", round)
		}
		require.Empty(t, badErrs, "round %d", round)

		s, err = sqlite.Open(ctx, path, sqlite.Options{})
		require.NoError(t, err)
		require.Equal(t, len(ok), countRows(t, s.DB(), "spool_jobs"), "round %d", round)
		for _, id := range ok {
			_, err := s.Get(ctx, id)
			require.NoError(t, err, "round %d: acknowledged job %d is missing", round, id)
		}
		require.NoError(t, s.Close())
	}
}

// Job ids are never reused: not after the newest job was deleted, moved to
// the dead table, or deleted from there, and not across a reopen.
func TestJobIDsAreNeverReused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openStore(t, sqlite.Options{})
	q := newQueue(t, s)
	enqueue := func() int64 {
		t.Helper()
		res, err := q.Enqueue(ctx, queue.NewJob{Kind: "k"})
		require.NoError(t, err)
		return res.ID
	}
	enqueue()
	enqueue()

	// Delete the newest job.
	newest := enqueue()
	require.NoError(t, q.Inspector().Delete(ctx, newest))
	next := enqueue()
	require.Greater(t, next, newest)

	// Move the newest job to the dead table.
	newest = next
	now := time.Now()
	lease, err := s.Lease(ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 10, Now: now, Until: now.Add(time.Minute), Worker: "w"})
	require.NoError(t, err)
	var token int64
	for _, j := range lease.Jobs {
		if j.ID == newest {
			token = j.LeaseToken
		}
	}
	require.NotZero(t, token, "the newest job was not leased")
	errs, err := s.Settle(ctx, nil, []queue.Settlement{{JobID: newest, Token: token, Queue: queue.DefaultQueue,
		Outcome: queue.OutcomeDead, Now: now, Reason: "test", Error: &queue.AttemptError{Attempt: 1, At: now, Message: "boom"}}})
	require.NoError(t, err)
	require.NoError(t, errs[0])
	j, err := q.Inspector().Get(ctx, newest)
	require.NoError(t, err)
	require.Equal(t, queue.StateDead, j.State)
	require.Zero(t, countRows(t, s.DB(), fmt.Sprintf("spool_jobs WHERE id = %d", newest)))
	next = enqueue()
	require.Greater(t, next, newest)

	// Delete the newest job, then the dead one, then reopen.
	require.NoError(t, q.Inspector().Delete(ctx, next))
	require.NoError(t, q.Inspector().Delete(ctx, newest))
	require.NoError(t, s.Close())
	s, err = sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	defer s.Close()
	q = newQueue(t, s)
	again := enqueue()
	require.Greater(t, again, next)
}

// New on an app's pool opened without _txlock=immediate: spool's write
// transactions still take the write lock at their start, so concurrent
// writers (here four pools on one file, as four processes would be) wait
// for each other under busy_timeout instead of failing with SQLITE_BUSY.
func TestNewWithoutImmediateTxLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "deferred.db")
	plain := "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"

	const pools = 4
	var queues []*queue.Queue
	var stores []*sqlite.Store
	for range pools {
		db, err := sql.Open("sqlite", plain)
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		s, err := sqlite.New(ctx, db, sqlite.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
		queues = append(queues, newQueue(t, s))
	}

	const goroutines, rounds = 8, 40
	errs := make(chan error, goroutines*rounds*3)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range goroutines {
		s, q := stores[g%pools], queues[g%pools]
		wg.Go(func() {
			<-start
			for i := range rounds {
				if _, err := q.Enqueue(ctx, queue.NewJob{Kind: "k", Args: []int{g, i}}); err != nil {
					errs <- fmt.Errorf("enqueue: %w", err)
					continue
				}
				now := time.Now()
				res, err := s.Lease(ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 2, Now: now, Until: now.Add(time.Minute), Worker: fmt.Sprint(g)})
				if err != nil {
					errs <- fmt.Errorf("lease: %w", err)
					continue
				}
				var st []queue.Settlement
				for _, j := range res.Jobs {
					st = append(st, queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, Outcome: queue.OutcomeComplete, Now: now})
				}
				if len(st) == 0 {
					continue
				}
				out, err := s.Settle(ctx, nil, st)
				if err != nil {
					errs <- fmt.Errorf("settle: %w", err)
					continue
				}
				for _, e := range out {
					if e != nil {
						errs <- fmt.Errorf("settle: %w", e)
					}
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	require.Empty(t, all)

	// Whatever was not leased along the way is still there, not lost.
	now := time.Now()
	remaining := 0
	for {
		res, err := stores[0].Lease(ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 100, Now: now, Until: now.Add(time.Minute), Worker: "drain"})
		require.NoError(t, err)
		if len(res.Jobs) == 0 {
			break
		}
		remaining += len(res.Jobs)
	}
	var completed int
	require.NoError(t, stores[0].DB().QueryRow(`SELECT coalesce(sum(completed), 0) FROM spool_metrics_kinds`).Scan(&completed))
	require.Equal(t, goroutines*rounds, completed+remaining)
}

// EnqueueTx reads before it writes (is the ordering key busy, is the queue
// full). As the first statement of an app's DEFERRED transaction that would
// fail at once with SQLITE_BUSY whenever another connection wrote
// meanwhile; spool takes the write lock first, so it waits instead.
func TestEnqueueTxInDeferredTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "deferred.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	s, err := sqlite.New(ctx, db, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	q := newQueue(t, s)
	require.NoError(t, q.Inspector().SetQueueSettings(ctx, queue.DefaultQueue, queue.QueueSettings{MaxPending: 1 << 20}))

	const goroutines, rounds = 8, 30
	errs := make(chan error, goroutines*rounds)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range rounds {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					errs <- err
					continue
				}
				if _, err := q.EnqueueTx(ctx, tx, queue.NewJob{Kind: "k", OrderKey: fmt.Sprint("key-", g), Args: i}); err != nil {
					tx.Rollback()
					errs <- err
					continue
				}
				if err := tx.Commit(); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	require.Empty(t, all)
	require.Equal(t, goroutines*rounds, countRows(t, s.DB(), "spool_jobs"))
}

// With an app pool of one connection, held by the caller's own transaction,
// an Enqueue outside it cannot run; it ends with its ctx instead of hanging
// (the writer takes operations only once it has a connection).
func TestEnqueueHonoursCtxWhileWriterWaitsForConn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	dsn, err := sqlite.DSN(path, sqlite.Options{})
	require.NoError(t, err)
	db, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	defer db.Close()
	s, err := sqlite.New(ctx, db, sqlite.Options{})
	require.NoError(t, err)
	q := newQueue(t, s)

	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := q.Enqueue(cctx, queue.NewJob{Kind: "k"})
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.DeadlineExceeded)
	case <-time.After(3 * time.Second):
		tx.Rollback()
		<-done
		t.Fatal("Enqueue ignored its ctx deadline while the writer waited for a pool connection")
	}
	tx.Rollback()
	s.Close()
}

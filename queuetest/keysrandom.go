package queuetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// testKeysRandomOps runs a seeded random mix of every write that makes a
// job its key's head, ends a head or touches a keyed job (enqueue one and
// many, on the bulk path too; lease; complete, kept or not; retry; snooze;
// release; dead; cancel while running; Cancel, Delete, RunNow, RetryDead,
// expiry of waiting jobs, lease expiry) on two queues, one whose dead jobs
// hold their keys and one whose do not, and after every step checks the
// promises of ordering keys: a key never has two heads (pending, scheduled
// or running jobs) at once, and a key with blocked jobs has a head or a
// dead job before them that holds it (nothing else could move it on).
func testKeysRandomOps(e *env) {
	e.settings("skip", queue.QueueSettings{DeadSkipsKey: true})
	queues := []string{"hold", "skip"}
	keys := []string{"a", "b", "c", "d"}
	rng := rand.New(rand.NewPCG(7, 18))
	var ids []int64
	var leased []*queue.Job
	newJob := func() queue.NewJob {
		j := queue.NewJob{Kind: "k", Queue: queues[rng.IntN(2)], OrderKey: keys[rng.IntN(len(keys))]}
		switch rng.IntN(6) {
		case 0:
			j.Delay = time.Duration(1+rng.IntN(3)) * time.Second
		case 1:
			j.ExpiresAt = e.clock.Now().Add(time.Duration(1+rng.IntN(3)) * time.Second)
		case 2:
			j.OrderKey = "" // a plain job among the keyed ones
		}
		return j
	}
	pick := func() int64 {
		if len(ids) == 0 {
			return 0
		}
		return ids[rng.IntN(len(ids))]
	}
	for step := range 250 {
		now := e.clock.Now()
		op := rng.IntN(14)
		switch op {
		case 0, 1: // enqueue one
			ids = append(ids, e.enqueue(newJob()))
		case 2: // enqueue many, past a bulk chunk of 64
			jobs := make([]queue.NewJob, 64+rng.IntN(8))
			for i := range jobs {
				jobs[i] = newJob()
				jobs[i].ExpiresAt = time.Time{}
			}
			res, err := e.q.EnqueueMany(e.ctx, jobs)
			require.NoError(e.t, err)
			for _, r := range res {
				ids = append(ids, r.ID)
			}
		case 3, 4: // lease
			leased = append(leased, e.lease(queues[rng.IntN(2)], 1+rng.IntN(4))...)
		case 5, 6, 7: // settle a leased job
			if len(leased) == 0 {
				continue
			}
			i := rng.IntN(len(leased))
			j := leased[i]
			leased = append(leased[:i], leased[i+1:]...)
			st := settlement(j, queue.OutcomeComplete)
			st.OrderKey, st.Now = j.OrderKey, now
			switch rng.IntN(8) {
			case 0:
				st.Keep = true
			case 1:
				st.Outcome, st.RunAt = queue.OutcomeRetry, now.Add(time.Second)
				st.Error = &queue.AttemptError{Attempt: j.Attempt, At: now, Message: "flaky"}
			case 2:
				st.Outcome, st.RunAt = queue.OutcomeSnooze, now.Add(time.Second)
			case 3:
				st.Outcome, st.RunAt = queue.OutcomeRelease, now
			case 4, 5:
				st.Outcome, st.Reason = queue.OutcomeDead, "test"
			case 6:
				st.Outcome = queue.OutcomeCancel
			}
			e.settle(st) // a lease lost to expiry is fine
		case 8: // Cancel
			if id := pick(); id != 0 {
				_, err := e.store.Cancel(e.ctx, nil, id, now)
				if err != nil && !errors.Is(err, queue.ErrNotFound) && !errors.Is(err, queue.ErrNotCancellable) {
					require.NoError(e.t, err)
				}
			}
		case 9: // Delete
			if id := pick(); id != 0 {
				err := e.store.Delete(e.ctx, nil, id, now)
				if err != nil && !errors.Is(err, queue.ErrNotFound) && !errors.Is(err, queue.ErrRunning) {
					require.NoError(e.t, err)
				}
			}
		case 10: // RunNow
			if id := pick(); id != 0 {
				_ = e.store.RunNow(e.ctx, nil, id, now) // refused unless scheduled
			}
		case 11: // RetryDead
			if id := pick(); id != 0 {
				_, err := e.store.RetryDead(e.ctx, nil, queue.DeadFilter{IDs: []int64{id}}, now)
				if err != nil && !errors.Is(err, queue.ErrNotDead) && !errors.Is(err, queue.ErrNotFound) {
					require.NoError(e.t, err)
				}
			}
		case 12: // time passes: jobs come due, expire, leases run out
			e.clock.Advance(time.Duration(1+rng.IntN(20)) * time.Second)
		case 13: // the rescuer: expired leases are retried or die
			exp, err := e.store.Expired(e.ctx, now, 100)
			require.NoError(e.t, err)
			for _, j := range exp {
				st := settlement(j, queue.OutcomeRetry)
				st.OrderKey, st.Now, st.RunAt, st.IfExpired = j.OrderKey, now, now, true
				st.Error = &queue.AttemptError{Attempt: j.Attempt, At: now, Message: "lease expired"}
				if j.Attempt >= j.MaxAttempts {
					st.Outcome, st.Reason = queue.OutcomeDead, "lease expired"
				}
				e.settle(st)
			}
		}
		ids = e.checkKeys(ids, fmt.Sprintf("step %d (op %d)", step, op))
	}
}

// checkKeys checks the promises of ordering keys over the jobs ids and
// returns those that may still change (not gone, completed or cancelled).
func (e *env) checkKeys(ids []int64, where string) []int64 {
	e.t.Helper()
	type qk struct{ queue, key string }
	heads := map[qk][]int64{}
	firstBlocked := map[qk]int64{}
	var dead []*queue.Job
	live := ids[:0]
	for _, id := range ids {
		j, err := e.store.Get(e.ctx, id)
		if errors.Is(err, queue.ErrNotFound) {
			continue
		}
		require.NoError(e.t, err)
		if j.OrderKey == "" || j.State == queue.StateCompleted || j.State == queue.StateCancelled {
			continue
		}
		live = append(live, id)
		k := qk{j.Queue, j.OrderKey}
		switch j.State {
		case queue.StatePending, queue.StateScheduled, queue.StateRunning:
			heads[k] = append(heads[k], j.ID)
		case queue.StateBlocked:
			if b, ok := firstBlocked[k]; !ok || j.ID < b {
				firstBlocked[k] = j.ID
			}
		case queue.StateDead:
			dead = append(dead, j)
		}
	}
	for k, h := range heads {
		require.Len(e.t, h, 1, "%s: key %v has two heads %v", where, k, h)
	}
	for k, b := range firstBlocked {
		if len(heads[k]) > 0 {
			continue
		}
		held := false
		for _, d := range dead {
			held = held || (d.Queue == k.queue && d.OrderKey == k.key && d.ID < b && k.queue == "hold")
		}
		require.True(e.t, held, "%s: key %v is stuck: job %d blocked, no head, no dead job holding the key", where, k, b)
	}
	return live
}

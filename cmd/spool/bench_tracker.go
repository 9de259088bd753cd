package main

// The delivery check: which jobs ran, and how often.

import (
	"bytes"
	"strconv"
	"sync/atomic"
	"time"
)

// The payload is about as large as a small real one (rawlimit's is 89
// bytes); seq identifies the job for the delivery check.
const (
	payloadPrefix = `{"seq":`
	payloadRest   = `,"order_id":"10245","customer":"c-4711","items":3,"total_cents":6997,"note":"bench"}`
)

// benchPayload is the payload of job seq.
func benchPayload(seq int) []byte {
	b := make([]byte, 0, len(payloadPrefix)+len(payloadRest)+10)
	b = append(b, payloadPrefix...)
	b = strconv.AppendInt(b, int64(seq), 10)
	return append(b, payloadRest...)
}

// payloadSeq returns the seq of a payload benchPayload made.
func payloadSeq(p []byte) (int, bool) {
	if !bytes.HasPrefix(p, []byte(payloadPrefix)) {
		return 0, false
	}
	n, digits := 0, 0
	for _, c := range p[len(payloadPrefix):] {
		if c < '0' || c > '9' || digits > 10 {
			break
		}
		n = n*10 + int(c-'0')
		digits++
	}
	return n, digits > 0
}

// tracker counts, per job, how often its handler ran.
type tracker struct {
	base    time.Time
	counts  []atomic.Uint32
	starts  []atomic.Int64 // handler start, ns after base (latency only)
	limit   int            // jobs with seq < limit are the ones awaited
	unique  atomic.Int64   // jobs with seq < limit handled at least once
	handled atomic.Int64   // handler runs, all jobs
	dups    atomic.Int64   // jobs handled more than once
	doneAt  atomic.Int64   // ns after base when the limit-th job was handled
	done    chan struct{}
}

// newTracker tracks n jobs, seq 0..n-1, and awaits the first limit of them.
func newTracker(n, limit int, starts bool) *tracker {
	t := &tracker{base: time.Now(), counts: make([]atomic.Uint32, n), limit: limit, done: make(chan struct{})}
	if starts {
		t.starts = make([]atomic.Int64, n)
	}
	return t
}

// handle records a run of job seq.
func (t *tracker) handle(seq int) {
	now := int64(time.Since(t.base))
	if t.starts != nil {
		t.starts[seq].CompareAndSwap(0, now)
	}
	t.handled.Add(1)
	switch t.counts[seq].Add(1) {
	case 1:
		if seq < t.limit && t.unique.Add(1) == int64(t.limit) {
			t.doneAt.Store(now)
			close(t.done)
		}
	case 2:
		t.dups.Add(1)
	}
}

func (t *tracker) lost() int { return t.limit - int(t.unique.Load()) }

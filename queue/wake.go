package queue

import (
	"sync"
)

// Notifier is implemented by stores that wake idle workers when jobs may
// have become ready, so that a job starts within moments of its commit
// instead of at a worker's next poll. Worker pools wait on it when the
// store implements it and poll either way (worker.Options.PollInterval),
// so a wake-up lost or never sent delays a job but never strands it.
//
// A store notifies after it committed work that may be ready: jobs
// enqueued or published to run now, dead jobs retried, ordering keys freed,
// a queue resumed or its settings changed. For writes made inside a
// caller's transaction (the Tx twins), it notifies when that transaction
// commits if it can see the commit (package sqlite registers a commit
// hook on the connections it opens; a server database delivers a
// notification sent inside the transaction at its commit), and not
// before. A store shared by several processes may also carry wake-ups
// between them; package sqlite wakes only its own process.
//
// A Store that wraps another (to time or trace its calls) must forward
// Notifier too, or pools built on it find every job at their next poll
// only; worker pools log once when their store sends no wake-ups.
type Notifier interface {
	// Wait returns a channel that receives a value when jobs of the named
	// queue may have become ready, and a function that stops the
	// notifications. The channel holds one value: wake-ups coalesce.
	Wait(queue string) (<-chan struct{}, func())
	// Notify wakes the waiters of the named queue, or of every queue when
	// queue is empty.
	Notify(queue string)
}

// Wakeups is an in-process Notifier for backends to embed. The zero value
// is ready to use; it is safe for concurrent use.
type Wakeups struct {
	mu      sync.Mutex
	waiters map[string][]chan struct{}
}

// Wait implements Notifier.
func (w *Wakeups) Wait(name string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	if w.waiters == nil {
		w.waiters = map[string][]chan struct{}{}
	}
	w.waiters[name] = append(w.waiters[name], ch)
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		ws := w.waiters[name]
		for i, c := range ws {
			if c == ch {
				w.waiters[name] = append(ws[:i:i], ws[i+1:]...)
				break
			}
		}
		if len(w.waiters[name]) == 0 {
			delete(w.waiters, name)
		}
	}
}

// Notify implements Notifier.
func (w *Wakeups) Notify(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for n, ws := range w.waiters {
		if name != "" && n != name {
			continue
		}
		for _, ch := range ws {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

package postgres

import (
	"context"
	"strings"
	"sync"
	"time"
)

// Wake-ups of the store's own writes go out after the write commits, not
// inside it: PostgreSQL takes one lock for the whole database when a
// transaction that sent a notification commits, and holds it through the
// commit's WAL flush, so writers that notify in their transaction commit
// one at a time (measured: 16 producers enqueueing with the notification in
// the transaction managed a fifth of the commits they managed without it).
// Instead this process's waiters are woken at once, and a sender sends
// the other hosts' notifications from one transaction at a time,
// coalescing the queues that were asked for while it was sending (the
// debounce), without waiting for the WAL flush (a wake-up is not data: a
// lost one is made up by polling). A write in the caller's transaction
// still notifies inside it: only its commit makes the jobs visible.

// sqlNotifyMany sends one notification per queue name in $2 on channel
// $1, in a transaction that does not wait for its WAL flush.
const sqlNotifyMany = `SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, $3 || ' ' || q)
  FROM unnest($2::text[]) AS q`

// wakeSender sends the notifications of the store's own writes after they
// commit, one transaction at a time.
type wakeSender struct {
	s       *Store
	mu      sync.Mutex
	pending map[string]bool // queues to notify ("" every queue)
	kick    chan struct{}   // a send is wanted (buffered, 1)
	stop    chan struct{}
	done    chan struct{}
}

// wakeSendTimeout bounds one send of notifications.
const wakeSendTimeout = 5 * time.Second

func newWakeSender(s *Store) *wakeSender {
	w := &wakeSender{s: s, pending: map[string]bool{}, kick: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w
}

// post asks for the queues' notifications to be sent.
func (w *wakeSender) post(queues map[string]bool) {
	w.mu.Lock()
	for q := range queues {
		w.pending[q] = true
	}
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// close sends what is pending and stops the sender.
func (w *wakeSender) close() {
	close(w.stop)
	<-w.done
}

func (w *wakeSender) loop() {
	defer close(w.done)
	for {
		select {
		case <-w.kick:
			w.send()
		case <-w.stop:
			w.send()
			return
		}
	}
}

// send sends the pending notifications in one transaction. On failure it
// logs: other hosts then find the jobs at their next poll.
func (w *wakeSender) send() {
	w.mu.Lock()
	queues := make([]string, 0, len(w.pending))
	for q := range w.pending {
		queues = append(queues, q)
	}
	clear(w.pending)
	w.mu.Unlock()
	if len(queues) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), wakeSendTimeout)
	defer cancel()
	if _, err := w.s.db.ExecContext(ctx, sqlNotifyMany, w.s.channel(), queues, w.s.instance); err != nil {
		w.s.logger.Warn("spool: postgres could not notify other hosts of new jobs; they find them at their next poll", "err", err)
	}
}

// wakePayload returns the queue a notification's payload names, and
// whether this store sent it after its own write (whose waiters it woke
// already). Notifications sent inside a caller's transaction carry only
// the queue's name (queue names have no spaces).
func (s *Store) wakePayload(payload string) (name string, own bool) {
	from, name, ok := strings.Cut(payload, " ")
	if !ok {
		return payload, false
	}
	return name, from == s.instance
}

package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// listener holds one connection that LISTENs on the store's channel and
// turns each notification into a wake-up of this process's workers. It
// reconnects after a failure, waiting from 1s up to 30s between tries,
// and then wakes every queue: notifications sent while it was away are
// lost, and the jobs they announced wait.
type listener struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startListener connects and LISTENs before it returns, so that a write
// committed after Open returned wakes this process.
func (s *Store) startListener(ctx context.Context, url string) (*listener, error) {
	conn, err := s.listenConn(ctx, url)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.Background())
	l := &listener{cancel: cancel, done: make(chan struct{})}
	go s.listenLoop(lctx, url, conn, l.done)
	return l, nil
}

func (l *listener) close() {
	l.cancel()
	<-l.done
}

func (s *Store) listenConn(ctx context.Context, url string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, mapErr(err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel()}.Sanitize()); err != nil {
		conn.Close(context.Background())
		return nil, mapErr(err)
	}
	return conn, nil
}

func (s *Store) listenLoop(ctx context.Context, url string, conn *pgx.Conn, done chan struct{}) {
	defer close(done)
	pause := time.Second
	for {
		err := s.receive(ctx, conn)
		conn.Close(context.Background())
		if ctx.Err() != nil {
			return
		}
		s.logger.Warn("spool: postgres wake-up listener lost its connection; reconnecting", "err", err)
		for {
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if conn, err = s.listenConn(ctx, url); err == nil {
				break
			}
			pause = min(2*pause, 30*time.Second)
		}
		pause = time.Second
		s.wakeups.Notify("") // what was announced while away
	}
}

// receive wakes the queues notified on conn until conn fails or ctx ends.
func (s *Store) receive(ctx context.Context, conn *pgx.Conn) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if name, own := s.wakePayload(n.Payload); !own {
			s.wakeups.Notify(name)
		}
	}
}

// Wait implements queue.Notifier.
func (s *Store) Wait(name string) (<-chan struct{}, func()) { return s.wakeups.Wait(name) }

// Notify implements queue.Notifier: it wakes this process's waiters of the
// named queue ("" every queue). Other hosts are woken by the notifications
// writes send (wakesend.go).
func (s *Store) Notify(name string) { s.wakeups.Notify(name) }

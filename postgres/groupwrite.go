package postgres

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// Group commit for publishes. Publishers commit one at a time (the
// event_log row, topics.go), each commit waiting for its WAL flush, so
// publishes from many goroutines would go no faster than one flush each.
// Instead a publish outside a caller's transaction is handed to a group
// writer, which runs every publish waiting at that moment in one
// transaction of its own and commits once: the row is taken once per
// group, by one statement that appends the group's events
// (appendgroup.go), and the flush is shared. Each caller returns once the group
// committed. A group whose transaction fails for another reason than a
// lost race runs again one write per transaction, so that one caller's
// failure is its own.

// maxGroupOps bounds the writes of one group transaction.
const maxGroupOps = 256

// groupOp is one caller's write waiting for the group writer. fn must be
// repeatable: a group that failed runs it again alone, so it resets what
// it records.
type groupOp struct {
	ctx   context.Context
	fn    func(ctx context.Context, x *xtx) error
	state atomic.Int32 // reqQueued → reqTaken, or → reqAbandoned by the caller
	done  chan error
}

// groupWriter runs groups of writes, one group at a time.
type groupWriter struct {
	s    *Store
	ops  chan *groupOp
	ctx  context.Context // ends at close
	stop context.CancelFunc
	quit chan struct{}
	done chan struct{}
	// mu guards closed: no op is queued once the loop may have gone.
	mu     sync.RWMutex
	closed bool
}

func newGroupWriter(s *Store) *groupWriter {
	g := &groupWriter{s: s, ops: make(chan *groupOp, 1024), quit: make(chan struct{}), done: make(chan struct{})}
	g.ctx, g.stop = context.WithCancel(context.Background())
	go g.loop()
	return g
}

// close runs what is queued and stops the writer.
func (g *groupWriter) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	close(g.quit)
	<-g.done
	g.stop()
}

// write runs fn in a group transaction and returns once it committed (or
// failed). After close it runs fn in a transaction of its own.
func (g *groupWriter) write(ctx context.Context, fn func(ctx context.Context, x *xtx) error) error {
	op := &groupOp{ctx: ctx, fn: fn, done: make(chan error, 1)}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return g.s.write(ctx, nil, fn)
	}
	select {
	case g.ops <- op:
	case <-ctx.Done():
		g.mu.RUnlock()
		return context.Cause(ctx)
	}
	g.mu.RUnlock()
	select {
	case err := <-op.done:
		return err
	case <-ctx.Done():
		if op.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return context.Cause(ctx)
		}
		return <-op.done // taken: its group commits or not; say which
	}
}

// writeOwn is write shaped as Store.write, for a caller that has no
// transaction of its own (tx is always nil).
func (g *groupWriter) writeOwn(ctx context.Context, _ *sql.Tx, fn func(ctx context.Context, x *xtx) error) error {
	return g.write(ctx, fn)
}

func (g *groupWriter) loop() {
	defer close(g.done)
	for {
		select {
		case op := <-g.ops:
			g.run(g.gather(op))
		case <-g.quit:
			for {
				select {
				case op := <-g.ops:
					g.run(g.gather(op))
				default:
					return
				}
			}
		}
	}
}

// gather takes first and the ops queued behind it, up to maxGroupOps,
// skipping abandoned ones.
func (g *groupWriter) gather(first *groupOp) []*groupOp {
	var group []*groupOp
	take := func(op *groupOp) {
		if op.state.CompareAndSwap(reqQueued, reqTaken) {
			group = append(group, op)
		}
	}
	take(first)
	for len(group) < maxGroupOps {
		select {
		case op := <-g.ops:
			take(op)
			continue
		default:
		}
		break
	}
	return group
}

// run runs a group in one transaction and answers its ops; when that
// fails and the group has more than one, each op runs alone.
func (g *groupWriter) run(group []*groupOp) {
	if len(group) == 0 {
		return
	}
	ctxs := make([]context.Context, len(group))
	for i, op := range group {
		ctxs[i] = op.ctx
	}
	ctx, cancel := untilAllDone(g.ctx, ctxs)
	defer cancel()
	ranAll, err := g.runTogether(ctx, group)
	// Each op runs again alone only when the group surely rolled back: an
	// op failed, or the server refused the commit. A commit whose outcome
	// is unknown (the connection was lost) is answered as it is, or its
	// publishes could be appended twice.
	if err == nil || len(group) == 1 || (ranAll && !rolledBack(err)) {
		for _, op := range group {
			op.done <- err
		}
		return
	}
	for _, op := range group {
		op.done <- g.s.write(op.ctx, nil, op.fn)
	}
}

// runTogether runs group's ops in one transaction. It reports whether
// every op's fn succeeded (then a failure is the commit's).
func (g *groupWriter) runTogether(ctx context.Context, group []*groupOp) (ranAll bool, err error) {
	err = g.s.write(ctx, nil, func(ctx context.Context, x *xtx) error {
		ranAll = false
		x.grouped, x.pending, x.events = true, nil, nil
		for _, op := range group {
			if err := op.fn(ctx, x); err != nil {
				return err
			}
		}
		if err := x.flushEvents(ctx); err != nil {
			return err
		}
		if err := x.flushDeliveries(ctx); err != nil {
			return err
		}
		ranAll = true
		return nil
	})
	return ranAll, err
}

// untilAllDone returns a context, below base, that ends once every one of
// ctxs has ended: nobody waits for the answer then.
func untilAllDone(base context.Context, ctxs []context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(base)
	var left atomic.Int64
	left.Store(int64(len(ctxs)))
	stops := make([]func() bool, 0, len(ctxs))
	for _, c := range ctxs {
		stops = append(stops, context.AfterFunc(c, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		}))
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

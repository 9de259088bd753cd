package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spooljobs/spool/queue"
)

// The writer is the store's one path for writes (group commit). Callers from
// many goroutines hand it operations; it runs every operation waiting at
// that moment in one transaction and answers each caller after the commit,
// so each caller returns only once its own rows are durable, while the
// commits per second stay few. An operation that fails rolls back its batch;
// the writer then runs the batch's operations one transaction each, so one
// bad operation fails alone.

// maxBatchOps bounds the operations in one transaction.
const maxBatchOps = 256

// opFunc is one write. It must be repeatable: after a rolled-back batch it
// runs again, so it resets whatever results it records.
type opFunc func(ctx context.Context, x *xtx) error

type op struct {
	fn opFunc
	// publish: fn is a Publish, which may leave rows in the transaction's
	// publish window (publishwindow.go) for the writer to flush.
	publish bool
	state   atomic.Int32 // opQueued → opTaken by the writer, or → opAbandoned by the caller
	done    chan error
}

const (
	opQueued int32 = iota
	opTaken
	opAbandoned
)

type writer struct {
	s         *Store
	lockFirst bool // begin each transaction with a write: for app DBs without _txlock=immediate
	ops       chan *op
	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	// connCtx bounds the wait for a connection; close cancels it.
	connCtx    context.Context
	cancelConn context.CancelFunc
	// nextWALLook and nextTruncate space out boundWAL's looks at the log
	// and its tries below the hard mark; past it, boundWAL waits for
	// readers again only from hardAfter, hardPause after the last wait
	// that failed.
	nextWALLook  time.Time
	nextTruncate time.Time
	hardAfter    time.Time
	hardPause    time.Duration
	// turnHeld: the writer holds the writers' turn, since turnSince.
	turnHeld  bool
	turnSince time.Time
	// leased is the lease's read-back statement (leasedstmt.go).
	leased leasedStmt
}

func newWriter(s *Store, lockFirst bool) *writer {
	w := &writer{s: s, lockFirst: lockFirst, ops: make(chan *op, 1024), quit: make(chan struct{}), done: make(chan struct{})}
	w.leased.keep = s.owned
	w.connCtx, w.cancelConn = context.WithCancel(context.Background())
	go w.loop()
	return w
}

// write runs fn in a write transaction: the caller's tx when tx is
// non-nil, else a group-committed transaction of the writer.
//
// In a caller's transaction the first statement is a no-op write: spool's
// writes read before they write (is a key busy, is the queue full), and a
// transaction begun DEFERRED that reads first fails at once with
// SQLITE_BUSY when another connection writes meanwhile, whatever the busy
// timeout. Taking the write lock first makes it wait instead. (A caller
// that read in the transaction before calling spool should begin it
// IMMEDIATE, as DSN does.)
//
// In a caller's transaction fn runs inside a savepoint: when it fails, its
// writes are undone and the caller's transaction is as it was before the
// call, so the caller may go on with it or roll it back. Except after a
// full disk or database (queue.ErrFull) or an I/O error: SQLite may then
// have rolled back the caller's whole transaction itself (it does on a
// full disk), so the caller should roll it back; its Commit fails.
func (s *Store) write(ctx context.Context, tx *sql.Tx, fn opFunc) error {
	// filecheck.go: the file was deleted or replaced. The writer looks at
	// the file before each commit; a caller's transaction commits where
	// spool cannot look, so look now.
	check := s.fileOK
	if tx != nil {
		check = s.checkFile
	}
	if err := check(); err != nil {
		return err
	}
	return s.named(s.writeIn(ctx, tx, fn))
}

// named adds the database file to errors about the file itself (busy,
// read-only, full), so that they say which file.
func (s *Store) named(err error) error {
	if err == nil || s.path == "" {
		return err
	}
	if errors.Is(err, queue.ErrReadOnly) || errors.Is(err, queue.ErrFull) || errors.Is(err, queue.ErrBusy) || errors.Is(err, queue.ErrCorrupt) {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	return err
}

// writePublish is write for a Publish: in the writer's transaction fn may
// leave rows in the publish window, which the writer flushes before any
// other operation and before the commit; in a caller's transaction they
// are flushed before the call returns.
func (s *Store) writePublish(ctx context.Context, tx *sql.Tx, fn opFunc) error {
	if tx != nil {
		return s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
			if err := fn(ctx, x); err != nil {
				return err
			}
			return x.flushPublishes(ctx, true)
		})
	}
	if err := s.fileOK(); err != nil {
		return err
	}
	return s.named(s.w.submit(ctx, &op{fn: fn, publish: true, done: make(chan error, 1)}))
}

func (s *Store) writeIn(ctx context.Context, tx *sql.Tx, fn opFunc) error {
	if tx == nil {
		return s.w.do(ctx, fn)
	}
	if err := s.checkTx(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, sqlTakeWriteLock); err != nil {
		return mapErr(err)
	}
	// End the savepoint even when ctx has ended: it must not stay open in
	// the caller's transaction. (Inner savepoints end with it.)
	end := context.WithoutCancel(ctx)
	if _, err := tx.ExecContext(ctx, sqlWriteSavepoint); err != nil {
		// The driver may report ctx's end after the statement ran.
		tx.ExecContext(end, sqlWriteRelease)
		return mapErr(err)
	}
	err := fn(ctx, &xtx{tx: tx})
	if err == nil {
		if _, err = tx.ExecContext(end, sqlWriteRelease); err == nil {
			return nil
		}
	}
	if _, rerr := tx.ExecContext(end, sqlWriteRollback); rerr == nil {
		tx.ExecContext(end, sqlWriteRelease)
	}
	return mapErr(err)
}

// The savepoint around a write in a caller's transaction.
const (
	sqlWriteSavepoint = `SAVEPOINT spool_write`
	sqlWriteRelease   = `RELEASE spool_write`
	sqlWriteRollback  = `ROLLBACK TO spool_write`
)

func (w *writer) do(ctx context.Context, fn opFunc) error {
	return w.submit(ctx, &op{fn: fn, done: make(chan error, 1)})
}

func (w *writer) submit(ctx context.Context, o *op) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-w.quit:
		return queue.ErrClosed
	default:
	}
	select {
	case w.ops <- o:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.quit:
		return queue.ErrClosed
	}
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		if o.state.CompareAndSwap(opQueued, opAbandoned) {
			return ctx.Err()
		}
		// Already in a transaction: its outcome is the caller's outcome.
		return <-o.done
	case <-w.done:
		// The writer stopped (Close raced with the send above): an op it
		// never took will never run.
		if o.state.CompareAndSwap(opQueued, opAbandoned) {
			return queue.ErrClosed
		}
		return <-o.done
	}
}

func (w *writer) close() {
	w.closeOnce.Do(func() {
		close(w.quit)
		w.cancelConn()
	})
	<-w.done
}

func (w *writer) loop() {
	defer close(w.done)
	defer w.releaseTurn()
	defer w.closeLeased()
	batch := make([]*op, 0, maxBatchOps)
	for {
		select {
		case o := <-w.ops:
			batch = append(batch[:0], o)
			// Let the callers answered by the last commit queue their next
			// operations first: on two cores they otherwise miss this batch.
			runtime.Gosched()
		case <-w.quit:
			for {
				select {
				case o := <-w.ops:
					if o.state.CompareAndSwap(opQueued, opTaken) {
						o.done <- queue.ErrClosed
					}
				default:
					return
				}
			}
		}
	more:
		for len(batch) < maxBatchOps {
			select {
			case o := <-w.ops:
				batch = append(batch, o)
			default:
				break more
			}
		}
		w.run(batch)
		w.maybeReleaseTurn()
	}
}

// closeLeased closes the kept lease statement (leasedstmt.go) on the
// store's write connection, which only the writer uses, before Close
// closes the pool.
func (w *writer) closeLeased() {
	if w.leased.st == nil {
		return
	}
	conn, err := w.s.writeDB.Conn(context.Background())
	if err != nil {
		return
	}
	defer conn.Close()
	w.leased.close(conn)
}

// turnSlice is how long a writer keeps the writers' turn (turn.go) while
// operations keep arriving. Giving the turn back after every transaction
// made the processes alternate one transaction each, and each transaction
// then began with a page cache the other process's commit had emptied:
// measured with two processes, a fifth less throughput than holding it a
// few milliseconds. A waiting writer waits for about one slice per other
// process.
const turnSlice = 5 * time.Millisecond

// maybeReleaseTurn gives the turn back when no operation is waiting (the
// writer must never sit idle on it) or the slice is used up.
func (w *writer) maybeReleaseTurn() {
	if !w.turnHeld {
		return
	}
	if time.Since(w.turnSince) < turnSlice {
		if len(w.ops) > 0 {
			return
		}
		// The callers just answered may be about to queue their next
		// operations.
		runtime.Gosched()
		if len(w.ops) > 0 {
			return
		}
	}
	w.releaseTurn()
}

func (w *writer) releaseTurn() {
	if w.turnHeld {
		w.s.turn.release()
		w.turnHeld = false
	}
}

func (w *writer) run(batch []*op) {
	// Get a connection before taking the operations: while the pool has
	// none free (an app's pool whose connections its own transactions
	// hold), their callers can still give up when their contexts end.
	conn, connErr := w.s.writeDB.Conn(w.connCtx)
	live := batch[:0]
	for _, o := range batch {
		if o.state.CompareAndSwap(opQueued, opTaken) {
			live = append(live, o)
		}
	}
	if connErr != nil {
		err := mapErr(connErr)
		if w.connCtx.Err() != nil {
			err = queue.ErrClosed
		}
		for _, o := range live {
			o.done <- err
		}
		return
	}
	defer conn.Close()
	if len(live) == 0 {
		return
	}
	err := w.exec(conn, live)
	if err == nil || len(live) == 1 || fatal(err) {
		for _, o := range live {
			o.done <- err
		}
		return
	}
	for _, o := range live {
		o.done <- w.exec(conn, []*op{o})
	}
}

// exec runs ops in one transaction on conn. The context is not any
// caller's: a batch serves many callers and must not end because one of
// them left.
func (w *writer) exec(conn *sql.Conn, ops []*op) error {
	ctx := context.Background()
	if t := w.s.turn; t != nil && !w.turnHeld {
		// Held through the commit and the checkpoint it may run, so that
		// no other process's writer commits in between (see dsn), and on
		// for a slice while operations keep arriving (maybeReleaseTurn).
		held, err := t.acquire(time.Now().Add(w.s.opts.BusyTimeout), w.quit)
		if err != nil {
			return err
		}
		w.turnHeld, w.turnSince = held, time.Now()
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	x := &xtx{tx: tx, s: w.s, conn: conn}
	if w.lockFirst {
		if _, err := tx.ExecContext(ctx, sqlTakeWriteLock); err != nil {
			tx.Rollback()
			return mapErr(err)
		}
	}
	for _, o := range ops {
		var err error
		if !o.publish {
			err = x.flushPublishes(ctx, true)
		}
		if err == nil {
			err = o.fn(ctx, x)
		}
		if err != nil {
			x.close()
			tx.Rollback()
			return mapErr(err)
		}
	}
	if err := x.flushPublishes(ctx, true); err != nil {
		x.close()
		tx.Rollback()
		return mapErr(err)
	}
	x.close()
	if err := w.s.checkFile(); err != nil { // filecheck.go: never commit to a deleted file
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return mapErr(err)
	}
	w.boundWAL(conn)
	return nil
}

// boundWAL truncates the write-ahead log when it has grown past 3/8 of
// Options.MaxWALSize. The checkpoint each commit runs past a quarter of it
// (see dsn) keeps the log from growing as long as it can copy every frame;
// readers whose snapshots are older than the last commit stop it from
// doing so, and so does a checkpoint already running (another process's,
// or the background loop's), and while that lasts the log grows. A
// TRUNCATE checkpoint copies every frame and empties the file once no
// reader holds an old snapshot. It runs here, between transactions and in
// the writer's turn, so that no write of this or another spool process
// commits meanwhile.
//
// Past 3/8 of the bound it tries once per CheckpointInterval without
// waiting for readers. Past half it waits for them, briefly
// (walHardWait): readers that began before the checkpoint end within that
// (those that begin after it read the database file and do not hold it
// up), and the log is emptied before it reaches the bound (the other half
// is room for the transactions committed meanwhile). A reader that
// stays open longer (a backup, a long report) keeps the log growing past
// the bound for as long as it stays open: the writer logs it, and waits
// again only after a pause that doubles each time (walHardPause, up to
// walHardPauseMax), so that such a reader costs writes little.
func (w *writer) boundWAL(conn *sql.Conn) {
	s := w.s
	if s.files == nil || s.fileOK() != nil {
		return
	}
	now := time.Now()
	if now.Before(w.nextWALLook) {
		return
	}
	w.nextWALLook = now.Add(walLook)
	size, err := s.walSize()
	if err != nil || size <= s.opts.MaxWALSize/8*3 {
		return
	}
	hard := size > s.opts.MaxWALSize/2 && !now.Before(w.hardAfter)
	if !hard && now.Before(w.nextTruncate) {
		return
	}
	w.nextTruncate = now.Add(max(s.opts.CheckpointInterval, walLook))
	var wait time.Duration
	if hard {
		wait = min(s.opts.BusyTimeout, walHardWait)
	}
	busy, err := truncateWAL(context.Background(), conn, wait, s.opts.BusyTimeout)
	switch {
	case err != nil:
		s.logger.Warn("spool: truncate the write-ahead log", "wal_bytes", size, "err", err)
	case busy == 0:
		w.hardPause, w.hardAfter = 0, time.Time{}
	case hard:
		w.hardPause = min(max(2*w.hardPause, walHardPause), walHardPauseMax)
		w.hardAfter = time.Now().Add(w.hardPause)
		if w.hardPause == walHardPause {
			s.logger.Warn("spool: the write-ahead log is near its bound and a read transaction keeps it from being emptied; it grows until that transaction ends",
				"wal_bytes", size, "max_wal_bytes", s.opts.MaxWALSize, "path", s.path)
		}
	}
}

const (
	// walLook spaces out the writer's look at the log's size.
	walLook = time.Millisecond
	// walHardWait bounds the writer's wait for readers to leave the log
	// near the bound.
	walHardWait = 250 * time.Millisecond
	// walHardPause is the first pause after such a wait failed; it
	// doubles with each failure in a row, up to walHardPauseMax.
	walHardPause    = time.Second
	walHardPauseMax = 30 * time.Second
)

// truncateWAL runs a TRUNCATE checkpoint on conn (outside a transaction)
// that waits up to wait for readers and locks (0: not at all), then puts
// the connection's busy timeout back to busyTimeout. busy reports that it
// could not copy every frame or empty the log.
func truncateWAL(ctx context.Context, conn *sql.Conn, wait, busyTimeout time.Duration) (busy int, err error) {
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", busyMillis(wait))); err != nil {
		return 0, mapErr(err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf("PRAGMA busy_timeout = %d", busyMillis(busyTimeout)))
	var logFrames, copied int
	err = conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &copied)
	return busy, mapErr(err)
}

// sqlTakeWriteLock changes nothing, but as a write it takes the write lock
// (waiting under busy_timeout) as BEGIN IMMEDIATE would.
const sqlTakeWriteLock = `UPDATE spool_queues SET paused = paused WHERE 0`

// xtx runs statements in a transaction: the writer's, with the store's
// prepared statements, or a caller's, with plain statements.
type xtx struct {
	tx    *sql.Tx
	s     *Store    // nil for a caller's transaction
	conn  *sql.Conn // the writer's connection, tx's; nil for a caller's transaction
	stmts map[string]*sql.Stmt
	// pub is the publish window (publishwindow.go): rows of Publish
	// operations not yet written.
	pub *pubWindow
	// limits caches queues' MaxPending for the transaction (0: none). The
	// transaction holds the write lock, so only its own writes change
	// them: SetQueueSettings clears the cache.
	limits map[string]int
}

func (x *xtx) stmt(ctx context.Context, query string) *sql.Stmt {
	if x.s == nil {
		return nil
	}
	if st, ok := x.stmts[query]; ok {
		return st
	}
	p, ok := x.s.prepared[query]
	if !ok {
		return nil
	}
	if x.stmts == nil {
		x.stmts = map[string]*sql.Stmt{}
	}
	st := x.tx.StmtContext(ctx, p)
	x.stmts[query] = st
	return st
}

func (x *xtx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := x.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return x.tx.ExecContext(ctx, query, args...)
}

func (x *xtx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := x.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return x.tx.QueryContext(ctx, query, args...)
}

func (x *xtx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := x.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return x.tx.QueryRowContext(ctx, query, args...)
}

func (x *xtx) close() {
	for _, st := range x.stmts {
		st.Close()
	}
	x.stmts = nil
}

// hotStatements are prepared once when the store opens; the others are
// prepared per use.
var hotStatements = append([]string{
	sqlInsertJob, sqlInsertJobsChunk, sqlInsertKeyedChunk, sqlBusyKeys, sqlPromote, sqlLease, sqlLeased, sqlNextRunAt, sqlQueueLease, sqlRunningHeld, sqlSpendRate,
	sqlRunningByKey, sqlKeyWalk, sqlKeyRate, sqlSpendKeyRate, sqlLeaseIDs,
	sqlCompleteDelete, sqlCompleteDeleteChunkPlain, sqlCompleteDeleteChunkReturning, sqlTrack,
	sqlSavepoint, sqlReleaseSavepoint, sqlRollbackSavepoint, sqlCompleteKeep, sqlRetry, sqlSnooze, sqlRelease, sqlCancelRunning,
	sqlDeadInsert, sqlDeadDelete, sqlExtend, sqlMetrics,
	sqlKeyBusy, sqlSetHead, sqlMaxPending, sqlPromoteKeys, sqlSetHeads, sqlDropStaleHeads, sqlResolveOpen,
	sqlLastEventID, sqlSubscriptions,
}, publishStatements()...)

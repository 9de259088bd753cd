//go:build linux

package sqlite

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spooljobs/spool/queue"
)

// fileTurn is the writers' turn on Linux: open file description locks on
// three bytes of the lock file. Unlike POSIX record locks, they belong to
// the open file, not the process: two stores of one process exclude each
// other, and closing the file drops only its own locks, never SQLite's.
// Only the writer goroutine uses a turn.
type fileTurn struct {
	f      *os.File // nil once the turn failed or closed: the writer goes on without it
	name   string
	logger *slog.Logger
	// yielded: the last release saw a waiter, so the next acquire lets it
	// go first.
	yielded bool
	// pending is the result of a blocking wait for the turn that outlived
	// the acquire that started it (busy timeout, Close): the next acquire
	// waits on it rather than start another, so there is never more than
	// one. Its success means this open file holds the turn.
	pending chan error
	closed  atomic.Bool
}

const (
	turnByte   = 0 // held by the writer whose turn it is
	waitByte   = 1 // held shared by every writer waiting for the turn
	urgentByte = 2 // held shared by writers that have waited past turnUrgentAfter
)

func openTurn(dbPath string, perm os.FileMode, logger *slog.Logger) (*fileTurn, error) {
	name := dbPath + turnLockSuffix
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		if f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE, perm); err == nil {
			// The database's own mode, whatever the umask, as SQLite
			// gives its -wal and -shm files: every user who may write the
			// database may take the turn. (Another user's process may have
			// created it first: then that chmod is its to make.)
			f.Chmod(perm)
		}
	}
	if err != nil {
		return nil, err
	}
	return &fileTurn{f: f, name: name, logger: logger}, nil
}

func (t *fileTurn) lock(cmd int, typ int16, at int64) error {
	if t.f == nil {
		return os.ErrClosed
	}
	fl := unix.Flock_t{Type: typ, Whence: io.SeekStart, Start: at, Len: 1}
	for {
		err := unix.FcntlFlock(t.f.Fd(), cmd, &fl)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// tryTake takes the turn if it is free.
func (t *fileTurn) tryTake() (bool, error) {
	err := t.lock(unix.F_OFD_SETLK, unix.F_WRLCK, turnByte)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		return false, nil
	}
	return err == nil, err
}

// heldByOther reports whether another open file holds a lock on byte at.
func (t *fileTurn) heldByOther(at int64) bool {
	if t.f == nil {
		return false
	}
	fl := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart, Start: at, Len: 1}
	if err := unix.FcntlFlock(t.f.Fd(), unix.F_OFD_GETLK, &fl); err != nil {
		return false
	}
	return fl.Type != unix.F_UNLCK
}

// acquire waits for the turn until deadline (then queue.ErrBusy) or until
// quit is closed (then queue.ErrClosed), and reports whether it holds the
// turn. The turn only makes the writers fair, SQLite's locks keep them
// correct: should the lock file fail, the writer goes on without it.
func (t *fileTurn) acquire(deadline time.Time, quit <-chan struct{}) (bool, error) {
	if t.f == nil {
		return false, nil
	}
	if t.yielded {
		// A waiter was there when this writer gave the turn back: the
		// kernel woke it, and it takes the turn within microseconds.
		t.yielded = false
		t.awaitOther()
	}
	for {
		urgent, err := t.take(deadline, quit)
		if errors.Is(err, queue.ErrBusy) || errors.Is(err, queue.ErrClosed) {
			return false, err
		}
		if err != nil {
			t.logger.Warn("spool: writers of other processes may wait longer: the write turn failed", "err", err)
			t.close()
			return false, nil
		}
		if urgent || !t.heldByOther(urgentByte) {
			return true, nil
		}
		// Another writer has waited long: the kernel does not wake
		// waiters in order, so one may lose the race for the turn many
		// times in a row. Give it this turn.
		t.lock(unix.F_OFD_SETLK, unix.F_UNLCK, turnByte)
		t.awaitOther()
	}
}

// awaitOther waits until another writer holds the turn, or briefly.
func (t *fileTurn) awaitOther() {
	for until := time.Now().Add(turnYieldMax); time.Now().Before(until) && !t.heldByOther(turnByte); {
		time.Sleep(turnYieldPoll)
	}
}

// take takes the turn, waiting for it if need be; urgent reports that the
// wait was long enough to mark it urgent.
func (t *fileTurn) take(deadline time.Time, quit <-chan struct{}) (urgent bool, err error) {
	if t.pending == nil {
		if ok, err := t.tryTake(); ok || err != nil {
			return false, t.wrap(err)
		}
	}
	if err := t.lock(unix.F_OFD_SETLK, unix.F_RDLCK, waitByte); err != nil {
		return false, t.wrap(err)
	}
	defer t.lock(unix.F_OFD_SETLK, unix.F_UNLCK, waitByte)
	if t.pending == nil {
		// A blocking wait, so that the kernel wakes this writer the
		// moment the turn is given back (polling would leave the file
		// idle between polls). It cannot be cancelled, so it runs on its
		// own goroutine; once the file is closed, the wait ends when the
		// turn comes free and drops it at once (the last reference to an
		// open file takes its locks along).
		got := make(chan error, 1)
		fd := t.f.Fd()
		go func() {
			fl := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart, Start: turnByte, Len: 1}
			for {
				err := unix.FcntlFlock(fd, unix.F_OFD_SETLKW, &fl)
				if !errors.Is(err, unix.EINTR) || t.closed.Load() {
					got <- err
					return
				}
			}
		}()
		t.pending = got
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	urgency := time.NewTimer(turnUrgentAfter)
	defer urgency.Stop()
	for {
		select {
		case err := <-t.pending:
			t.pending = nil
			if urgent {
				t.lock(unix.F_OFD_SETLK, unix.F_UNLCK, urgentByte)
			}
			return urgent, t.wrap(err)
		case <-urgency.C:
			urgent = t.lock(unix.F_OFD_SETLK, unix.F_RDLCK, urgentByte) == nil
		case <-quit:
			t.dropUrgent(urgent)
			return false, queue.ErrClosed
		case <-timer.C:
			t.dropUrgent(urgent)
			return false, fmt.Errorf("%w: another process has held the write turn (%s) past the busy timeout", queue.ErrBusy, t.name)
		}
	}
}

func (t *fileTurn) dropUrgent(urgent bool) {
	if urgent {
		t.lock(unix.F_OFD_SETLK, unix.F_UNLCK, urgentByte)
	}
}

// release gives the turn back and notes whether a writer is waiting.
func (t *fileTurn) release() {
	if t.f == nil {
		return
	}
	t.lock(unix.F_OFD_SETLK, unix.F_UNLCK, turnByte)
	t.yielded = t.heldByOther(waitByte)
}

func (t *fileTurn) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlite: write turn %s: %w", t.name, err)
}

func (t *fileTurn) close() error {
	if t.f == nil {
		return nil
	}
	t.closed.Store(true)
	err := t.f.Close()
	t.f = nil
	return err
}

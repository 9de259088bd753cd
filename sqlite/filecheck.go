package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spooljobs/spool/queue"
	msqlite "modernc.org/sqlite"
)

// Noticing that the database file was deleted or replaced.
//
// SQLite goes on writing to the files it opened after their path names
// another file or none: a deleted file lives on, unnamed, until the store
// closes, so every write acknowledged after the delete is lost then, and
// another process that opens the path meanwhile sees (or creates) another
// database. A store made by Open records which files its path and the
// path's -wal name when it opens, compares them with what the paths name
// before every commit (checkFile in the writer) and every second in the
// background (fileCheckLoop), and once they differ refuses every write with
// queue.ErrFileGone, for good.
//
// The -wal is compared too. SQLite deletes it only when the last
// connection to the database, in any process, closes; the writer's
// connection stays open for the store's whole life, so while the store is
// open a -wal that is gone or another file was deleted by someone else.
// (A change that lets the writer's connection close would have to revisit
// this.)
//
// No file descriptor of ours is kept on the database file: closing one
// would drop the POSIX locks SQLite holds on it in this process. The
// identity comparison needs none: SQLite's own descriptors keep the old
// files alive, so a new file at the path can never reuse their inode.

// fileCheckInterval is how often the background check runs.
const fileCheckInterval = time.Second

// fileWatch is the file identity a store recorded when it opened, and the
// state of its background check.
type fileWatch struct {
	path    string // absolute
	walPath string // the -wal, next to the file path resolves to
	main    os.FileInfo
	wal     os.FileInfo // nil: the file had no -wal when the store opened

	gone   atomic.Pointer[fileGone] // sticky: set once, never cleared
	rescue sync.Once                // rescueWAL runs once

	wake chan struct{} // checkFile found the file gone: run the loop now
	stop chan struct{}
	done chan struct{}
}

// fileGone is what the check found.
type fileGone struct {
	err     error // wraps queue.ErrFileGone
	walOnly bool  // the database file is in place; its -wal is not
}

// watchFile records the identity of the store's file and its -wal and
// starts the background check. Stores without a path of their own (New)
// and read-only stores are not watched.
func (s *Store) watchFile() error {
	if s.path == "" || s.opts.ReadOnly {
		return nil
	}
	// Absolute, as SQLite holds it: the process may change its directory.
	path, err := filepath.Abs(s.path)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", s.path, err)
	}
	main, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", queue.ErrFileGone, path, err)
	}
	// SQLite keeps the -wal next to the file a symbolic link names.
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		real = path
	}
	f := &fileWatch{path: path, walPath: real + "-wal", main: main, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	if wal, err := os.Stat(f.walPath); err == nil {
		f.wal = wal
	}
	s.files = f
	go s.fileCheckLoop()
	return nil
}

// stopFileCheck stops the background check and waits for it to end.
func (s *Store) stopFileCheck() {
	if s.files == nil {
		return
	}
	close(s.files.stop)
	<-s.files.done
}

// fileOK returns the sticky error set once the file was found deleted or
// replaced, without looking at the file again: nil while all is well.
func (s *Store) fileOK() error {
	if s.files == nil {
		return nil
	}
	if g := s.files.gone.Load(); g != nil {
		return g.err
	}
	return nil
}

// checkFile compares the files the store's path and its -wal name now with
// those the store opened. When they differ it records a sticky error
// wrapping queue.ErrFileGone (logged at Error level once) and returns it;
// every later write fails with it. It costs two stat calls. A stat that
// fails for another reason than a missing file (permissions, I/O) proves
// nothing and is let pass.
func (s *Store) checkFile() error {
	if err := s.fileOK(); err != nil || s.files == nil {
		return err
	}
	f := s.files
	var why string
	walOnly := false
	if fi, err := os.Stat(f.path); err != nil {
		if !missing(err) {
			return nil
		}
		why = "the database file was deleted or renamed while the store had it open"
	} else if !os.SameFile(f.main, fi) {
		why = "the path now names another file than the one the store opened (it was replaced)"
	} else if f.wal != nil {
		if wi, err := os.Stat(f.walPath); err != nil && !missing(err) {
			return nil
		} else if err != nil || !os.SameFile(f.wal, wi) {
			why = "its write-ahead log " + f.walPath + " was deleted or replaced while the store had it open"
			walOnly = true
		}
	}
	if why == "" {
		return nil
	}
	err := fmt.Errorf("%w: %s: %s; every write is refused from now on, as it would be lost: "+
		"close the store, restore the file or move the replacement aside, and open it again", queue.ErrFileGone, f.path, why)
	if f.gone.CompareAndSwap(nil, &fileGone{err: err, walOnly: walOnly}) {
		s.logger.Error("spool: database file deleted or replaced", "path", f.path, "err", err)
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
	return s.fileOK()
}

// fileCheckLoop runs the check every fileCheckInterval until stopFileCheck,
// so that a deleted file is noticed while nothing writes too.
func (s *Store) fileCheckLoop() {
	defer close(s.files.done)
	t := time.NewTicker(fileCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-s.files.stop:
			return
		case <-t.C:
		case <-s.files.wake:
		}
		if s.runFileCheckOnce() != nil {
			return // sticky: nothing more to notice
		}
	}
}

// runFileCheckOnce is one round of the background check: checkFile, and
// once the -wal alone was found gone, rescueWAL.
func (s *Store) runFileCheckOnce() error {
	err := s.checkFile()
	if g := s.files.gone.Load(); g != nil && g.walOnly {
		s.files.rescue.Do(s.rescueWAL)
	}
	return err
}

// rescueWAL copies the transactions in a deleted -wal into the database
// file. The store's connections still hold the deleted log open, and the
// transactions committed to it were acknowledged: a crash would lose them
// all, as no other process can find the log. A FULL checkpoint on the
// writer's connection (opened with the store, so it has the old log open)
// writes them into the database file and syncs it.
func (s *Store) rescueWAL() {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.BusyTimeout+time.Second)
	defer cancel()
	go func() {
		select {
		case <-s.files.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	var busy, logFrames, done int
	err := s.writeDB.QueryRowContext(ctx, sqlRescueWAL).Scan(&busy, &logFrames, &done)
	switch {
	case err != nil:
		s.logger.Error("spool: copying the deleted -wal into the database file failed: the transactions in it will be lost when the process ends",
			"path", s.path, "err", mapErr(err))
	case busy != 0 || done < logFrames:
		s.logger.Error("spool: copying the deleted -wal into the database file was incomplete: some transactions in it will be lost when the process ends",
			"path", s.path, "frames", logFrames, "copied", done)
	default:
		s.logger.Warn("spool: copied the transactions in the deleted -wal into the database file", "path", s.path, "frames", logFrames)
	}
}

// sqlRescueWAL checkpoints the whole log, waiting for readers and writers
// (busy_timeout); it returns (busy, frames in the log, frames copied).
const sqlRescueWAL = `PRAGMA wal_checkpoint(FULL)`

// checkOpenPath refuses, before SQLite sees path, what SQLite would get
// wrong or explain badly: a directory, and a -wal file without its
// database file (opening would create an empty database and reset the
// -wal, destroying the transactions in it). The -wal is looked at first: a
// new database has its main file before its -wal, so another process
// creating the database meanwhile cannot make this check fail.
func checkOpenPath(path string, readOnly bool) error {
	_, walErr := os.Lstat(path + "-wal")
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("sqlite: open %s: it is a directory, not a database file", path)
	case errors.Is(err, fs.ErrNotExist) && walErr == nil && !readOnly:
		return fmt.Errorf("sqlite: open %s: the database file does not exist but its write-ahead log %s-wal does; "+
			"opening would create an empty database and discard the log: restore the database file next to it, "+
			"or remove %s-wal (and %s-shm) if its transactions are not needed", path, path, path, path)
	}
	return nil
}

// noCreateConnector opens connections that may create the database file
// until the store has opened it (opened is set). Later connections, such as
// a pool replacing one or the final checkpoint's, open only an existing
// file (SQLite's mode=rw), and none at all once the file was found deleted
// or replaced: a new connection would create an empty database that other
// processes then use, or join the old -wal and -shm files to another
// database file. Connections of a pool that serves callers' transactions
// (hookCommits) get the commit hook that wakes queues (wake.go).
type noCreateConnector struct {
	create, existing driver.Connector
	opened           *atomic.Pointer[Store]
	hookCommits      bool
}

// Connect implements driver.Connector.
func (c noCreateConnector) Connect(ctx context.Context) (driver.Conn, error) {
	s := c.opened.Load()
	var conn driver.Conn
	var err error
	if s == nil {
		conn, err = c.create.Connect(ctx)
	} else if err = s.checkFile(); err == nil {
		conn, err = c.existing.Connect(ctx)
	}
	if err != nil {
		return nil, err
	}
	if c.hookCommits {
		hookCommits(conn, c.opened) // wake.go
	}
	return conn, nil
}

// Driver implements driver.Connector.
func (c noCreateConnector) Driver() driver.Driver { return c.create.Driver() }

// openDB opens a pool on dsn d. Unless readOnly (mode=ro never creates),
// its connections stop creating the file once opened is set. With
// callerTx, its connections carry the commit hook: the pool is the one
// callers begin their transactions on (Store.DB).
func openDB(d string, readOnly, callerTx bool, opened *atomic.Pointer[Store]) (*sql.DB, error) {
	create, err := msqlite.NewConnector(d)
	if err != nil {
		return nil, err
	}
	if readOnly {
		return sql.OpenDB(create), nil
	}
	existing, err := msqlite.NewConnector(d + "&mode=rw")
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(noCreateConnector{create: create, existing: existing, opened: opened, hookCommits: callerTx}), nil
}

// missing reports whether a stat error says the file, or a directory on
// its path, is not there.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// isCantOpen reports whether err is SQLite's CANTOPEN.
func isCantOpen(err error) bool {
	var coder interface{ Code() int }
	return errors.As(err, &coder) && coder.Code()&0xff == codeCantOpen
}

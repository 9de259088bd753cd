package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spooljobs/spool/queue"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// BusyTimeout is how long a write waits for a lock another connection
	// or process holds before it fails with queue.ErrBusy. Defaults to 5s.
	BusyTimeout time.Duration
	// Synchronous is SQLite's synchronous setting: "NORMAL" (the default)
	// or "FULL". In WAL mode NORMAL loses no committed transaction when the
	// process crashes; a power loss or OS crash can lose the last
	// transactions committed before it. FULL survives power loss too, at
	// the cost of an fsync per commit.
	Synchronous string
	// ReadConns is the size of the reader pool (queries, and the
	// connections DB hands to the app). Defaults to 4.
	ReadConns int
	// CheckpointInterval is how often a background goroutine copies the
	// write-ahead log into the database file (a PASSIVE checkpoint, which
	// never blocks a writer), so that the checkpoint a commit runs at
	// MaxWALSize/4 finds little left to copy. Defaults to 100ms (measured
	// here at 1000 jobs/s: p99 start latency 1.0-1.3 ms against 1.6 ms
	// with 1s, and drain within noise of no checkpoint in the commit
	// path at all). Negative runs no background checkpoints.
	CheckpointInterval time.Duration
	// MaxWALSize bounds the write-ahead log file (the "-wal" file beside
	// the database), in bytes. A commit that finds more than MaxWALSize/4
	// in the log checkpoints it, so that the next write starts the log
	// again from its beginning; a log that grew past MaxWALSize anyway is
	// truncated by the background checkpoint. Only a read transaction held
	// open for long (a reader's snapshot pins the log) lets it grow past
	// the bound, for as long as that transaction stays open, and so does a
	// single transaction that writes more than half of it (an EnqueueMany
	// of large payloads, say). Defaults to 64 MiB; at least
	// 1 MiB.
	MaxWALSize int64
	// ReadOnly opens the file for reading only (inspection tools, a
	// read-only admin page): no migration, no checkpoints, and every write
	// fails with queue.ErrReadOnly. The file must already be a spool
	// database.
	ReadOnly bool
	// Logger receives the store's log records. Defaults to
	// queue.DefaultLogger(): warnings and errors to slog.Default(), Info
	// and Debug dropped. slog.New(slog.DiscardHandler) silences it.
	Logger *slog.Logger
}

// Store is the SQLite backend of spool. It implements queue.Store and is
// safe for concurrent use by many goroutines. It implements
// queue.Leader too (leader.go), so that of the worker pools sharing the
// file, in one process or several, one runs maintenance.
type Store struct {
	opts   Options
	logger *slog.Logger
	path   string
	file   string // the main database file as SQLite names it; see foreigntx.go

	writeDB *sql.DB // owned: one connection, used by the writer goroutine only
	readDB  *sql.DB // reads; and the app's connections (DB)
	owned   bool    // Open created both pools and closes them

	w        *writer
	prepared map[string]*sql.Stmt
	turn     *fileTurn // the writers' turn (turn.go); nil for New and ReadOnly

	stopCkpt chan struct{}
	ckptDone chan struct{}

	closeOnce sync.Once
	closeErr  error

	files *fileWatch // filecheck.go: the file's identity; nil when not watched

	wakeups     queue.Wakeups // wake.go
	commitWakes commitWakes
}

var (
	_ queue.Store    = (*Store)(nil)
	_ queue.Notifier = (*Store)(nil)
)

func (o *Options) defaults() error {
	switch {
	case o.BusyTimeout == 0:
		o.BusyTimeout = 5 * time.Second
	case o.BusyTimeout < 0:
		return fmt.Errorf("sqlite: Options.BusyTimeout %s is negative", o.BusyTimeout)
	}
	switch strings.ToUpper(o.Synchronous) {
	case "":
		o.Synchronous = "NORMAL"
	case "NORMAL", "FULL":
		o.Synchronous = strings.ToUpper(o.Synchronous)
	default:
		return fmt.Errorf("sqlite: Options.Synchronous %q: want NORMAL or FULL", o.Synchronous)
	}
	switch {
	case o.ReadConns == 0:
		o.ReadConns = 4
	case o.ReadConns < 0:
		return fmt.Errorf("sqlite: Options.ReadConns %d is negative", o.ReadConns)
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = 100 * time.Millisecond
	}
	switch {
	case o.MaxWALSize == 0:
		o.MaxWALSize = 64 << 20
	case o.MaxWALSize < 1<<20:
		return fmt.Errorf("sqlite: Options.MaxWALSize %d is under 1 MiB", o.MaxWALSize)
	}
	if o.Logger == nil {
		o.Logger = queue.DefaultLogger()
	}
	return nil
}

// DSN returns the data source name Open uses for path: WAL, the busy
// timeout, foreign keys, the synchronous setting and immediate write
// transactions, set as DSN pragmas so that every pooled connection gets
// them. Apps that open the database themselves and pass it to New should
// use it.
func DSN(path string, opts Options) (string, error) {
	if err := opts.defaults(); err != nil {
		return "", err
	}
	// A store made with New runs no checkpoint loop of its own.
	opts.CheckpointInterval = -1
	return dsn(path, opts), nil
}

// busyMillis is a busy timeout in whole milliseconds, rounded up: 500µs
// must still wait, not fail at once.
func busyMillis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

func dsn(path string, o Options) string {
	v := url.Values{}
	v.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyMillis(o.BusyTimeout)))
	v.Add("_pragma", "foreign_keys(1)")
	if !o.ReadOnly {
		// A read-only connection cannot switch the file to WAL; a spool
		// database already is (the mode is stored in the file).
		v.Add("_pragma", "journal_mode(WAL)")
	}
	// A reset log is truncated back to the bound.
	v.Add("_pragma", fmt.Sprintf("journal_size_limit(%d)", o.MaxWALSize))
	v.Add("_pragma", "synchronous("+o.Synchronous+")")
	// The commit that takes the log past a quarter of the bound
	// checkpoints it (PASSIVE, in the committing connection). Only a
	// checkpoint that runs before any other write commits can copy every
	// frame, and only then does the next write start the log from its
	// beginning: the writer's own commits are such a moment (its turn is
	// held until the commit, checkpoint included, returns), a background
	// checkpoint racing steady commits never is. The background loop
	// copies most frames beforehand, so this one finds little to do.
	v.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walAutoCheckpointPages(o.MaxWALSize)))
	v.Set("_txlock", "immediate")
	if o.ReadOnly {
		v.Set("mode", "ro")
	}
	// A "file:" URI: SQLite reads percent escapes in the path.
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc + "?" + v.Encode()
}

// Open opens (creating if needed) the spool database at path and migrates it
// to the current schema. Two processes may open the same file at once.
// It refuses to create a database where path's -wal file exists without
// path (the database file was lost; the log holds its last transactions).
// If the file or its -wal is later deleted or replaced while the store is
// open, every write fails with queue.ErrFileGone.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if path == ":memory:" {
		// Every pooled connection would get its own empty database.
		return nil, errors.New(`sqlite: ":memory:" is not supported: spool needs a file that all its connections share (use a file in t.TempDir() for tests)`)
	}
	if dir := filepath.Dir(path); dir != "" {
		if fi, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("sqlite: open %s: directory: %w", path, err)
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("sqlite: open %s: %s is not a directory", path, dir)
		}
	}
	if opts.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("sqlite: open %s read-only: %w", path, err)
		}
		opts.CheckpointInterval = -1
	}
	// A directory; a -wal without its database file (filecheck.go).
	if err := checkOpenPath(path, opts.ReadOnly); err != nil {
		return nil, err
	}
	s, err := openPools(ctx, path, opts, false)
	if err != nil && opts.ReadOnly && (errors.Is(err, queue.ErrReadOnly) || isCantOpen(err)) {
		// A read-only directory or mount (a backup on a read-only mount):
		// SQLite cannot create the -shm file WAL reading needs (READONLY
		// in a directory it may not write, CANTOPEN on a read-only file
		// system). With no -wal file every commit is in the main file,
		// which may then be read as immutable. A live -wal file must never
		// be ignored.
		if _, werr := os.Stat(path + "-wal"); errors.Is(werr, os.ErrNotExist) {
			s, err = openPools(ctx, path, opts, true)
		} else if werr == nil {
			err = fmt.Errorf("sqlite: open %s read-only: commits in %s-wal can be read only through a -shm file, "+
				"which SQLite cannot create here (a read-only directory or mount): copy the database file and "+
				"its -wal to a writable directory to read them: %w", path, path, err)
		}
	}
	return s, err
}

func openPools(ctx context.Context, path string, opts Options, immutable bool) (*Store, error) {
	d := dsn(path, opts)
	if immutable {
		d += "&immutable=1"
	}
	var opened atomic.Pointer[Store]                         // filecheck.go: later connections never create the file
	writeDB, err := openDB(d, opts.ReadOnly, false, &opened) // the writer's commits wake by Notify (wake.go)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	writeDB.SetMaxOpenConns(1)
	writeDB.SetMaxIdleConns(1)
	writeDB.SetConnMaxLifetime(0)
	writeDB.SetConnMaxIdleTime(0)
	readDB, err := openDB(d, opts.ReadOnly, true, &opened)
	if err != nil {
		writeDB.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	readDB.SetMaxOpenConns(opts.ReadConns)
	readDB.SetMaxIdleConns(opts.ReadConns)
	s, err := newStore(ctx, writeDB, readDB, true, path, opts)
	if err != nil {
		writeDB.Close()
		readDB.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	opened.Store(s)
	return s, nil
}

// New wraps a *sql.DB the app already uses (opened with the
// "modernc.org/sqlite" driver), so that jobs live in the app's own database
// and EnqueueTx can share the app's transactions. It migrates the schema.
// Open db with DSN(path, opts) so that it has WAL, a busy timeout and
// immediate write transactions; spool's own writes take the write lock at
// their start either way. Close does not close db.
func New(ctx context.Context, db *sql.DB, opts Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlite: New: db is nil")
	}
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	opts.CheckpointInterval = -1 // the app's connections keep their own checkpointing
	return newStore(ctx, db, db, false, "", opts)
}

func newStore(ctx context.Context, writeDB, readDB *sql.DB, owned bool, path string, opts Options) (*Store, error) {
	s := &Store{opts: opts, logger: opts.Logger, path: path, writeDB: writeDB, readDB: readDB, owned: owned}
	var err error
	if opts.ReadOnly {
		err = checkSchema(ctx, readDB)
	} else {
		err = s.migrateRetry(ctx)
	}
	if se := (*queue.SchemaError)(nil); errors.As(err, &se) {
		se.Path = path
	}
	if err != nil {
		return nil, err
	}
	file, err := mainFile(ctx, readDB)
	if err != nil {
		return nil, err
	}
	s.file = file
	s.prepared = map[string]*sql.Stmt{}
	for _, q := range hotStatements {
		st, err := writeDB.PrepareContext(ctx, q)
		if err != nil {
			s.closeStmts()
			return nil, fmt.Errorf("prepare: %w", mapErr(err))
		}
		s.prepared[q] = st
	}
	if owned && !opts.ReadOnly {
		s.openTurn()
	}
	// Notice the file being deleted or replaced (filecheck.go).
	if err := s.watchFile(); err != nil {
		s.closeStmts()
		if s.turn != nil {
			s.turn.close()
		}
		return nil, err
	}
	s.w = newWriter(s, !owned)
	if opts.CheckpointInterval > 0 {
		s.stopCkpt, s.ckptDone = make(chan struct{}), make(chan struct{})
		go s.checkpointLoop()
	}
	return s, nil
}

// openTurn opens the writers' turn beside the database file, with the
// file's permissions. The turn only makes writers of several processes
// fair: when the lock file cannot be opened (another user's, not
// writable), the store logs it and writes without it.
func (s *Store) openTurn() {
	// Beside the file a symbolic link names, as SQLite's -wal: processes
	// that open it by different names share one turn.
	real, err := filepath.EvalSymlinks(s.path)
	if err != nil {
		real = s.path
	}
	fi, err := os.Stat(real)
	if err == nil {
		s.turn, err = openTurn(real, fi.Mode().Perm(), s.logger)
	}
	if err != nil {
		s.logger.Warn("spool: no writers' turn: writers of other processes on this file may wait longer", "path", s.path, "err", err)
	}
}

// migrateRetry migrates, retrying while a brand-new file is being set up by
// another process (switching it to WAL can report busy without waiting).
func (s *Store) migrateRetry(ctx context.Context) error {
	deadline := time.Now().Add(s.opts.BusyTimeout)
	for {
		err := migrate(ctx, s.writeDB)
		if err == nil || !errors.Is(err, queue.ErrBusy) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// DB returns a pool of connections to the store's database, for the app's
// own tables and for transactions passed to the Tx twins (EnqueueTx ...).
// Its write transactions begin IMMEDIATE. Do not close it; Close does.
func (s *Store) DB() *sql.DB { return s.readDB }

// Path returns the database file's path ("" for a store made with New).
func (s *Store) Path() string { return s.path }

// Close stops the writer (queued writes fail with queue.ErrClosed),
// checkpoints the write-ahead log and closes the connections Open made.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.stopFileCheck() // filecheck.go
		s.w.close()
		if s.stopCkpt != nil {
			close(s.stopCkpt)
			<-s.ckptDone
		}
		s.closeStmts()
		if s.turn != nil {
			s.turn.close()
		}
		if s.owned {
			if !s.opts.ReadOnly {
				if _, err := s.readDB.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
					s.logger.Warn("spool: final checkpoint", "err", err)
				}
			}
			s.closeErr = errors.Join(s.writeDB.Close(), s.readDB.Close())
		}
	})
	return s.closeErr
}

func (s *Store) closeStmts() {
	for _, st := range s.prepared {
		st.Close()
	}
}

// walAutoCheckpointPages is the log size, in pages of the default 4 KiB,
// at which a commit checkpoints: a quarter of the bound.
func walAutoCheckpointPages(maxWAL int64) int64 {
	return max(maxWAL/4/4096, 64)
}

// checkpointLoop copies the WAL into the database file in the background
// (PASSIVE: it never blocks the writer), so that the checkpoint a commit
// runs finds little to copy, and truncates a log that grew past the bound.
func (s *Store) checkpointLoop() {
	defer close(s.ckptDone)
	t := time.NewTicker(s.opts.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopCkpt:
			return
		case <-t.C:
			if err := s.checkpointOnce(context.Background()); err != nil {
				s.logger.Warn("spool: checkpoint", "err", err)
			}
		}
	}
}

// checkpointOnce is one round of the checkpoint loop: a PASSIVE checkpoint,
// then, when the log file is past MaxWALSize, a TRUNCATE checkpoint that
// empties it if no reader holds it (it does not wait for one).
func (s *Store) checkpointOnce(ctx context.Context) error {
	if s.fileOK() != nil {
		return nil // the file is gone: nothing to copy into (filecheck.go)
	}
	if err := s.Checkpoint(ctx); err != nil {
		return err
	}
	size, err := s.walSize()
	if err != nil || size <= s.opts.MaxWALSize {
		return err
	}
	// The writer keeps the log bounded as it commits (writer.boundWAL);
	// this empties a log that a long reader let grow, once the reader is
	// gone, even while nothing is written. It does not wait: waiting would
	// hold the write lock, and the writer with it, for the reader.
	conn, err := s.readDB.Conn(ctx)
	if err != nil {
		return mapErr(err)
	}
	defer conn.Close()
	if _, err := truncateWAL(ctx, conn, 0, s.opts.BusyTimeout); err != nil {
		return fmt.Errorf("truncate the write-ahead log of %d bytes: %w", size, err)
	}
	return nil
}

// walSize is the size of the write-ahead log file (0 when there is none,
// or the store does not watch its file: New, ReadOnly). The log is next
// to the file a symbolic link names (the file check resolved it).
func (s *Store) walSize() (int64, error) {
	if s.files == nil {
		return 0, nil
	}
	fi, err := os.Stat(s.files.walPath)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Checkpoint copies the write-ahead log into the database file without
// blocking writers (a PASSIVE checkpoint). Open's store does this every
// Options.CheckpointInterval.
func (s *Store) Checkpoint(ctx context.Context) error {
	_, err := s.readDB.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
	return mapErr(err)
}

// Vacuum returns free pages to the file system (deleted jobs leave the file
// as large as it was). It rewrites the whole file and holds the write lock
// while it runs.
func (s *Store) Vacuum(ctx context.Context) error {
	if err := s.checkFile(); err != nil { // filecheck.go
		return err
	}
	_, err := s.writeDB.ExecContext(ctx, `VACUUM`)
	return mapErr(err)
}

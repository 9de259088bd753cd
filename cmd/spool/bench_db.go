package main

// The database of a bench run: a new SQLite file, or a fresh schema on a
// PostgreSQL server (bench_postgres.go).

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spooljobs/spool/postgres"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// benchDB is the database one bench run works on.
type benchDB struct {
	// arg is the -db a multiproc child gets: the file's path, or the
	// server's URL with the run's schema as its spool_schema parameter.
	arg string
	// shown names the database in messages: the path, or the URL without
	// its password and with the schema.
	shown string
	// conn is the server's URL without spool_schema; "" for SQLite.
	conn string
	// schema is the run's PostgreSQL schema.
	schema string
	// tmpDir is the temporary directory of a file bench made itself,
	// removed afterwards; "" when -db named the file.
	tmpDir string
}

// benchOpen says how a bench process opens the run's store.
type benchOpen struct {
	readOnly    bool // only to read what is left (never migrates or listens)
	busyTimeout time.Duration
	logger      *slog.Logger
}

// newBenchDB makes the database of a new run from -db: a file in a new
// temporary directory when path is "", the new file path, or a fresh
// schema on the PostgreSQL server at a postgres:// URL. The store's first
// open creates the file or schema; remove removes what bench made.
func newBenchDB(path string) (*benchDB, error) {
	if isPostgresURL(path) {
		return newPostgresBenchDB(path)
	}
	d := &benchDB{arg: path, shown: path}
	if path == "" {
		dir, err := os.MkdirTemp("", "spool-bench-")
		if err != nil {
			return nil, err
		}
		d.tmpDir = dir
		d.arg = filepath.Join(dir, "bench.db")
		d.shown = d.arg
	}
	return d, nil
}

// childBenchDB is the database a multiproc child is given with -db: the
// parent's file, or its URL naming the run's schema.
func childBenchDB(arg string) (*benchDB, error) {
	if !isPostgresURL(arg) {
		return &benchDB{arg: arg, shown: arg}, nil
	}
	conn, schema, err := splitSchema(arg)
	if err != nil {
		return nil, usageErrorf("-db %s: %v", displayURL(arg), err)
	}
	if schema == "" {
		return nil, usageErrorf("-db %s: a multiproc child needs the run's spool_schema (it is set by the multiproc parent)", displayURL(arg))
	}
	return &benchDB{arg: arg, shown: displayURL(arg), conn: conn, schema: schema}, nil
}

// postgres reports whether the run is on a PostgreSQL server.
func (d *benchDB) postgres() bool { return d.conn != "" }

// open opens the run's store. file is the same store when it is SQLite's,
// for what only SQLite has (Checkpoint); nil on PostgreSQL.
func (d *benchDB) open(ctx context.Context, o benchOpen) (store queue.Store, file *sqlite.Store, err error) {
	if d.postgres() {
		ps, err := postgres.Open(ctx, d.conn, postgres.Options{
			Schema: d.schema, NoMigrate: o.readOnly, NoListen: o.readOnly, Logger: o.logger,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("open %s: %w", d.shown, err)
		}
		return ps, nil, nil
	}
	fs, err := sqlite.Open(ctx, d.arg, sqlite.Options{ReadOnly: o.readOnly, BusyTimeout: o.busyTimeout, Logger: o.logger})
	if err != nil {
		return nil, nil, err
	}
	return fs, fs, nil
}

// remove removes what bench made for the run: the temporary file, or the
// schema with everything in it. A file -db named is kept.
func (d *benchDB) remove(ctx context.Context) error {
	if d.postgres() {
		return dropBenchSchema(ctx, d.conn, d.schema)
	}
	if d.tmpDir != "" {
		return os.RemoveAll(d.tmpDir)
	}
	return nil
}

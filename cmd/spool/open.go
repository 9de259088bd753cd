package main

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"strings"

	"github.com/spooljobs/spool/postgres"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// Opening the database file: never creating or migrating it (only
// migrate does), and saying why a file is not one the commands can use.

// db is an open database: the store and a queue over it.
type db struct {
	path  string // the file, or the URL without its password
	store queue.Store
	file  *sqlite.Store // the SQLite store; nil on PostgreSQL
	q     *queue.Queue
}

func (d *db) Close() error { return d.store.Close() }

// openRead opens the database read-only: it never creates, migrates or
// changes the file.
func (c *cmdline) openRead(ctx context.Context) (*db, error) {
	path, err := c.path()
	if err != nil {
		return nil, err
	}
	return openDB(ctx, path, true)
}

// openWrite opens the database for writing after checking, read-only,
// that the file exists and is a spool database of this spool's schema, so
// that a write command never creates or migrates a file.
func (c *cmdline) openWrite(ctx context.Context) (*db, error) {
	path, err := c.path()
	if err != nil {
		return nil, err
	}
	ro, err := openDB(ctx, path, true)
	if err != nil {
		return nil, err
	}
	if err := ro.Close(); err != nil {
		return nil, err
	}
	return openDB(ctx, path, false)
}

// openDB opens path, which must be an existing spool database, and turns
// the ways it is not into errors that name the file (exit status 4).
func openDB(ctx context.Context, path string, readOnly bool) (*db, error) {
	if isPostgresURL(path) {
		return openPostgres(ctx, path)
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, werr := os.Lstat(path + "-wal"); werr == nil {
			// The database file was lost and its log left: migrate would
			// not help (sqlite.Open refuses to start afresh over the log).
			return nil, noDatabasef("no such file %s, but its write-ahead log %s-wal exists: restore the database file next to it, "+
				"or remove %s-wal (and %s-shm) if its transactions are not needed", path, path, path, path)
		}
		return nil, noDatabasef("no such file %s (create a database with 'spool migrate -db %s')", path, path)
	case err != nil:
		return nil, err
	case fi.IsDir():
		return nil, noDatabasef("%s is a directory, not a spool database", path)
	case !fi.Mode().IsRegular():
		return nil, noDatabasef("%s is not a regular file, not a spool database", path)
	}
	store, err := sqlite.Open(ctx, path, sqlite.Options{ReadOnly: readOnly, CheckpointInterval: -1})
	if err != nil {
		return nil, openError(path, err)
	}
	q, err := queue.New(store, queue.Options{})
	if err != nil {
		store.Close()
		return nil, err
	}
	return &db{path: path, store: store, file: store, q: q}, nil
}

// isPostgresURL reports whether the database argument names a PostgreSQL
// server rather than a file.
func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// displayURL is a URL as messages show it: without its password.
func displayURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// openPostgres opens the spool schema at url without creating or
// migrating it (spool migrate does) and without listening for wake-ups.
// The schema is the URL's spool_schema parameter, "spool" by default.
func openPostgres(ctx context.Context, raw string) (*db, error) {
	shown := displayURL(raw)
	conn, schema, err := splitSchema(raw)
	if err != nil {
		return nil, usageErrorf("%s: %v", shown, err)
	}
	store, err := postgres.Open(ctx, conn, postgres.Options{Schema: schema, NoMigrate: true, NoListen: true, MaxConns: 4})
	if err != nil {
		return nil, openError(shown, err)
	}
	q, err := queue.New(store, queue.Options{})
	if err != nil {
		store.Close()
		return nil, err
	}
	return &db{path: shown, store: store, q: q}, nil
}

// splitSchema takes spool's own parameter, spool_schema, out of a
// PostgreSQL URL: the server does not know it.
func splitSchema(raw string) (conn, schema string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", err
	}
	qv := u.Query()
	schema = qv.Get("spool_schema")
	qv.Del("spool_schema")
	u.RawQuery = qv.Encode()
	return u.String(), schema, nil
}

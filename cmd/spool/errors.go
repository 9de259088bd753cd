package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spooljobs/spool/queue"
)

// The CLI's mapping of errors to exit statuses: openError for opening a
// file, storeError for what the queue returns. Both go by the queue's
// sentinels and typed errors, never by an error's text.

// Why an existing file is not a database the commands can use; wrapped in
// the exit status 4 errors of openError.
var (
	errNotSQLite     = errors.New("not an SQLite file")
	errNoSpoolTables = errors.New("it has no spool tables")
	errOlderSchema   = errors.New("older schema")
	errNewerSchema   = errors.New("newer schema")
)

// openError classifies an error of sqlite.Open on an existing file: a
// schema this spool cannot use (*queue.SchemaError; version 0 is a
// database without spool tables) and a file that is not SQLite at all are
// exit status 4. Anything else passes unchanged: a busy or read-only
// database, permissions, and damage inside an SQLite file (queue.ErrCorrupt
// with SQLite's header in place), which spool check reports.
func openError(path string, err error) error {
	var se *queue.SchemaError
	switch {
	case errors.As(err, &se) && se.Have == 0:
		return notSpool(errNoSpoolTables, "%s is not a spool database (it has no spool tables)", path)
	case errors.As(err, &se) && se.Have > se.Want:
		return notSpool(errNewerSchema, "%s has schema version %d, newer than this spool's %d: upgrade spool", path, se.Have, se.Want)
	case errors.As(err, &se):
		return notSpool(errOlderSchema, "%s has schema version %d, this spool uses %d: run 'spool migrate -db %s'", path, se.Have, se.Want, path)
	case errors.Is(err, queue.ErrCorrupt) && !hasSQLiteHeader(path):
		return notSpool(errNotSQLite, "%s is not a spool database (not an SQLite file)", path)
	}
	return err
}

// sqliteHeader is how every SQLite database file begins.
const sqliteHeader = "SQLite format 3\x00"

// hasSQLiteHeader reports whether the file at path begins as an SQLite
// database does. SQLite reports a file that does not (SQLITE_NOTADB) as
// corrupt, like a database with a damaged page; the header tells the two
// apart.
func hasSQLiteHeader(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true // unreadable: not known to be something else
	}
	defer f.Close()
	b := make([]byte, len(sqliteHeader))
	if _, err := io.ReadFull(f, b); err != nil {
		return false
	}
	return bytes.Equal(b, []byte(sqliteHeader))
}

// storeError maps the queue's errors to exit statuses: the one place the
// CLI does. A missing job, schedule or subscription is exit status 3,
// saying "unknown job id 7" for arg, the ID or name the command line gave
// (the queue's own text when arg is ""); an invalid argument is a usage
// error (exit 2). Other errors pass unchanged.
func storeError(err error, arg string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, queue.ErrNotFound):
		return notFound(err, "unknown job id %s", arg)
	case errors.Is(err, queue.ErrScheduleNotFound):
		return notFound(err, "unknown schedule %q", arg)
	case errors.Is(err, queue.ErrSubscriptionNotFound):
		return notFound(err, "unknown subscription %q", arg)
	case errors.Is(err, queue.ErrTopicNotFound):
		return notFound(err, "", "")
	case errors.Is(err, queue.ErrInvalidArgument):
		return &usageError{err: err}
	}
	return err
}

// notFound is exit status 3 for err, saying format with arg when given;
// errors.Is still finds err's sentinel.
func notFound(err error, format, arg string) error {
	if arg == "" {
		return &exitError{code: exitNotFound, err: err}
	}
	return &exitError{code: exitNotFound, err: fmt.Errorf(format, arg), why: err}
}

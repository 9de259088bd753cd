package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/spooljobs/spool/queue"
)

// A caller's transaction passed to a Tx twin (EnqueueTx, CancelTx ...) must
// be a transaction of the store's database: one of another file would
// take the job, and ids would then name jobs of two files. Every write in
// a caller's transaction checks it first (writeIn), at the cost of one
// PRAGMA.
//
// The identity compared is the main database file as SQLite names it
// (PRAGMA database_list): an absolute path with symlinks resolved, read
// once from the store's own pool when the store is made (a store made with
// New does not know its path otherwise). SQLite finds the write-ahead log
// by that name, so two names of one file (a hard link, a bind mount) do not
// share a log and are not the same database to SQLite either: they are
// refused. An in-memory or temporary database has no file name; a store on
// one cannot tell another such database from its own and accepts them.

// sqlDatabaseList lists the connection's databases (seq, name, file). It
// is the PRAGMA statement, not a SELECT from pragma_database_list: the
// SELECT would start a read transaction, and a caller's deferred
// transaction that later writes would then fail with SQLITE_BUSY_SNAPSHOT
// when another connection committed in between.
const sqlDatabaseList = `PRAGMA database_list`

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// mainFile returns the file of the main database behind q ("" for an
// in-memory or temporary database).
func mainFile(ctx context.Context, q querier) (string, error) {
	rows, err := q.QueryContext(ctx, sqlDatabaseList)
	if err != nil {
		return "", mapErr(err)
	}
	file := ""
	err = eachRow(rows, func(r *sql.Rows) error {
		var seq int64
		var name string
		var f sql.NullString
		if err := r.Scan(&seq, &name, &f); err != nil {
			return err
		}
		if name == "main" {
			file = f.String
		}
		return nil
	})
	return file, mapErr(err)
}

// checkTx refuses tx unless its main database is the store's, with an
// error wrapping queue.ErrForeignTx that names both files.
func (s *Store) checkTx(ctx context.Context, tx *sql.Tx) error {
	file, err := mainFile(ctx, tx)
	if err != nil {
		return fmt.Errorf("sqlite: reading the transaction's database file: %w", err)
	}
	if file == s.file {
		return nil
	}
	return fmt.Errorf("%w: the transaction is on %s, the store on %s (begin it on Store.DB)",
		queue.ErrForeignTx, fileName(file), fileName(s.file))
}

func fileName(file string) string {
	if file == "" {
		return "an in-memory database"
	}
	return strconv.Quote(file)
}

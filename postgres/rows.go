package postgres

import (
	"database/sql"

	"github.com/spooljobs/spool/internal/sqlstore"
)

// The row helpers both SQL stores share (package sqlstore), under this
// package's names.

type scanner = sqlstore.Scanner

// collect is sqlstore.Collect: it reads every row of rows with scan, and
// closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	return sqlstore.Collect(rows, scan)
}

// scanID reads a row of one integer column, such as an id.
func scanID(r scanner) (int64, error) { return sqlstore.ScanInt64(r) }

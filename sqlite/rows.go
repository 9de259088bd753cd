package sqlite

import (
	"database/sql"

	"github.com/spooljobs/spool/internal/sqlstore"
)

// The row helpers both SQL stores share (package sqlstore), under this
// package's names.

type scanner = sqlstore.Scanner

// collect is sqlstore.Collect.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	return sqlstore.Collect(rows, scan)
}

// eachRow is sqlstore.EachRow.
func eachRow(rows *sql.Rows, fn func(*sql.Rows) error) error { return sqlstore.EachRow(rows, fn) }

// scanID reads a row of one integer column, such as an id.
func scanID(r scanner) (int64, error) { return sqlstore.ScanInt64(r) }

// scanString reads a row of one text column.
func scanString(r scanner) (string, error) { return sqlstore.ScanString(r) }

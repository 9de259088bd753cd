package sqlstore

import (
	"database/sql"
	"errors"
)

// Scanner is a row to scan: *sql.Row or *sql.Rows.
type Scanner interface{ Scan(dest ...any) error }

// Collect scans every row of rows with scan and closes rows. It returns
// what ended the iteration early (a scan error, an interrupted statement),
// else the error of closing them.
func Collect[T any](rows *sql.Rows, scan func(Scanner) (T, error)) ([]T, error) {
	var out []T
	err := EachRow(rows, func(r *sql.Rows) error {
		v, err := scan(r)
		if err == nil {
			out = append(out, v)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EachRow calls fn for every row of rows, stopping at its first error, and
// closes rows, with Collect's errors.
func EachRow(rows *sql.Rows, fn func(*sql.Rows) error) error {
	for rows.Next() {
		if err := fn(rows); err != nil {
			rows.Close()
			return err
		}
	}
	return endRows(rows)
}

// endRows closes rows and reports what ended their iteration early (an
// interrupted statement, say), else the error of closing them. A loop over
// rows.Next alone cannot tell an error from the last row.
func endRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

// ScanInt64 reads a row of one integer column, such as an id.
func ScanInt64(r Scanner) (int64, error) {
	var v int64
	err := r.Scan(&v)
	return v, err
}

// ScanString reads a row of one text column.
func ScanString(r Scanner) (string, error) {
	var s string
	err := r.Scan(&s)
	return s, err
}

// Found reads the error of scanning a query's one row: true when there
// was a row, false (and no error) for sql.ErrNoRows, else the error.
func Found(err error) (bool, error) {
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	default:
		return false, err
	}
}

package sqlite

import "database/sql"

// collect scans every row of rows with scan and closes rows. It returns
// what ended the iteration early (a scan error, an interrupted statement),
// else the error of closing them.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	var out []T
	err := eachRow(rows, func(r *sql.Rows) error {
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

// eachRow calls fn for every row of rows, stopping at its first error, and
// closes rows, with collect's errors.
func eachRow(rows *sql.Rows, fn func(*sql.Rows) error) error {
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

// scanID reads a row of one integer column, such as an id.
func scanID(r scanner) (int64, error) {
	var id int64
	err := r.Scan(&id)
	return id, err
}

// scanString reads a row of one text column.
func scanString(r scanner) (string, error) {
	var s string
	err := r.Scan(&s)
	return s, err
}

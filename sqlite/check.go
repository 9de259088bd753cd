package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/spooljobs/spool/queue"
)

// SQLite's own checks of the file. quick_check verifies the pages and
// records without matching indexes against their tables; integrity_check
// matches them too and takes longer (a read of the whole file).
const (
	sqlQuickCheck     = `PRAGMA quick_check(100)`
	sqlIntegrityCheck = `PRAGMA integrity_check(100)`
)

// Check runs SQLite's check of the database file and returns the problems
// it found, at most 100 lines; none means the file is sound. With full it
// runs integrity_check, which also checks every index against its table,
// else quick_check. Both read the whole file in one read transaction: on a
// large file run them off-peak (the write-ahead log cannot be checkpointed
// past a reader). Damage that stops the check itself (SQLite reports
// corruption instead of a list) is the last problem reported. Other
// failures (busy, closed) are errors.
func (s *Store) Check(ctx context.Context, full bool) ([]string, error) {
	query := sqlQuickCheck
	if full {
		query = sqlIntegrityCheck
	}
	var problems []string
	rows, err := s.readDB.QueryContext(ctx, query)
	if err == nil {
		err = eachRow(rows, func(r *sql.Rows) error {
			line, err := scanString(r)
			if err == nil && line != "ok" {
				problems = append(problems, strings.Split(line, "\n")...)
			}
			return err
		})
	}
	switch mapped := mapErr(err); {
	case errors.Is(mapped, queue.ErrCorrupt):
		return append(problems, "the check stopped at damage it could not read past: "+err.Error()), nil
	case mapped != nil:
		err = mapped
		if s.path == "" {
			return nil, fmt.Errorf("sqlite: check: %w", err)
		}
		return nil, fmt.Errorf("sqlite: check %s: %w", s.path, err)
	}
	return problems, nil
}

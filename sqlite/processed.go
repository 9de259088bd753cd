package sqlite

import (
	"context"
	"database/sql"
	"time"
)

const sqlMarkProcessed = `INSERT INTO spool_processed (key, processed_at) VALUES (?, ?) ON CONFLICT DO NOTHING`

// MarkProcessed implements queue.Store.
func (s *Store) MarkProcessed(ctx context.Context, tx *sql.Tx, key string, now time.Time) (bool, error) {
	var first bool
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		r, err := x.exec(ctx, sqlMarkProcessed, key, micros(now))
		if err != nil {
			return err
		}
		n, _ := r.RowsAffected()
		first = n == 1
		return nil
	})
	return first, err
}

package postgres

import (
	"context"
	"database/sql"
	"time"
)

const sqlMarkProcessed = `INSERT INTO spool.processed (key, processed_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`

// MarkProcessed implements queue.Store: true the first time key is
// marked. A concurrent mark of the same key waits for the other
// transaction, and then finds the key taken (or free, if it rolled back).
func (s *Store) MarkProcessed(ctx context.Context, tx *sql.Tx, key string, now time.Time) (bool, error) {
	var first bool
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		r, err := x.exec(ctx, sqlMarkProcessed, key, x.f.us(now))
		if err != nil {
			return err
		}
		n, err := r.RowsAffected()
		first = n == 1
		return err
	})
	return first, err
}

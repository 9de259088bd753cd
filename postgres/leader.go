package postgres

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/spooljobs/spool/queue"
)

var _ queue.Leader = (*Store)(nil)

// sqlLead takes the role when it is free or its holder's term has passed
// ($4, the caller's now, after expires_at), or renews it for its holder,
// in one statement: concurrent callers queue on the row, and each sees
// the one before it. It returns a row only when $2 holds the role.
const sqlLead = `INSERT INTO spool.leaders AS l (name, holder, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
  WHERE l.expires_at < $4 OR l.holder = excluded.holder
RETURNING holder`

// Lead implements queue.Leader with the table spool.leaders.
func (s *Store) Lead(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	if err := queue.ValidateLead(name, holder, ttl); err != nil {
		return false, err
	}
	var lead bool
	err := s.write(ctx, nil, func(ctx context.Context, x *xtx) error {
		var got string
		err := x.queryRow(ctx, sqlLead, name, holder, x.f.us(now.Add(ttl)), x.f.us(now)).Scan(&got)
		lead = err == nil
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	return lead, err
}

const sqlResign = `DELETE FROM spool.leaders WHERE name = $1 AND holder = $2`

// Resign implements queue.Leader.
func (s *Store) Resign(ctx context.Context, name, holder string) error {
	return s.write(ctx, nil, func(ctx context.Context, x *xtx) error {
		_, err := x.exec(ctx, sqlResign, name, holder)
		return err
	})
}

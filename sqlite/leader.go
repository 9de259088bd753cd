package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/spooljobs/spool/queue"
)

var _ queue.Leader = (*Store)(nil)

// sqlLead takes the role when it is free or its holder's term has passed
// (the caller's now after expires_at), or renews it for its holder, in one
// statement. It returns a row only when the caller holds the role.
const sqlLead = `INSERT INTO spool_leaders (name, holder, expires_at) VALUES (?1, ?2, ?3)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
  WHERE spool_leaders.expires_at < ?4 OR spool_leaders.holder = excluded.holder
RETURNING holder`

// Lead implements queue.Leader with the table spool_leaders. Processes
// sharing the file elect one leader among them.
func (s *Store) Lead(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	if err := queue.ValidateLead(name, holder, ttl); err != nil {
		return false, err
	}
	var lead bool
	err := s.write(ctx, nil, func(ctx context.Context, x *xtx) error {
		var got string
		err := x.queryRow(ctx, sqlLead, name, holder, micros(now.Add(ttl)), micros(now)).Scan(&got)
		lead = err == nil
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	return lead, err
}

const sqlResign = `DELETE FROM spool_leaders WHERE name = ? AND holder = ?`

// Resign implements queue.Leader.
func (s *Store) Resign(ctx context.Context, name, holder string) error {
	return s.write(ctx, nil, func(ctx context.Context, x *xtx) error {
		_, err := x.exec(ctx, sqlResign, name, holder)
		return err
	})
}

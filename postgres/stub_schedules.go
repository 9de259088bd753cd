package postgres

// STUB (helper P4 replaces this file with schedules.go).

import (
	"context"
	"database/sql"
	"time"

	"github.com/spooljobs/spool/queue"
)

func (s *Store) Schedules(ctx context.Context) ([]queue.ScheduleState, error) { return nil, errTODO }
func (s *Store) SaveSchedule(ctx context.Context, tx *sql.Tx, def queue.ScheduleState, now time.Time) error {
	return errTODO
}
func (s *Store) FireSchedule(ctx context.Context, tx *sql.Tx, f queue.ScheduleFire) (bool, error) {
	return false, errTODO
}
func (s *Store) SetSchedulePaused(ctx context.Context, tx *sql.Tx, name string, paused bool, now time.Time) error {
	return errTODO
}
func (s *Store) TriggerSchedule(ctx context.Context, tx *sql.Tx, name string, now time.Time) error {
	return errTODO
}

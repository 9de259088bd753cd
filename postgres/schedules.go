package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// labels is the frame of every time in spool.schedules: none is shifted
// by the clock's offset (clock.go). A schedule's cursor (last_tick) holds
// cron ticks, named in the calendar of the host that computed them, and is
// compared only with other ticks (sqlFireTick's "last_tick < $2"). Two
// hosts whose clocks disagree name a tick alike ("the 13:00 run"); shifted
// by their offsets, one host's 13:00 would be stored before the other's,
// and both would fire it. A skewed host only fires a tick early or late,
// once. The schedule's other times (last run, trigger, updates) stay in
// the same frame as its cursor.
var labels = frame{}

const sqlSchedules = `SELECT name, spec, time_zone, kind, queue, misfire, last_tick, last_run,
  paused, trigger_at, updated_at
  FROM spool.schedules ORDER BY name`

// Schedules implements queue.ScheduleStore.
func (s *Store) Schedules(ctx context.Context) ([]queue.ScheduleState, error) {
	rows, err := s.db.QueryContext(ctx, s.sql(sqlSchedules))
	if err != nil {
		return nil, mapErr(err)
	}
	list, err := collect(rows, scanSchedule)
	return list, mapErr(err)
}

// scanSchedule reads a row of sqlSchedules.
func scanSchedule(r scanner) (queue.ScheduleState, error) {
	return sqlstore.ScanSchedule(r, labels.time)
}

// sqlSaveSchedule creates a schedule with its cursor at now, or updates the
// definition of an existing one (only when it changed) and keeps its state.
// A new spec or time zone moves the cursor up to now: the new spec's ticks
// before now were never due, and must not fire as "missed" at the deploy.
// (The alias sc names the stored row, excluded the proposed one.)
const sqlSaveSchedule = `INSERT INTO spool.schedules AS sc
  (name, spec, time_zone, kind, queue, misfire, last_tick, created_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7)
  ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, time_zone = excluded.time_zone,
    kind = excluded.kind, queue = excluded.queue, misfire = excluded.misfire, updated_at = excluded.updated_at,
    last_tick = CASE WHEN sc.spec <> excluded.spec OR sc.time_zone <> excluded.time_zone
      THEN greatest(sc.last_tick, excluded.last_tick) ELSE sc.last_tick END
  WHERE sc.spec <> excluded.spec OR sc.time_zone <> excluded.time_zone OR sc.kind <> excluded.kind
    OR sc.queue <> excluded.queue OR sc.misfire <> excluded.misfire`

// SaveSchedule implements queue.ScheduleStore.
func (s *Store) SaveSchedule(ctx context.Context, tx *sql.Tx, def queue.ScheduleState, now time.Time) error {
	if def.Name == "" {
		return fmt.Errorf("%w: schedule name is empty", queue.ErrInvalidArgument)
	}
	return s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		_, err := x.exec(ctx, sqlSaveSchedule, def.Name, def.Spec, def.TimeZone, def.Kind, def.Queue, def.Misfire, labels.us(now))
		return err
	})
}

// The fire updates are guarded: a tick only moves the cursor forward (and
// only while not paused), a trigger clears only the request it served. A
// skipped tick leaves the latest run as it was. Two hosts firing the same
// tick at once both reach the row; the second waits for the first's row
// lock and then, under READ COMMITTED, evaluates the WHERE again on the
// row the first committed, so it updates nothing: each tick fires once.
const (
	sqlFireTick = `UPDATE spool.schedules SET last_tick = $2,
    last_run = CASE WHEN $3 THEN last_run ELSE $2 END,
    updated_at = $4
  WHERE name = $1 AND last_tick < $2 AND NOT paused`
	sqlFireTrigger = `UPDATE spool.schedules SET trigger_at = NULL, last_run = $2, updated_at = $3
  WHERE name = $1 AND trigger_at = $2`
)

// FireSchedule implements queue.ScheduleStore.
func (s *Store) FireSchedule(ctx context.Context, tx *sql.Tx, f queue.ScheduleFire) (bool, error) {
	var (
		query string
		args  []any
	)
	tick, err := f.IsTick()
	if err != nil {
		return false, err
	}
	if tick {
		query, args = sqlFireTick, []any{f.Name, labels.us(f.Tick), f.Skip, labels.us(f.Now)}
	} else {
		query, args = sqlFireTrigger, []any{f.Name, labels.us(f.Trigger), labels.us(f.Now)}
	}
	var fired bool
	err = s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		r, err := x.exec(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err := r.RowsAffected()
		fired = n == 1
		return err
	})
	if err != nil {
		return false, err
	}
	return fired, nil
}

// sqlSetSchedulePaused pauses, or resumes with the cursor moved up to now
// (the ticks that passed while paused are skipped). Resuming a schedule
// that is not paused changes nothing: its missed ticks are still caught
// up. (The CASE reads the row's old paused.)
const sqlSetSchedulePaused = `UPDATE spool.schedules SET paused = $2,
    last_tick = CASE WHEN $2 OR NOT paused THEN last_tick ELSE greatest(last_tick, $3) END,
    updated_at = $3
  WHERE name = $1`

// SetSchedulePaused implements queue.ScheduleStore.
func (s *Store) SetSchedulePaused(ctx context.Context, tx *sql.Tx, name string, paused bool, now time.Time) error {
	return s.updateSchedule(ctx, tx, name, sqlSetSchedulePaused, name, paused, labels.us(now))
}

// sqlTriggerSchedule keeps an earlier pending request: two triggers before
// a scheduler serves them are one run.
const sqlTriggerSchedule = `UPDATE spool.schedules SET trigger_at = coalesce(trigger_at, $2), updated_at = $2
  WHERE name = $1`

// TriggerSchedule implements queue.ScheduleStore.
func (s *Store) TriggerSchedule(ctx context.Context, tx *sql.Tx, name string, now time.Time) error {
	return s.updateSchedule(ctx, tx, name, sqlTriggerSchedule, name, labels.us(now))
}

// updateSchedule runs an update of one schedule's row and reports
// queue.ErrScheduleNotFound when there is no such row.
func (s *Store) updateSchedule(ctx context.Context, tx *sql.Tx, name, query string, args ...any) error {
	var n int64
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		r, err := x.exec(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err = r.RowsAffected()
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("schedule %q: %w", name, queue.ErrScheduleNotFound)
	}
	return nil
}

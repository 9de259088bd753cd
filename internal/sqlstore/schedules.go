package sqlstore

import (
	"database/sql"
	"time"

	"github.com/spooljobs/spool/queue"
)

// ScanSchedule reads a row of a store's schedules query (name, spec,
// time_zone, kind, queue, misfire, last_tick, last_run, paused,
// trigger_at, updated_at), its times read by at from their stored
// integers.
func ScanSchedule(r Scanner, at func(int64) time.Time) (queue.ScheduleState, error) {
	var (
		st                  queue.ScheduleState
		lastTick, updatedAt int64
		lastRun, trigger    sql.NullInt64
	)
	if err := r.Scan(&st.Name, &st.Spec, &st.TimeZone, &st.Kind, &st.Queue, &st.Misfire,
		&lastTick, &lastRun, &st.Paused, &trigger, &updatedAt); err != nil {
		return st, err
	}
	nullAt := func(v sql.NullInt64) time.Time {
		if !v.Valid {
			return time.Time{}
		}
		return at(v.Int64)
	}
	st.LastTick = at(lastTick)
	st.LastRun = nullAt(lastRun)
	st.TriggerAt = nullAt(trigger)
	st.UpdatedAt = at(updatedAt)
	return st, nil
}

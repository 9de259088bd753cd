package sqlstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// row is a Scanner over fixed values, as database/sql would convert them.
type row []any

func (r row) Scan(dest ...any) error {
	for i, d := range dest {
		switch d := d.(type) {
		case *string:
			*d = r[i].(string)
		case *bool:
			*d = r[i].(bool)
		case *int64:
			*d = r[i].(int64)
		case *int:
			*d = int(r[i].(int64))
		case *[]byte:
			if r[i] != nil {
				*d = r[i].([]byte)
			}
		case interface{ Scan(any) error }:
			if err := d.Scan(r[i]); err != nil {
				return err
			}
		default:
			panic("unexpected destination")
		}
	}
	return nil
}

// Stored integers become times through the store's reading; NULL ones
// stay zero.
func TestScanSchedule(t *testing.T) {
	t.Parallel()
	at := func(v int64) time.Time { return time.Unix(v, 0) }
	st, err := sqlstore.ScanSchedule(row{"nightly", "0 3 * * *", "UTC", "report", "default", "run_once",
		int64(100), nil, true, int64(300), int64(400)}, at)
	require.NoError(t, err)
	require.Equal(t, queue.ScheduleState{Name: "nightly", Spec: "0 3 * * *", TimeZone: "UTC", Kind: "report",
		Queue: "default", Misfire: "run_once", LastTick: at(100), Paused: true, TriggerAt: at(300), UpdatedAt: at(400)}, st)
}

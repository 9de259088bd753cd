package queue_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// A fire is a tick (skipped or not) or a served trigger, never both or
// neither, and a trigger is never skipped.
func TestScheduleFireIsTick(t *testing.T) {
	t.Parallel()
	at := time.Unix(1_700_000_000, 0)
	for _, c := range []struct {
		f    queue.ScheduleFire
		tick bool
		ok   bool
	}{
		{queue.ScheduleFire{Tick: at}, true, true},
		{queue.ScheduleFire{Tick: at, Skip: true}, true, true},
		{queue.ScheduleFire{Trigger: at}, false, true},
		{queue.ScheduleFire{Trigger: at, Skip: true}, false, false},
		{queue.ScheduleFire{Tick: at, Trigger: at}, false, false},
		{queue.ScheduleFire{}, false, false},
		{queue.ScheduleFire{Skip: true}, false, false},
	} {
		tick, err := c.f.IsTick()
		if !c.ok {
			require.ErrorIs(t, err, queue.ErrInvalidArgument, "%+v", c.f)
			continue
		}
		require.NoError(t, err, "%+v", c.f)
		require.Equal(t, c.tick, tick, "%+v", c.f)
	}
}

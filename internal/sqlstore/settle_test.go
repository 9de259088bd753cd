package sqlstore_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Plain completions group by token, bounded; kept completions, other
// outcomes and every settlement of a job that has one of those stay out.
func TestDeleteGroups(t *testing.T) {
	t.Parallel()
	done := func(id, token int64) queue.Settlement {
		return queue.Settlement{JobID: id, Token: token, Outcome: queue.OutcomeComplete}
	}
	settlements := []queue.Settlement{
		0: done(1, 10),
		1: done(2, 20),
		2: done(3, 10),
		3: {JobID: 4, Token: 10, Outcome: queue.OutcomeComplete, Keep: true},
		4: done(5, 10),
		5: {JobID: 6, Token: 20, Outcome: queue.OutcomeRetry},
		6: done(6, 20), // job 6 has a retry too: in order
		7: done(7, 10),
	}
	groups, grouped := sqlstore.DeleteGroups(settlements, 0)
	require.Equal(t, [][]int{{0, 2, 4, 7}, {1}}, groups)
	require.Equal(t, []bool{true, true, true, false, true, false, false, true}, grouped)

	groups, _ = sqlstore.DeleteGroups(settlements, 3)
	require.Equal(t, [][]int{{0, 2, 4}, {1}, {7}}, groups)

	groups, grouped = sqlstore.DeleteGroups(nil, 0)
	require.Empty(t, groups)
	require.Empty(t, grouped)
}

// A job missing from the deleted ids lost its lease; a job settled twice
// in a group was deleted once, for its first settlement.
func TestMarkDeleted(t *testing.T) {
	t.Parallel()
	settlements := []queue.Settlement{
		{JobID: 1, Outcome: queue.OutcomeComplete},
		{JobID: 2, Outcome: queue.OutcomeComplete},
		{JobID: 1, Outcome: queue.OutcomeComplete},
		{JobID: 3, Outcome: queue.OutcomeComplete},
	}
	errs := []error{errors.New("stale"), nil, nil, nil}
	sqlstore.MarkDeleted(settlements, []int{0, 1, 2, 3}, []int64{3, 1}, errs)
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], queue.ErrLeaseLost)
	require.ErrorIs(t, errs[2], queue.ErrLeaseLost)
	require.NoError(t, errs[3])
	require.EqualError(t, errs[1], "settle job 2 (complete): "+queue.ErrLeaseLost.Error())
}

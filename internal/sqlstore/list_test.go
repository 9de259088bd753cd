package sqlstore_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

var testList = sqlstore.ListSQL{
	JobsFrom: "J", DeadFrom: "D", JobsFromNoPayload: "j", DeadFromNoPayload: "d",
	ByQueue: " q=$?", ByKind: " k=$?", ByState: " s=$?", BeforeID: " b=$?",
	Search: " S($?,$=)", SearchDead: " SD($?,$=,$=)", Order: " L $?",
	Placeholder: func(n int) string { return "#" + strconv.Itoa(n) },
}

// Only the filters set add a fragment, each with its parameters numbered
// in order; the search names its one parameter as often as it needs.
func TestListSQLQuery(t *testing.T) {
	t.Parallel()
	q, args := testList.Query(false, queue.ListFilter{}, -1, 50)
	require.Equal(t, "J L #1", q)
	require.Equal(t, []any{50}, args)

	f := queue.ListFilter{Queue: "mail", Kind: "send", BeforeID: 9, Search: "x", OmitPayload: true}
	q, args = testList.Query(false, f, 2, 10)
	require.Equal(t, "j q=#1 k=#2 s=#3 b=#4 S(#5,#5) L #6", q)
	require.Equal(t, []any{"mail", "send", 2, int64(9), "x", 10}, args)

	// The dead table has no state column.
	q, args = testList.Query(true, queue.ListFilter{Kind: "send", Search: "x"}, 2, 10)
	require.Equal(t, "D k=#1 SD(#2,#2,#2) L #3", q)
	require.Equal(t, []any{"send", "x", 10}, args)
}

// List asks for the right tables and states, and merges both tables
// newest first when no state is set.
func TestList(t *testing.T) {
	t.Parallel()
	type call struct {
		dead         bool
		state, limit int
	}
	jobs := func(ids ...int64) []*queue.Job {
		var out []*queue.Job
		for _, id := range ids {
			out = append(out, &queue.Job{ID: id})
		}
		return out
	}
	var calls []call
	run := func(dead bool, state, limit int) ([]*queue.Job, error) {
		calls = append(calls, call{dead, state, limit})
		if dead {
			return jobs(8, 5, 1), nil
		}
		return jobs(9, 7, 6, 2), nil
	}
	got, err := sqlstore.List(queue.ListFilter{Limit: 5}, run)
	require.NoError(t, err)
	require.Equal(t, jobs(9, 8, 7, 6, 5), got)
	require.Equal(t, []call{{false, -1, 5}, {true, -1, 5}}, calls)

	calls = nil
	_, err = sqlstore.List(queue.ListFilter{State: queue.StateDead}, run)
	require.NoError(t, err)
	require.Equal(t, []call{{true, -1, 50}}, calls)

	calls = nil
	_, err = sqlstore.List(queue.ListFilter{State: queue.StateBlocked, Limit: 3}, run)
	require.NoError(t, err)
	require.Equal(t, []call{{false, sqlstore.CodeBlocked, 3}}, calls)

	_, err = sqlstore.List(queue.ListFilter{State: "nope"}, run)
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
}

// Merging stops at the limit and takes what is left of either list.
func TestMergeNewestFirst(t *testing.T) {
	t.Parallel()
	ids := func(js []*queue.Job) []int64 {
		var out []int64
		for _, j := range js {
			out = append(out, j.ID)
		}
		return out
	}
	a := []*queue.Job{{ID: 10}, {ID: 4}}
	b := []*queue.Job{{ID: 7}, {ID: 3}, {ID: 2}}
	require.Equal(t, []int64{10, 7, 4, 3, 2}, ids(sqlstore.MergeNewestFirst(a, b, 10)))
	require.Equal(t, []int64{10, 7}, ids(sqlstore.MergeNewestFirst(a, b, 2)))
	require.Empty(t, sqlstore.MergeNewestFirst(nil, nil, 5))
}

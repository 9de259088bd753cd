package queuetest

import (
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// inspectArea: Get and List.
var inspectArea = area{"Inspect", []testCase{
	{"GetMissingIsNotFound", testGetMissing},
	{"ListFiltersAndPages", testList},
	{"ListDefaultsToFifty", testListDefaultLimit},
	{"SearchFindsDeadReason", testSearchDeadReason},
}}

func testList(e *env) {
	var mail []int64
	for i := range 5 {
		mail = append(mail, e.enqueue(queue.NewJob{Kind: "email", Queue: "mail", Args: map[string]int{"n": i}}))
	}
	stock := e.enqueue(queue.NewJob{Kind: "stock.sync", Args: map[string]string{"sku": "ABC-123"}})
	j := e.leaseOne(queue.DefaultQueue)
	d := settlement(j, queue.OutcomeDead)
	d.Reason = "warehouse offline"
	d.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "dial tcp: warehouse offline"}
	require.NoError(e.t, e.settle(d)[0])

	all, err := e.store.List(e.ctx, queue.ListFilter{})
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{stock, mail[4], mail[3], mail[2], mail[1], mail[0]}, ids(all), "newest first, dead ones included")

	page1, err := e.store.List(e.ctx, queue.ListFilter{Queue: "mail", Limit: 2})
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{mail[4], mail[3]}, ids(page1))
	page2, err := e.store.List(e.ctx, queue.ListFilter{Queue: "mail", Limit: 2, BeforeID: page1[1].ID})
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{mail[2], mail[1]}, ids(page2))

	dead, err := e.store.List(e.ctx, queue.ListFilter{State: queue.StateDead})
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{stock}, ids(dead))
	byKind, err := e.store.List(e.ctx, queue.ListFilter{Kind: "email", State: queue.StatePending})
	require.NoError(e.t, err)
	require.Len(e.t, byKind, 5)
	search, err := e.store.List(e.ctx, queue.ListFilter{Search: "warehouse"})
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{stock}, ids(search), "search finds text in errors")
	search, err = e.store.List(e.ctx, queue.ListFilter{Search: `"n":3`})
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{mail[3]}, ids(search), "search finds text in payloads")
	search, err = e.store.List(e.ctx, queue.ListFilter{Search: "dial tcp"})
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{stock}, ids(search), "search finds text in an attempt's error message")

	// A failed attempt's message is searched as text, not as the JSON it is
	// stored in: its field names and escapes match nothing.
	m := e.leaseOne("mail")
	r := settlement(m, queue.OutcomeRetry)
	r.RunAt = e.clock.Now().Add(time.Hour)
	r.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "quota <exceeded> & more"}
	require.NoError(e.t, e.settle(r)[0])
	for q, want := range map[string][]int64{
		"<exceeded> &": {m.ID},
		"attempt":      {},
		`"error"`:      {},
		`\u003c`:       {},
	} {
		search, err = e.store.List(e.ctx, queue.ListFilter{Search: q})
		require.NoError(e.t, err)
		require.Equal(e.t, want, ids(search), "search %q", q)
	}

	// OmitPayload: the same jobs without their payloads; search still
	// looks at them.
	for _, state := range []queue.State{"", queue.StatePending, queue.StateDead} {
		full, err := e.store.List(e.ctx, queue.ListFilter{State: state})
		require.NoError(e.t, err)
		bare, err := e.store.List(e.ctx, queue.ListFilter{State: state, OmitPayload: true})
		require.NoError(e.t, err)
		require.Equal(e.t, ids(full), ids(bare), "state %q", state)
		for i, j := range bare {
			require.Empty(e.t, j.Payload, "job %d", j.ID)
			require.NotEmpty(e.t, full[i].Payload, "job %d", j.ID)
			j.Payload = full[i].Payload
			require.Equal(e.t, full[i], j, "everything else as in the full list")
		}
	}
	search, err = e.store.List(e.ctx, queue.ListFilter{Search: `"n":3`, OmitPayload: true})
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{mail[3]}, ids(search))
}

// Get of an ID the store never had, or no longer has, is queue.ErrNotFound
// (and Cancel and Delete of it say the same).
func testGetMissing(e *env) {
	for _, id := range []int64{0, 1, 424242} {
		_, err := e.store.Get(e.ctx, id)
		require.ErrorIs(e.t, err, queue.ErrNotFound, "id %d", id)
	}
	gone := e.enqueue(queue.NewJob{Kind: "k"})
	e.delete(gone)
	_, err := e.store.Get(e.ctx, gone)
	require.ErrorIs(e.t, err, queue.ErrNotFound)
	_, err = e.store.Cancel(e.ctx, nil, gone, e.clock.Now())
	require.ErrorIs(e.t, err, queue.ErrNotFound)
	require.ErrorIs(e.t, e.store.Delete(e.ctx, nil, gone, e.clock.Now()), queue.ErrNotFound)
}

// A list with no Limit returns the newest 50 jobs.
func testListDefaultLimit(e *env) {
	jobs := make([]queue.NewJob, 60)
	for i := range jobs {
		jobs[i] = queue.NewJob{Kind: "k"}
	}
	res, err := e.q.EnqueueMany(e.ctx, jobs)
	require.NoError(e.t, err)
	list, err := e.store.List(e.ctx, queue.ListFilter{})
	require.NoError(e.t, err)
	require.Len(e.t, list, 50)
	require.Equal(e.t, res[59].ID, list[0].ID, "newest first")
	require.Equal(e.t, res[10].ID, list[49].ID)
}

// Search finds a dead job by its dead reason alone (no attempt error
// holds the text).
func testSearchDeadReason(e *env) {
	id := e.enqueue(queue.NewJob{Kind: "k", Args: "payload"})
	e.enqueue(queue.NewJob{Kind: "k", Args: "other"})
	d := settlement(e.leaseOne(queue.DefaultQueue), queue.OutcomeDead)
	d.Reason = "gave up: partner retired the endpoint"
	require.NoError(e.t, e.settle(d)[0])
	require.Equal(e.t, queue.StateDead, e.state(id))
	for _, state := range []queue.State{"", queue.StateDead} {
		list, err := e.store.List(e.ctx, queue.ListFilter{State: state, Search: "retired the endpoint"})
		require.NoError(e.t, err)
		require.Equal(e.t, []int64{id}, ids(list), "state %q", state)
	}
}

package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/internal/pgtest"
	"github.com/spooljobs/spool/postgres"
	"github.com/spooljobs/spool/queue"
)

// The admin page works on the PostgreSQL store as on SQLite: every page
// renders, the API answers, and an action (retrying a dead job) takes
// effect.
func TestAdminOnPostgres(t *testing.T) {
	t.Parallel()
	server := pgtest.URL(t)
	ctx := context.Background()
	store, err := postgres.Open(ctx, server, postgres.Options{Schema: pgtest.Schema(t, server), MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	clock := &fakeClock{t: t0}
	q, err := queue.New(store, queue.Options{Now: clock.Now})
	require.NoError(t, err)
	h, err := admin.New(q, admin.Options{Authorize: admin.BasicAuth(testUser, testPass)})
	require.NoError(t, err)
	e := &env{t: t, q: q, clock: clock, h: h}

	res, err := q.Enqueue(ctx, queue.NewJob{Kind: "mail.send", Queue: "mail", MaxAttempts: 1})
	require.NoError(t, err)
	lease, err := store.Lease(ctx, queue.LeaseParams{Queue: "mail", Limit: 1, Now: clock.Now(), Until: clock.Now().Add(time.Minute)})
	require.NoError(t, err)
	require.Len(t, lease.Jobs, 1)
	j := lease.Jobs[0]
	errs, err := store.Settle(ctx, nil, []queue.Settlement{{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue,
		Outcome: queue.OutcomeDead, Now: clock.Now(), Reason: "boom", Error: &queue.AttemptError{Attempt: 1, Message: "boom"}}})
	require.NoError(t, err)
	require.NoError(t, errs[0])

	for _, path := range []string{"/", "/jobs", "/dead", "/queues", "/schedules", "/topics", "/jobs/" + strconv.FormatInt(res.ID, 10)} {
		require.Contains(t, e.getOK(path), "spool", path)
	}
	require.Equal(t, http.StatusOK, e.get("/api/stats").Code)
	w := e.post("/dead/retry", url.Values{"id": {strconv.FormatInt(res.ID, 10)}})
	require.Less(t, w.Code, 400, w.Body.String())
	got, err := q.Inspector().Get(ctx, res.ID)
	require.NoError(t, err)
	require.Equal(t, queue.StatePending, got.State, "retried through the admin page")
}

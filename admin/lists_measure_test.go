package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/queue"
)

// TestMeasureManyTopics: the Topics page and the topics API answer one
// page whatever the number of topics (issue 15, item 10), and it logs
// their size and time. CI runs it over 5 000 topics; the 100k:
//
//	SPOOL_ADMIN_MEASURE_TOPICS=100000 go test ./admin -run TestMeasureManyTopics -v
func TestMeasureManyTopics(t *testing.T) {
	e := newEnv(t, admin.Options{})
	n := 5_000
	if s := os.Getenv("SPOOL_ADMIN_MEASURE_TOPICS"); s != "" {
		var err error
		n, err = strconv.Atoi(s)
		require.NoError(t, err, "SPOOL_ADMIN_MEASURE_TOPICS")
	}
	ctx := context.Background()
	start := time.Now()
	tx, err := e.store.DB().BeginTx(ctx, nil)
	require.NoError(t, err)
	for i := range n {
		_, err := e.q.PublishTx(ctx, tx, queue.Event{Topic: fmt.Sprintf("t.%06d", i), Args: map[string]int{"i": i}})
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())
	t.Logf("%d topics published in %s", n, time.Since(start).Round(time.Millisecond))
	for _, p := range []string{"/topics", "/api/topics", fmt.Sprintf("/topics/t.%06d", n/2)} {
		start := time.Now()
		w := e.get(p)
		took := time.Since(start)
		require.Equal(t, http.StatusOK, w.Code)
		t.Logf("GET %-16s %8.1f KB in %s", p, float64(w.Body.Len())/1024, took.Round(time.Millisecond))
		// One page of at most DefaultPageSize topics, however many exist
		// (before paging: 26.6 MB for /topics over 100k topics).
		require.Less(t, w.Body.Len(), 64<<10, "%s answered %d bytes over %d topics", p, w.Body.Len(), n)
	}
}

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

// TestMeasureManyTopics measures the Topics page, the topics API and one
// topic's page over 100k topics (issue 15, item 10). It takes a while, so
// it runs only when asked:
//
//	SPOOL_ADMIN_MEASURE=1 go test ./admin -run TestMeasureManyTopics -v
func TestMeasureManyTopics(t *testing.T) {
	if os.Getenv("SPOOL_ADMIN_MEASURE") == "" {
		t.Skip("set SPOOL_ADMIN_MEASURE=1 to measure the lists over 100k topics")
	}
	e := newEnv(t, admin.Options{})
	n := 100_000
	if s := os.Getenv("SPOOL_ADMIN_MEASURE_TOPICS"); s != "" {
		n, _ = strconv.Atoi(s)
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
	}
}

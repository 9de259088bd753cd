package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
)

// A bulk cancel or delete stops starting new jobs once Options.BulkBudget
// is spent (by the queue's clock, which here moves on at every reading, as
// if each took a while), and says honestly what it did and that the rest
// is left: the count of the ticked jobs it did not reach, or that more may
// match a filter. Running it again does the rest.
func TestBulkBudget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{BulkBudget: 10 * time.Second})
	var ids []string
	for range 30 {
		ids = append(ids, strconv.FormatInt(e.enqueue(queue.NewJob{Kind: "k", Queue: "mail"}), 10))
	}
	waiting := func() int {
		n := 0
		for _, id := range ids {
			jid, _ := strconv.ParseInt(id, 10, 64)
			if e.state(jid) == queue.StatePending {
				n++
			}
		}
		return n
	}
	e.clock.Step(time.Second)

	// Ticked IDs through the API: done + remaining = selected.
	w := e.postJSON("/api/jobs/cancel", `{"ids": [`+strings.Join(ids, ",")+`]}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	got := decode[wire.BulkResult](t, w)
	require.True(t, got.Incomplete, w.Body.String())
	require.Equal(t, "budget", got.Stopped)
	require.Positive(t, got.Cancelled, "it did some before it stopped")
	require.Positive(t, got.Remaining)
	require.Equal(t, len(ids), got.Cancelled+got.Refused+got.Remaining, w.Body.String())
	require.Equal(t, got.Remaining, waiting(), "what it says is left is left")

	// The form: the notice says how many were not reached.
	left := waiting()
	w = e.post("/jobs/cancel", url.Values{"ids": ids[len(ids)-left:]})
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	loc, err := url.Parse(w.Header().Get("Location"))
	require.NoError(t, err)
	q := loc.Query()
	require.Equal(t, "budget", q.Get("stopped"))
	n, _ := strconv.Atoi(q.Get("n"))
	remaining, _ := strconv.Atoi(q.Get("remaining"))
	require.Positive(t, n)
	require.Equal(t, left, n+remaining)
	body := e.getOK(loc.String())
	require.Contains(t, body, fmt.Sprintf("It stopped to answer in time: %d selected jobs were not reached; run it again for the rest.", remaining))

	// By filter: the rest is not counted, but said to be there; running it
	// again until it is complete cancels every one.
	for i := 0; ; i++ {
		require.Less(t, i, 30, "it never completed")
		w = e.postJSON("/api/jobs/cancel", `{"all": true, "queue": "mail"}`)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		got = decode[wire.BulkResult](t, w)
		require.Zero(t, got.Remaining, "not known for a filter")
		if !got.Incomplete {
			require.Empty(t, got.Stopped)
			break
		}
		require.Equal(t, "budget", got.Stopped)
		require.Positive(t, got.Cancelled)
	}
	require.Zero(t, waiting())
	require.Contains(t, e.getOK("/jobs?done=cancelled&n=3&stopped=budget"),
		"Cancelled 3 jobs. It stopped to answer in time: more jobs may match; run it again for the rest.")
	require.Equal(t, http.StatusBadRequest, e.get("/jobs?done=cancelled&n=3&stopped=later").Code)

	// Without a budget (negative), one call does them all.
	e.clock.Step(0)
	off := newEnv(t, admin.Options{BulkBudget: -1})
	for range 20 {
		off.enqueue(queue.NewJob{Kind: "k", Queue: "mail"})
	}
	off.clock.Step(time.Hour)
	w = off.postJSON("/api/jobs/delete", `{"all": true}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.JSONEq(t, `{"deleted": 20, "refused": 0}`, w.Body.String())
}

// A bulk action whose request is cancelled stops between two jobs and
// says so.
func TestBulkStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	id := e.enqueue(queue.NewJob{Kind: "k", Queue: "mail"})
	cookie, token := e.csrf()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest("POST", "/api/jobs/delete", strings.NewReader(fmt.Sprintf(`{"ids": [%d]}`, id))).WithContext(ctx)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-CSRF-Token", token)
	r.AddCookie(cookie)
	w := e.serve(r)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.JSONEq(t, `{"refused": 0, "incomplete": true, "stopped": "cancelled", "remaining": 1}`, w.Body.String())
	require.Equal(t, queue.StatePending, e.state(id))
}

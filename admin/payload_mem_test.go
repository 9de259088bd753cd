package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/queue"
)

// allocated returns the bytes allocated while f runs.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A job with a 10 MB payload costs one copy of the payload (the store's
// read) and little more per request, on the API and on the job page.
func TestPayloadMemory(t *testing.T) {
	e := newEnv(t, admin.Options{})
	const size = 10 << 20
	payload := append([]byte(`{"blob":"`), bytes.Repeat([]byte("x"), size-11)...)
	payload = append(payload, `"}`...)
	big, err := queue.New(e.store, queue.Options{MaxPayloadBytes: 64 << 20, Now: e.clock.Now})
	require.NoError(t, err)
	res, err := big.Enqueue(context.Background(), queue.NewJob{Kind: "big", Payload: payload})
	require.NoError(t, err)
	id := res.ID
	// The store's read of the job is the floor: what the admin adds to it
	// must stay small, whatever the payload's size.
	read := allocated(func() {
		_, err := e.q.Inspector().Get(context.Background(), id)
		require.NoError(t, err)
	})
	t.Logf("the store's read of the job: %.1f MB allocated", float64(read)/(1<<20))
	for _, path := range []string{fmt.Sprintf("/api/jobs/%d", id), fmt.Sprintf("/jobs/%d", id), fmt.Sprintf("/api/jobs/%d/payload", id)} {
		// A writer that keeps nothing: the test's own copy of the answer
		// would count too.
		w := &countingWriter{header: http.Header{}}
		r := httptest.NewRequest("GET", path, nil)
		r.SetBasicAuth(testUser, testPass)
		n := allocated(func() { e.h.ServeHTTP(w, r) })
		require.Equal(t, http.StatusOK, w.status)
		t.Logf("GET %s of a %d MB payload: %.1f MB allocated, %d bytes answered", path, size>>20, float64(n)/(1<<20), w.n)
		require.Less(t, n, read+2<<20, "GET %s allocates more than the store's read and 2 MB", path)
	}
}

// countingWriter is an http.ResponseWriter that counts the bytes of the
// answer and keeps none.
type countingWriter struct {
	header http.Header
	status int
	n      int
}

func (w *countingWriter) Header() http.Header { return w.header }

func (w *countingWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(p)
	return len(p), nil
}

// The API and the job page show the first MaxPayloadShown bytes of a long
// payload, say that it is cut and how long it is, and link to the raw
// payload, which is served whole with its content type.
func TestPayloadTruncated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	long := append([]byte(`{"note":"`), bytes.Repeat([]byte("é"), admin.MaxPayloadShown)...)
	long = append(long, `"}`...)
	id := e.enqueue(queue.NewJob{Kind: "long", Payload: long})
	small := e.enqueue(queue.NewJob{Kind: "small", Payload: []byte(`{"a":1}`)})
	bin := e.enqueue(queue.NewJob{Kind: "bin", Payload: []byte{0xff, 0x00, 0x01}})

	a := decode[map[string]any](t, e.get(fmt.Sprintf("/api/jobs/%d", id)))
	require.Equal(t, true, a["payload_truncated"])
	require.Equal(t, float64(len(long)), a["payload_bytes"])
	require.Equal(t, fmt.Sprintf("/api/jobs/%d/payload", id), a["payload_url"])
	require.Equal(t, "text", a["payload_encoding"])
	head := a["payload"].(string)
	require.True(t, utf8.ValidString(head))
	require.LessOrEqual(t, len(head), admin.MaxPayloadShown)
	require.Greater(t, len(head), admin.MaxPayloadShown-utf8.UTFMax)
	require.True(t, bytes.HasPrefix(long, []byte(head)))

	a = decode[map[string]any](t, e.get(fmt.Sprintf("/api/jobs/%d", small)))
	require.Nil(t, a["payload_truncated"])
	require.Equal(t, map[string]any{"a": float64(1)}, a["payload"])
	require.Equal(t, float64(7), a["payload_bytes"])

	page := e.getOK(fmt.Sprintf("/jobs/%d", id))
	require.Contains(t, page, fmt.Sprintf(`href="/api/jobs/%d/payload" download>Download the whole payload</a>`, id))
	require.Contains(t, page, fmt.Sprintf("(truncated: %s of %s bytes shown)", num(len(head)), num(len(long))))
	require.Less(t, len(page), admin.MaxPayloadShown+32<<10)

	for _, c := range []struct {
		id   int64
		ct   string
		body []byte
	}{{id, "application/json", long}, {small, "application/json", []byte(`{"a":1}`)}, {bin, "application/octet-stream", []byte{0xff, 0x00, 0x01}}} {
		w := e.get(fmt.Sprintf("/api/jobs/%d/payload", c.id))
		require.Equal(t, http.StatusOK, w.Code)
		require.Equal(t, c.ct, w.Header().Get("Content-Type"))
		require.Equal(t, fmt.Sprint(len(c.body)), w.Header().Get("Content-Length"))
		require.Contains(t, w.Header().Get("Content-Disposition"), "attachment")
		require.Equal(t, c.body, w.Body.Bytes())
	}
	require.Equal(t, http.StatusNotFound, e.get("/api/jobs/999/payload").Code)
}

// num writes n as the pages do: 1 234 567.
func num(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "\u202f" + s[i:]
	}
	return s
}

// A topic's events are capped the same way: the events API shows the first
// MaxPayloadShown bytes of a long payload and says so, the event log page
// links to the whole payload, which its own endpoint serves.
func TestEventPayloadTruncated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	ctx := context.Background()
	long := `{"note":"` + strings.Repeat("x", admin.MaxPayloadShown) + `"}`
	_, err := e.q.Publish(ctx, queue.Event{Topic: "shop/eu.orders", Args: json.RawMessage(long)})
	require.NoError(t, err)
	_, err = e.q.Publish(ctx, queue.Event{Topic: "shop/eu.orders", Args: map[string]int{"a": 1}})
	require.NoError(t, err)

	type event struct {
		Seq              int64  `json:"seq"`
		PayloadEncoding  string `json:"payload_encoding"`
		Payload          any    `json:"payload"`
		PayloadBytes     int    `json:"payload_bytes"`
		PayloadTruncated bool   `json:"payload_truncated"`
		PayloadURL       string `json:"payload_url"`
	}
	page := decode[struct{ Events []event }](t, e.get("/api/topics/shop/eu.orders/events"))
	require.Len(t, page.Events, 2)
	ev := page.Events[0]
	require.True(t, ev.PayloadTruncated)
	require.Equal(t, "text", ev.PayloadEncoding)
	require.Len(t, ev.Payload, admin.MaxPayloadShown)
	require.Equal(t, len(long), ev.PayloadBytes)
	require.Equal(t, "/api/topics/shop/eu.orders/events/1/payload", ev.PayloadURL)
	require.False(t, page.Events[1].PayloadTruncated)
	require.Equal(t, map[string]any{"a": float64(1)}, page.Events[1].Payload)

	w := e.get(ev.PayloadURL)
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	require.Equal(t, long, w.Body.String())
	require.Equal(t, http.StatusNotFound, e.get("/api/topics/shop/eu.orders/events/9/payload").Code)
	require.Equal(t, http.StatusBadRequest, e.get("/api/topics/shop/eu.orders/events/x/payload").Code)

	body := e.getOK("/topics/shop/eu.orders")
	require.Contains(t, body, `<a href="/api/topics/shop/eu.orders/events/1/payload" download>Download the whole payload</a>`)
	require.Equal(t, 1, strings.Count(body, "Download the whole payload"), "only the long one")
}

package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/queue"
)

// The job page shows a job's progress and output, escaped; an output too
// large to show whole is cut as payloads are; a job with neither has no
// such section.
func TestJobPageShowsProgressAndOutput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	id := e.withOutput(queue.NewJob{Kind: "report.export"}, []byte(`{"note":"<script>alert(1)</script>","rows":3}`),
		&queue.Progress{Fraction: 0.426, Message: `half <img src=x onerror=alert(2)>`})
	body := e.getOK(fmt.Sprintf("/jobs/%d", id))
	require.Contains(t, body, `<progress id="progress" max="100" value="42" aria-label="Progress">42%</progress>`)
	require.Contains(t, body, `<span id="progress-message">half &lt;img src=x onerror=alert(2)&gt;</span>`)
	require.Contains(t, body, "JSON · 45 bytes")
	require.Contains(t, body, "&#34;note&#34;: &#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34;,\n  &#34;rows&#34;: 3")
	require.NotContains(t, body, "<script>alert")
	require.NotContains(t, body, "<img src=x")

	big := e.withOutput(queue.NewJob{Kind: "report.export"}, []byte(`"`+strings.Repeat("y", 100<<10)+`"`), nil)
	body = e.getOK(fmt.Sprintf("/jobs/%d", big))
	require.Contains(t, body, "(truncated: 65\u202f536 of 102\u202f402 bytes shown)")
	require.Contains(t, body, fmt.Sprintf(`<a class="btn small" id="output-raw" href="/api/jobs/%d/output" download>Download the whole output</a>`, big))
	require.NotContains(t, body, `id="progress"`)
	require.Less(t, len(body), 100<<10)

	plain := e.enqueue(queue.NewJob{Kind: "k"})
	require.NotContains(t, e.getOK(fmt.Sprintf("/jobs/%d", plain)), "Progress and output")
}

// /api/jobs/{id} carries the output (capped as the payload is) and the
// progress, in snake_case; a job with neither has no such fields.
func TestAPIJobOutputAndProgress(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	id := e.withOutput(queue.NewJob{Kind: "report.export"}, []byte(`{"rows":3}`), &queue.Progress{Fraction: 0.5, Message: "half"})
	w := e.get(fmt.Sprintf("/api/jobs/%d", id))
	require.Equal(t, 200, w.Code)
	var got map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	require.Equal(t, "json", got["output_encoding"])
	require.Equal(t, map[string]any{"rows": float64(3)}, got["output"])
	require.Equal(t, float64(10), got["output_bytes"])
	require.NotContains(t, got, "output_truncated")
	require.Equal(t, fmt.Sprintf("/api/jobs/%d/output", id), got["output_url"])
	w = e.get(fmt.Sprintf("/api/jobs/%d/output", id))
	require.Equal(t, 200, w.Code)
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	require.Equal(t, fmt.Sprintf(`attachment; filename="job-%d-output.json"`, id), w.Header().Get("Content-Disposition"))
	require.Equal(t, `{"rows":3}`, w.Body.String())
	require.Equal(t, map[string]any{"fraction": 0.5, "message": "half", "at": "2026-03-02T14:30:00Z"}, got["progress"])

	big := e.withOutput(queue.NewJob{Kind: "report.export"}, []byte(`"`+strings.Repeat("y", 100<<10)+`"`), nil)
	got = nil
	require.NoError(t, json.Unmarshal(e.get(fmt.Sprintf("/api/jobs/%d", big)).Body.Bytes(), &got))
	require.Equal(t, true, got["output_truncated"])
	require.Equal(t, float64(100<<10+2), got["output_bytes"])
	require.Equal(t, "text", got["output_encoding"])
	require.Len(t, got["output"], admin.MaxPayloadShown)
	w = e.get(fmt.Sprintf("/api/jobs/%d/output", big))
	require.Equal(t, 200, w.Code)
	require.Equal(t, 100<<10+2, w.Body.Len(), "the whole output")
	require.NotContains(t, got, "progress")

	plain := e.enqueue(queue.NewJob{Kind: "k"})
	got = nil
	require.NoError(t, json.Unmarshal(e.get(fmt.Sprintf("/api/jobs/%d", plain)).Body.Bytes(), &got))
	require.NotContains(t, got, "output")
	require.NotContains(t, got, "progress")
	w = e.get(fmt.Sprintf("/api/jobs/%d/output", plain))
	require.Equal(t, 404, w.Code)
	require.Contains(t, w.Body.String(), "has recorded no output")
}

// In the browser: a running job's page follows its progress as the
// handler reports it, without a reload (the job page is live).
func TestBrowserLiveProgress(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{Prefix: "/admin", RefreshInterval: time.Second})
	j := e.running(queue.NewJob{Kind: "report.export", Queue: "exports"})
	report := func(f float64, msg string) {
		_, err := e.store.RecordProgress(context.Background(), []queue.ProgressUpdate{{JobID: j.ID, Token: j.LeaseToken,
			Progress: queue.Progress{Fraction: f, Message: msg, At: e.clock.Now()}}})
		require.NoError(t, err)
	}
	report(0.1, "day 1 of 10")
	mux := http.NewServeMux()
	mux.Handle("/admin/", e.h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	bctx, _ := newBrowser(t, 1280, 800)
	ctx, cancel := context.WithTimeout(bctx, 2*browserTimeout)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("%s/admin/jobs/%d", srv.URL, j.ID))))
	require.Equal(t, 10, eval[int](t, ctx, `document.getElementById("progress").value`))
	report(0.7, "day 7 of 10 <i>")
	poll(t, ctx, `document.getElementById("progress").value === 70`, "the progress bar did not follow the report")
	require.Equal(t, "day 7 of 10 <i>", text(t, ctx, "#progress-message"))
	require.Equal(t, fmt.Sprintf("/admin/jobs/%d", j.ID), eval[string](t, ctx, `location.pathname`), "no reload")
}

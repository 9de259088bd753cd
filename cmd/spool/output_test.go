package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// show prints a job's progress and output (escaped, a long output cut),
// and -json carries both.
func TestCLIShowOutputAndProgress(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	settle := func(kind string, output []byte, p *queue.Progress) int64 {
		res, err := f.q.Enqueue(ctx, queue.NewJob{Kind: kind, Queue: "exports"})
		require.NoError(t, err)
		now := time.Now()
		l, err := f.store.Lease(ctx, queue.LeaseParams{Queue: "exports", Limit: 1, Now: now, Until: now.Add(time.Minute), Worker: "t"})
		require.NoError(t, err)
		require.Len(t, l.Jobs, 1)
		j := l.Jobs[0]
		if p != nil {
			p.At = now
		}
		errs, err := f.store.Settle(ctx, nil, []queue.Settlement{{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue,
			Outcome: queue.OutcomeComplete, Keep: true, Now: now, Output: output, Progress: p}})
		require.NoError(t, err)
		require.NoError(t, errs[0])
		return res.ID
	}
	id := settle("report.export", []byte(`{"rows":1042,"note":"\u001b[2J"}`), &queue.Progress{Fraction: 0.999, Message: "almost \x1b[2J there"})
	r := ok(t, "show", "-db", f.path, strconv.FormatInt(id, 10))
	require.Regexp(t, `Progress: +99% almost \\x1b\[2J there \(reported (just now|\d+s ago)\)`, r.stdout)
	require.Contains(t, r.stdout, "\nOutput:\n  {\n    \"rows\": 1042,\n    \"note\": \"\\u001b[2J\"\n  }\n")
	require.NotContains(t, r.stdout, "\x1b")

	var j struct {
		Output   map[string]any `json:"output"`
		Progress struct {
			Fraction float64 `json:"fraction"`
			Message  string  `json:"message"`
		} `json:"progress"`
	}
	okJSON(t, &j, "show", "-db", f.path, strconv.FormatInt(id, 10))
	require.Equal(t, 1042.0, j.Output["rows"])
	require.Equal(t, 0.999, j.Progress.Fraction)

	big := settle("report.export", []byte(`"`+strings.Repeat("z", 70<<10)+`"`), nil)
	r = ok(t, "show", "-db", f.path, strconv.FormatInt(big, 10))
	require.True(t, strings.Contains(r.stdout, "… (65536 bytes shown of 71682 bytes; -json shows it whole)"), "the cut is said")
	require.False(t, strings.Contains(r.stdout, "Progress:"))
	require.Less(t, len(r.stdout), 70<<10)

	r = ok(t, "show", "-db", f.path, strconv.FormatInt(f.mail, 10))
	require.NotContains(t, r.stdout, "Output:")
}

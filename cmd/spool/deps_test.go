package main

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// show lists a job's parents and children with their states; a job
// without dependencies has no such lists.
func TestCLIShowDependencies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	enqueue := func(j queue.NewJob) int64 {
		res, err := f.q.Enqueue(ctx, j)
		require.NoError(t, err)
		return res.ID
	}
	validate := enqueue(queue.NewJob{Kind: "order.validate", Queue: "orders"})
	charge := enqueue(queue.NewJob{Kind: "order.charge", Queue: "orders", DependsOn: []int64{validate}})
	ship := enqueue(queue.NewJob{Kind: "order.ship", Queue: "orders", DependsOn: []int64{validate, charge}, OnParentFailure: queue.ParentFailureRun})

	var st struct {
		Queues []struct {
			Name            string
			AwaitingParents int `json:"awaiting_parents"`
		}
	}
	okJSON(t, &st, "stats", "-db", f.path)
	awaiting := map[string]int{}
	for _, q := range st.Queues {
		awaiting[q.Name] = q.AwaitingParents
	}
	require.Equal(t, 2, awaiting["orders"])
	require.Regexp(t, `AWAITING PARENTS`, ok(t, "stats", "-db", f.path).stdout)

	r := ok(t, "show", "-db", f.path, strconv.FormatInt(ship, 10))
	require.Regexp(t, `\nParents \(waits for\):\n +`+strconv.FormatInt(validate, 10)+` +order.validate +pending\n +`+
		strconv.FormatInt(charge, 10)+` +order.charge +blocked\n`, r.stdout)
	require.NotContains(t, r.stdout, "Children")

	r = ok(t, "show", "-db", f.path, strconv.FormatInt(validate, 10))
	require.Regexp(t, `\nChildren \(wait for it\):\n +`+strconv.FormatInt(charge, 10)+` +order.charge +blocked\n +`+
		strconv.FormatInt(ship, 10)+` +order.ship +blocked\n`, r.stdout)

	_, err := f.q.Inspector().Cancel(ctx, validate)
	require.NoError(t, err)
	require.NoError(t, f.q.Inspector().Delete(ctx, validate))
	r = ok(t, "show", "-db", f.path, strconv.FormatInt(charge, 10))
	require.Regexp(t, `\nParents \(waits for\):\n +`+strconv.FormatInt(validate, 10)+` +- +cancelled \(gone\)\n`, r.stdout)
	require.Regexp(t, `State: +cancelled\n`, r.stdout)
	require.Regexp(t, `\nChildren \(wait for it\):\n +`+strconv.FormatInt(ship, 10)+` +order.ship +pending\n`, r.stdout, "it runs anyway")

	r = ok(t, "show", "-db", f.path, strconv.FormatInt(f.dead, 10))
	require.NotContains(t, r.stdout, "Parents")
}

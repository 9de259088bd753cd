package admin_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/queue"
)

// The job page lists a job's parents and children with their states, as
// links while they exist; a parent that completed and went is shown as
// completed and gone; a job without dependencies has no such section.
func TestJobPageShowsDependencies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	validate := e.running(queue.NewJob{Kind: "order.validate"})
	charge := e.enqueue(queue.NewJob{Kind: "order.charge", Queue: "later", DependsOn: []int64{validate.ID}})
	ship := e.enqueue(queue.NewJob{Kind: "order.ship", Queue: "later", DependsOn: []int64{charge, validate.ID}})

	body := e.getOK(fmt.Sprintf("/jobs/%d", validate.ID))
	require.Contains(t, body, `<h3>2 children wait for it</h3>`)
	require.Contains(t, body, fmt.Sprintf(`<td data-label="Job"><a class="mono" href="/jobs/%d">%d</a></td>
<td class="mono" data-label="Kind">order.charge</td>
<td data-label="State"><span class="badge state-blocked">blocked</span></td>`, charge, charge))
	require.Contains(t, body, `<td class="mono" data-label="Kind">order.ship</td>`)
	require.NotContains(t, body, "Waits for")

	body = e.getOK(fmt.Sprintf("/jobs/%d", ship))
	require.Contains(t, body, `<h3>Waits for 2 parents</h3>`)
	require.Contains(t, body, fmt.Sprintf(`<td data-label="Job"><a class="mono" href="/jobs/%d">%d</a></td>
<td class="mono" data-label="Kind">order.validate</td>
<td data-label="State"><span class="badge state-running">running</span></td>`, validate.ID, validate.ID))

	e.settle(validate, queue.OutcomeComplete, "", "") // not kept: the job goes
	body = e.getOK(fmt.Sprintf("/jobs/%d", charge))
	require.Contains(t, body, fmt.Sprintf(`<td data-label="Job"><span class="mono">%d</span></td>
<td class="mono" data-label="Kind"><span class="muted none">—</span></td>
<td data-label="State"><span class="badge state-completed">completed</span> <span class="muted">· gone</span></td>`, validate.ID))
	require.Contains(t, body, `<span class="badge state-pending">pending</span>`)

	// The dashboard counts the children that wait for parents.
	body = e.getOK("/")
	require.Contains(t, body, "and 1 awaiting parents</span>")
	require.Contains(t, body, `<span class="muted" title="waiting for their parents">+ 1 awaiting parents</span>`)

	plain := e.enqueue(queue.NewJob{Kind: "k"})
	require.NotContains(t, e.getOK(fmt.Sprintf("/jobs/%d", plain)), `id="deps"`)
}

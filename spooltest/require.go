package spooltest

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/spooljobs/spool/queue"
)

// RequireEnqueuedTx fails t unless tx, the app's open transaction, sees
// exactly one job of kind with args (nil: any args) that meets opts, and
// returns it. tx sees the jobs it enqueued and has not committed (an
// outbox), and the committed ones before it; pass it before the code under
// test commits or rolls it back. The failure lists the jobs tx sees
// instead. It needs a store that implements queue.TxLister (package
// sqlite's and postgres's do).
func (k *Kit) RequireEnqueuedTx(ctx context.Context, t testing.TB, tx *sql.Tx, kind string, args any, opts ...Option) *queue.Job {
	t.Helper()
	if tx == nil {
		t.Fatalf("spooltest: RequireEnqueuedTx: tx is nil (RequireEnqueued looks at committed jobs)")
		return nil
	}
	return k.requireOne(ctx, t, tx, "RequireEnqueuedTx", Want(kind, args, opts...))
}

// RequireEnqueued is RequireEnqueuedTx for committed jobs.
func (k *Kit) RequireEnqueued(ctx context.Context, t testing.TB, kind string, args any, opts ...Option) *queue.Job {
	t.Helper()
	return k.requireOne(ctx, t, nil, "RequireEnqueued", Want(kind, args, opts...))
}

// RequireNotEnqueuedTx fails t if tx sees a job of kind with args (nil:
// any args) that meets opts, listing the jobs that match.
func (k *Kit) RequireNotEnqueuedTx(ctx context.Context, t testing.TB, tx *sql.Tx, kind string, args any, opts ...Option) {
	t.Helper()
	if tx == nil {
		t.Fatalf("spooltest: RequireNotEnqueuedTx: tx is nil (RequireNotEnqueued looks at committed jobs)")
		return
	}
	k.requireNone(ctx, t, tx, "RequireNotEnqueuedTx", Want(kind, args, opts...))
}

// RequireNotEnqueued is RequireNotEnqueuedTx for committed jobs.
func (k *Kit) RequireNotEnqueued(ctx context.Context, t testing.TB, kind string, args any, opts ...Option) {
	t.Helper()
	k.requireNone(ctx, t, nil, "RequireNotEnqueued", Want(kind, args, opts...))
}

// RequireManyEnqueuedTx fails t unless tx sees a distinct job for each of
// want (built with Want); jobs that match none of them are allowed (see
// RequireOnlyEnqueuedTx). It returns the jobs in the order of want.
func (k *Kit) RequireManyEnqueuedTx(ctx context.Context, t testing.TB, tx *sql.Tx, want ...Expect) []*queue.Job {
	t.Helper()
	if tx == nil {
		t.Fatalf("spooltest: RequireManyEnqueuedTx: tx is nil (RequireManyEnqueued looks at committed jobs)")
		return nil
	}
	return k.requireMany(ctx, t, tx, "RequireManyEnqueuedTx", false, want)
}

// RequireManyEnqueued is RequireManyEnqueuedTx for committed jobs.
func (k *Kit) RequireManyEnqueued(ctx context.Context, t testing.TB, want ...Expect) []*queue.Job {
	t.Helper()
	return k.requireMany(ctx, t, nil, "RequireManyEnqueued", false, want)
}

// RequireOnlyEnqueuedTx is RequireManyEnqueuedTx that also fails t when tx
// sees any job beyond those matched: these jobs and nothing else. With no
// want, it requires that tx sees no job at all.
func (k *Kit) RequireOnlyEnqueuedTx(ctx context.Context, t testing.TB, tx *sql.Tx, want ...Expect) []*queue.Job {
	t.Helper()
	if tx == nil {
		t.Fatalf("spooltest: RequireOnlyEnqueuedTx: tx is nil (RequireOnlyEnqueued looks at committed jobs)")
		return nil
	}
	return k.requireMany(ctx, t, tx, "RequireOnlyEnqueuedTx", true, want)
}

// RequireOnlyEnqueued is RequireOnlyEnqueuedTx for committed jobs.
func (k *Kit) RequireOnlyEnqueued(ctx context.Context, t testing.TB, want ...Expect) []*queue.Job {
	t.Helper()
	return k.requireMany(ctx, t, nil, "RequireOnlyEnqueued", true, want)
}

// Jobs returns every job tx sees (nil tx: every committed job), in every
// state, oldest first. It fails t when the store cannot list them.
func (k *Kit) Jobs(ctx context.Context, t testing.TB, tx *sql.Tx) []*queue.Job {
	t.Helper()
	in := k.q.Inspector()
	var all []*queue.Job
	f := queue.ListFilter{Limit: 1000}
	for {
		var page []*queue.Job
		var err error
		if tx != nil {
			page, err = in.ListTx(ctx, tx, f)
		} else {
			page, err = in.List(ctx, f)
		}
		if err != nil {
			t.Fatalf("spooltest: list jobs: %v", err)
			return nil
		}
		all = append(all, page...)
		if len(page) < f.Limit {
			break
		}
		f.BeforeID = page[len(page)-1].ID
	}
	slices.Reverse(all)
	return all
}

func (k *Kit) requireOne(ctx context.Context, t testing.TB, tx *sql.Tx, name string, e Expect) *queue.Job {
	t.Helper()
	jobs := k.Jobs(ctx, t, tx)
	found, ok := matching(t, name, e, jobs)
	if !ok {
		return nil
	}
	switch len(found) {
	case 1:
		return found[0]
	case 0:
		t.Fatalf("spooltest: %s: no job %s; %s", name, e, listing(jobs, e, tx != nil))
	default:
		t.Fatalf("spooltest: %s: %d jobs match %s, want exactly one (RequireManyEnqueued expects several):\n%s",
			name, len(found), e, lines(found, nil))
	}
	return nil
}

func (k *Kit) requireNone(ctx context.Context, t testing.TB, tx *sql.Tx, name string, e Expect) {
	t.Helper()
	found, ok := matching(t, name, e, k.Jobs(ctx, t, tx))
	if ok && len(found) > 0 {
		t.Fatalf("spooltest: %s: want no job %s; found %d:\n%s", name, e, len(found), lines(found, nil))
	}
}

func (k *Kit) requireMany(ctx context.Context, t testing.TB, tx *sql.Tx, name string, only bool, want []Expect) []*queue.Job {
	t.Helper()
	jobs := k.Jobs(ctx, t, tx)
	// fits[i][j]: job j meets want[i].
	fits := make([][]bool, len(want))
	for i, e := range want {
		fits[i] = make([]bool, len(jobs))
		for j, job := range jobs {
			ok, _, err := e.match(job)
			if err != nil {
				t.Fatalf("spooltest: %s: want #%d: %v", name, i+1, err)
				return nil
			}
			fits[i][j] = ok
		}
	}
	owner := assign(fits, len(jobs))
	got := make([]*queue.Job, len(want))
	var missing []string
	for j, i := range owner {
		if i >= 0 {
			got[i] = jobs[j]
		}
	}
	notes := map[int64]string{} // for jobs of a missing want's kind: what differs
	for i, g := range got {
		if g != nil {
			continue
		}
		missing = append(missing, fmt.Sprintf("  want #%d: %s", i+1, want[i]))
		for _, j := range jobs {
			if _, diff, _ := want[i].match(j); diff != "" && notes[j.ID] == "" {
				notes[j.ID] = fmt.Sprintf("want #%d: %s", i+1, diff)
			}
		}
	}
	var extra []*queue.Job
	if only {
		for j, i := range owner {
			if i < 0 {
				extra = append(extra, jobs[j])
			}
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return got
	}
	var b strings.Builder
	fmt.Fprintf(&b, "spooltest: %s: ", name)
	if len(missing) > 0 {
		fmt.Fprintf(&b, "%d of %d wanted jobs not found (each wanted job needs a job of its own):\n%s\n",
			len(missing), len(want), strings.Join(missing, "\n"))
	}
	if len(extra) > 0 {
		fmt.Fprintf(&b, "%d jobs beyond those wanted (want these and nothing else):\n%s\n", len(extra), lines(extra, nil))
	}
	fmt.Fprintf(&b, "%s", seen(jobs, tx != nil, notes))
	t.Fatalf("%s", strings.TrimRight(b.String(), "\n"))
	return nil
}

// matching returns the jobs that meet e; ok is false when t was failed.
func matching(t testing.TB, name string, e Expect, jobs []*queue.Job) (found []*queue.Job, ok bool) {
	t.Helper()
	for _, j := range jobs {
		m, _, err := e.match(j)
		if err != nil {
			t.Fatalf("spooltest: %s: %v", name, err)
			return nil, false
		}
		if m {
			found = append(found, j)
		}
	}
	return found, true
}

// assign matches wanted jobs to distinct jobs (a maximum bipartite
// matching, trying jobs oldest first): owner[j] is the want job j serves,
// or -1.
func assign(fits [][]bool, jobs int) []int {
	owner := make([]int, jobs)
	for j := range owner {
		owner[j] = -1
	}
	var try func(i int, seen []bool) bool
	try = func(i int, seen []bool) bool {
		for j := range jobs {
			if !fits[i][j] || seen[j] {
				continue
			}
			seen[j] = true
			if owner[j] < 0 || try(owner[j], seen) {
				owner[j] = i
				return true
			}
		}
		return false
	}
	for i := range fits {
		try(i, make([]bool, jobs))
	}
	return owner
}

// listing says what was enqueued instead of e, noting for the jobs of e's
// kind what differs.
func listing(jobs []*queue.Job, e Expect, inTx bool) string {
	if len(jobs) == 0 {
		return seen(jobs, inTx, nil)
	}
	notes := map[int64]string{}
	for _, j := range jobs {
		if _, diff, _ := e.match(j); diff != "" {
			notes[j.ID] = diff
		}
	}
	return fmt.Sprintf("enqueued instead (%d jobs%s):\n%s", len(jobs), where(inTx), lines(jobs, notes))
}

// seen lists every job an assertion looked at.
func seen(jobs []*queue.Job, inTx bool, notes map[int64]string) string {
	if len(jobs) == 0 {
		if inTx {
			return "the transaction sees no job at all"
		}
		return "no job was enqueued at all"
	}
	return fmt.Sprintf("all jobs (%d%s):\n%s", len(jobs), where(inTx), lines(jobs, notes))
}

func where(inTx bool) string {
	if inTx {
		return ", as the transaction sees them"
	}
	return ""
}

func lines(jobs []*queue.Job, notes map[int64]string) string {
	var b strings.Builder
	for i, j := range jobs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("  " + describeJob(j))
		if n := notes[j.ID]; n != "" {
			b.WriteString("  (" + n + ")")
		}
	}
	return b.String()
}

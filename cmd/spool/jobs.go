package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
)

// The job commands: ls, show, enqueue, retry, cancel, delete.

var (
	lsCommand   = &command{name: "ls", summary: "list jobs, newest first, with filters", run: runLs}
	showCommand = &command{name: "show", summary: "show one job: payload, metadata, progress and output, every attempt's error",
		run: runShow}
	enqueueCommand = &command{name: "enqueue", summary: "enqueue a job", run: runEnqueue}
	retryCommand   = &command{name: "retry", summary: "retry a dead job, or the dead jobs of a queue or kind",
		run: runRetry}
	cancelCommand = &command{name: "cancel", summary: "cancel a pending, scheduled or running job", run: runCancel}
	deleteCommand = &command{name: "delete", summary: "delete a job that is not running", run: runDelete}
	runNowCommand = &command{name: "run-now", summary: "run a scheduled job now instead of at its run time", run: runRunNow}
)

// payloadText returns a payload for a terminal: indented JSON, text, or a
// note for binary bytes.
func payloadText(p []byte) string {
	switch {
	case len(p) == 0:
		return "(empty)"
	case json.Valid(p):
		var b bytes.Buffer
		if json.Indent(&b, p, "", "  ") == nil {
			return b.String()
		}
		return string(p)
	case utf8.Valid(p):
		return string(p)
	default:
		return fmt.Sprintf("(%s of binary data; -json shows them in base64)", plural(len(p), "byte"))
	}
}

const lsAbout = `Usage: spool ls [flags]

Ls lists jobs newest first: live jobs and dead ones, filtered by queue,
state, kind and text. A full page ends with a hint on stderr for the next
page (-before the last ID shown).

Flags:
`

func runLs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("ls", lsAbout, stderr, true)
	f := queue.ListFilter{OmitPayload: true} // ls shows no payloads
	var state string
	c.fs.StringVar(&f.Queue, "queue", "", "only jobs of queue `name`")
	c.fs.StringVar(&state, "state", "", "only jobs in `state`: "+statesList())
	c.fs.StringVar(&f.Kind, "kind", "", "only jobs of kind `name`")
	c.fs.StringVar(&f.Search, "search", "", "only jobs whose payload, error messages or dead reason contain `text`")
	c.fs.IntVar(&f.Limit, "limit", 50, "show at most `N` jobs (1 to 1000)")
	c.fs.Int64Var(&f.BeforeID, "before", 0, "only jobs older than job `ID` (the next page)")
	if _, err := c.parse(args); err != nil {
		return err
	}
	if err := errors.Join(checkName("-queue", f.Queue), checkName("-kind", f.Kind)); err != nil {
		return err
	}
	if state != "" {
		f.State = queue.State(strings.ToLower(state))
		if !f.State.Valid() {
			return usageErrorf("-state %q: want one of %s", state, statesList())
		}
	}
	if f.Limit < 1 || f.Limit > 1000 {
		return usageErrorf("-limit %d is outside 1..1000", f.Limit)
	}
	if f.BeforeID < 0 {
		return usageErrorf("-before %d is negative", f.BeforeID)
	}
	d, err := c.openRead(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	jobs, err := d.q.Inspector().List(ctx, f)
	if err != nil {
		return storeError(err, "")
	}
	var next int64
	if len(jobs) == f.Limit {
		next = jobs[len(jobs)-1].ID
	}
	if c.json {
		return writeJSON(stdout, wire.NewJobPage(jobs, next))
	}
	if err := listJobs(stdout, jobs, d.q.Now()); err != nil {
		return err
	}
	if len(jobs) == 0 {
		fmt.Fprintln(stderr, "no jobs match")
	}
	if next != 0 {
		fmt.Fprintf(stderr, "more: add -before %d for the next page\n", next)
	}
	return nil
}

// listJobs prints jobs as ls's table.
func listJobs(stdout io.Writer, jobs []*queue.Job, now time.Time) error {
	tw := newTable(stdout)
	row(tw, "ID", "QUEUE", "KIND", "STATE", "ATTEMPT", "PRIO", "CREATED", "RUN AT", "LAST ERROR")
	for _, j := range jobs {
		msg := "-"
		if j.DeadReason != "" {
			msg = j.DeadReason
		} else if e := j.LastError(); e != nil {
			msg = e.Message
		}
		row(tw, j.ID, j.Queue, j.Kind, j.State, fmt.Sprintf("%d/%d", j.Attempt, j.MaxAttempts), j.Priority,
			fmtAgo(j.CreatedAt, now), fmtAgo(j.RunAt, now), oneLine(msg, 60))
	}
	return tw.Flush()
}

func statesList() string {
	s := make([]string, len(queue.States))
	for i, st := range queue.States {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

const showAbout = `Usage: spool show [flags] ID

Show prints one job, live or dead: its fields, metadata, progress, payload
and output (JSON indented) and every failed attempt with its error and
stack. For an ID the
database does not hold (exit status 3) it says what it can tell: whether
newer jobs exist, and whether the job may have completed and been deleted
(as jobs are, unless a pool keeps completed ones).

Flags:
`

func runShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("show", showAbout, stderr, true)
	id, err := c.jobID(args)
	if err != nil {
		return err
	}
	d, err := c.openRead(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	j, err := d.q.Inspector().Get(ctx, id)
	if errors.Is(err, queue.ErrNotFound) {
		return notFound(err, "%s", missingJob(ctx, d, id))
	}
	if err != nil {
		return storeError(err, idArg(id))
	}
	if c.json {
		return writeJSON(stdout, wire.NewJob(j, true))
	}
	if err := showFields(stdout, j, d.q.Now()); err != nil {
		return err
	}
	if err := showDeps(ctx, stdout, d.q, id); err != nil {
		return storeError(err, idArg(id))
	}
	fmt.Fprintf(stdout, "\nPayload:\n%s\n", indent(payloadText(j.Payload), "  "))
	showOutput(stdout, j)
	showErrors(stdout, j)
	return nil
}

// showDeps prints the parents and children of job id with their states,
// if it has any (and the store keeps dependencies).
func showDeps(ctx context.Context, stdout io.Writer, q *queue.Queue, id int64) error {
	deps, err := q.Inspector().Dependencies(ctx, id)
	if errors.Is(err, queue.ErrDependenciesUnsupported) {
		return nil
	}
	if err != nil {
		return err
	}
	list := func(title string, ds []queue.Dependency) error {
		if len(ds) == 0 {
			return nil
		}
		fmt.Fprintf(stdout, "\n%s:\n", title)
		tw := newTable(stdout)
		for _, d := range ds {
			state := string(d.State)
			switch {
			case d.Gone && d.State == "":
				state = "deleted before it finished"
			case d.Gone:
				state += " (gone)"
			}
			kind := d.Kind
			if kind == "" {
				kind = "-"
			}
			row(tw, "  "+strconv.FormatInt(d.ID, 10), kind, state)
		}
		return tw.Flush()
	}
	if err := list("Parents (waits for)", deps.Parents); err != nil {
		return err
	}
	return list("Children (wait for it)", deps.Children)
}

// maxOutputShown caps the bytes of a job's output show prints (-json
// prints it whole).
const maxOutputShown = 64 << 10

// showOutput prints the output a job's handler recorded, if any: indented
// JSON, the start of a long one.
func showOutput(stdout io.Writer, j *queue.Job) {
	if j.Output == nil {
		return
	}
	text := payloadText(j.Output)
	if len(j.Output) > maxOutputShown {
		head := j.Output[:maxOutputShown]
		for len(head) > 0 && !utf8.Valid(head) {
			head = head[:len(head)-1]
		}
		text = fmt.Sprintf("%s\n… (%s shown of %s; -json shows it whole)", head,
			plural(len(head), "byte"), plural(len(j.Output), "byte"))
	}
	fmt.Fprintf(stdout, "\nOutput:\n%s\n", indent(text, "  "))
}

// showFields prints a job's fields, one per line, as show does.
func showFields(stdout io.Writer, j *queue.Job, now time.Time) error {
	tw := newTable(stdout)
	field := func(name string, v any) { row(tw, name+":", v) }
	field("Job", j.ID)
	field("Queue", j.Queue)
	field("Kind", j.Kind)
	field("State", j.State)
	field("Priority", j.Priority)
	field("Attempts", fmt.Sprintf("%d of %d", j.Attempt, j.MaxAttempts))
	if j.Timeout > 0 {
		field("Timeout", j.Timeout)
	}
	field("Created", fmt.Sprintf("%s (%s)", fmtTime(j.CreatedAt), fmtAgo(j.CreatedAt, now)))
	field("Run at", fmt.Sprintf("%s (%s)", fmtTime(j.RunAt), fmtAgo(j.RunAt, now)))
	if !j.AttemptedAt.IsZero() {
		field("Attempted", fmtTime(j.AttemptedAt))
	}
	if !j.FinishedAt.IsZero() {
		field("Finished", fmtTime(j.FinishedAt))
	}
	if j.State == queue.StateRunning {
		field("Leased by", j.LeasedBy)
		field("Lease until", fmtTime(j.LeaseUntil))
	}
	if j.CancelRequested {
		field("Cancel", "requested")
	}
	if j.UniqueKey != "" {
		field("Unique key", j.UniqueKey)
	}
	if j.OrderKey != "" {
		field("Order key", j.OrderKey)
	}
	if j.PartitionKey != "" {
		field("Partition key", j.PartitionKey)
	}
	if !j.ExpiresAt.IsZero() {
		field("Expires", fmtTime(j.ExpiresAt))
	}
	if j.DeadReason != "" {
		field("Dead reason", oneLine(j.DeadReason, 200))
	}
	if p := j.Progress; p != nil {
		v := fmt.Sprintf("%d%%", int(math.Floor(p.Fraction*100)))
		if p.Message != "" {
			v += " " + oneLine(p.Message, 200)
		}
		field("Progress", fmt.Sprintf("%s (reported %s)", v, fmtAgo(p.At, now)))
	}
	for _, k := range sortedKeys(j.Metadata) {
		field("Metadata "+k, oneLine(j.Metadata[k], 200))
	}
	return tw.Flush()
}

// showErrors prints the errors a job's failed attempts left, with the gap
// where some were not kept.
func showErrors(stdout io.Writer, j *queue.Job) {
	if len(j.Errors) > 0 {
		if j.ErrorsDropped > 0 {
			fmt.Fprintf(stdout, "\nErrors (%s, %d kept):\n", plural(len(j.Errors)+j.ErrorsDropped, "failed attempt"), len(j.Errors))
		} else {
			fmt.Fprintf(stdout, "\nErrors:\n")
		}
		gap := j.ErrorsGap()
		for i, e := range j.Errors {
			if i == gap {
				showDropped(stdout, j.ErrorsDropped)
			}
			fmt.Fprintf(stdout, "  attempt %d at %s:\n%s\n", e.Attempt, fmtTime(e.At), indent(e.Message, "    "))
			if e.Stack != "" {
				fmt.Fprintf(stdout, "%s\n", indent(strings.TrimRight(e.Stack, "\n"), "    "))
			}
		}
		if gap == len(j.Errors) {
			showDropped(stdout, j.ErrorsDropped)
		}
	}
}

// showDropped prints the gap in a job's error history where n attempts'
// errors were not kept.
func showDropped(w io.Writer, n int) {
	fmt.Fprintf(w, "  … %s not kept …\n", plural(n, "attempt"))
}

// missingJob says what the database can tell about job id, which it does
// not hold: IDs are never reused, so a newer job means id was once given
// out; and a database that holds no completed jobs deletes each job as it
// completes, so a missing job may well have completed. (A newer job is a
// hint, not proof: on PostgreSQL, an enqueue rolled back leaves its ID
// unused.)
func missingJob(ctx context.Context, d *db, id int64) string {
	msg := "unknown job id " + idArg(id)
	newest, err := d.q.Inspector().List(ctx, queue.ListFilter{Limit: 1, OmitPayload: true})
	if err != nil {
		return msg
	}
	st, err := d.q.Inspector().Stats(ctx)
	if err != nil {
		return msg
	}
	keeps := false
	for _, q := range st.Queues {
		keeps = keeps || q.Completed > 0
	}
	const deleted = "it may have completed and been deleted (this database keeps no completed jobs)"
	switch {
	case len(newest) == 1 && newest[0].ID > id && keeps:
		return fmt.Sprintf("%s: newer jobs exist (up to %d), so it may have been deleted, or pruned after it completed or was cancelled", msg, newest[0].ID)
	case len(newest) == 1 && newest[0].ID > id:
		return fmt.Sprintf("%s: newer jobs exist (up to %d), so %s, or been deleted", msg, newest[0].ID, deleted)
	case len(newest) == 1 && keeps:
		return fmt.Sprintf("%s: no job here has an ID that high (the newest is %d)", msg, newest[0].ID)
	case len(newest) == 1:
		return fmt.Sprintf("%s: no job here has an ID that high (the newest is %d); %s", msg, newest[0].ID, deleted)
	}
	return fmt.Sprintf("%s: the database holds no jobs; %s", msg, deleted)
}

// indent prefixes every line of s, made printable (job data is anyone's
// text).
func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(printable(s), "\n", "\n"+prefix)
}

const enqueueAbout = `Usage: spool enqueue [flags] KIND [JSON]

Enqueue adds a job of KIND with JSON as its payload ({} when omitted; "-"
reads it from stdin) and prints the new job's ID. With -unique, a job that
still holds the same key (pending, scheduled or running) makes the call a
duplicate: nothing is added, the existing job's ID is printed, and a note
on stderr says so.

Flags:
`

func runEnqueue(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("enqueue", enqueueAbout, stderr, true)
	var j queue.NewJob
	c.fs.StringVar(&j.Queue, "queue", queue.DefaultQueue, "the `queue` the job runs in")
	c.fs.IntVar(&j.Priority, "priority", 0, fmt.Sprintf("`priority` 0 to %d: higher runs first", queue.MaxPriority))
	c.fs.DurationVar(&j.Delay, "delay", 0, "run the job this `duration` from now (such as 90s or 2h)")
	c.fs.StringVar(&j.UniqueKey, "unique", "", "unique `key`: no second job with it while one is pending, scheduled or running")
	c.fs.StringVar(&j.OrderKey, "order-key", "", "ordering `key`: jobs with it run one at a time, in order")
	c.fs.StringVar(&j.PartitionKey, "partition-key", "", "partition `key` the queue's per-key limits count (QueueSettings.MaxRunningPerKey, RateLimitPerKey)")
	c.fs.IntVar(&j.MaxAttempts, "max-attempts", 0, fmt.Sprintf("attempts `N` before the job is dead (default %d)", queue.DefaultMaxAttempts))
	pos, err := c.parse(args, "KIND", "JSON?")
	if err != nil {
		return err
	}
	j.Kind = pos[0]
	payload := "{}"
	if len(pos) > 1 {
		payload = pos[1]
	}
	if payload == "-" {
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			return fmt.Errorf("read the payload from stdin: %w", err)
		}
		payload = string(bytes.TrimSpace(b))
	}
	if !json.Valid([]byte(payload)) {
		return usageErrorf("the payload is not valid JSON: %.80q", payload)
	}
	j.Payload = []byte(payload)
	d, err := c.openWrite(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	// The queue checks the job (queue.ValidateJob's rules); a field it
	// refuses is a usage error naming the flag or argument.
	res, err := d.q.Enqueue(ctx, j)
	if err != nil {
		return jobFlagError(err)
	}
	if c.json {
		return writeJSON(stdout, wire.EnqueueResult{ID: res.ID, Duplicate: res.Duplicate})
	}
	if res.Duplicate {
		fmt.Fprintf(stderr, "duplicate: job %d holds unique key %q; nothing enqueued\n", res.ID, j.UniqueKey)
	}
	fmt.Fprintf(stdout, "%d\n", res.ID)
	return nil
}

// flagOf names the flag or argument of enqueue that sets a NewJob field.
var flagOf = map[string]string{"Kind": "KIND", "Queue": "-queue", "Priority": "-priority", "Delay": "-delay",
	"UniqueKey": "-unique", "OrderKey": "-order-key", "PartitionKey": "-partition-key", "MaxAttempts": "-max-attempts", "Payload": "JSON"}

// jobFlagError turns the queue's *InvalidJobError about a field enqueue's
// flags set into a usage error naming the flag.
func jobFlagError(err error) error {
	var ie *queue.InvalidJobError
	if errors.As(err, &ie) {
		if name, ok := flagOf[ie.Field]; ok {
			return usageErrorf("%s: %s", name, ie.Reason)
		}
	}
	return err
}

const retryAbout = `Usage: spool retry [flags] ID
       spool retry -dead (-queue Q | -kind K | -all) [flags]

Retry moves a dead job back to pending with its attempts reset; it keeps
its ID and its error history. With -dead it retries every dead job of a
queue and/or kind, or with -all every dead job.

A dead job whose unique key a live job holds again (a newer delivery of
the same event, made by replay) stays dead: retry names the job holding
the key. With -dead the other jobs are retried all the same, and the ones
that stayed dead are listed (on stderr, or under "skipped" with -json) and
the exit status is 1.

Flags:
`

func runRetry(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("retry", retryAbout, stderr, true)
	sel := addDeadFlags(c, "retry", "retries")
	pos, err := c.parse(args, "ID?")
	if err != nil {
		return err
	}
	if sel.dead {
		f, err := sel.filter(pos)
		if err != nil {
			return err
		}
		d, err := c.openWrite(ctx)
		if err != nil {
			return err
		}
		defer d.Close()
		res, err := d.q.Inspector().RetryDead(ctx, f)
		if err != nil {
			return storeError(err, "")
		}
		if err := retried(c, stdout, wire.NewRetryResult(0, res.Retried, res.Skipped), "retried "+plural(res.Retried, "dead job")); err != nil {
			return err
		}
		if len(res.Skipped) == 0 {
			return nil
		}
		for _, k := range res.Skipped {
			fmt.Fprintf(stderr, "job %d stayed dead: its unique key %q is held by live job %d\n", k.JobID, k.Key, k.HolderID)
		}
		return fmt.Errorf("%s stayed dead: a live job holds each one's unique key; retry them once the holders have finished, or delete one of each pair", plural(len(res.Skipped), "dead job"))
	}
	id, err := sel.jobID(pos)
	if err != nil {
		return err
	}
	d, err := c.openWrite(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	switch err := d.q.Inspector().Retry(ctx, id); {
	case errors.Is(err, queue.ErrNotDead):
		state := "not dead"
		if j, gerr := d.q.Inspector().Get(ctx, id); gerr == nil {
			state = string(j.State)
		}
		return fmt.Errorf("job %d is %s: only dead jobs can be retried", id, state)
	case err != nil:
		return storeError(err, idArg(id))
	}
	return retried(c, stdout, wire.RetryResult{ID: id, Retried: 1}, fmt.Sprintf("retried job %d", id))
}

// deadSelection is what retry and delete take: one job ID, or -dead with
// -queue, -kind or -all.
type deadSelection struct {
	verbs string // "retries", "deletes"
	dead  bool
	f     queue.DeadFilter
}

// addDeadFlags adds -dead, -queue, -kind and -all to c, for verb ("retry")
// and its third person (verbs: "retries").
func addDeadFlags(c *cmdline, verb, verbs string) *deadSelection {
	sel := &deadSelection{verbs: verbs}
	c.fs.BoolVar(&sel.dead, "dead", false, verb+" the dead jobs selected by -queue, -kind or -all")
	c.fs.StringVar(&sel.f.Queue, "queue", "", "with -dead: the dead jobs of queue `name`")
	c.fs.StringVar(&sel.f.Kind, "kind", "", "with -dead: the dead jobs of kind `name`")
	c.fs.BoolVar(&sel.f.All, "all", false, "with -dead: every dead job (narrowed by -queue and -kind when given)")
	return sel
}

// jobID checks the one-job form and returns its ID.
func (sel *deadSelection) jobID(pos []string) (int64, error) {
	switch {
	case len(pos) == 0:
		return 0, usageErrorf("missing job ID (or -dead with -queue, -kind or -all)")
	case sel.f.Queue != "" || sel.f.Kind != "" || sel.f.All:
		return 0, usageErrorf("-queue, -kind and -all select dead jobs with -dead, not with a job ID")
	}
	return parseID(pos[0])
}

// filter checks the -dead form and returns its filter.
func (sel *deadSelection) filter(pos []string) (queue.DeadFilter, error) {
	switch {
	case len(pos) > 0:
		return sel.f, usageErrorf("-dead selects jobs by -queue, -kind or -all; drop the job ID %s", pos[0])
	case sel.f.Queue == "" && sel.f.Kind == "" && !sel.f.All:
		return sel.f, usageErrorf("-dead needs -queue, -kind or -all (-all %s every dead job)", sel.verbs)
	}
	return sel.f, errors.Join(checkName("-queue", sel.f.Queue), checkName("-kind", sel.f.Kind))
}

// retried prints what a retry did: res with -json, else msg.
func retried(c *cmdline, stdout io.Writer, res wire.RetryResult, msg string) error {
	if c.json {
		return writeJSON(stdout, res)
	}
	_, err := fmt.Fprintln(stdout, msg)
	return err
}

const cancelAbout = `Usage: spool cancel [flags] ID

Cancel cancels a pending or scheduled job at once. A running job's worker
sees the request at its next heartbeat and cancels the handler's context;
the job ends cancelled unless the handler completes first.

Flags:
`

func runCancel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("cancel", cancelAbout, stderr, true)
	id, err := c.jobID(args)
	if err != nil {
		return err
	}
	d, err := c.openWrite(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	state, err := d.q.Inspector().Cancel(ctx, id)
	switch {
	case errors.Is(err, queue.ErrNotCancellable):
		state := "finished"
		if j, gerr := d.q.Inspector().Get(ctx, id); gerr == nil {
			state = string(j.State)
		}
		if state == string(queue.StateCancelled) {
			return fmt.Errorf("job %d is already cancelled", id)
		}
		return fmt.Errorf("job %d is %s: only pending, scheduled, blocked or running jobs can be cancelled", id, state)
	case err != nil:
		return storeError(err, idArg(id))
	}
	res := wire.NewCancelResult(id, state)
	if c.json {
		return writeJSON(stdout, res)
	}
	if res.CancelRequested {
		fmt.Fprintf(stdout, "job %d is running: cancel requested; its worker stops it at the next heartbeat\n", id)
		return nil
	}
	fmt.Fprintf(stdout, "cancelled job %d\n", id)
	return nil
}

const deleteAbout = `Usage: spool delete [flags] ID
       spool delete -dead (-queue Q | -kind K | -all) [flags]

Delete removes a job that is not running (pending, scheduled, blocked,
completed, cancelled or dead) for good. Cancel a running job first.
With -dead it removes the dead jobs of a queue or kind, or every dead job
(-all), and only dead ones; a dead job that held its ordering key frees it.

Flags:
`

func runDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("delete", deleteAbout, stderr, true)
	sel := addDeadFlags(c, "delete", "deletes")
	pos, err := c.parse(args, "ID?")
	if err != nil {
		return err
	}
	if sel.dead {
		return deleteDead(ctx, c, stdout, sel, pos)
	}
	id, err := sel.jobID(pos)
	if err != nil {
		return err
	}
	d, err := c.openWrite(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	switch err := d.q.Inspector().Delete(ctx, id); {
	case errors.Is(err, queue.ErrRunning):
		return fmt.Errorf("job %d is running: cancel it first ('spool cancel %d')", id, id)
	case err != nil:
		return storeError(err, idArg(id))
	}
	if c.json {
		return writeJSON(stdout, wire.DeleteResult{ID: id, Deleted: 1})
	}
	fmt.Fprintf(stdout, "deleted job %d\n", id)
	return nil
}

// deleteDead is 'spool delete -dead'.
func deleteDead(ctx context.Context, c *cmdline, stdout io.Writer, sel *deadSelection, pos []string) error {
	f, err := sel.filter(pos)
	if err != nil {
		return err
	}
	d, err := c.openWrite(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	n, err := d.q.Inspector().DeleteDead(ctx, f)
	if err != nil {
		return storeError(err, "")
	}
	if c.json {
		return writeJSON(stdout, wire.DeleteResult{Deleted: n})
	}
	_, err = fmt.Fprintf(stdout, "deleted %s\n", plural(n, "dead job"))
	return err
}

const runNowAbout = `Usage: spool run-now [flags] ID

Run-now makes a scheduled job (waiting for its run time, or for a retry's
backoff to end) ready at once; its attempts so far count on. A job in any
other state is refused (exit 1), an unknown one is exit 3.

Flags:
`

func runRunNow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("run-now", runNowAbout, stderr, false)
	id, err := c.jobID(args)
	if err != nil {
		return err
	}
	d, err := c.openWrite(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	switch err := d.q.Inspector().RunNow(ctx, id); {
	case errors.Is(err, queue.ErrNotScheduled):
		return fmt.Errorf("%w: only a scheduled job can be run now", err)
	case err != nil:
		return storeError(err, idArg(id))
	}
	fmt.Fprintf(stdout, "job %d is ready to run\n", id)
	return nil
}

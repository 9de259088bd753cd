package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spooljobs/spool/queue"
)

// listParams is a validated job list filter, as the jobs and dead pages
// and the API take it in the query string.
type listParams struct {
	Queue  string
	Kind   string
	State  queue.State
	Search string
	Before int64
	Limit  int
}

// filter returns the queue.ListFilter for one page, asking for one job
// more than the page shows to learn whether an older page exists.
func (p listParams) filter() queue.ListFilter {
	return queue.ListFilter{Queue: p.Queue, Kind: p.Kind, State: p.State, Search: p.Search, BeforeID: p.Before, Limit: p.Limit + 1, OmitPayload: true}
}

// values encodes p as query parameters, leaving out defaults.
func (p listParams) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("queue", p.Queue)
	set("kind", p.Kind)
	set("state", string(p.State))
	set("q", p.Search)
	if p.Before > 0 {
		v.Set("before", strconv.FormatInt(p.Before, 10))
	}
	if p.Limit != DefaultPageSize && p.Limit != 0 {
		v.Set("limit", strconv.Itoa(p.Limit))
	}
	return v
}

// params reads parameters strictly: each at most once, none unknown.
type params struct {
	v   url.Values
	err error
}

// query parses the request's query string strictly: a malformed one is a
// 400, not silently dropped pairs.
func query(r *http.Request) (url.Values, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errBadRequest("malformed query string: %v", err)
	}
	return v, nil
}

// readQuery reads the request's query parameters, allowing the keys.
func readQuery(r *http.Request, allowed ...string) *params {
	v, err := query(r)
	if err != nil {
		return &params{err: err}
	}
	return readParams(v, allowed...)
}

// readParams checks that v holds only the allowed keys, each once.
func readParams(v url.Values, allowed ...string) *params {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return &params{err: errBadRequest("unknown parameter %q: this page takes no parameters", k)}
			}
			return &params{err: errBadRequest("unknown parameter %q (this page takes %s)", k, strings.Join(allowed, ", "))}
		}
		if k != "ids" && len(v[k]) > 1 {
			return &params{err: errBadRequest("parameter %q is given %d times; give it once", k, len(v[k]))}
		}
	}
	return &params{v: v}
}

func (p *params) str(key string) string {
	if p.err != nil {
		return ""
	}
	s := p.v.Get(key)
	if !utf8.ValidString(s) {
		p.err = errBadRequest("parameter %q is not valid UTF-8", key)
		return ""
	}
	return s
}

// name reads a queue or kind name (empty allowed).
func (p *params) name(key string) string {
	s := p.str(key)
	if s == "" || p.err != nil {
		return ""
	}
	if err := queue.ValidName(s); err != nil {
		p.err = errBadRequest("parameter %q: %v", key, err)
		return ""
	}
	return s
}

func (p *params) state(key string) queue.State {
	s := queue.State(p.str(key))
	if s == "" || p.err != nil {
		return ""
	}
	if !s.Valid() {
		names := make([]string, len(queue.States))
		for i, st := range queue.States {
			names[i] = string(st)
		}
		p.err = errBadRequest("parameter %q: unknown state %.40q (want one of %s)", key, string(s), strings.Join(names, ", "))
		return ""
	}
	return s
}

func (p *params) search(key string) string {
	s := p.str(key)
	if p.err != nil {
		return ""
	}
	if len(s) > MaxSearchLen {
		p.err = errBadRequest("parameter %q is %d bytes long; the longest search is %d bytes", key, len(s), MaxSearchLen)
		return ""
	}
	return s
}

// int reads an integer in [lo, hi], or def when the parameter is absent.
func (p *params) int(key string, lo, hi, def int64) int64 {
	s := p.str(key)
	if s == "" || p.err != nil {
		return def
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		p.err = errBadRequest("parameter %q is %.40q; want a whole number from %d to %d", key, s, lo, hi)
		return def
	}
	return n
}

// ids reads every value of key (and key's single value from "id") as job
// IDs.
func (p *params) ids(key string) []int64 {
	if p.err != nil {
		return nil
	}
	vals := p.v[key]
	if len(vals) > MaxIDs {
		p.err = errBadRequest("%d job IDs in one request; at most %d", len(vals), MaxIDs)
		return nil
	}
	out := make([]int64, 0, len(vals))
	for _, s := range vals {
		id, err := parseID(s)
		if err != nil {
			p.err = err
			return nil
		}
		out = append(out, id)
	}
	return out
}

func (p *params) bool(key string) bool {
	switch s := p.str(key); s {
	case "", "0", "false":
		return false
	case "1", "true", "on":
		return true
	default:
		if p.err == nil {
			p.err = errBadRequest("parameter %q is %.40q; want 1 or 0", key, s)
		}
		return false
	}
}

// parseID reads a job ID from a path segment or parameter.
func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, errBadRequest("job ID %.40q is not a positive whole number", s)
	}
	return id, nil
}

// listKeys are the query parameters of job lists.
var listKeys = []string{"queue", "kind", "state", "q", "before", "limit"}

// parseList reads a job list filter. withState is false for the dead list,
// whose state is fixed.
func (p *params) list(withState bool) listParams {
	lp := listParams{
		Queue:  p.name("queue"),
		Kind:   p.name("kind"),
		Search: p.search("q"),
		Before: p.int("before", 1, 1<<63-1, 0),
		Limit:  int(p.int("limit", 1, MaxPageSize, DefaultPageSize)),
	}
	if withState {
		lp.State = p.state("state")
	} else {
		lp.State = queue.StateDead
	}
	return lp
}

// flash is the notice a page shows after an action redirected to it.
type flash struct {
	Done string
	N    int64
	Name string // the schedule or subscription acted on
	// Skipped counts the dead jobs a retry left dead (a live job holds
	// their unique key); Held lists the first maxHeld of them.
	Skipped int64
	Held    []heldPair
	// Refused counts the jobs a bulk cancel or delete left as they were.
	Refused int64
	// Stopped says why a bulk cancel or delete stopped before the end of
	// its selection; Remaining counts the ticked jobs it did not reach.
	Stopped   string
	Remaining int64
}

// heldPair is a dead job a retry left dead and the live job holding its
// unique key.
type heldPair struct{ job, holder int64 }

// maxHeld bounds the jobs a retry's notice names (they travel in the
// redirect's URL); the count covers them all.
const maxHeld = 10

// formatHeld encodes the first maxHeld skipped jobs as the "held" flash
// parameter: "job:holder,job:holder".
func formatHeld(skipped []queue.KeyHeldError) string {
	var b strings.Builder
	for i, k := range skipped[:min(len(skipped), maxHeld)] {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d:%d", k.JobID, k.HolderID)
	}
	return b.String()
}

// held reads the "held" flash parameter (see formatHeld).
func (p *params) held(key string) []heldPair {
	s := p.str(key)
	if s == "" || p.err != nil {
		return nil
	}
	parts := strings.Split(s, ",")
	if len(parts) > maxHeld {
		p.err = errBadRequest("parameter %q names %d jobs; at most %d", key, len(parts), maxHeld)
		return nil
	}
	out := make([]heldPair, len(parts))
	for i, part := range parts {
		j, h, ok := strings.Cut(part, ":")
		job, err1 := strconv.ParseInt(j, 10, 64)
		holder, err2 := strconv.ParseInt(h, 10, 64)
		if !ok || err1 != nil || err2 != nil || job <= 0 || holder <= 0 {
			p.err = errBadRequest("parameter %q is %.40q; want job:holder pairs of job IDs, comma-separated", key, s)
			return nil
		}
		out[i] = heldPair{job, holder}
	}
	return out
}

var flashKeys = []string{"done", "n"}

// jobsFlashKeys are the jobs list's flash parameters: a bulk cancel or
// delete there counts the jobs it left as they were.
var jobsFlashKeys = []string{"done", "n", "refused", "stopped", "remaining"}

// deadFlashKeys are the dead page's flash parameters: a retry there names
// the jobs it left dead.
var deadFlashKeys = []string{"done", "n", "skipped", "held"}

// flashNameKeys are the flash parameters of the pages whose actions name
// a schedule or subscription.
var flashNameKeys = []string{"done", "n", "name"}

var flashDone = []string{"retried", "deleted", "cancelled", "cancel-requested", "ran-now", "paused", "resumed",
	"schedule-paused", "schedule-resumed", "triggered", "replayed"}

func (p *params) flash() flash {
	f := flash{Done: p.str("done"), N: p.int("n", 0, 1<<31, 0), Name: p.name("name"),
		Skipped: p.int("skipped", 0, 1<<31, 0), Held: p.held("held"), Refused: p.int("refused", 0, 1<<31, 0),
		Stopped: p.str("stopped"), Remaining: p.int("remaining", 0, 1<<31, 0)}
	if f.Stopped != "" && f.Stopped != stopBudget && f.Stopped != stopMaxBulk && f.Stopped != stopCancelled && p.err == nil {
		p.err = errBadRequest("parameter \"stopped\" is %.40q; want %s, %s or %s", f.Stopped, stopBudget, stopMaxBulk, stopCancelled)
	}
	if f.Done != "" && !slices.Contains(flashDone, f.Done) && p.err == nil {
		p.err = errBadRequest("parameter \"done\" is %.40q; want one of %s", f.Done, strings.Join(flashDone, ", "))
	}
	return f
}

// Text returns the notice as a sentence.
func (f flash) Text() string {
	plural := func(n int64, one, many string) string {
		if n == 1 {
			return one
		}
		return fmt.Sprintf(many, n)
	}
	switch f.Done {
	case "retried":
		if f.Skipped > 0 {
			return f.skippedText()
		}
		if f.N == 0 {
			return "No dead job matched: nothing was retried."
		}
		return plural(f.N, "Retried 1 job: it is pending again.", "Retried %d jobs: they are pending again.")
	case "deleted":
		if f.N == 0 {
			return "Nothing was deleted." + f.refusedText() + f.stoppedText()
		}
		return plural(f.N, "Deleted 1 job.", "Deleted %d jobs.") + f.refusedText() + f.stoppedText()
	case "cancelled":
		if f.N == 0 {
			return "Nothing was cancelled." + f.refusedText() + f.stoppedText()
		}
		return plural(f.N, "Job cancelled.", "Cancelled %d jobs.") + f.refusedText() + f.stoppedText()
	case "cancel-requested":
		return "Cancel requested: the worker stops the job at its next heartbeat."
	case "ran-now":
		return "Job ready: it runs as soon as a worker is free."
	case "paused":
		return "Queue paused: workers lease no new jobs from it. Running jobs finish."
	case "resumed":
		return "Queue resumed."
	case "schedule-paused":
		return "Schedule " + f.Name + " paused: its ticks are skipped in every process until it is resumed. Trigger now still runs it."
	case "schedule-resumed":
		return "Schedule " + f.Name + " resumed: it runs again from its next tick. The ticks that passed while it was paused are skipped."
	case "triggered":
		return "Schedule " + f.Name + " triggered: the next round of a scheduler that has it registered enqueues one job."
	case "replayed":
		switch f.N {
		case 0:
			return "Replay to subscription " + f.Name + " made no jobs: each event in the range still has a live job there, or has not been delivered to it yet."
		case 1:
			return "Replay to subscription " + f.Name + " made 1 job."
		}
		return fmt.Sprintf("Replay to subscription %s made %d jobs.", f.Name, f.N)
	}
	return ""
}

// skippedText is the notice of a retry that left jobs dead: how many were
// retried, how many stayed dead and, for the first ones, which live job
// holds each one's unique key.
func (f flash) skippedText() string {
	var b strings.Builder
	switch f.N {
	case 0:
		b.WriteString("Retried no job. ")
	case 1:
		b.WriteString("Retried 1 job: it is pending again. ")
	default:
		fmt.Fprintf(&b, "Retried %d jobs: they are pending again. ", f.N)
	}
	if f.Skipped == 1 {
		b.WriteString("1 job stayed dead: a live job holds its unique key (")
	} else {
		fmt.Fprintf(&b, "%d jobs stayed dead: a live job holds each one's unique key (", f.Skipped)
	}
	for i, h := range f.Held {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "job %d held by job %d", h.job, h.holder)
	}
	if more := f.Skipped - int64(len(f.Held)); more > 0 {
		if len(f.Held) > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "and %d more", more)
	}
	if f.Skipped == 1 {
		b.WriteString("). Retry it once the holder has finished, or delete one of the two.")
	} else {
		b.WriteString("). Retry them once their holders have finished, or delete one of each pair.")
	}
	return b.String()
}

// refusedText is the sentence a bulk action's notice ends with when it
// left some selected jobs as they were.
func (f flash) refusedText() string {
	switch f.Refused {
	case 0:
		return ""
	case 1:
		return " 1 selected job had started or finished meanwhile and was left as it is."
	}
	return fmt.Sprintf(" %d selected jobs had started or finished meanwhile and were left as they are.", f.Refused)
}

// stoppedText is the sentence a bulk action's notice ends with when it
// stopped before the end of its selection: why, how much is left when
// known, and to run it again for the rest.
func (f flash) stoppedText() string {
	why := ""
	switch f.Stopped {
	case "":
		return ""
	case stopBudget:
		why = "It stopped to answer in time"
	case stopMaxBulk:
		why = fmt.Sprintf("It stopped after %s jobs, the most one action changes", formatNum(MaxBulk))
	case stopCancelled:
		why = "It stopped when the request was cancelled"
	}
	switch f.Remaining {
	case 0:
		return " " + why + ": more jobs may match; run it again for the rest."
	case 1:
		return " " + why + ": 1 selected job was not reached; run it again for the rest."
	}
	return fmt.Sprintf(" %s: %d selected jobs were not reached; run it again for the rest.", why, f.Remaining)
}

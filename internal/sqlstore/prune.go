package sqlstore

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/spooljobs/spool/queue"
)

// PruneCut is one delete of a store's Prune, one per state (completed,
// cancelled or dead): the jobs in State finished before the cut-off of the
// first rule that matches their queue and kind, else before Default.
// Rules holds each rule's queue, kind ("" matches any) and cut-off, in rule
// order, as the arguments of CutSQL. Cut-offs are in the store's
// microseconds, KeepCut for a rule that keeps the state's jobs. Latest is
// the latest cut-off of all: the delete walks its state's index up to it,
// once, however many rules there are (a pass per rule walked the jobs that
// rules with a longer retention keep once per rule, under SQLite's write
// lock).
type PruneCut struct {
	State   queue.State
	Latest  int64
	Default int64
	Rules   []any
}

// CutSQL is the SQL expression of a job's cut-off under n rules: the
// cut-off of the first rule whose queue and kind match the row's columns
// queue and kind, else the default. ph(i) is the placeholder of argument
// i (from 0) of the rules' arguments (PruneCut.Rules), def the default's.
// The SQL's shape depends on n only; every value is an argument.
func CutSQL(n int, ph func(i int) string, def string) string {
	if n == 0 {
		return def
	}
	var b strings.Builder
	b.WriteString("CASE")
	for i := range n {
		fmt.Fprintf(&b, " WHEN %s IN ('', queue) AND %s IN ('', kind) THEN %s", ph(3*i), ph(3*i+1), ph(3*i+2))
	}
	fmt.Fprintf(&b, " ELSE %s END", def)
	return b.String()
}

// KeepCut is the cut-off of a rule (or default) that keeps its jobs: no
// time is before it.
const KeepCut int64 = math.MinInt64

// PruneCuts returns the deletes that apply p's job cut-offs and rules, us
// converting a time to the store's microseconds. A state whose cut-offs
// are all zero (kept) has none.
func PruneCuts(p queue.PruneParams, us func(time.Time) int64) []PruneCut {
	var cuts []PruneCut
	for _, st := range []queue.State{queue.StateCompleted, queue.StateCancelled, queue.StateDead} {
		cut := func(completed, cancelled, dead time.Time) time.Time {
			switch st {
			case queue.StateCompleted:
				return completed
			case queue.StateCancelled:
				return cancelled
			}
			return dead
		}
		c := PruneCut{State: st, Latest: KeepCut, Default: KeepCut}
		micros := func(t time.Time) int64 {
			if t.IsZero() {
				return KeepCut
			}
			m := us(t)
			c.Latest = max(c.Latest, m)
			return m
		}
		c.Rules = make([]any, 0, 3*len(p.Rules))
		for _, r := range p.Rules {
			c.Rules = append(c.Rules, r.Queue, r.Kind, micros(cut(r.CompletedBefore, r.CancelledBefore, r.DeadBefore)))
		}
		c.Default = micros(cut(p.CompletedBefore, p.CancelledBefore, p.DeadBefore))
		if c.Latest == KeepCut {
			continue
		}
		cuts = append(cuts, c)
	}
	return cuts
}

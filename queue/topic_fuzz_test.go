package queue_test

import (
	"strings"
	"testing"
	"time"

	"github.com/spooljobs/spool/queue"
)

// refMatch is the obviously correct topic matcher the fuzz target checks
// MatchTopic against: plain recursion over the words, "*" one word, "#"
// zero or more. It takes exponential time with several "#", so the fuzz
// target gives it only short inputs.
func refMatch(p, t []string) bool {
	if len(p) == 0 {
		return len(t) == 0
	}
	switch p[0] {
	case "#":
		for i := 0; i <= len(t); i++ {
			if refMatch(p[1:], t[i:]) {
				return true
			}
		}
		return false
	case "*":
		return len(t) > 0 && refMatch(p[1:], t[1:])
	default:
		return len(t) > 0 && p[0] == t[0] && refMatch(p[1:], t[1:])
	}
}

// refMaxWords bounds the inputs given to refMatch (at most C(2n, n)
// calls: 12870 for 8 words).
const refMaxWords = 8

// matchMaxBytes bounds the inputs the fuzz target times: any stored
// pattern or topic is far shorter (128 bytes).
const matchMaxBytes = 4096

// FuzzMatchTopic checks MatchTopic against refMatch, that a valid topic
// matches itself as a pattern, and that matching does bounded work: a
// fixed number of allocations whatever the input, and (as a sanity check
// only, with a bound a thousand times the expected cost) no exponential
// backtracking over many "#" words.
//
// Run it longer with:
//
//	go test ./queue -run '^$' -fuzz '^FuzzMatchTopic$' -fuzztime 60s
func FuzzMatchTopic(f *testing.F) {
	for _, s := range [][2]string{
		{"orders.created", "orders.created"},
		{"orders.*", "orders.created"},
		{"orders.*", "orders"},
		{"orders.#", "orders"},
		{"orders.#", "orders.line.added"},
		{"#", "anything.at.all"},
		{"#.added", "added"},
		{"orders.#.added", "orders.line.item.added"},
		{"a.*.#", "a"},
		{"*.*", "a.b.c"},
		{"#.#.#.#.#.#.#.x", "a.a.a.a.a.a.a.a"},
		{"#.a.#.a.#.a.#.b", "a.a.a.a.a.a.a.a"},
		{"", ""},
		{"#", ""},
		{"*", ""},
		{".", "."},
		{"a..b", "a..b"},
		{"a.#", "a."},
		{"#", "*"},
		{"*", "#"},
		{"a*b", "axb"},
		{"orders.#", "orders.#"},
		{strings.Repeat("#.", 63) + "x", strings.Repeat("a.", 63) + "b"},
		{strings.Repeat("*.#.", 32) + "z", strings.Repeat("y.", 200) + "y"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, topic string) {
		if len(pattern) > matchMaxBytes || len(topic) > matchMaxBytes {
			t.Skip("longer than any stored pattern or topic")
		}
		got := queue.MatchTopic(pattern, topic)
		p, w := strings.Split(pattern, "."), strings.Split(topic, ".")
		if len(p) <= refMaxWords && len(w) <= refMaxWords {
			if want := refMatch(p, w); got != want {
				t.Fatalf("MatchTopic(%q, %q) = %v; the reference matcher says %v", pattern, topic, got, want)
			}
		}
		if queue.ValidTopic(topic) == nil {
			if queue.ValidPattern(topic) != nil {
				t.Fatalf("topic %q is valid but refused as a pattern", topic)
			}
			if !queue.MatchTopic(topic, topic) {
				t.Fatalf("topic %q does not match itself", topic)
			}
			if !queue.MatchTopic("#", topic) {
				t.Fatalf("topic %q does not match %q", topic, "#")
			}
		}
		if queue.ValidPattern(pattern) == nil && queue.ValidTopic(pattern) == nil && got != (pattern == topic) {
			t.Fatalf("pattern %q without wildcards: MatchTopic(.., %q) = %v", pattern, topic, got)
		}

		// Bounded work. Allocations do not grow with the input (a
		// memoising backtracker would allocate per state); the average of
		// ten runs keeps a stray allocation of another goroutine out...
		if allocs := testing.AllocsPerRun(10, func() { queue.MatchTopic(pattern, topic) }); allocs > 4 {
			t.Fatalf("MatchTopic(%q, %q) made %v allocations; want at most 4 whatever the input", pattern, topic, allocs)
		}
		// ...and the time is that of len(p) × len(t) steps, at most 2049²
		// here: a few milliseconds. The best of three runs must stay under
		// a second, which only exponential backtracking exceeds.
		best := time.Hour
		for range 3 {
			start := time.Now()
			queue.MatchTopic(pattern, topic)
			best = min(best, time.Since(start))
		}
		if best > time.Second {
			t.Fatalf("MatchTopic(%q, %q) took %v (best of 3); want bounded work", pattern, topic, best)
		}
	})
}

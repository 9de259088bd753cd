package main

import "strings"

// "Did you mean": the command closest to a mistyped one.

// suggest returns the name of the command closest to name, by edit
// distance, when it is close enough to be a typo: within one edit for
// short names, two for longer ones. It returns "" when none is, or when
// two are equally close.
func suggest(name string) string {
	name = strings.ToLower(name)
	limit := 1
	if len(name) > 4 {
		limit = 2
	}
	best, bestD, tie := "", limit+1, false
	for _, c := range commands() {
		d := editDistance(name, c.name)
		switch {
		case d < bestD:
			best, bestD, tie = c.name, d, false
		case d == bestD:
			tie = true
		}
	}
	if tie || bestD > limit {
		return ""
	}
	return best
}

// editDistance is the Damerau-Levenshtein distance (optimal string
// alignment) between a and b, in bytes: the insertions, deletions,
// substitutions and swaps of neighbours that turn a into b.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

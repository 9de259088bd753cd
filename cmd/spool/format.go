package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spooljobs/spool/internal/wire"
)

// Output: JSON values, aligned tables and the formatting of their cells.

// writeJSON prints v as the one JSON value of a command's output.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// newTable returns a writer for an aligned table; Flush it at the end.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// row writes one tab-separated table row. Cells are made printable: job
// data is anyone's text, and must not drive the terminal.
func row(w io.Writer, cells ...any) {
	for i, c := range cells {
		if i > 0 {
			fmt.Fprint(w, "\t")
		}
		fmt.Fprint(w, printable(strings.ReplaceAll(fmt.Sprint(c), "\t", " ")))
	}
	fmt.Fprint(w, "\n")
}

// fmtTime formats t in UTC for tables; "-" for the zero time.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// fmtAgo says how long before now t is ("3m12s ago", "in 20s"); "-" for
// the zero time.
func fmtAgo(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return wire.Ago(t, now, "")
}

// fmtDuration rounds d to its largest unit or two: 45s, 3m12s, 5h3m, 4d2h;
// "-" for none.
func fmtDuration(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return wire.Duration(d, "")
}

// oneLine shortens s to its first line and at most n runes, for a table
// cell.
func oneLine(s string, n int) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i] + " …"
	}
	s = strings.ReplaceAll(s, "\t", " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// yesNo is a table cell for a flag.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// plural says n of a noun, given in the singular: "1 job", "2 jobs", "0
// processes" ("es" after s, x, ch and sh).
func plural[N ~int | ~int64](n N, noun string) string {
	if n == 1 || n == -1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	for _, end := range []string{"s", "x", "ch", "sh"} {
		if strings.HasSuffix(noun, end) {
			return fmt.Sprintf("%d %ses", n, noun)
		}
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

package wire

import (
	"strconv"
	"strings"
	"time"
)

// Duration rounds a positive d to its largest unit or two, with sep
// between them: 45s, 3m12s, 5h3m, 4d2h (sep ""), or 3m 12s (sep " ").
// Below a second it is in milliseconds.
func Duration(d time.Duration, sep string) string {
	two := func(a int64, ua string, b int64, ub string) string {
		if b == 0 {
			return strconv.FormatInt(a, 10) + ua
		}
		return strconv.FormatInt(a, 10) + ua + sep + strconv.FormatInt(b, 10) + ub
	}
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	case d < time.Hour:
		return two(int64(d/time.Minute), "m", int64(d%time.Minute/time.Second), "s")
	case d < 48*time.Hour:
		return two(int64(d/time.Hour), "h", int64(d%time.Hour/time.Minute), "m")
	default:
		return two(int64(d/(24*time.Hour)), "d", int64(d%(24*time.Hour)/time.Hour), "h")
	}
}

// Ago says how long before now t is, with Duration's sep: "3m12s ago",
// "in 20s", "just now". Callers show the zero time their own way.
func Ago(t, now time.Time, sep string) string {
	d := now.Sub(t)
	if d < 0 {
		return "in " + Duration(-d, sep)
	}
	if d < time.Second {
		return "just now"
	}
	return Duration(d, sep) + " ago"
}

// Num writes n with sep between groups of three digits: 1 234 567.
func Num(n int, sep string) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(c)
	}
	return b.String()
}

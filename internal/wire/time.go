package wire

import "time"

// UTC returns t in UTC for a JSON field that may be null: nil for the zero
// time.
func UTC(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

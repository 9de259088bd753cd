package postgres

import (
	"database/sql"
	"fmt"
	"time"
)

// Times are stored as microseconds since the Unix epoch (bigint), read
// back in the local zone as package sqlite reads them.

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us) }

// nullMicros is t's microseconds, or NULL for the zero time.
func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return micros(t)
}

// fromNullMicros is the time of a nullable column, zero for NULL.
func fromNullMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}

// nullString is s, or NULL when empty.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// sprintf builds query text from constant parts at init (never with data).
func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

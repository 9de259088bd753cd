package postgres

import (
	"fmt"
)

// nullString is s, or NULL when empty.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// sprintf builds query text from constant parts at init (never with data).
func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

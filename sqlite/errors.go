package sqlite

import (
	"errors"
	"fmt"

	"github.com/spooljobs/spool/queue"
)

// SQLite primary result codes this package translates.
const (
	codeBusy     = 5
	codeLocked   = 6
	codeReadOnly = 8
	codeIOErr    = 10
	codeCorrupt  = 11
	codeFull     = 13
	codeCantOpen = 14
	codeNotADB   = 26
)

// mapErr wraps SQLite errors that callers act on in queue's sentinel errors,
// keeping the driver's message: errors.Is(err, queue.ErrBusy) and the text
// still says what SQLite said.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var coder interface{ Code() int }
	if !errors.As(err, &coder) {
		return err
	}
	switch coder.Code() & 0xff {
	case codeBusy, codeLocked:
		return fmt.Errorf("%w (another connection or process held the write lock past the busy timeout): %v", queue.ErrBusy, err)
	case codeReadOnly:
		return fmt.Errorf("%w: %v", queue.ErrReadOnly, err)
	case codeFull:
		return fmt.Errorf("%w: %v", queue.ErrFull, err)
	case codeCorrupt:
		// Extended codes (SQLITE_CORRUPT_INDEX, _SEQUENCE, _VTAB) too.
		return fmt.Errorf("%w (%s): %w", queue.ErrCorrupt, corruptAdvice, err)
	case codeNotADB:
		return fmt.Errorf("sqlite: file is not a SQLite database (or its header is damaged): %w: %w", queue.ErrCorrupt, err)
	case codeCantOpen:
		return fmt.Errorf("sqlite: cannot open the database file: %w", err)
	}
	return err
}

// corruptAdvice is what to do about a corrupt database file.
const corruptAdvice = "run 'spool check' or PRAGMA integrity_check, then restore the file from a backup or salvage it with the sqlite3 shell's .recover"

// fatal reports whether err dooms every operation of a batch alike, so that
// running them one by one would only fail again.
func fatal(err error) bool {
	return errors.Is(err, queue.ErrBusy) || errors.Is(err, queue.ErrReadOnly) ||
		errors.Is(err, queue.ErrFull) || errors.Is(err, queue.ErrClosed) || errors.Is(err, queue.ErrFileGone)
}

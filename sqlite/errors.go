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
	case codeNotADB:
		return fmt.Errorf("sqlite: file is not a SQLite database: %w", err)
	case codeCantOpen:
		return fmt.Errorf("sqlite: cannot open the database file: %w", err)
	}
	return err
}

// fatal reports whether err dooms every operation of a batch alike, so that
// running them one by one would only fail again.
func fatal(err error) bool {
	return errors.Is(err, queue.ErrBusy) || errors.Is(err, queue.ErrReadOnly) ||
		errors.Is(err, queue.ErrFull) || errors.Is(err, queue.ErrClosed) || errors.Is(err, queue.ErrFileGone)
}

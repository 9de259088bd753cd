package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/spooljobs/spool/queue"
)

// PostgreSQL error codes the store maps to queue's sentinels.
const (
	codeReadOnlyTx       = "25006" // read_only_sql_transaction (a hot standby)
	codeDiskFull         = "53100"
	codeOutOfMemory      = "53200"
	codeLockTimeout      = "55P03"
	codeSerialization    = "40001"
	codeDeadlock         = "40P01"
	codeUndefinedTable   = "42P01"
	codeUndefinedSchema  = "3F000"
	codeInsufficientPriv = "42501"
)

// mapErr wraps the queue sentinel that err stands for, keeping err's text.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case codeReadOnlyTx, codeInsufficientPriv:
		return fmt.Errorf("%w: %w", queue.ErrReadOnly, err)
	case codeDiskFull, codeOutOfMemory:
		return fmt.Errorf("%w: %w", queue.ErrFull, err)
	case codeLockTimeout:
		return fmt.Errorf("%w: %w", queue.ErrBusy, err)
	}
	return err
}

// retryable reports whether a transaction failed only because it raced
// another (a serialization failure or a deadlock): run again, it succeeds.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == codeSerialization || pe.Code == codeDeadlock)
}

// ctxErr prefers the context's cause when ctx ended.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && err != nil {
		return fmt.Errorf("%w (%w)", context.Cause(ctx), err)
	}
	return err
}

// isCode reports whether err is a PostgreSQL error with the given code.
func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

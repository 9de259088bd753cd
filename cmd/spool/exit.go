package main

import "fmt"

// Exit statuses beyond 0 (ok), 1 (failed) and 2 (usage).
const (
	// exitNotFound: the job, schedule, subscription or topic named on the
	// command line does not exist.
	exitNotFound = 3
	// exitNoDatabase: the database file is missing, is not a spool
	// database, or has a schema this spool cannot use.
	exitNoDatabase = 4
)

// exitError is a failure with its own exit status (exitNotFound,
// exitNoDatabase); run prints it like any other failure.
type exitError struct {
	code int
	err  error
	// why classifies the error for errors.Is without adding to its text.
	why error
}

func (e *exitError) Error() string { return e.err.Error() }

func (e *exitError) Unwrap() []error {
	if e.why != nil {
		return []error{e.err, e.why}
	}
	return []error{e.err}
}

// ExitCode is the process exit status for the error.
func (e *exitError) ExitCode() int { return e.code }

func notFoundf(format string, a ...any) error {
	return &exitError{code: exitNotFound, err: fmt.Errorf(format, a...)}
}

func noDatabasef(format string, a ...any) error {
	return &exitError{code: exitNoDatabase, err: fmt.Errorf(format, a...)}
}

// notSpool is exit status 4 for a file that is not a spool database this
// spool can use, for the reason why.
func notSpool(why error, format string, a ...any) error {
	return &exitError{code: exitNoDatabase, err: fmt.Errorf(format, a...), why: why}
}

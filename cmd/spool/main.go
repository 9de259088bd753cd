// Command spool works with a spool database file from the shell.
//
//	spool help [command]
//	spool stats                       jobs per queue and state, recent throughput
//	spool ls [-queue Q] [-state S] [-kind K] [-search T] [-limit N] [-before ID]
//	spool show ID
//	spool enqueue [-queue Q] [-priority P] [-delay D] [-unique KEY] [-order-key KEY] [-max-attempts N] KIND [JSON]
//	spool retry ID
//	spool retry -dead (-queue Q | -kind K | -all)
//	spool cancel ID
//	spool delete ID
//	spool pause QUEUE
//	spool resume QUEUE
//	spool schedules [pause|resume|trigger NAME]
//	spool topics
//	spool subs
//	spool events [-from N] [-to M] [-limit L] [-newest] TOPIC
//	spool replay -topic T [-from N] [-to M] SUBSCRIPTION
//	spool admin [-addr :8080] [-user admin] [-password PW | -no-auth] [-read-only] [-prefix /admin]
//	spool migrate
//	spool vacuum
//	spool check [-full]
//	spool bench [flags]
//
// Every command but bench works on a spool database named by -db: a file
// path, or a PostgreSQL URL (postgres://user@host/db, with
// spool_schema=NAME for a schema other than "spool"); without -db, the
// SPOOL_DB environment variable. Only migrate creates or migrates a file
// or schema; the other commands open it read-only to read, and check that
// it is a spool database before they write. check and vacuum are for
// SQLite files. Flags and
// arguments may come in any order. Output is an aligned table, or with
// -json one JSON value on stdout, in the shapes of the admin's JSON API
// (both print internal/wire's); notes and hints go to stderr.
//
// Exit status:
//
//	0  success
//	1  the command failed (a database error, a job in the wrong state)
//	2  invalid usage: an unknown command or flag, a bad flag value, a
//	   missing argument
//	3  not found: an unknown job ID, schedule, subscription or topic
//	4  the database file is missing, is not a spool database, or has a
//	   schema this spool cannot use (spool migrate creates and migrates)
//
// A failing command prints what is wrong on stderr and changes nothing,
// but for retry -dead: it retries the jobs it can and exits 1 naming the
// ones that stayed dead (a live job holds their unique key).
//
// Each subcommand lives in its own file (bench.go for bench) and is listed
// in commands below. What they share: cmdline.go (the -db and -json flags,
// argument parsing), open.go (opening the file), exit.go (exit statuses),
// errors.go (errors to exit statuses), format.go (JSON, tables, cells) and
// escape.go (terminal-safe text).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand of spool.
type command struct {
	// name is what the user types: "spool <name>".
	name string
	// summary is one line for "spool help".
	summary string
	// run runs the command with the arguments after its name. It prints
	// its results to stdout and progress and diagnostics to stderr. A
	// *usageError means the user asked for something invalid (exit 2);
	// flag.ErrHelp means usage was printed on request (exit 0).
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists the subcommands in the order "spool help" shows them.
func commands() []*command {
	return []*command{
		statsCommand, psCommand, lsCommand, showCommand, enqueueCommand, retryCommand, cancelCommand, deleteCommand, runNowCommand,
		pauseCommand, resumeCommand, schedulesCommand, batchesCommand, topicsCommand, subsCommand, eventsCommand, replayCommand,
		adminCommand, migrateCommand, vacuumCommand, checkCommand, benchCommand,
	}
}

func lookup(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// usageError reports arguments that are invalid: an unknown flag or
// scenario, a bad value. The command exits with status 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, a ...any) error {
	return &usageError{err: fmt.Errorf(format, a...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches args to a subcommand and returns the process exit status:
// 0 on success, 1 when the command failed, 2 for invalid usage, or the
// status an error carries (exitError: 3 not found, 4 no spool database).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) < 2 {
			printUsage(stdout)
			return 0
		}
		c := lookup(args[1])
		if c == nil {
			fmt.Fprintf(stderr, "spool help: unknown command %q%s\n\n", args[1], didYouMean(args[1]))
			printUsage(stderr)
			return 2
		}
		// A command prints its usage for -h; send it to stdout.
		if err := c.run(ctx, []string{"-h"}, stdout, stdout); err != nil && !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "spool help %s: %v\n", c.name, err)
			return 1
		}
		return 0
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(stderr, "spool: unknown command %q%s\n\n", name, didYouMean(name))
		printUsage(stderr)
		return 2
	}
	err := c.run(ctx, args[1:], stdout, stderr)
	var ue *usageError
	var xe *exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "spool %s: %v\nRun 'spool help %s' for usage.\n", c.name, err, c.name)
		return 2
	case errors.As(err, &xe):
		fmt.Fprintf(stderr, "spool %s: %v\n", c.name, err)
		return xe.code
	default:
		fmt.Fprintf(stderr, "spool %s: %v\n", c.name, err)
		return 1
	}
}

// didYouMean is the hint after an unknown command: "; did you mean
// stats?", or "" when no command is close.
func didYouMean(name string) string {
	if s := suggest(name); s != "" {
		return "; did you mean " + s + "?"
	}
	return ""
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "spool works with a spool job database.\n\nUsage:\n\n\tspool <command> [flags]\n\nCommands:\n\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "\t%-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'spool help <command>' for a command's flags.\n")
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spooljobs/spool/queue"
)

// The flags every database command has (-db and -json), the parsing of
// flags and arguments in any order, and the checks of common arguments.

// dbEnv is the environment variable that names the database when -db is
// not given.
const dbEnv = "SPOOL_DB"

// cmdline is the flag set of one command with the flags every database
// command has: -db and, unless noJSON, -json.
type cmdline struct {
	fs     *flag.FlagSet
	about  string // the usage text before the flag list
	stderr io.Writer
	db     string
	json   bool
}

// newCmdline starts a command's flag set. about is its usage text, ending
// with the line that introduces the flags.
func newCmdline(name, about string, stderr io.Writer, withJSON bool) *cmdline {
	c := &cmdline{fs: flag.NewFlagSet(name, flag.ContinueOnError), about: about, stderr: stderr}
	c.fs.SetOutput(io.Discard)
	c.fs.StringVar(&c.db, "db", "", "database file `path` or postgres:// URL (default $"+dbEnv+")")
	if withJSON {
		c.fs.BoolVar(&c.json, "json", false, "print one JSON value on stdout instead of a table")
	}
	return c
}

func (c *cmdline) usage() {
	fmt.Fprint(c.stderr, c.about)
	c.fs.VisitAll(func(f *flag.Flag) {
		name, text := flag.UnquoteUsage(f)
		if name != "" {
			name = " " + name
		}
		switch def := f.DefValue; {
		case def == "" || def == "0" || def == "false" || def == "0s":
		case fmt.Sprintf("%T", f.Value) == "*flag.stringValue":
			text += fmt.Sprintf(" (default %q)", def)
		default:
			text += fmt.Sprintf(" (default %s)", def)
		}
		fmt.Fprintf(c.stderr, "  -%s%s\n    \t%s\n", f.Name, name, text)
	})
}

// parse parses args, flags and arguments in any order ("--" ends the
// flags), and checks the arguments against names: one per argument, with
// a "?" suffix for an optional one. -h prints the usage and returns
// flag.ErrHelp; a bad flag or a missing or extra argument is a
// *usageError.
func (c *cmdline) parse(args []string, names ...string) ([]string, error) {
	var pos []string
	for {
		if err := c.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.usage()
				return nil, err
			}
			return nil, &usageError{err: err}
		}
		rest := c.fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	for i, n := range names {
		if i >= len(pos) && !strings.HasSuffix(n, "?") {
			return nil, usageErrorf("missing %s", n)
		}
	}
	if len(pos) > len(names) {
		return nil, usageErrorf("unexpected argument %q", pos[len(names)])
	}
	return pos, nil
}

// path returns the database path: -db, else $SPOOL_DB.
func (c *cmdline) path() (string, error) {
	if c.db != "" {
		return c.db, nil
	}
	if p := os.Getenv(dbEnv); p != "" {
		return p, nil
	}
	return "", usageErrorf("no database: set -db PATH (or a postgres:// URL) or the %s environment variable", dbEnv)
}

// parseID reads a job ID argument.
func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErrorf("job id %q is not a positive integer", s)
	}
	return id, nil
}

// idArg is a job ID as the command line gave it, for messages.
func idArg(id int64) string { return strconv.FormatInt(id, 10) }

// checkName checks a queue or kind name given with flag.
func checkName(flagName, v string) error {
	if v == "" {
		return nil
	}
	if err := queue.ValidName(v); err != nil {
		return usageErrorf("%s: %v", flagName, err)
	}
	return nil
}

// jobID parses args as the one job ID a command takes.
func (c *cmdline) jobID(args []string) (int64, error) {
	pos, err := c.parse(args, "job ID")
	if err != nil {
		return 0, err
	}
	return parseID(pos[0])
}

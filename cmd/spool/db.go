package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// The commands that work on an existing database file share what is here:
// the -db and -json flags, opening the file without ever creating or
// migrating it, the exit statuses 3 and 4, and the output helpers.

// Exit statuses beyond 0 (ok), 1 (failed) and 2 (usage).
const (
	// exitNotFound: the job, schedule, subscription or topic named on the
	// command line does not exist.
	exitNotFound = 3
	// exitNoDatabase: the database file is missing, is not a spool
	// database, or has a schema this spool cannot use.
	exitNoDatabase = 4
)

// dbEnv is the environment variable that names the database when -db is
// not given.
const dbEnv = "SPOOL_DB"

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
	c.fs.StringVar(&c.db, "db", "", "database `path` (default $"+dbEnv+")")
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
	return "", usageErrorf("no database: set -db PATH or the %s environment variable", dbEnv)
}

// db is an open database: the store and a queue over it.
type db struct {
	path  string
	store *sqlite.Store
	q     *queue.Queue
}

func (d *db) Close() error { return d.store.Close() }

// openRead opens the database read-only: it never creates, migrates or
// changes the file.
func (c *cmdline) openRead(ctx context.Context) (*db, error) {
	path, err := c.path()
	if err != nil {
		return nil, err
	}
	return openDB(ctx, path, true)
}

// openWrite opens the database for writing after checking, read-only,
// that the file exists and is a spool database of this spool's schema, so
// that a write command never creates or migrates a file.
func (c *cmdline) openWrite(ctx context.Context) (*db, error) {
	path, err := c.path()
	if err != nil {
		return nil, err
	}
	ro, err := openDB(ctx, path, true)
	if err != nil {
		return nil, err
	}
	if err := ro.Close(); err != nil {
		return nil, err
	}
	return openDB(ctx, path, false)
}

// openDB opens path, which must be an existing spool database, and turns
// the ways it is not into errors that name the file (exit status 4).
func openDB(ctx context.Context, path string, readOnly bool) (*db, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, werr := os.Lstat(path + "-wal"); werr == nil {
			// The database file was lost and its log left: migrate would
			// not help (sqlite.Open refuses to start afresh over the log).
			return nil, noDatabasef("no such file %s, but its write-ahead log %s-wal exists: restore the database file next to it, "+
				"or remove %s-wal (and %s-shm) if its transactions are not needed", path, path, path, path)
		}
		return nil, noDatabasef("no such file %s (create a database with 'spool migrate -db %s')", path, path)
	case err != nil:
		return nil, err
	case fi.IsDir():
		return nil, noDatabasef("%s is a directory, not a spool database", path)
	case !fi.Mode().IsRegular():
		return nil, noDatabasef("%s is not a regular file, not a spool database", path)
	}
	store, err := sqlite.Open(ctx, path, sqlite.Options{ReadOnly: readOnly, CheckpointInterval: -1})
	if err != nil {
		return nil, openError(path, err)
	}
	q, err := queue.New(store, queue.Options{})
	if err != nil {
		store.Close()
		return nil, err
	}
	return &db{path: path, store: store, q: q}, nil
}

// Why an existing file is not a database the commands can use; wrapped in
// the exit status 4 errors of openError.
var (
	errNotSQLite     = errors.New("not an SQLite file")
	errNoSpoolTables = errors.New("it has no spool tables")
	errOlderSchema   = errors.New("older schema")
	errNewerSchema   = errors.New("newer schema")
)

// openError classifies an error of sqlite.Open on an existing file.
func openError(path string, err error) error {
	var coder interface{ Code() int }
	msg := err.Error()
	switch {
	case errors.Is(err, queue.ErrBusy), errors.Is(err, queue.ErrReadOnly), errors.Is(err, context.Canceled):
		return err
	case errors.As(err, &coder) && coder.Code()&0xff == 26: // SQLITE_NOTADB
		return notSpool(errNotSQLite, "%s is not a spool database (not an SQLite file)", path)
	case errors.As(err, &coder) && coder.Code()&0xff == 14: // SQLITE_CANTOPEN: permissions and the like
		return err
	case strings.Contains(msg, "not a spool database"):
		return notSpool(errNoSpoolTables, "%s is not a spool database (it has no spool tables)", path)
	}
	// The schema check says "schema version N, this spool uses M" (a
	// read-only open) or "schema version N, newer than this spool's M".
	if i := strings.Index(msg, "schema version "); i >= 0 {
		var have, want int
		if _, serr := fmt.Sscanf(msg[i:], "schema version %d, this spool uses %d", &have, &want); serr != nil {
			if _, serr := fmt.Sscanf(msg[i:], "schema version %d, newer than this spool's %d", &have, &want); serr != nil {
				return err
			}
		}
		if have > want {
			return notSpool(errNewerSchema, "%s has schema version %d, newer than this spool's %d: upgrade spool", path, have, want)
		}
		return notSpool(errOlderSchema, "%s has schema version %d, this spool uses %d: run 'spool migrate -db %s'", path, have, want, path)
	}
	return err
}

// storeError turns the queue's not-found errors into exit status 3 and
// invalid arguments into usage errors; other errors pass unchanged.
func storeError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, queue.ErrNotFound), errors.Is(err, queue.ErrScheduleNotFound):
		return &exitError{code: exitNotFound, err: err}
	case errors.Is(err, queue.ErrInvalidArgument):
		return &usageError{err: err}
	}
	return err
}

// parseID reads a job ID argument.
func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErrorf("job id %q is not a positive integer", s)
	}
	return id, nil
}

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

// writeJSON prints v as the one JSON value of a command's output.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// newTable returns a writer for an aligned table; Flush it at the end.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// row writes one tab-separated table row. Cells are made printable: job
// data is anyone's text, and must not drive the terminal.
func row(w io.Writer, cells ...any) {
	for i, c := range cells {
		if i > 0 {
			fmt.Fprint(w, "\t")
		}
		fmt.Fprint(w, printable(strings.ReplaceAll(fmt.Sprint(c), "\t", " ")))
	}
	fmt.Fprint(w, "\n")
}

// timePtr is t in UTC for JSON, nil for the zero time.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// fmtTime formats t in UTC for tables; "-" for the zero time.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// fmtAgo says how long before now t is ("3m12s ago", "in 20s").
func fmtAgo(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	if d < 0 {
		return "in " + fmtDuration(-d)
	}
	if d < time.Second {
		return "just now"
	}
	return fmtDuration(d) + " ago"
}

// fmtDuration rounds d to its largest unit or two: 45s, 3m12s, 5h3m, 4d2h.
func fmtDuration(d time.Duration) string {
	two := func(a int64, ua string, b int64, ub string) string {
		if b == 0 {
			return strconv.FormatInt(a, 10) + ua
		}
		return strconv.FormatInt(a, 10) + ua + strconv.FormatInt(b, 10) + ub
	}
	switch {
	case d <= 0:
		return "-"
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

// printable escapes what a terminal would act on instead of showing:
// control characters (escape sequences among them) as \xNN, other
// invisible formatting (bidirectional overrides, say) as \uNNNN. Newlines
// and tabs stay.
func printable(s string) string {
	if !strings.ContainsFunc(s, needsEscape) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case !needsEscape(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			fmt.Fprintf(&b, "\\u%04x", r)
		}
	}
	return b.String()
}

func needsEscape(r rune) bool {
	if r == '\n' || r == '\t' {
		return false
	}
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || (!unicode.IsPrint(r) && !unicode.IsSpace(r))
}

// oneLine shortens s to its first line and at most n runes, for a table
// cell.
func oneLine(s string, n int) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i] + " …"
	}
	s = strings.ReplaceAll(s, "\t", " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// yesNo is a table cell for a flag.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

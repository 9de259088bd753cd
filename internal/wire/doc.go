// Package wire defines the JSON that spool's admin API and the spool
// command's -json output print: one Go type per shape (a job, a page of
// jobs, queue stats, a schedule, a topic, a subscription, an event, the
// result of an action, an error), with the snake_case names both use, and
// constructors from the queue's types. Times are in UTC; a time that has
// not happened is null.
//
// It also holds the small text helpers both print with: durations ("3m12s"),
// relative times ("in 20s") and grouped numbers ("1 234").
//
// The package is internal: the shapes are documented to users by the
// admin package's doc and the command's help, not as Go API.
package wire

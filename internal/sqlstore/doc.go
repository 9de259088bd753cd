// Package sqlstore is the logic spool's two SQL stores (packages sqlite
// and postgres) share around their different SQL: reading rows, listing
// embedded migrations, building a job list's query from fixed fragments,
// gathering throughput counts and stats, grouping completions for one
// statement. Each store keeps its own SQL and its own clock; what is here
// is the same rule for both, written once. Rules of the Store contract
// itself live in package queue, not here.
package sqlstore

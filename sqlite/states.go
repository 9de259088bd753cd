package sqlite

import "github.com/spooljobs/spool/internal/sqlstore"

// Job states as stored in spool_jobs.state (the schema's CHECK and partial
// indexes in migrations/0001_init.sql name the same numbers). A dead job
// has no state code: it lives in spool_dead.
const (
	stPending   = sqlstore.CodePending
	stScheduled = sqlstore.CodeScheduled
	stRunning   = sqlstore.CodeRunning
	stCompleted = sqlstore.CodeCompleted
	stCancelled = sqlstore.CodeCancelled
	stBlocked   = sqlstore.CodeBlocked
)

// The same states as SQL literals, for the text of queries. A query names
// its states as literals, never as bound parameters: SQLite uses a partial
// index (spool_jobs_ready is WHERE state = 0) only for a query whose WHERE
// clause implies the index's, literal for literal. The sets keep the
// order of the partial indexes' IN lists for the same reason. Only these
// constants are concatenated into SQL; states_internal_test.go checks that
// they spell the codes above.
const (
	pendingSQL   = "0"
	scheduledSQL = "1"
	runningSQL   = "2"
	completedSQL = "3"
	cancelledSQL = "4"
	blockedSQL   = "5"

	// waitingSQL: the states of a job not yet started (spool_jobs_expiry).
	waitingSQL = "(" + pendingSQL + ", " + scheduledSQL + ", " + blockedSQL + ")"
	// liveSQL: the states of a job that holds its unique key
	// (spool_jobs_unique).
	liveSQL = "(" + pendingSQL + ", " + scheduledSQL + ", " + runningSQL + ", " + blockedSQL + ")"
	// keyHeadRangeSQL: the states of the head of an ordering key
	// (orderkeys.go), as a range (the three codes follow each other): one test of the head's row where IN makes three.
	keyHeadRangeSQL = "BETWEEN " + pendingSQL + " AND " + runningSQL
	// finishedSQL: the states of a job kept after it ended
	// (spool_jobs_finished).
	finishedSQL = "(" + completedSQL + ", " + cancelledSQL + ")"
)

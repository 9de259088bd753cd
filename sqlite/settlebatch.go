package sqlite

import (
	"context"
	"strings"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Completions that delete their job are settled settleChunk at a time, one
// statement per lease token: a lease hands all its jobs one token, so a
// settle batch holds few. RETURNING names the jobs whose lease still held;
// a short chunk repeats its last id, which IN ignores.
const settleChunk = 64

var (
	sqlCompleteDeleteChunk = `DELETE FROM spool_jobs WHERE lease_token = ? AND state = ` + runningSQL + `
  AND id IN (` + strings.TrimSuffix(strings.Repeat("?, ", settleChunk), ", ") + `)`
	sqlCompleteDeleteChunkReturning = sqlCompleteDeleteChunk + ` RETURNING id`
)

const (
	sqlSavepoint         = `SAVEPOINT spool_settle`
	sqlReleaseSavepoint  = `RELEASE spool_settle`
	sqlRollbackSavepoint = `ROLLBACK TO spool_settle`
)

// completeDeleteBatched settles the completions that delete their job,
// grouped by lease token, settleChunk per statement
// (sqlstore.DeleteGroups). It marks in done the settlements it handled and
// sets errs for those whose lease was lost.
func completeDeleteBatched(ctx context.Context, x *xtx, settlements []queue.Settlement, errs []error) ([]bool, error) {
	groups, done := sqlstore.DeleteGroups(settlements, settleChunk)
	for _, group := range groups {
		if err := completeDeleteChunk(ctx, x, settlements, group, errs); err != nil {
			return nil, err
		}
	}
	return done, nil
}

// completeDeleteChunk deletes the jobs of the settlements group indexes,
// all under one lease token, in one statement, and sets errs for those
// whose lease was lost.
func completeDeleteChunk(ctx context.Context, x *xtx, settlements []queue.Settlement, group []int, errs []error) error {
	args := make([]any, 0, 1+settleChunk)
	args = append(args, settlements[group[0]].Token)
	for _, k := range group {
		args = append(args, settlements[k].JobID)
	}
	for len(args) < 1+settleChunk {
		args = append(args, settlements[group[len(group)-1]].JobID)
	}
	for _, k := range group {
		errs[k] = nil
	}
	all, err := deleteIfAllHeld(ctx, x, args, len(group))
	if err != nil || all {
		return err
	}
	rows, err := x.query(ctx, sqlCompleteDeleteChunkReturning, args...)
	if err != nil {
		return err
	}
	ids, err := collect(rows, scanID)
	if err != nil {
		return err
	}
	sqlstore.MarkDeleted(settlements, group, ids, errs)
	return nil
}

// deleteIfAllHeld runs sqlCompleteDeleteChunk and keeps its work only when
// it deleted all want jobs: the common case, where every lease still
// holds, needs no RETURNING. Otherwise it undoes the delete, so the caller
// can find out which leases were lost.
func deleteIfAllHeld(ctx context.Context, x *xtx, args []any, want int) (bool, error) {
	if _, err := x.exec(ctx, sqlSavepoint); err != nil {
		return false, err
	}
	r, err := x.exec(ctx, sqlCompleteDeleteChunk, args...)
	if err == nil {
		if n, _ := r.RowsAffected(); int(n) == want {
			_, err = x.exec(ctx, sqlReleaseSavepoint)
			return err == nil, err
		}
	}
	// Undo even when ctx has ended: in a caller's transaction the
	// savepoint must not stay open.
	cleanup := context.WithoutCancel(ctx)
	if _, rerr := x.exec(cleanup, sqlRollbackSavepoint); rerr != nil && err == nil {
		err = rerr
	}
	if _, rerr := x.exec(cleanup, sqlReleaseSavepoint); rerr != nil && err == nil {
		err = rerr
	}
	return false, err
}

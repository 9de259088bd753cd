package sqlite

import (
	"context"
	"strings"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Completions that delete their job are settled settleChunk at a time, one
// statement per lease token: a lease hands all its jobs one token, so a
// settle batch holds few. A short chunk repeats its last id, which IN
// ignores. Plain jobs go first, in a statement that returns nothing; the
// tracked ones (tracked.go) after them, with RETURNING, so that their rows
// go too; RETURNING also names the jobs whose lease still held when one
// was lost.
const settleChunk = 64

var (
	sqlCompleteDeleteChunk = `DELETE FROM spool_jobs WHERE lease_token = ? AND state = ` + runningSQL + `
  AND id IN (` + strings.TrimSuffix(strings.Repeat("?, ", settleChunk), ", ") + `)`
	sqlCompleteDeleteChunkPlain     = sqlCompleteDeleteChunk + ` AND NOT tracked`
	sqlCompleteDeleteChunkReturning = sqlCompleteDeleteChunk + ` RETURNING id, tracked`
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
// all under one lease token, and the rows of those that were tracked, and
// sets errs for those whose lease was lost.
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
	deleted, err := deleteReturning(ctx, x, args)
	if err != nil {
		return err
	}
	ids := make([]int64, len(deleted))
	var tracked []int64
	for i, d := range deleted {
		ids[i] = d.id
		if d.tracked {
			tracked = append(tracked, d.id)
		}
	}
	sqlstore.MarkDeleted(settlements, group, ids, errs)
	return dropTracked(ctx, x, tracked)
}

// deletedJob is a row of sqlCompleteDeleteChunkReturning.
type deletedJob struct {
	id      int64
	tracked bool
}

// deleteReturning runs sqlCompleteDeleteChunkReturning.
func deleteReturning(ctx context.Context, x *xtx, args []any) ([]deletedJob, error) {
	rows, err := x.query(ctx, sqlCompleteDeleteChunkReturning, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r scanner) (deletedJob, error) {
		var d deletedJob
		return d, r.Scan(&d.id, &d.tracked)
	})
}

// deleteIfAllHeld deletes the chunk's jobs, plain ones first
// (sqlCompleteDeleteChunkPlain), then tracked ones with their rows, and
// keeps its work only when it deleted all want jobs: the common case,
// where every lease still holds, needs no RETURNING when no job is
// tracked. Otherwise it undoes the deletes, so the caller can find out
// which leases were lost.
func deleteIfAllHeld(ctx context.Context, x *xtx, args []any, want int) (bool, error) {
	if _, err := x.exec(ctx, sqlSavepoint); err != nil {
		return false, err
	}
	all, err := deletePlainThenTracked(ctx, x, args, want)
	if err == nil && all {
		_, err = x.exec(ctx, sqlReleaseSavepoint)
		return err == nil, err
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

// deletePlainThenTracked is deleteIfAllHeld's work inside its savepoint.
func deletePlainThenTracked(ctx context.Context, x *xtx, args []any, want int) (bool, error) {
	r, err := x.exec(ctx, sqlCompleteDeleteChunkPlain, args...)
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	if int(n) == want {
		return true, nil
	}
	deleted, err := deleteReturning(ctx, x, args)
	if err != nil || int(n)+len(deleted) != want {
		return false, err
	}
	ids := make([]int64, len(deleted))
	for i, d := range deleted {
		ids[i] = d.id
	}
	return true, dropTracked(ctx, x, ids)
}

package sqlitetest

import (
	"context"
	"testing"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// FileWithJobs creates a spool database at path holding n pending jobs of
// kind and closes it, so that CorruptPage may damage it: enough rows for
// the jobs table and its indexes to have root pages of their own.
func FileWithJobs(tb testing.TB, path, kind string, n int) {
	tb.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	q, err := queue.New(s, queue.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	jobs := make([]queue.NewJob, n)
	for i := range jobs {
		jobs[i] = queue.NewJob{Kind: kind}
	}
	if _, err := q.EnqueueMany(ctx, jobs); err != nil {
		tb.Fatal(err)
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
}

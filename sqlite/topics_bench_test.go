package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/queuetest"
	"github.com/spooljobs/spool/sqlite"
)

// BenchmarkPublishFanOut publishes events from 16 goroutines to three
// subscriptions (queuetest.BenchPublishFanOut).
//
//	go test -run '^$' -bench PublishFanOut -benchtime 20000x ./sqlite/
func BenchmarkPublishFanOut(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	q, err := queue.New(st, queue.Options{})
	if err != nil {
		b.Fatal(err)
	}
	queuetest.BenchPublishFanOut(b, q)
}

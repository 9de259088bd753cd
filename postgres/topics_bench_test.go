package postgres_test

import (
	"context"
	"testing"

	"github.com/spooljobs/spool/internal/pgtest"
	"github.com/spooljobs/spool/postgres"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/queuetest"
)

// BenchmarkPublishFanOut publishes events from 16 goroutines to three
// caught-up subscriptions (queuetest.BenchPublishFanOut).
//
//	SPOOL_REQUIRE_POSTGRES=1 go test -run '^$' -bench PublishFanOut -benchtime 3000x ./postgres/
func BenchmarkPublishFanOut(b *testing.B) {
	url := pgtest.URL(b)
	st, err := postgres.Open(context.Background(), url, postgres.Options{Schema: pgtest.Schema(b, url), MaxConns: 16})
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

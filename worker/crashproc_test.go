package worker_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"

	"github.com/spooljobs/spool/queue"
)

// crashProc is what the worker process of an ordering, pipeline or batch
// crash test starts from: its run name, a queue on the store its parent
// named (crashDBFromEnv), the append-only log its handlers write (O_APPEND
// writes survive SIGKILL), and a seeded draw, so a failing seed replays.
type crashProc struct {
	run    string
	logger *slog.Logger
	q      *queue.Queue
	log    *os.File
	close  func()

	mu  sync.Mutex
	rng *rand.Rand
}

// openCrashProc reads SPOOL_TEST_LOG, SPOOL_TEST_RUN and SPOOL_TEST_SEED
// and opens the store and the log. The caller defers close.
func openCrashProc(ctx context.Context) (*crashProc, error) {
	logPath, run := os.Getenv("SPOOL_TEST_LOG"), os.Getenv("SPOOL_TEST_RUN")
	seed, err := strconv.ParseUint(os.Getenv("SPOOL_TEST_SEED"), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("SPOOL_TEST_SEED: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	store, err := crashDBFromEnv().Open(ctx, openOpts{Logger: logger})
	if err != nil {
		return nil, err
	}
	q, err := queue.New(store, queue.Options{Logger: logger})
	if err != nil {
		store.Close()
		return nil, err
	}
	logFile, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		store.Close()
		return nil, err
	}
	return &crashProc{
		run: run, logger: logger, q: q, log: logFile,
		close: func() { logFile.Close(); store.Close() },
		rng:   rand.New(rand.NewPCG(seed, uint64(len(run))<<8|uint64(run[len(run)-1]))),
	}, nil
}

// draw returns the next seeded number in [0, 100), safe for concurrent
// handlers.
func (c *crashProc) draw() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rng.IntN(100)
}

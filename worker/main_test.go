package worker_test

import (
	"testing"

	"github.com/spooljobs/spool/internal/childtest"
)

// TestMain runs the tests, or, in a child process a test started with
// childtest.Start, one of the child roles below.
func TestMain(m *testing.M) {
	childtest.Main(m, map[string]func() error{
		"crash":        crashChild,
		"twoproc":      twoProcChild,
		"open":         openChild,
		"ordercrash":   orderCrashChild,
		"pipecrash":    pipeCrashChild,
		"batchcrash":   batchCrashChild,
		"oncecrash":    onceCrashChild,
		"topicscrash":  topicsCrashChild,
		"hostworker":   hostWorkerChild,
		"hostproducer": hostProducerChild,
		"limitholder":  limitHolderChild,
	})
}

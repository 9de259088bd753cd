package queue_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/spooljobs/spool/queue"
)

// Classify is the one place that turns a handler's result into an outcome.
func ExampleClassify() {
	backoff := queue.Constant(30 * time.Second)
	for _, err := range []error{
		nil,
		errors.New("partner returned 503"),
		queue.Permanent(errors.New("card declined")),
		queue.Snooze(time.Minute),
		queue.RetryIn(2*time.Minute, errors.New("429 Too Many Requests")),
	} {
		d := queue.Classify(err, 1, 25, backoff)
		fmt.Println(d.Outcome, d.Delay)
	}
	// Output:
	// complete 0s
	// retry 30s
	// dead 0s
	// snooze 1m0s
	// retry 2m0s
}

// The default backoff grows exponentially with jitter between half and the
// whole of base·2^(attempt−1), capped at an hour.
func ExampleExponential() {
	b := queue.Exponential(time.Second, time.Hour)
	for _, attempt := range []int{1, 4, 20} {
		d := b(attempt)
		fmt.Println(attempt, d >= time.Duration(1<<(attempt-1))*time.Second/2 || d >= 30*time.Minute)
	}
	// Output:
	// 1 true
	// 4 true
	// 20 true
}

// A WaitHistogram counts waits in fixed buckets; its quantiles are
// estimates interpolated inside the bucket that holds them.
func ExampleWaitHistogram() {
	var h queue.WaitHistogram
	for range 90 {
		h.Add(40 * time.Millisecond) // bucket (10ms, 50ms]
	}
	for range 10 {
		h.Add(4 * time.Second) // bucket (2.5s, 5s]
	}
	fmt.Println(h.Count(), h.Quantile(0.5), h.Quantile(0.99))
	// Output: 100 32.222222ms 4.75s
}

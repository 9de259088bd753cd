package spoolotel

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/spooljobs/spool/queue"
)

// ObserveQueue registers the gauges of q's store, read at collection time:
// jobs per queue and state, the oldest pending job's age, paused queues,
// blocked and stuck ordering keys (from Inspector.Stats); subscriptions'
// backlog and lag (on a store with topics); and each schedule's last fire
// (on a store with schedules). One collection reads each of these once,
// within Options.ReadTimeout; a failed read skips its gauges for that
// collection and is reported to the SDK's error handler. Call the
// returned Registration's Unregister to stop.
func (i *Instrumentation) ObserveQueue(q *queue.Queue) (metric.Registration, error) {
	if q == nil {
		return nil, errNilQueue
	}
	var errs []error
	intGauge := func(name, unit, desc string) metric.Int64ObservableGauge {
		g, err := i.meter.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	floatGauge := func(name, unit, desc string) metric.Float64ObservableGauge {
		g, err := i.meter.Float64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	g := &gauges{q: q, i: i,
		jobs:    intGauge(MetricJobs, "{job}", "Jobs per queue and state."),
		oldest:  floatGauge(MetricOldestPending, "s", "How long the oldest ready job of a queue has waited past its run time."),
		paused:  intGauge(MetricPaused, "", "1 while a queue is paused, else 0."),
		blocked: intGauge(MetricBlockedKeys, "{key}", "Ordering keys with jobs waiting behind an earlier job, per queue."),
		stuck:   intGauge(MetricStuckKeys, "{key}", "Ordering keys held by a dead job, per queue."),
		backlog: intGauge(MetricBacklog, "{event}", "Events in the log not yet delivered to a subscription."),
		lag:     intGauge(MetricLag, "{job}", "Jobs delivered to a subscription and not yet handled."),
		lastRun: floatGauge(MetricScheduleLastRun, "s", "Unix time of a schedule's last fire (tick enqueued or trigger served); absent before the first."),
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return i.meter.RegisterCallback(g.observe, g.jobs, g.oldest, g.paused, g.blocked, g.stuck, g.backlog, g.lag, g.lastRun)
}

// gauges are one queue's observable gauges.
type gauges struct {
	q *queue.Queue
	i *Instrumentation

	jobs, paused, blocked, stuck, backlog, lag metric.Int64ObservableGauge
	oldest, lastRun                            metric.Float64ObservableGauge
}

// observe reads the store once and reports every gauge.
func (g *gauges) observe(ctx context.Context, o metric.Observer) error {
	ctx, cancel := context.WithTimeout(ctx, g.i.opts.ReadTimeout)
	defer cancel()
	var errs []error
	if st, err := g.q.Inspector().Stats(ctx); err != nil {
		errs = append(errs, fmt.Errorf("spoolotel: read stats: %w", err))
	} else {
		g.observeStats(o, st)
	}
	if subs, err := g.q.Topics().Subscriptions(ctx); err != nil && !errors.Is(err, queue.ErrNoTopics) {
		errs = append(errs, fmt.Errorf("spoolotel: read subscriptions: %w", err))
	} else {
		for _, s := range subs {
			q := s.Queue
			if q == "" {
				q = queue.DefaultQueue
			}
			set := metric.WithAttributes(attrSystem.String(System), AttrSubscription.String(s.Name), attrDestination.String(q))
			o.ObserveInt64(g.backlog, int64(s.Backlog), set)
			o.ObserveInt64(g.lag, int64(s.Lag), set)
		}
	}
	if ss, ok := g.q.Store().(queue.ScheduleStore); ok {
		scheds, err := ss.Schedules(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("spoolotel: read schedules: %w", err))
		}
		for _, s := range scheds {
			if s.LastRun.IsZero() {
				continue
			}
			o.ObserveFloat64(g.lastRun, float64(s.LastRun.UnixMicro())/1e6,
				metric.WithAttributes(attrSystem.String(System), AttrSchedule.String(s.Name),
					attrDestination.String(s.Queue), AttrKind.String(s.Kind)))
		}
	}
	return errors.Join(errs...)
}

// observeStats reports the gauges Stats feeds.
func (g *gauges) observeStats(o metric.Observer, st *queue.Stats) {
	for _, qs := range st.Queues {
		q := attrDestination.String(qs.Name)
		sys := attrSystem.String(System)
		for _, c := range []struct {
			state queue.State
			n     int
		}{
			{queue.StatePending, qs.Pending}, {queue.StateScheduled, qs.Scheduled}, {queue.StateBlocked, qs.Blocked},
			{queue.StateRunning, qs.Running}, {queue.StateCompleted, qs.Completed}, {queue.StateCancelled, qs.Cancelled},
			{queue.StateDead, qs.Dead},
		} {
			o.ObserveInt64(g.jobs, int64(c.n), metric.WithAttributes(sys, q, AttrState.String(string(c.state))))
		}
		set := metric.WithAttributeSet(attribute.NewSet(sys, q))
		o.ObserveFloat64(g.oldest, qs.OldestPending.Seconds(), set)
		paused := int64(0)
		if qs.Paused {
			paused = 1
		}
		o.ObserveInt64(g.paused, paused, set)
		o.ObserveInt64(g.blocked, int64(qs.BlockedKeys), set)
		o.ObserveInt64(g.stuck, int64(qs.StuckKeys), set)
	}
}

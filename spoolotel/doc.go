// Package spoolotel reports spool's work to OpenTelemetry: metrics through
// a meter provider and traces through a tracer provider, on the
// OpenTelemetry API only (an app brings the SDK and the exporters it
// wants). It adapts the core's instrumentation hook, queue.Observer.
//
//	inst, err := spoolotel.New(spoolotel.Options{}) // the global providers
//	q, err := queue.New(store, queue.Options{Observer: inst.Observer()})
//	reg, err := inst.ObserveQueue(q) // the gauges, read at collection
//	pool, err := worker.New(q, worker.Options{})
//	pool.Use(inst.Middleware()) // a consumer span per attempt
//
// # Metrics
//
// Names follow OpenTelemetry's messaging conventions where they fit
// (messaging.system is "spool" on every metric, messaging.destination.name
// is the queue, or the topic for publishes) and start with "spool." for the
// rest. Labels are bounded: queue, kind, outcome, state, subscription,
// schedule, topic; never a job ID. They are as many as the app has of
// each, though: an app that publishes to a topic per customer gets a
// series (and a span name) per customer's topic.
//
//	messaging.client.sent.messages      counter    jobs enqueued: queue, spool.job.kind, spool.enqueue.result (inserted, duplicate, refused, error)
//	messaging.client.consumed.messages  counter    jobs leased: queue
//	spool.jobs.settled                  counter    outcomes settled by worker pools: queue, spool.job.kind, spool.outcome (complete, retry, snooze, dead, cancel, release, lease_lost, error)
//	spool.jobs.rescued                  counter    jobs rescued after their lease expired: queue, spool.job.kind, spool.outcome (retry, dead)
//	spool.events.published              counter    events published: topic
//	spool.schedule.fires                counter    schedule fires: spool.schedule, spool.schedule.fire (tick, skip, trigger)
//	messaging.client.operation.duration histogram  seconds per call: messaging.operation.name send (enqueue; queue), publish (topic), receive (lease; queue), settle (one commit)
//	messaging.process.duration          histogram  seconds an attempt's handler ran: queue, spool.job.kind, spool.outcome
//	spool.job.wait.duration             histogram  seconds a job waited past its due time when its attempt started: queue, spool.job.kind
//	spool.lease.batch.size              histogram  jobs per lease call: queue
//	spool.settle.batch.size             histogram  outcomes per settle call (one commit)
//	spool.queue.jobs                    gauge      jobs: queue, spool.job.state
//	spool.queue.oldest_pending.age      gauge      seconds the oldest ready job has waited: queue
//	spool.queue.paused                  gauge      1 while paused: queue
//	spool.queue.blocked_keys            gauge      ordering keys with jobs waiting behind an earlier one: queue
//	spool.queue.stuck_keys              gauge      ordering keys held by a dead job: queue
//	spool.subscription.backlog          gauge      events not yet delivered: spool.subscription, queue
//	spool.subscription.lag              gauge      delivered jobs not yet handled: spool.subscription, queue
//	spool.schedule.last_run             gauge      unix time of the last fire: spool.schedule, queue, spool.job.kind
//
// The gauges are observable: ObserveQueue registers one callback that
// reads the store once per collection (Inspector.Stats, the
// subscriptions, the schedules), within Options.ReadTimeout.
//
// # Traces
//
// Each enqueue call gets a producer span "send <queue>", and each publish
// a producer span "publish <topic>"; its W3C trace context (traceparent,
// tracestate) is added to the jobs' metadata (for a publish, to the
// event's, which every delivered job carries). Middleware runs each
// attempt in a consumer span "process <queue>" linked to that producer
// span, in a trace of its own, or as its child with
// Options.ChildOfProducer. Spans carry the job's ID
// (messaging.message.id), kind, attempt and outcome.
package spoolotel

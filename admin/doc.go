// Package admin is spool's web admin: an http.Handler with a dashboard, job
// lists and details, schedules, topics and subscriptions, the actions an
// operator needs (retry, delete, cancel, pause, resume, trigger, replay)
// and a JSON API with the same reads and actions. It is
// html/template and embedded static files: no JavaScript build, and every
// page works without JavaScript (a small script only refreshes the pages
// in place, asks before destructive actions, and switches the times shown
// between UTC and the browser's zone: the toggle in the footer, remembered
// in the browser's localStorage).
//
// # Live pages
//
// The dashboard, /jobs, /dead, a job's page, /queues, /processes,
// /schedules, /topics and a topic's page refresh in place every
// Options.RefreshInterval: the script fetches the page's live parts,
// rendered by the server under /partial (the page's own path and query,
// so a paged list refreshes the page shown; /partial/dashboard for the
// dashboard), and swaps those that changed, keeping the ticked checkboxes
// (by job ID), open details and the scroll position. It holds a refresh
// while a confirmation is open, a form is being sent, a click is in
// progress, a text field or select has
// the focus, a key was pressed in the last 3 seconds, text is selected in
// a live part, or the tab is hidden; the "live" button in the header
// pauses and resumes it (remembered in localStorage).
//
// Every page works on a phone: no page scrolls sideways at any width. At
// 760 px wide and below the navigation wraps under the brand; at 960 px
// and below the list tables (class "stack", each cell labelled by its
// data-label) show each row as a block of labelled cells, so that a row's
// reason and buttons stay on screen.
//
// Mount it under a prefix, with authentication:
//
//	h, err := admin.New(q, admin.Options{
//		Prefix:    "/admin",
//		Authorize: admin.BasicAuth("admin", os.Getenv("SPOOL_ADMIN_PASSWORD")),
//	})
//	mux.Handle("/admin/", h)
//
// Options.Prefix is where the handler is mounted; mount it without
// http.StripPrefix, since the handler builds its links and cookie path from
// the prefix.
//
// # Pages
//
//   - / (Dashboard): per queue pending, scheduled, running and dead counts
//     (and blocked, with ordering keys), the oldest pending job's wait and
//     whether the queue is paused; the
//     last hour's completed and failed attempts per minute as a chart.
//   - /jobs: jobs newest first, filtered by queue, kind, state and text in
//     the payload or the latest error; paged by ID.
//   - /jobs/{id}: one job: payload (pretty JSON), metadata, every failed
//     attempt with its error and stack, timestamps, lease holder and
//     expiry; retry (dead), cancel (pending, scheduled, running), delete.
//   - /dead: dead jobs with the same filters; retry one, the selected ones
//     or all matching the filter; delete one or the selected ones.
//   - /queues: every known queue (with jobs, with settings, or worked by a
//     live worker pool), its concurrency summed over the live pools;
//     pause and resume. Here and on the dashboard, a queue with pending
//     jobs that no live pool works is flagged "no live worker serves this
//     queue" (on a store that implements queue.ProcessStore); when no
//     pool is live at all, a note says so once instead.
//   - /processes: the live worker pools from their heartbeat rows
//     (queue.ProcessStore): name, id, host, pid, version, start, last
//     heartbeat, and each queue's running jobs and concurrency; paged by
//     name, then ID.
//   - /charts: the last hour per queue and per kind (queue.Inspector.Charts,
//     on a store that implements queue.MetricsStore): completed and failed
//     attempts per minute, the wait (run start minus due time) p50 and p99
//     per minute on a log scale and over the hour, and each queue's pending
//     jobs and oldest pending job. Query: queue, kind (only that queue's or
//     kind's attempts), top (1 to MaxChartsTop, default
//     queue.DefaultChartsTop: the busiest series shown per list; the page
//     says how many it left out). The wait quantiles are estimates
//     interpolated inside fixed buckets (queue.WaitHistogram).
//   - /schedules: every schedule stored on the database (package
//     schedule) with its spec, time zone, job kind and queue, next and
//     previous run (also in the schedule's own zone), whether it is paused
//     or has a trigger pending; pause, resume and trigger now. With
//     Options.Schedules set, it also shows which schedules that scheduler
//     registered; without, the handler uses a scheduler of its own with
//     nothing registered, and a trigger is served by the next round of a
//     process that registered the schedule.
//   - /topics: every topic (last sequence number, first retained, events
//     retained, retention) and every subscription (pattern, metadata
//     filter, queue and kind, cursor, backlog and lag); /topics?replay=name
//     opens the replay form of one subscription: a topic it receives and a
//     range of sequence numbers, delivered to that subscription again.
//   - /topics/{name}: one topic's event log, newest first, paged by
//     sequence number (to, limit), with each event's metadata, ordering key
//     and payload (pretty JSON).
//
// # Safety
//
// Authentication is required: New fails unless Options.Authorize is set
// (BasicAuth is ready made) or Options.NoAuth says another layer
// authenticates. Options.ReadOnly hides every action and refuses every
// POST with 403.
//
// GET never changes state. Every action is a POST that must carry a CSRF
// token matching the handler's cookie (a signed double-submit cookie, with
// SameSite=Strict) and must not come from another origin (checked with
// net/http's CrossOriginProtection): forms send it in the field "csrf", API
// calls in the X-CSRF-Token header. A POST without a valid token gets 403.
// Every cookie of the CSRF name counts, so a cookie planted by a sibling
// subdomain does not lock operators out. Served over HTTPS (r.TLS, or
// X-Forwarded-Proto: https from a proxy that Options.TrustProxy says is
// trusted) the cookie is Secure and named "__Host-spool_admin_csrf".
//
// Failed logins are limited per client address: after 10 failures in a
// row, a client's requests that carry credentials get 429 Too Many
// Requests with Retry-After, unchecked, until it may try again (one more
// try per 6s). A client is an IPv4 address or an IPv6 /64; behind a
// trusted proxy, the last address of X-Forwarded-For.
//
// Every value shown is escaped by html/template: payloads, errors and
// metadata are text from outside. Control characters and invisible
// formatting characters (bidirectional overrides such as U+202E,
// zero-width spaces) show as their escapes (\u202e) in a marked span, as
// the spool command prints them, so that a kind or an error cannot read
// other than it is. Bad, unknown, repeated or out-of-range
// parameters get 400 Bad Request with a message that says what is wrong.
// Lists are bounded: job lists by ID (at most MaxPageSize jobs, keyset
// paging by ID); topics, subscriptions, queues and schedules by name, on
// their pages and in the API (query: after, a name: the entries after it;
// limit, 1 to 500, default 50; "next_after" is set when more follow: pass
// it as after); processes by name, then ID (query: after and after_id,
// the last pool's name and ID, from "next_after" and "next_after_id").
// The stores list those whole, so the paging bounds what is
// rendered and sent, not what is read. Every read runs under
// Options.QueryTimeout.
//
// A read or write that finds the database file corrupt (queue.ErrCorrupt)
// answers 500 with the store's error, and for 15 minutes after the last
// such error every page shows a banner naming the file and what to do
// (spool check, restore from a backup, sqlite3 .recover). Pages that read
// only healthy parts of the file still render under it.
//
// # JSON API
//
// The API lives under Prefix+"/api". Answers are JSON objects; errors are
// {"error": "message"} with a 4xx or 5xx status. Times are RFC 3339 in UTC.
// Authentication is the same as for the pages.
//
// Reads (GET):
//
//	/api/stats            {"now", "queues": [queue...], "throughput": [minute...],
//	                      "processes_tracked", "processes"}
//	                      minute: {"minute", "completed", "failed", "dead"},
//	                      one per minute of the last hour, oldest first
//	/api/queues           {"queues": [queue...], "next_after": name}
//	                      queue: {"name", "pending", "scheduled", "blocked",
//	                      "blocked_keys", "stuck_keys", "running",
//	                      "completed", "cancelled", "dead",
//	                      "oldest_pending_seconds", "paused", "max_pending",
//	                      "max_running", "rate_limit", "rate_period_seconds",
//	                      "max_running_per_key", "rate_limit_per_key",
//	                      "rate_period_per_key_seconds",
//	                      "workers", "concurrency", "unserved"}; workers
//	                      counts the live pools that work the queue,
//	                      concurrency sums their workers for it, unserved
//	                      flags pending jobs none of them works
//	/api/processes        {"now", "tracked", "processes": [process...],
//	                      "next_after": name, "next_after_id": id}
//	                      process: {"id", "name", "host", "pid", "version",
//	                      "started_at", "last_seen", "expires_at",
//	                      "queues": [{"name", "concurrency", "running"}]};
//	                      live pools only, by name; tracked is false for a
//	                      store that keeps no process rows
//	/api/charts           {"now", "minutes": [time...], "queue", "kind", "top",
//	                      "queues": [series...], "queues_omitted",
//	                      "kinds": [series...], "kinds_omitted", "tracked"}
//	                      series: {"name", "completed", "failed", "dead",
//	                      "attempts", "wait_p50_seconds", "wait_p99_seconds",
//	                      "pending", "oldest_pending_seconds",
//	                      "points": [{"completed", "failed", "dead",
//	                      "attempts", "wait_p50_seconds",
//	                      "wait_p99_seconds"}...]}, one point per minute;
//	                      query as for /charts
//	/api/jobs             {"jobs": [job...], "next_before": id}
//	                      query: queue, kind, state, q (text in the payload
//	                      or error), before (an ID: jobs older than it),
//	                      limit (1 to 500, default 50). next_before is set
//	                      when an older page exists: pass it as before.
//	/api/dead             like /api/jobs for dead jobs (no state parameter)
//	/api/jobs/{id}        one job, with its payload (at most its first
//	                      MaxPayloadShown bytes) and its attempt errors
//	/api/jobs/{id}/payload
//	                      the whole payload as it is, as a download:
//	                      application/json when it is UTF-8 JSON, else
//	                      application/octet-stream
//	/api/schedules        {"schedules": [schedule...], "next_after": name}
//	                      schedule: {"name", "spec", "time_zone", "kind",
//	                      "queue", "misfire", "next_run", "prev_run",
//	                      "paused", "trigger_requested_at", "registered"};
//	                      a paused schedule does not run at next_run
//	/api/topics           {"topics": [topic...], "next_after": name}
//	                      topic: {"name", "last_seq", "first_seq", "events",
//	                      "retention": {"max_age_seconds", "max_events"}}
//	/api/subscriptions    {"subscriptions": [subscription...],
//	                      "next_after": name}
//	                      subscription: {"name", "pattern", "filter",
//	                      "queue", "kind", "priority", "max_attempts",
//	                      "created_at", "cursor", "backlog", "lag"}
//	/api/topics/{name}/events
//	                      {"topic", "events": [event...], "next_from": seq}
//	                      oldest first; query: from, to (sequence numbers,
//	                      inclusive), limit (1 to 500, default 50).
//	                      next_from is set when more events follow: pass
//	                      it as from. event: {"id", "topic", "seq",
//	                      "published_at", "order_key", "metadata",
//	                      "payload_encoding", "payload", "payload_bytes",
//	                      "payload_url"}, the payload as for a job (cut
//	                      the same way, with "payload_truncated")
//	/api/topics/{name}/events/{seq}/payload
//	                      an event's whole payload, as for a job
//	/api/batches          {"batches": [batch...], "next_before": id}
//	                      newest first; query: before (an ID: batches older
//	                      than it), limit (1 to 500, default 50). batch:
//	                      {"id", "description", "created_at", "closed_at"
//	                      (absent while the batch is open), "total",
//	                      "done", "succeeded", "dead", "cancelled",
//	                      "success_job", "complete_job", "death_job"}: a
//	                      callback job appears once its moment came (0 when
//	                      the batch has no such callback)
//	/api/batches/{id}     one batch
//	/api/csrf             {"token", "header", "cookie"}: a CSRF token for
//	                      actions, and its cookie (Set-Cookie)
//
// A job is {"id", "queue", "kind", "state", "priority", "attempt",
// "max_attempts", "timeout_ms", "created_at", "run_at", "attempted_at",
// "finished_at", "leased_by", "lease_until", "cancel_requested",
// "unique_key", "order_key", "partition_key", "expires_at", "metadata",
// "last_error", "dead_reason"}; /api/jobs/{id}
// adds "payload" (the JSON itself when the payload is JSON, else a string),
// "payload_encoding" ("json", "text" or "base64"), "payload_bytes" (its
// size), "payload_url" (/api/jobs/{id}/payload) and "errors": [{"attempt",
// "at", "error", "stack"}], the kept attempt errors (the first and the
// latest; see queue.AppendAttemptError). "errors_dropped" counts the failed
// attempts whose errors were not kept, which lie after the first entry of
// "errors". Times that have not happened are null; "leased_by",
// "unique_key", "order_key", "partition_key", "metadata", "last_error",
// "dead_reason", "errors" and "errors_dropped" are left out when empty. A payload longer
// than MaxPayloadShown bytes is cut: "payload" holds its first bytes (as
// "text" when they are UTF-8, else "base64") and "payload_truncated" is
// true; fetch "payload_url" for the rest. The job page cuts it the same
// way and links to the download.
//
// Actions (POST, with the X-CSRF-Token header and the cookie of
// /api/csrf; a body, where one is taken, is JSON):
//
//	/api/jobs/{id}/retry   retry a dead job          → {"id", "retried": 1}
//	/api/jobs/{id}/cancel  cancel a job              → {"id", "state", "cancel_requested"}
//	/api/jobs/{id}/delete  delete a job (not running) → {"id", "deleted": 1}
//	/api/jobs/{id}/run-now run a scheduled job now   → {"id", "ready": true}
//	/api/jobs/cancel       {"ids": [..]} or {"all": true, "queue", "kind", "state", "q"}
//	                       cancel waiting jobs        → {"cancelled": n, "refused": m}
//	/api/jobs/delete       the same selection         → {"deleted": n, "refused": m}
//	                       (pending, scheduled and blocked jobs only, at most
//	                       MaxBulk per call and for Options.BulkBudget;
//	                       refused: started or finished meanwhile, left as
//	                       they are; stopped early: "incomplete": true,
//	                       "stopped": "budget", "max_bulk" or "cancelled",
//	                       and "remaining": the ticked IDs not reached —
//	                       run it again for the rest)
//	/api/dead/retry        {"ids": [..]} or {"all": true, "queue", "kind", "q"}
//	                                                  → {"retried": n, "skipped":
//	                                                     [{"id", "unique_key", "held_by"}]}
//	/api/dead/delete       {"ids": [..]}              → {"deleted": n}
//	/api/queues/pause      {"queue": "name"}          → {"queue", "paused": true}
//	/api/queues/resume     {"queue": "name"}          → {"queue", "paused": false}
//	/api/schedules/{name}/pause                       → {"name", "paused": true}
//	/api/schedules/{name}/resume                      → {"name", "paused": false}
//	/api/schedules/{name}/trigger                     → {"name", "trigger_requested": true}
//	/api/subscriptions/{name}/replay
//	                       {"topic", "from", "to"}    → {"subscription", "topic",
//	                                                     "from", "to", "jobs": n}
//
// A retry leaves a dead job dead while a live job holds its unique key (a
// newer delivery made by a replay): retrying that one job gets 409 Conflict
// naming the holder, and a bulk retry retries the others and lists the
// held ones in "skipped" (left out when none was), each with the job
// holding its key; the dead page's notice names them too. Retrying a job
// that is not dead, cancelling a finished job and deleting a running job
// get 409 Conflict; an unknown job, schedule, topic or
// subscription gets 404. A bulk action names at most MaxIDs jobs. Names in
// a path may contain "/" as they are (/api/topics/shop/eu.orders/events).
// A replay covers a range of at most 10000 sequence numbers within the
// topic's retained log (else 400), to a subscription whose pattern matches
// the topic (else 400); it makes a job only for events of the range
// already delivered to the subscription whose job there is not live, and
// reports how many it made. With curl:
//
//	curl -u admin:$PW -c jar -b jar https://shop.example/admin/api/csrf
//	curl -u admin:$PW -c jar -b jar -H "X-CSRF-Token: $TOKEN" \
//	     -H 'Content-Type: application/json' -d '{"all": true, "queue": "mail"}' \
//	     https://shop.example/admin/api/dead/retry
package admin

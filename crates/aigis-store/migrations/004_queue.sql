-- Version 4: the fleet's work queue (`aigis enqueue`, `aigis worker`, `aigis schedule`) and what
-- the inventory remembers of each remote object (so a re-scan fetches only what changed).
-- Lease and back-off times are milliseconds since the epoch; the rest are seconds.

-- A named queue; a paused one hands out no work (jobs running keep their leases).
CREATE TABLE job_queues (
    name TEXT PRIMARY KEY,
    paused BIGINT NOT NULL DEFAULT 0,
    changed_at BIGINT NOT NULL
);

-- One unit of work. `listing`: a bucket prefix or hub repository, split into `shard`s of
-- objects by the worker that lists it; `target`: a path (or one remote object) scanned whole;
-- `shard`: the objects in `objects` (a JSON array of URIs).
CREATE TABLE jobs (
    id {ID},
    queue TEXT NOT NULL,
    kind TEXT NOT NULL,               -- listing | target | shard
    target TEXT NOT NULL,             -- as enqueued (a shard: the listing's target)
    objects TEXT,                     -- shard: JSON array of object URIs
    parent BIGINT,                    -- shard: the listing job
    schedule_id BIGINT,               -- the schedule that enqueued it
    options TEXT NOT NULL,            -- JSON: how to reach the target (endpoint, anonymous, …)
    priority BIGINT NOT NULL,         -- higher first
    state TEXT NOT NULL,              -- queued | running | done | dead
    attempts BIGINT NOT NULL,         -- claims so far
    max_attempts BIGINT NOT NULL,
    backoff_ms BIGINT NOT NULL,       -- first retry delay; doubles per attempt
    run_after_ms BIGINT NOT NULL,     -- not claimed before
    lease_owner TEXT,
    lease_expires_ms BIGINT,
    fence BIGINT NOT NULL,            -- +1 per claim: only the newest claim may finish the job
    last_error TEXT,
    scan_id BIGINT,                   -- the inventory scan the job's result was recorded as
    files BIGINT,                     -- results recorded
    skipped BIGINT,                   -- listing: objects unchanged since the last scan
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
CREATE INDEX jobs_claim ON jobs (queue, state, priority, run_after_ms);
CREATE INDEX jobs_lease ON jobs (state, lease_expires_ms);
CREATE INDEX jobs_finished ON jobs (state, finished_at);

-- Targets enqueued again and again: any worker fires a due schedule, and exactly one does.
CREATE TABLE job_schedules (
    id {ID},
    queue TEXT NOT NULL,
    target TEXT NOT NULL,
    options TEXT NOT NULL,
    priority BIGINT NOT NULL,
    every_secs BIGINT NOT NULL,
    next_run BIGINT NOT NULL,
    last_fired BIGINT,
    last_job BIGINT,
    created_at BIGINT NOT NULL
);

-- What a remote object was when it was last recorded (its ETag, version id and size), so a
-- listing can tell which objects changed without fetching them.
CREATE TABLE location_stamps (
    location_id BIGINT PRIMARY KEY REFERENCES locations(id),
    etag TEXT,
    version TEXT,
    size BIGINT NOT NULL,
    scan_id BIGINT NOT NULL REFERENCES scans(id)
);

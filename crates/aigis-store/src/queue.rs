//! The fleet's work queue, in the inventory database (PostgreSQL for a fleet; SQLite works for
//! one machine): jobs claimed under a lease that a heartbeat extends, a fencing counter so only
//! the newest claim can finish a job, retries with a doubling back-off, a dead-letter state with
//! the last error, priorities, queues that pause, and schedules that exactly one worker fires.
//!
//! A job's result is recorded in the same transaction that marks it done, after checking its
//! fence: a worker whose lease expired (and whose job another worker claimed) records nothing,
//! and a job delivered twice is recorded once.
//!
//! Claiming is one `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED) RETURNING …` on
//! PostgreSQL, so workers never wait on each other's rows; SQLite serialises writers anyway.

use crate::ingest::{IngestSummary, ingest_in};
use crate::{Backend, Result, ScanDocument, ScanMeta, Store, StoreError};
use serde::Serialize;
use serde_json::Value;
use sqlx::{AnyConnection, Executor as _};
use std::collections::HashSet;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The longest a failed job waits before its next attempt, however many attempts it had.
const MAX_BACKOFF_MS: i64 = 3_600_000;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Lists a bucket prefix or a hub repository and enqueues its objects as shards.
    Listing,
    /// Scans a target (a path, one object) whole.
    Target,
    /// Scans the listed objects of a shard.
    Shard,
}

impl JobKind {
    fn as_str(self) -> &'static str {
        match self {
            JobKind::Listing => "listing",
            JobKind::Target => "target",
            JobKind::Shard => "shard",
        }
    }

    fn parse(text: &str) -> Result<JobKind> {
        match text {
            "listing" => Ok(JobKind::Listing),
            "target" => Ok(JobKind::Target),
            "shard" => Ok(JobKind::Shard),
            other => Err(StoreError::Invalid(format!("unknown job kind `{other}`"))),
        }
    }
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct JobSpec {
    /// The queue (`default` unless the operator splits the work).
    pub queue: String,
    /// What the job does.
    pub kind: JobKind,
    /// The target as given.
    pub target: String,
    /// How to reach it (remote endpoint, anonymous access, …) and how to scan, as JSON.
    pub options: Value,
    /// Higher runs first.
    pub priority: i64,
    /// Claims before the job is dead.
    pub max_attempts: i64,
    /// The first retry's delay; each later one doubles it (up to an hour).
    pub backoff_ms: i64,
}

/// A claimed job: what the worker holding its lease must do.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// Job id.
    pub id: i64,
    /// Queue.
    pub queue: String,
    /// What it does.
    pub kind: JobKind,
    /// The target as enqueued.
    pub target: String,
    /// A shard's objects.
    pub objects: Vec<String>,
    /// The options it was enqueued with.
    pub options: Value,
    /// Priority (shards inherit their listing's).
    pub priority: i64,
    /// This claim's attempt number (from 1).
    pub attempt: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// First retry delay.
    pub backoff_ms: i64,
    /// This claim's fence: finishing, failing and extending the lease must present it.
    pub fence: i64,
    /// When the lease ends unless extended (ms since the epoch).
    pub lease_expires_ms: i64,
    /// The claim took over from a worker whose lease expired.
    pub reclaimed_from: Option<String>,
}

/// What happened to a failed job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Failed {
    /// Queued again, not before `run_after_ms`.
    Retry {
        /// When it may be claimed again.
        run_after_ms: i64,
    },
    /// Out of attempts: dead-lettered with its error.
    Dead,
}

/// A job as `aigis jobs` lists it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobRow {
    /// Job id.
    pub id: i64,
    /// Queue.
    pub queue: String,
    /// `listing`, `target` or `shard`.
    pub kind: String,
    /// Target.
    pub target: String,
    /// Objects in a shard.
    pub objects: i64,
    /// The listing a shard came from.
    pub parent: Option<i64>,
    /// `queued`, `running`, `done` or `dead`.
    pub state: String,
    /// Priority.
    pub priority: i64,
    /// Claims so far.
    pub attempts: i64,
    /// Claims allowed.
    pub max_attempts: i64,
    /// The worker holding (or last holding) the lease.
    pub lease_owner: Option<String>,
    /// When the lease ends (ms since the epoch).
    pub lease_expires_ms: Option<i64>,
    /// Not claimed before (ms since the epoch).
    pub run_after_ms: i64,
    /// The last error.
    pub last_error: Option<String>,
    /// The inventory scan its result was recorded as.
    pub scan_id: Option<i64>,
    /// Results recorded.
    pub files: Option<i64>,
    /// Objects a listing found unchanged since they were last recorded.
    pub skipped: Option<i64>,
    /// Enqueued at (seconds since the epoch).
    pub created_at: i64,
    /// Finished at (seconds since the epoch).
    pub finished_at: Option<i64>,
}

/// One queue's state, for `aigis jobs` and the API.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueStats {
    /// Queue name.
    pub queue: String,
    /// Hands out no work.
    pub paused: bool,
    /// Waiting to be claimed now.
    pub ready: i64,
    /// Waiting for a retry's back-off.
    pub delayed: i64,
    /// Held under a live lease.
    pub running: i64,
    /// Held under a lease that expired (its worker is gone; the next claim takes it over).
    pub expired: i64,
    /// Finished.
    pub done: i64,
    /// Dead-lettered.
    pub dead: i64,
    /// Jobs finished in the last five minutes.
    pub done_recent: i64,
    /// Results recorded in the last five minutes, per second.
    pub files_per_second: f64,
    /// Age of the oldest job ready to run, in seconds.
    pub oldest_ready_secs: Option<i64>,
}

/// A schedule: a target enqueued every so often.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleRow {
    /// Schedule id.
    pub id: i64,
    /// Queue its jobs go to.
    pub queue: String,
    /// Target.
    pub target: String,
    /// Every this many seconds.
    pub every_secs: i64,
    /// Next firing (seconds since the epoch).
    pub next_run: i64,
    /// Last firing.
    pub last_fired: Option<i64>,
    /// The job it last enqueued.
    pub last_job: Option<i64>,
}

/// A remote object as a listing saw it, to compare with what the inventory last recorded.
#[derive(Debug, Clone)]
pub struct ObjectStamp {
    /// `s3://bucket/key`, `hf://org/name/file`, …
    pub uri: String,
    /// ETag.
    pub etag: Option<String>,
    /// Version id.
    pub version: Option<String>,
    /// Size.
    pub size: u64,
}

const JOB_COLUMNS: &str = "id, queue, kind, target, objects, options, priority, attempts, max_attempts, backoff_ms, fence, lease_expires_ms";

/// A job from a row whose first columns are [`JOB_COLUMNS`]; `reclaimed_from`: the worker
/// whose expired lease this claim took over.
fn job_of(row: &sqlx::any::AnyRow, reclaimed_from: Option<String>) -> Result<Job> {
    use sqlx::Row as _;
    let id: i64 = row.try_get(0)?;
    let kind: String = row.try_get(2)?;
    let objects: Option<String> = row.try_get(4)?;
    let options: String = row.try_get(5)?;
    let lease: Option<i64> = row.try_get(11)?;
    let objects = match objects {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| StoreError::Invalid(format!("job {id}: objects: {e}")))?,
        None => Vec::new(),
    };
    Ok(Job {
        id,
        queue: row.try_get(1)?,
        kind: JobKind::parse(&kind)?,
        target: row.try_get(3)?,
        objects,
        options: serde_json::from_str(&options).unwrap_or(Value::Null),
        priority: row.try_get(6)?,
        attempt: row.try_get(7)?,
        max_attempts: row.try_get(8)?,
        backoff_ms: row.try_get(9)?,
        fence: row.try_get(10)?,
        lease_expires_ms: lease.unwrap_or(0),
        reclaimed_from,
    })
}

fn seconds() -> i64 {
    crate::query::now()
}

impl Store {
    async fn transaction<T, F>(&self, body: F) -> Result<T>
    where
        F: for<'c> FnOnce(
            &'c mut AnyConnection,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T>> + Send + 'c>,
        >,
    {
        let mut conn = self.pool.acquire().await?;
        conn.execute(sqlx::raw_sql(self.begin_sql())).await?;
        let outcome = body(&mut conn).await;
        match outcome {
            Ok(value) => {
                conn.execute(sqlx::raw_sql("COMMIT")).await?;
                Ok(value)
            }
            Err(err) => {
                let _ = conn.execute(sqlx::raw_sql("ROLLBACK")).await;
                Err(err)
            }
        }
    }

    /// Enqueues a job; returns its id.
    pub async fn enqueue(&self, spec: &JobSpec) -> Result<i64> {
        self.enqueue_with(spec, None).await
    }

    async fn enqueue_with(&self, spec: &JobSpec, schedule: Option<i64>) -> Result<i64> {
        if spec.max_attempts < 1 {
            return Err(StoreError::Invalid(
                "a job needs at least one attempt".into(),
            ));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO jobs (queue, kind, target, objects, parent, schedule_id, options, priority, state, attempts, \
             max_attempts, backoff_ms, run_after_ms, fence, created_at) \
             VALUES ($1, $2, $3, NULL, NULL, $4, $5, $6, 'queued', 0, $7, $8, $9, 0, $10) RETURNING id",
        )
        .bind(&spec.queue)
        .bind(spec.kind.as_str())
        .bind(&spec.target)
        .bind(schedule)
        .bind(spec.options.to_string())
        .bind(spec.priority)
        .bind(spec.max_attempts)
        .bind(spec.backoff_ms.max(0))
        .bind(now_ms())
        .bind(seconds())
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// Claims the next job of `queue` (highest priority, then oldest) for `owner`, under a
    /// lease of `lease_ms`: a job ready to run, or one whose lease expired (its worker died).
    /// A job whose lease expired on its last attempt is dead-lettered instead. `None`: nothing
    /// to do (or the queue is paused).
    pub async fn claim(&self, queue: &str, owner: &str, lease_ms: i64) -> Result<Option<Job>> {
        let now = now_ms();
        // Out of attempts with the lease gone: the worker died on the job every time.
        sqlx::query(
            "UPDATE jobs SET state = 'dead', finished_at = $1, \
             last_error = 'the worker''s lease expired on the last attempt (' || COALESCE(lease_owner, '?') || ')' \
             WHERE queue = $2 AND state = 'running' AND lease_expires_ms < $3 AND attempts >= max_attempts",
        )
        .bind(seconds())
        .bind(queue)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', lease_owner = $1, lease_expires_ms = $2, fence = fence + 1, \
             attempts = attempts + 1, started_at = $3, \
             last_error = CASE WHEN state = 'running' THEN 'the lease of ' || COALESCE(lease_owner, '?') || ' expired' ELSE last_error END \
             WHERE id = (SELECT id FROM jobs WHERE queue = $4 AND \
               ((state = 'queued' AND run_after_ms <= $5) OR (state = 'running' AND lease_expires_ms < $6)) \
               AND NOT EXISTS (SELECT 1 FROM job_queues q WHERE q.name = $7 AND q.paused <> 0) \
               ORDER BY priority DESC, id LIMIT 1{lock}) \
             RETURNING {JOB_COLUMNS}, last_error"
        );
        let row = sqlx::query(&sql)
            .bind(owner)
            .bind(now.saturating_add(lease_ms))
            .bind(seconds())
            .bind(queue)
            .bind(now)
            .bind(now)
            .bind(queue)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let previous: Option<String> = sqlx::Row::try_get(&row, 12)?;
        let reclaimed = previous
            .as_deref()
            .and_then(|e| e.strip_prefix("the lease of "))
            .and_then(|e| e.strip_suffix(" expired"))
            .map(str::to_owned);
        job_of(&row, reclaimed).map(Some)
    }

    /// Extends the lease of a job this claim still holds; `false`: the lease was lost (it
    /// expired and another worker claimed the job, or the job was finished): stop working on it.
    pub async fn heartbeat(&self, job: &Job, lease_ms: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET lease_expires_ms = $1 WHERE id = $2 AND fence = $3 AND state = 'running'",
        )
        .bind(now_ms().saturating_add(lease_ms))
        .bind(job.id)
        .bind(job.fence)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a scan job's run and marks the job done, in one transaction, only if this claim
    /// still holds the job ([`StoreError::LeaseLost`] otherwise: nothing is recorded).
    /// `unread`: objects of the job that could not be read, and why: they go back on the queue
    /// as a shard of their own that keeps this job's attempt count (dead-lettered with the
    /// error if the attempts are used up).
    pub async fn finish_job(
        &self,
        job: &Job,
        doc: &ScanDocument,
        meta: &ScanMeta,
        unread: Option<&(Vec<String>, String)>,
    ) -> Result<IngestSummary> {
        let mut conn = self.pool.acquire().await?;
        conn.execute(sqlx::raw_sql(self.begin_sql())).await?;
        let outcome = async {
            fence_done(&mut conn, job.id, job.fence).await?;
            let summary = ingest_in(&mut conn, self.backend, doc, meta).await?;
            sqlx::query("UPDATE jobs SET scan_id = $1, files = $2 WHERE id = $3")
                .bind(summary.scan_id)
                .bind(i64::try_from(summary.files).unwrap_or(i64::MAX))
                .bind(job.id)
                .execute(&mut *conn)
                .await?;
            if let Some((objects, error)) = unread {
                let dead = job.attempt >= job.max_attempts;
                let objects = serde_json::to_string(objects)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?;
                let error: String = error.chars().take(4000).collect();
                sqlx::query(
                    "INSERT INTO jobs (queue, kind, target, objects, parent, options, priority, state, attempts, \
                     max_attempts, backoff_ms, run_after_ms, fence, last_error, created_at, finished_at) \
                     VALUES ($1, 'shard', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $13, $14)",
                )
                .bind(&job.queue)
                .bind(&job.target)
                .bind(objects)
                .bind(job.id)
                .bind(job.options.to_string())
                .bind(job.priority)
                .bind(if dead { "dead" } else { "queued" })
                .bind(job.attempt)
                .bind(job.max_attempts)
                .bind(job.backoff_ms)
                .bind(now_ms().saturating_add(backoff(job)))
                .bind(error)
                .bind(seconds())
                .bind(if dead { Some(seconds()) } else { None })
                .execute(&mut *conn)
                .await?;
            }
            Ok(summary)
        }
        .await;
        match outcome {
            Ok(summary) => {
                conn.execute(sqlx::raw_sql("COMMIT")).await?;
                Ok(summary)
            }
            Err(err) => {
                let _ = conn.execute(sqlx::raw_sql("ROLLBACK")).await;
                Err(err)
            }
        }
    }

    /// Finishes a listing job: its shards are enqueued (inheriting its queue, options,
    /// priority and retry settings) in the transaction that marks it done, only if this claim
    /// still holds it. `skipped`: objects left out as unchanged. `listed`: the location URIs of
    /// every object the complete listing found: what the inventory holds under the target and
    /// the listing no longer has is recorded as gone (`MODEL_DISAPPEARED`).
    pub async fn finish_listing(
        &self,
        job: &Job,
        shards: &[Vec<String>],
        skipped: usize,
        listed: &HashSet<String>,
        meta: &ScanMeta,
    ) -> Result<Vec<i64>> {
        let job = job.clone();
        let shards = shards.to_vec();
        let listed = listed.clone();
        let meta = meta.clone();
        self.transaction(move |conn| {
            Box::pin(async move {
                fence_done(conn, job.id, job.fence).await?;
                crate::ingest::gone_under(conn, &job.target, &listed, &meta).await?;
                let files: usize = shards.iter().map(Vec::len).sum();
                sqlx::query("UPDATE jobs SET files = $1, skipped = $2 WHERE id = $3")
                    .bind(i64::try_from(files).unwrap_or(i64::MAX))
                    .bind(i64::try_from(skipped).unwrap_or(i64::MAX))
                    .bind(job.id)
                    .execute(&mut *conn)
                    .await?;
                let mut ids = Vec::with_capacity(shards.len());
                let (now, created) = (now_ms(), seconds());
                for objects in &shards {
                    let objects = serde_json::to_string(objects)
                        .map_err(|e| StoreError::Invalid(e.to_string()))?;
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO jobs (queue, kind, target, objects, parent, options, priority, state, attempts, \
                         max_attempts, backoff_ms, run_after_ms, fence, created_at) \
                         VALUES ($1, 'shard', $2, $3, $4, $5, $6, 'queued', 0, $7, $8, $9, 0, $10) RETURNING id",
                    )
                    .bind(&job.queue)
                    .bind(&job.target)
                    .bind(objects)
                    .bind(job.id)
                    .bind(job.options.to_string())
                    .bind(job.priority)
                    .bind(job.max_attempts)
                    .bind(job.backoff_ms)
                    .bind(now)
                    .bind(created)
                    .fetch_one(&mut *conn)
                    .await?;
                    ids.push(id);
                }
                Ok(ids)
            })
        })
        .await
    }

    /// A claimed job failed with `error`: queued again after its back-off, or dead-lettered
    /// when it has used its attempts. [`StoreError::LeaseLost`] if this claim no longer holds it.
    pub async fn fail_job(&self, job: &Job, error: &str) -> Result<Failed> {
        let dead = job.attempt >= job.max_attempts;
        let run_after_ms = now_ms().saturating_add(backoff(job));
        let error: String = error.chars().take(4000).collect();
        let done = sqlx::query(
            "UPDATE jobs SET state = $1, run_after_ms = $2, last_error = $3, lease_expires_ms = NULL, \
             finished_at = $4 WHERE id = $5 AND fence = $6 AND state = 'running'",
        )
        .bind(if dead { "dead" } else { "queued" })
        .bind(run_after_ms)
        .bind(error)
        .bind(if dead { Some(seconds()) } else { None })
        .bind(job.id)
        .bind(job.fence)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::LeaseLost(job.id));
        }
        Ok(if dead {
            Failed::Dead
        } else {
            Failed::Retry { run_after_ms }
        })
    }

    /// Pauses (or resumes) a queue: a paused queue hands out no work.
    pub async fn set_paused(&self, queue: &str, paused: bool) -> Result<()> {
        sqlx::query(
            "INSERT INTO job_queues (name, paused, changed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, changed_at = excluded.changed_at",
        )
        .bind(queue)
        .bind(i64::from(paused))
        .bind(seconds())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Queues a dead job again with fresh attempts.
    pub async fn retry_job(&self, id: i64) -> Result<()> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = 0, run_after_ms = $1, finished_at = NULL \
             WHERE id = $2 AND state = 'dead'",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound(format!("no dead job {id}")))
        }
    }

    /// Deletes finished jobs that finished before `before` (seconds since the epoch); their
    /// results stay in the inventory. Dead-lettered jobs are kept until retried. Returns how many.
    pub async fn prune_jobs(&self, before: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM jobs WHERE state = 'done' AND finished_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Whether `queue` has nothing left to do: no job queued (ready or backing off) or running.
    pub async fn queue_idle(&self, queue: &str) -> Result<bool> {
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE queue = $1 AND state IN ('queued', 'running')",
        )
        .bind(queue)
        .fetch_one(&self.pool)
        .await?;
        Ok(open == 0)
    }

    /// Every queue's depth, leases, throughput and failures.
    pub async fn queue_stats(&self) -> Result<Vec<QueueStats>> {
        let now = now_ms();
        let recent = seconds() - 300;
        type Counts = (String, i64, i64, i64, i64, i64, i64, i64, i64, Option<i64>);
        let rows: Vec<Counts> =
            sqlx::query_as(
                "SELECT queue, \
                 COUNT(CASE WHEN state = 'queued' AND run_after_ms <= $1 THEN 1 END), \
                 COUNT(CASE WHEN state = 'queued' AND run_after_ms > $2 THEN 1 END), \
                 COUNT(CASE WHEN state = 'running' AND lease_expires_ms >= $3 THEN 1 END), \
                 COUNT(CASE WHEN state = 'running' AND lease_expires_ms < $4 THEN 1 END), \
                 COUNT(CASE WHEN state = 'done' THEN 1 END), \
                 COUNT(CASE WHEN state = 'dead' THEN 1 END), \
                 COUNT(CASE WHEN state = 'done' AND finished_at >= $5 THEN 1 END), \
                 COALESCE(CAST(SUM(CASE WHEN state = 'done' AND finished_at >= $6 AND kind <> 'listing' THEN files ELSE 0 END) AS BIGINT), 0), \
                 MIN(CASE WHEN state = 'queued' AND run_after_ms <= $7 THEN created_at END) \
                 FROM jobs GROUP BY queue ORDER BY queue",
            )
            .bind(now)
            .bind(now)
            .bind(now)
            .bind(now)
            .bind(recent)
            .bind(recent)
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        let paused: HashSet<String> =
            sqlx::query_scalar::<_, String>("SELECT name FROM job_queues WHERE paused <> 0")
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .collect();
        let mut stats: Vec<QueueStats> = rows
            .into_iter()
            .map(
                |(queue, ready, delayed, running, expired, done, dead, recent, files, oldest)| {
                    QueueStats {
                        paused: paused.contains(&queue),
                        queue,
                        ready,
                        delayed,
                        running,
                        expired,
                        done,
                        dead,
                        done_recent: recent,
                        files_per_second: files as f64 / 300.0,
                        oldest_ready_secs: oldest.map(|t| (seconds() - t).max(0)),
                    }
                },
            )
            .collect();
        for queue in paused {
            if !stats.iter().any(|s| s.queue == queue) {
                stats.push(QueueStats {
                    queue,
                    paused: true,
                    ..QueueStats::default()
                });
            }
        }
        stats.sort_by(|a, b| a.queue.cmp(&b.queue));
        Ok(stats)
    }

    /// Jobs, newest first: all of them, or those in `state`.
    pub async fn jobs(&self, state: Option<&str>, limit: i64) -> Result<Vec<JobRow>> {
        use sqlx::Row as _;
        let rows = sqlx::query(
            "SELECT id, queue, kind, target, objects, parent, state, priority, attempts, max_attempts, \
             lease_owner, lease_expires_ms, run_after_ms, last_error, scan_id, files, skipped, created_at, finished_at \
             FROM jobs WHERE ($1 = '' OR state = $2) ORDER BY id DESC LIMIT $3",
        )
        .bind(state.unwrap_or(""))
        .bind(state.unwrap_or(""))
        .bind(limit.max(1))
        .fetch_all(&self.pool)
        .await?;
        let mut jobs = Vec::with_capacity(rows.len());
        for row in rows {
            let objects: Option<String> = row.try_get(4)?;
            jobs.push(JobRow {
                id: row.try_get(0)?,
                queue: row.try_get(1)?,
                kind: row.try_get(2)?,
                target: row.try_get(3)?,
                objects: objects
                    .as_deref()
                    .and_then(|t| serde_json::from_str::<Vec<Value>>(t).ok())
                    .map_or(0, |v| i64::try_from(v.len()).unwrap_or(i64::MAX)),
                parent: row.try_get(5)?,
                state: row.try_get(6)?,
                priority: row.try_get(7)?,
                attempts: row.try_get(8)?,
                max_attempts: row.try_get(9)?,
                lease_owner: row.try_get(10)?,
                lease_expires_ms: row.try_get(11)?,
                run_after_ms: row.try_get(12)?,
                last_error: row.try_get(13)?,
                scan_id: row.try_get(14)?,
                files: row.try_get(15)?,
                skipped: row.try_get(16)?,
                created_at: row.try_get(17)?,
                finished_at: row.try_get(18)?,
            });
        }
        Ok(jobs)
    }

    /// Adds a schedule: `spec`'s target enqueued every `every_secs`, first at `first_run`
    /// (seconds since the epoch).
    pub async fn add_schedule(
        &self,
        spec: &JobSpec,
        every_secs: i64,
        first_run: i64,
    ) -> Result<i64> {
        if every_secs < 60 {
            return Err(StoreError::Invalid(
                "a schedule runs at most once a minute".into(),
            ));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO job_schedules (queue, target, options, priority, every_secs, next_run, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&spec.queue)
        .bind(&spec.target)
        .bind(
            serde_json::json!({
                "kind": spec.kind.as_str(),
                "options": spec.options,
                "max_attempts": spec.max_attempts,
                "backoff_ms": spec.backoff_ms,
            })
            .to_string(),
        )
        .bind(spec.priority)
        .bind(every_secs)
        .bind(first_run)
        .bind(seconds())
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// The schedules, by id.
    pub async fn schedules(&self) -> Result<Vec<ScheduleRow>> {
        type Schedule = (i64, String, String, i64, i64, Option<i64>, Option<i64>);
        let rows: Vec<Schedule> = sqlx::query_as(
            "SELECT id, queue, target, every_secs, next_run, last_fired, last_job FROM job_schedules ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, queue, target, every_secs, next_run, last_fired, last_job)| ScheduleRow {
                    id,
                    queue,
                    target,
                    every_secs,
                    next_run,
                    last_fired,
                    last_job,
                },
            )
            .collect())
    }

    /// Removes a schedule (jobs it enqueued stay).
    pub async fn remove_schedule(&self, id: i64) -> Result<()> {
        let done = sqlx::query("DELETE FROM job_schedules WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound(format!("no schedule {id}")))
        }
    }

    /// Fires the schedules due at `now` (seconds since the epoch): each enqueues its job and
    /// moves to its next run after `now`. Any number of workers may call this at once; each
    /// due firing happens exactly once (the schedule row moves forward with a compare on its
    /// old `next_run`). Returns the jobs enqueued.
    pub async fn fire_due_schedules(&self, now: i64) -> Result<Vec<i64>> {
        let due: Vec<(i64, String, String, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT id, queue, target, options, priority, every_secs, next_run FROM job_schedules \
             WHERE next_run <= $1 ORDER BY next_run",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut fired = Vec::new();
        for (id, queue, target, options, priority, every, next_run) in due {
            let every = every.max(1);
            let periods = (now - next_run) / every + 1;
            let next = next_run.saturating_add(periods.saturating_mul(every));
            let settings: Value = serde_json::from_str(&options).unwrap_or(Value::Null);
            let spec = JobSpec {
                queue,
                kind: JobKind::parse(settings["kind"].as_str().unwrap_or("target"))?,
                target,
                options: settings["options"].clone(),
                priority,
                max_attempts: settings["max_attempts"].as_i64().unwrap_or(3).max(1),
                backoff_ms: settings["backoff_ms"].as_i64().unwrap_or(30_000),
            };
            let job = self
                .transaction(move |conn| {
                    Box::pin(async move {
                        // The compare-and-set: of workers racing for this firing, one moves it.
                        let moved = sqlx::query(
                            "UPDATE job_schedules SET next_run = $1, last_fired = $2 WHERE id = $3 AND next_run = $4",
                        )
                        .bind(next)
                        .bind(now)
                        .bind(id)
                        .bind(next_run)
                        .execute(&mut *conn)
                        .await?;
                        if moved.rows_affected() != 1 {
                            return Ok(None);
                        }
                        let job: i64 = sqlx::query_scalar(
                            "INSERT INTO jobs (queue, kind, target, objects, parent, schedule_id, options, priority, state, \
                             attempts, max_attempts, backoff_ms, run_after_ms, fence, created_at) \
                             VALUES ($1, $2, $3, NULL, NULL, $4, $5, $6, 'queued', 0, $7, $8, $9, 0, $10) RETURNING id",
                        )
                        .bind(&spec.queue)
                        .bind(spec.kind.as_str())
                        .bind(&spec.target)
                        .bind(id)
                        .bind(spec.options.to_string())
                        .bind(spec.priority)
                        .bind(spec.max_attempts)
                        .bind(spec.backoff_ms)
                        .bind(now_ms())
                        .bind(seconds())
                        .fetch_one(&mut *conn)
                        .await?;
                        sqlx::query("UPDATE job_schedules SET last_job = $1 WHERE id = $2")
                            .bind(job)
                            .bind(id)
                            .execute(&mut *conn)
                            .await?;
                        Ok(Some(job))
                    })
                })
                .await?;
            fired.extend(job);
        }
        Ok(fired)
    }

    /// Of the objects a listing found, the URIs whose ETag (or version id) and size are what
    /// the inventory last recorded there, with a result that was complete and read: those
    /// need no new scan.
    pub async fn unchanged_objects(&self, objects: &[ObjectStamp]) -> Result<HashSet<String>> {
        let mut unchanged = HashSet::new();
        for chunk in objects.chunks(400) {
            let params: Vec<String> = (1..=chunk.len())
                .map(|i| match self.backend {
                    Backend::Postgres => format!("${i}"),
                    Backend::Sqlite => "?".to_owned(),
                })
                .collect();
            let sql = format!(
                "SELECT l.uri, s.etag, s.version, s.size FROM locations l \
                 JOIN location_stamps s ON s.location_id = l.id \
                 JOIN occurrences o ON o.location_id = l.id AND o.current = 1 \
                 JOIN files f ON f.id = o.file_id \
                 WHERE f.incomplete IS NULL AND f.status IN ('ok', 'invalid', 'unsupported') \
                 AND l.uri IN ({})",
                params.join(", ")
            );
            let mut query =
                sqlx::query_as::<_, (String, Option<String>, Option<String>, i64)>(&sql);
            for object in chunk {
                query = query.bind(object.uri.clone());
            }
            let known = query.fetch_all(&self.pool).await?;
            let by_uri: std::collections::HashMap<&str, &ObjectStamp> =
                chunk.iter().map(|o| (o.uri.as_str(), o)).collect();
            for (uri, etag, version, size) in known {
                let Some(object) = by_uri.get(uri.as_str()) else {
                    continue;
                };
                let same_size = i64::try_from(object.size).ok() == Some(size);
                let same = match (&object.version, &version, &object.etag, &etag) {
                    (Some(a), Some(b), _, _) => a == b,
                    (_, _, Some(a), Some(b)) => {
                        crate::ingest::etag_value(a) == crate::ingest::etag_value(b)
                    }
                    _ => false,
                };
                if same && same_size {
                    unchanged.insert(uri);
                }
            }
        }
        Ok(unchanged)
    }
}

/// The delay before a failed job's next attempt: its back-off, doubled per attempt so far.
fn backoff(job: &Job) -> i64 {
    job.backoff_ms
        .saturating_mul(1_i64 << (job.attempt - 1).clamp(0, 20))
        .min(MAX_BACKOFF_MS)
}

/// Marks a running job done if `fence` is still its claim's.
async fn fence_done(conn: &mut AnyConnection, id: i64, fence: i64) -> Result<()> {
    let done = sqlx::query(
        "UPDATE jobs SET state = 'done', finished_at = $1, lease_expires_ms = NULL \
         WHERE id = $2 AND fence = $3 AND state = 'running'",
    )
    .bind(seconds())
    .bind(id)
    .bind(fence)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::LeaseLost(id))
    }
}

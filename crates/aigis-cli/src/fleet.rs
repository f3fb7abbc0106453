//! Fleet scanning on the inventory database: `aigis enqueue` puts targets on a queue,
//! `aigis worker` claims them under a lease (PostgreSQL for many workers on many hosts),
//! `aigis jobs` shows the queues, `aigis schedule` enqueues targets every so often.
//!
//! A bucket prefix is a *listing* job: the worker that claims it lists the
//! objects, leaves out those whose ETag (or version id) and size are what the inventory last
//! recorded (unless `--full`), and enqueues the rest as *shards*. A shard, a path or one URL is
//! scanned by the same engine run as `aigis scan` and recorded in the transaction that marks
//! the job done, only while the worker's claim still holds it (its fence). Objects of a shard
//! that could not be read are recorded by nobody: they go back on the queue as their own
//! shard, which is retried with back-off and dead-lettered with its error after its attempts.

use crate::inventory::{self, host};
use crate::{PolicyArgs, load_policy};
use aigis_engine::{CacheMode, EngineOptions, Run};
use aigis_report::terminal_safe as safe;
use aigis_scan::ScanOptions;
use aigis_store::{Failed, Job, JobKind, JobSpec, ObjectStamp, Store, StoreError};
use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How to reach remote targets, stored with each job.
#[derive(clap::Args, Debug, Clone)]
pub struct ReachArgs {
    /// Endpoint of an S3-compatible store (MinIO, Ceph, …) or another API base for buckets.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Allow plain HTTP to a non-loopback endpoint.
    #[arg(long)]
    pub allow_http: bool,
    /// Unsigned requests (public buckets).
    #[arg(long)]
    pub anonymous: bool,
    /// Download remote objects in full to compute their SHA-256.
    #[arg(long)]
    pub hash_remote: bool,
}

/// `aigis enqueue`.
#[derive(clap::Args, Debug)]
pub struct EnqueueArgs {
    /// Targets: bucket prefixes (`s3://`, `gs://`, `az://`), `hf://org/name`, URLs, paths (as
    /// the workers see them).
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Inventory database (`postgres://…` for a fleet) [default: $AIGIS_DB, else the local file].
    #[arg(long, env = "AIGIS_DB", value_name = "URL")]
    pub db: Option<String>,
    #[command(flatten)]
    pub job: JobArgs,
}

/// Settings of the jobs a command enqueues.
#[derive(clap::Args, Debug, Clone)]
pub struct JobArgs {
    /// Queue.
    #[arg(long, default_value = "default")]
    pub queue: String,
    /// Higher runs first.
    #[arg(long, default_value = "0", allow_hyphen_values = true)]
    pub priority: i64,
    /// Attempts before a job is dead-lettered.
    #[arg(long, default_value = "3")]
    pub max_attempts: i64,
    /// Delay before the first retry (doubling after each attempt), e.g. `30s`.
    #[arg(long, default_value = "30s", value_parser = duration)]
    pub backoff: Duration,
    /// Objects per shard of a listing.
    #[arg(long, default_value = "100")]
    pub shard_size: usize,
    /// Scan every object of a listing, also those unchanged since they were last recorded.
    #[arg(long)]
    pub full: bool,
    #[command(flatten)]
    pub reach: ReachArgs,
}

/// `aigis worker`.
#[derive(clap::Args)]
pub struct WorkerArgs {
    /// Inventory database (`postgres://…` for a fleet) [default: $AIGIS_DB, else the local file].
    #[arg(long, env = "AIGIS_DB", value_name = "URL")]
    pub db: Option<String>,
    /// Queue to work on.
    #[arg(long, default_value = "default")]
    pub queue: String,
    /// This worker's name in leases [default: HOST:PID].
    #[arg(long)]
    pub name: Option<String>,
    /// Lease length: a job whose worker stops extending it is taken over after this long.
    #[arg(long, default_value = "60s", value_parser = duration)]
    pub lease: Duration,
    /// How often to look for work when there is none.
    #[arg(long, default_value = "2s", value_parser = duration)]
    pub poll: Duration,
    /// Stop when the queue has nothing queued or running (instead of waiting for more).
    #[arg(long)]
    pub until_idle: bool,
    /// Stop after this many jobs.
    #[arg(long, value_name = "N")]
    pub max_jobs: Option<u64>,
    /// Seconds of analysis per file before it is reported incomplete (as `aigis scan`).
    #[arg(long, default_value = "300")]
    pub time_limit: f64,
    /// Worker threads for local files (0: one per core).
    #[arg(long, default_value = "0")]
    pub threads: usize,
    /// Remote objects scanned at once.
    #[arg(long, value_name = "N", default_value = "32")]
    pub remote_concurrency: usize,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// `aigis jobs`.
#[derive(clap::Args, Debug)]
pub struct JobsArgs {
    #[command(subcommand)]
    pub command: Option<JobsCommand>,
    /// Inventory database [default: $AIGIS_DB, else the local file].
    #[arg(long, env = "AIGIS_DB", value_name = "URL", global = true)]
    pub db: Option<String>,
    /// `table` for people, `json` for machines.
    #[arg(long, value_enum, default_value = "table", global = true)]
    pub format: inventory::ListFormat,
}

/// What `aigis jobs` does besides showing the queues.
#[derive(clap::Subcommand, Debug)]
pub enum JobsCommand {
    /// List jobs, newest first.
    List {
        /// Only jobs in this state: queued, running, done, dead.
        #[arg(long)]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value = "50")]
        limit: i64,
    },
    /// Stop handing out a queue's jobs (running ones finish).
    Pause {
        /// Queue.
        queue: String,
    },
    /// Hand out a paused queue's jobs again.
    Resume {
        /// Queue.
        queue: String,
    },
    /// Queue a dead-lettered job again with fresh attempts.
    Retry {
        /// Job id.
        id: i64,
    },
    /// Delete finished jobs (their results stay in the inventory; dead-lettered ones stay).
    Prune {
        /// Those finished longer ago than this, e.g. `7d`.
        #[arg(long, value_parser = duration)]
        older_than: Duration,
    },
}

/// `aigis schedule`.
#[derive(clap::Subcommand, Debug)]
pub enum ScheduleCommand {
    /// Enqueue TARGET every so often; any worker fires a due schedule, exactly one does.
    Add {
        /// Target.
        target: String,
        /// Every this long, e.g. `6h`.
        #[arg(long, value_parser = duration)]
        every: Duration,
        #[command(flatten)]
        job: JobArgs,
    },
    /// List the schedules.
    List,
    /// Fire the schedules that are due now and exit (a Kubernetes CronJob or a systemd timer
    /// can do this where no worker runs all the time; workers fire them too).
    Fire,
    /// Remove a schedule.
    Remove {
        /// Schedule id.
        id: i64,
    },
}

/// `aigis schedule` and its database.
#[derive(clap::Args, Debug)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub command: ScheduleCommand,
    /// Inventory database [default: $AIGIS_DB, else the local file].
    #[arg(long, env = "AIGIS_DB", value_name = "URL", global = true)]
    pub db: Option<String>,
    /// `table` for people, `json` for machines.
    #[arg(long, value_enum, default_value = "table", global = true)]
    pub format: inventory::ListFormat,
}

/// `30s`, `5m`, `6h`, `1d`, `500ms`.
pub(crate) fn duration(text: &str) -> std::result::Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("`{text}`: {e} (e.g. 30s, 5m, 6h)"))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Whether a target is listed into shards (a bucket prefix) or scanned whole (a Hub
/// repository — its files are read at one revision, so they are scanned together —, a URL, a
/// path).
fn kind_of(target: &str) -> JobKind {
    let lower = target.to_ascii_lowercase();
    let listed = [
        "s3://", "s3a://", "gs://", "az://", "azure://", "abfs://", "abfss://",
    ];
    if listed.iter().any(|scheme| lower.starts_with(scheme)) {
        JobKind::Listing
    } else {
        JobKind::Target
    }
}

impl JobArgs {
    fn spec(&self, target: &str) -> Result<JobSpec> {
        let kind = kind_of(target);
        // A path is the workers' path: a relative one is made absolute here.
        let target = if kind == JobKind::Target && !aigis_engine::is_remote(target) {
            std::path::absolute(target)
                .with_context(|| format!("resolving {}", safe(target)))?
                .to_string_lossy()
                .into_owned()
        } else {
            target.to_owned()
        };
        if self.shard_size == 0 {
            bail!("--shard-size must be at least 1");
        }
        Ok(JobSpec {
            queue: self.queue.clone(),
            kind,
            target,
            options: json!({
                "endpoint": self.reach.endpoint,
                "allow_http": self.reach.allow_http,
                "anonymous": self.reach.anonymous,
                "hash_remote": self.reach.hash_remote,
                "shard_size": self.shard_size,
                "full": self.full,
            }),
            priority: self.priority,
            max_attempts: self.max_attempts,
            backoff_ms: millis(self.backoff),
        })
    }
}

/// `aigis enqueue`.
pub fn enqueue(args: EnqueueArgs) -> Result<ExitCode> {
    let rt = inventory::runtime()?;
    let store = inventory::open(&rt, args.db.as_deref())?;
    for target in &args.targets {
        let spec = args.job.spec(target)?;
        let id = rt
            .block_on(store.enqueue(&spec))
            .with_context(|| format!("enqueueing {}", safe(target)))?;
        println!(
            "job {id}: {} {} (queue {}, priority {})",
            kind_word(spec.kind),
            safe(&spec.target),
            safe(&spec.queue),
            spec.priority
        );
    }
    rt.block_on(store.close());
    Ok(ExitCode::SUCCESS)
}

fn kind_word(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Listing => "list",
        JobKind::Target => "scan",
        JobKind::Shard => "shard",
    }
}

/// `aigis schedule`.
pub fn schedule(args: ScheduleArgs) -> Result<ExitCode> {
    let rt = inventory::runtime()?;
    let store = inventory::open(&rt, args.db.as_deref())?;
    match args.command {
        ScheduleCommand::Add { target, every, job } => {
            let spec = job.spec(&target)?;
            let every = i64::try_from(every.as_secs()).unwrap_or(i64::MAX);
            let now = now_secs();
            let id = rt.block_on(store.add_schedule(&spec, every, now))?;
            println!(
                "schedule {id}: {} every {} (queue {}), first run now",
                safe(&spec.target),
                humantime::format_duration(Duration::from_secs(every.unsigned_abs())),
                safe(&spec.queue)
            );
        }
        ScheduleCommand::List => {
            let rows = rt.block_on(store.schedules())?;
            if matches!(args.format, inventory::ListFormat::Json) {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:>4}  {:<10} {:>8}  {:<12}  TARGET",
                    "ID", "QUEUE", "EVERY", "NEXT RUN IN"
                );
                let now = now_secs();
                for row in rows {
                    println!(
                        "{:>4}  {:<10} {:>8}  {:<12}  {}",
                        row.id,
                        safe(&row.queue),
                        humantime::format_duration(Duration::from_secs(
                            row.every_secs.unsigned_abs()
                        ))
                        .to_string(),
                        humantime::format_duration(Duration::from_secs(
                            (row.next_run - now).max(0).unsigned_abs()
                        ))
                        .to_string(),
                        safe(&row.target)
                    );
                }
            }
        }
        ScheduleCommand::Fire => {
            for job in rt.block_on(store.fire_due_schedules(now_secs()))? {
                println!("job {job} enqueued");
            }
        }
        ScheduleCommand::Remove { id } => {
            rt.block_on(store.remove_schedule(id))?;
            println!("schedule {id} removed");
        }
    }
    rt.block_on(store.close());
    Ok(ExitCode::SUCCESS)
}

/// `aigis jobs`.
pub fn jobs(args: JobsArgs) -> Result<ExitCode> {
    let rt = inventory::runtime()?;
    let store = inventory::open(&rt, args.db.as_deref())?;
    let json = matches!(args.format, inventory::ListFormat::Json);
    match args.command {
        None => {
            let stats = rt.block_on(store.queue_stats())?;
            let dead = rt.block_on(store.jobs(Some("dead"), 20))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({"queues": stats, "dead": dead}))?
                );
            } else {
                println!(
                    "{:<12} {:>7} {:>7} {:>7} {:>7} {:>8} {:>6} {:>10}  STATE",
                    "QUEUE", "READY", "DELAYED", "RUNNING", "EXPIRED", "DONE", "DEAD", "FILES/S"
                );
                for s in &stats {
                    println!(
                        "{:<12} {:>7} {:>7} {:>7} {:>7} {:>8} {:>6} {:>10.2}  {}",
                        safe(&s.queue),
                        s.ready,
                        s.delayed,
                        s.running,
                        s.expired,
                        s.done,
                        s.dead,
                        s.files_per_second,
                        if s.paused { "paused" } else { "active" }
                    );
                }
                if !dead.is_empty() {
                    println!("\ndead-lettered jobs (aigis jobs retry ID):");
                    for job in &dead {
                        println!(
                            "  {} {} after {} attempts: {}",
                            job.id,
                            safe(&job.target),
                            job.attempts,
                            safe(job.last_error.as_deref().unwrap_or("?"))
                        );
                    }
                }
            }
        }
        Some(JobsCommand::List { state, limit }) => {
            let rows = rt.block_on(store.jobs(state.as_deref(), limit))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:>6} {:<8} {:<7} {:>8} {:>6}  {:<20}  TARGET",
                    "ID", "STATE", "KIND", "ATTEMPTS", "FILES", "WORKER"
                );
                for job in rows {
                    println!(
                        "{:>6} {:<8} {:<7} {:>5}/{:<2} {:>6}  {:<20}  {}{}",
                        job.id,
                        job.state,
                        job.kind,
                        job.attempts,
                        job.max_attempts,
                        job.files.map(|f| f.to_string()).unwrap_or_default(),
                        safe(job.lease_owner.as_deref().unwrap_or("")),
                        safe(&job.target),
                        job.last_error
                            .map(|e| format!("  [{}]", safe(&e)))
                            .unwrap_or_default()
                    );
                }
            }
        }
        Some(JobsCommand::Pause { queue }) => {
            rt.block_on(store.set_paused(&queue, true))?;
            println!("queue {} paused", safe(&queue));
        }
        Some(JobsCommand::Resume { queue }) => {
            rt.block_on(store.set_paused(&queue, false))?;
            println!("queue {} resumed", safe(&queue));
        }
        Some(JobsCommand::Retry { id }) => {
            rt.block_on(store.retry_job(id))?;
            println!("job {id} queued again");
        }
        Some(JobsCommand::Prune { older_than }) => {
            let age = i64::try_from(older_than.as_secs()).unwrap_or(i64::MAX);
            let pruned = rt.block_on(store.prune_jobs(now_secs().saturating_sub(age)))?;
            println!("{pruned} finished jobs deleted");
        }
    }
    rt.block_on(store.close());
    Ok(ExitCode::SUCCESS)
}

fn now_secs() -> i64 {
    aigis_store::now_ms() / 1000
}

fn log(worker: &str, message: &str) {
    eprintln!("aigis worker {}: {}", safe(worker), safe(message));
}

/// `aigis worker`: claims jobs until stopped (or, with `--until-idle`, until the queue is empty).
pub fn worker(args: WorkerArgs) -> Result<ExitCode> {
    if !(args.time_limit.is_finite() && args.time_limit >= 0.0) {
        bail!("--time-limit must be a number of seconds");
    }
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{}:{}", host(), std::process::id()));
    let policy = load_policy(&args.policy)?;
    let lease_ms = millis(args.lease).max(1000);
    let rt = inventory::runtime()?;
    let url = args.db.clone();
    let store = connect(&rt, url.as_deref(), &name, args.poll)?;
    log(&name, &format!("working on queue {}", args.queue));
    let stopping = stop_on_sigterm();
    let mut done_jobs = 0_u64;
    loop {
        if args.max_jobs.is_some_and(|max| done_jobs >= max) {
            break;
        }
        if stopping.load(Ordering::SeqCst) {
            log(&name, "SIGTERM: taking no more jobs");
            break;
        }
        match rt.block_on(store.fire_due_schedules(now_secs())) {
            Ok(fired) => {
                for id in fired {
                    log(&name, &format!("schedule fired: job {id}"));
                }
            }
            Err(err) => log(&name, &format!("schedules: {err}")),
        }
        let job = match rt.block_on(store.claim(&args.queue, &name, lease_ms)) {
            Ok(job) => job,
            Err(err) => {
                log(&name, &format!("claiming: {err}; retrying"));
                std::thread::sleep(args.poll);
                continue;
            }
        };
        let Some(job) = job else {
            if args.until_idle {
                match rt.block_on(store.queue_idle(&args.queue)) {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(err) => log(&name, &format!("{err}")),
                }
            }
            sleep_unless(&stopping, args.poll);
            continue;
        };
        if let Some(previous) = &job.reclaimed_from {
            log(
                &name,
                &format!(
                    "job {}: taken over from {previous} (its lease expired)",
                    job.id
                ),
            );
        }
        log(
            &name,
            &format!(
                "job {} ({} {}, attempt {}/{}) claimed",
                job.id,
                kind_word(job.kind),
                job.target,
                job.attempt,
                job.max_attempts
            ),
        );
        let lost = Arc::new(AtomicBool::new(false));
        let heartbeat = Heartbeat::start(url.clone(), job.clone(), lease_ms, lost.clone());
        let outcome = work(&rt, &store, &job, &args, &policy, &name);
        heartbeat.stop();
        if lost.load(Ordering::SeqCst) {
            log(
                &name,
                &format!(
                    "job {}: the lease could not be extended; another worker may hold it",
                    job.id
                ),
            );
        }
        done_jobs += 1;
        match outcome {
            Ok(message) => log(&name, &format!("job {} done: {message}", job.id)),
            Err(Stop::LeaseLost) => log(
                &name,
                &format!(
                    "job {}: lease lost to another worker; this result was discarded",
                    job.id
                ),
            ),
            Err(Stop::Failed(error)) => {
                let failed = retry_db(&rt, &name, || store.fail_job(&job, &error));
                match failed {
                    Ok(Failed::Dead) => log(
                        &name,
                        &format!(
                            "job {} dead-lettered after {} attempts: {error}",
                            job.id, job.attempt
                        ),
                    ),
                    Ok(Failed::Retry { run_after_ms }) => log(
                        &name,
                        &format!(
                            "job {} failed ({error}); retried in {} ms",
                            job.id,
                            (run_after_ms - aigis_store::now_ms()).max(0)
                        ),
                    ),
                    Err(err) => log(&name, &format!("job {}: {err}", job.id)),
                }
            }
        }
    }
    rt.block_on(store.close());
    log(&name, &format!("stopping after {done_jobs} jobs"));
    Ok(ExitCode::SUCCESS)
}

/// A flag raised by SIGTERM (Kubernetes and systemd stopping the worker): the job under way
/// is finished and recorded, then the worker stops, instead of dying with the job half done
/// and leaving it to a lease expiry and another attempt.
fn stop_on_sigterm() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let raised = flag.clone();
    let (ready, listening) = std::sync::mpsc::channel::<bool>();
    #[cfg(unix)]
    std::thread::spawn(move || {
        let Ok(rt) = inventory::runtime() else {
            let _ = ready.send(false);
            return;
        };
        rt.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut term) = signal(SignalKind::terminate()) else {
                let _ = ready.send(false);
                return;
            };
            let _ = ready.send(true);
            if term.recv().await.is_some() {
                raised.store(true, Ordering::SeqCst);
            }
        });
    });
    #[cfg(not(unix))]
    let _ = (raised, ready.send(false));
    // The handler is in place before the first job is claimed.
    let _ = listening.recv_timeout(Duration::from_secs(5));
    flag
}

/// Sleeps `duration`, waking early when the worker is asked to stop.
fn sleep_unless(stopping: &AtomicBool, duration: Duration) {
    let step = Duration::from_millis(50);
    let mut left = duration;
    while !left.is_zero() && !stopping.load(Ordering::SeqCst) {
        let nap = left.min(step);
        std::thread::sleep(nap);
        left -= nap;
    }
}

/// Opens the inventory, waiting for the database while it is unreachable.
fn connect(
    rt: &tokio::runtime::Runtime,
    url: Option<&str>,
    name: &str,
    poll: Duration,
) -> Result<Store> {
    let mut tries = 0;
    loop {
        match inventory::open(rt, url) {
            Ok(store) => return Ok(store),
            Err(err) if tries < 30 => {
                tries += 1;
                log(name, &format!("{err:#}; retrying"));
                std::thread::sleep(poll.max(Duration::from_millis(500)));
            }
            Err(err) => return Err(err),
        }
    }
}

/// A database call retried while the database is unreachable (a restart), not when it answers.
fn retry_db<T, F, Fut>(
    rt: &tokio::runtime::Runtime,
    name: &str,
    mut call: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut tries = 0;
    loop {
        match rt.block_on(call()) {
            Err(StoreError::Database(err)) if tries < 60 => {
                tries += 1;
                log(name, &format!("database: {err}; retrying"));
                std::thread::sleep(Duration::from_secs(1));
            }
            other => return other,
        }
    }
}

enum Stop {
    /// Another claim holds the job now.
    LeaseLost,
    /// The job failed with this error.
    Failed(String),
}

/// Extends the lease every third of its length on its own thread (and its own connection),
/// while the engine works on the main one.
struct Heartbeat {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Heartbeat {
    fn start(url: Option<String>, job: Job, lease_ms: i64, lost: Arc<AtomicBool>) -> Heartbeat {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let Ok(rt) = inventory::runtime() else { return };
            let mut store = None;
            let every = Duration::from_millis(u64::try_from(lease_ms / 3).unwrap_or(1000).max(100));
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every)
            {
                if store.is_none() {
                    store = inventory::open(&rt, url.as_deref()).ok();
                }
                let Some(open) = &store else { continue };
                match rt.block_on(open.heartbeat(&job, lease_ms)) {
                    Ok(true) => {}
                    Ok(false) => {
                        lost.store(true, Ordering::SeqCst);
                        break;
                    }
                    // The database is away (restarting): try again at the next beat.
                    Err(_) => {}
                }
            }
            if let Some(open) = store {
                rt.block_on(open.close());
            }
        });
        Heartbeat { stop, thread }
    }

    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

fn options_of(job: &Job, args: &WorkerArgs, policy: &aigis_policy::Policy) -> EngineOptions {
    let text = |k: &str| {
        job.options
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let flag = |k: &str| job.options.get(k).and_then(Value::as_bool).unwrap_or(false);
    let mut scan = ScanOptions::default();
    scan.analysis.limits.time_limit = Duration::from_secs_f64(args.time_limit);
    EngineOptions {
        scan,
        // Local paths: the result cache answers for files whose stat did not change.
        cache_dir: aigis_engine::default_cache_dir(),
        cache_mode: CacheMode::Stat,
        ignore_files: args.policy.ignore_files.clone(),
        policy: policy.clone(),
        threads: args.threads,
        #[cfg(feature = "remote")]
        remote: aigis_remote::RemoteOptions {
            endpoint: text("endpoint"),
            allow_http: flag("allow_http"),
            anonymous: flag("anonymous"),
            hash: flag("hash_remote"),
            concurrency: args.remote_concurrency.max(1),
            ..Default::default()
        },
        ..EngineOptions::default()
    }
}

fn work(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    job: &Job,
    args: &WorkerArgs,
    policy: &aigis_policy::Policy,
    name: &str,
) -> Result<String, Stop> {
    let mut options = options_of(job, args, policy);
    // A shard's objects come from a listing: read each without listing it again.
    options.remote_exact = job.kind == JobKind::Shard;
    match job.kind {
        JobKind::Listing => list(rt, store, job, &options, name),
        JobKind::Target | JobKind::Shard => scan(rt, store, job, &options, name),
    }
}

#[cfg(feature = "remote")]
fn list(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    job: &Job,
    options: &EngineOptions,
    name: &str,
) -> Result<String, Stop> {
    let scanner = aigis_remote::RemoteScanner::new(options.remote.clone())
        .map_err(|e| Stop::Failed(e.to_string()))?;
    let objects = scanner
        .list(&job.target)
        .map_err(|e| Stop::Failed(e.to_string()))?;
    let full = job
        .options
        .get("full")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // Each object under the location URI the inventory records it at (`az://` objects are
    // `azure://` locations, Hub files have no revision), beside the URI a shard reads it by.
    let stamps: Vec<(String, ObjectStamp)> = objects
        .iter()
        .map(|o| {
            let uri = aigis_store::remote_location(&Value::Object(o.source().clone()))
                .unwrap_or_else(|| o.display().to_owned());
            let stamp = ObjectStamp {
                uri,
                etag: o.etag().map(str::to_owned),
                version: o.version().map(str::to_owned),
                size: o.size().unwrap_or(0),
            };
            (o.display().to_owned(), stamp)
        })
        .collect();
    let listed: std::collections::HashSet<String> =
        stamps.iter().map(|(_, s)| s.uri.clone()).collect();
    let stamps_only: Vec<ObjectStamp> = stamps.iter().map(|(_, s)| s.clone()).collect();
    let unchanged = if full {
        Default::default()
    } else {
        retry_db(rt, name, || store.unchanged_objects(&stamps_only))
            .map_err(|e| Stop::Failed(e.to_string()))?
    };
    let changed: Vec<String> = stamps
        .into_iter()
        .filter(|(_, stamp)| !unchanged.contains(&stamp.uri))
        .map(|(display, _)| display)
        .collect();
    let size = job
        .options
        .get("shard_size")
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(100)
        .max(1);
    let shards: Vec<Vec<String>> = changed.chunks(size).map(<[String]>::to_vec).collect();
    let meta = inventory::meta("worker");
    match retry_db(rt, name, || {
        store.finish_listing(job, &shards, unchanged.len(), &listed, &meta)
    }) {
        Ok(ids) => Ok(format!(
            "{} objects listed, {} unchanged since last recorded, {} shards enqueued",
            objects.len(),
            unchanged.len(),
            ids.len()
        )),
        Err(StoreError::LeaseLost(_)) => Err(Stop::LeaseLost),
        Err(err) => Err(Stop::Failed(err.to_string())),
    }
}

#[cfg(not(feature = "remote"))]
fn list(
    _rt: &tokio::runtime::Runtime,
    _store: &Store,
    job: &Job,
    _options: &EngineOptions,
    _name: &str,
) -> Result<String, Stop> {
    Err(Stop::Failed(format!(
        "{}: this aigis was built without remote scanning",
        job.target
    )))
}

fn scan(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    job: &Job,
    options: &EngineOptions,
    name: &str,
) -> Result<String, Stop> {
    let targets = match job.kind {
        JobKind::Shard => job.objects.clone(),
        _ => vec![job.target.clone()],
    };
    let run = aigis_engine::run(&targets, options, &aigis_engine::NoProgress)
        .map_err(|e| Stop::Failed(format!("{e:#}")))?;
    // A shard's objects that could not be read are not recorded as read failures by this
    // attempt: they are the job's failure (a shard of one), or a new shard of their own.
    let unread: Vec<(String, String)> = if job.kind == JobKind::Shard {
        run.results
            .iter()
            .filter(|r| r.status == aigis_scan::Status::Error)
            .map(|r| {
                let why = r
                    .findings
                    .first()
                    .map(|f| f.message.clone())
                    .unwrap_or_else(|| "could not be read".to_owned());
                (r.path.clone(), why)
            })
            .collect()
    } else {
        Vec::new()
    };
    if !unread.is_empty() && unread.len() == run.results.len() {
        let (path, why) = &unread[0];
        return Err(Stop::Failed(format!("{path}: {why}")));
    }
    let bytes_read: u64 = run.results.iter().map(|r| r.bytes_read).sum();
    let mut run: Run = run;
    if !unread.is_empty() {
        run.results
            .retain(|r| r.status != aigis_scan::Status::Error);
    }
    // A shard's targets are its objects: nothing outside them has disappeared.
    let document_targets = match job.kind {
        JobKind::Shard => Vec::new(),
        _ => targets,
    };
    let doc =
        inventory::document(&run, &document_targets).map_err(|e| Stop::Failed(format!("{e:#}")))?;
    let meta = inventory::meta("worker");
    let retry: Option<(Vec<String>, String)> = (!unread.is_empty()).then(|| {
        (
            unread.iter().map(|(p, _)| p.clone()).collect(),
            unread
                .iter()
                .map(|(p, why)| format!("{p}: {why}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
    });
    match retry_db(rt, name, || {
        store.finish_job(job, &doc, &meta, retry.as_ref())
    }) {
        Ok(summary) => Ok(format!(
            "recorded as scan {}: {} files, {} bytes read, {} changes{}",
            summary.scan_id,
            summary.files,
            bytes_read,
            summary.events.len(),
            if unread.is_empty() {
                String::new()
            } else {
                format!(", {} unread objects queued again", unread.len())
            }
        )),
        Err(StoreError::LeaseLost(_)) => Err(Stop::LeaseLost),
        Err(err) => Err(Stop::Failed(err.to_string())),
    }
}

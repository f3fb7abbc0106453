//! `aigis watch`: model files scanned as they appear or change.
//!
//! A watch event is one more artifact source: the paths that settled are handed to the same
//! engine run as `aigis scan` (selection, analyzers, cache, policy), one run per batch, and each
//! result is printed as one JSON line. Recording (`--record`) and the policy's webhooks work as
//! they do for a scan; a result at or above the fail threshold is an alert (also one line on
//! stderr).
//!
//! - **Events** come from the kernel (inotify, through the `notify` crate), recursively; a new
//!   folder is scanned whole (files created in it before its watch was added are not missed).
//! - **Complete files only**: a path is scanned once it has been quiet for `--settle` and its
//!   size and modification time did not change over that time — or, when its writer closed it
//!   or renamed it into place, after a quiet 30 ms. Download and editor temporaries
//!   (`*.incomplete` as the Hugging Face hub writes them, `*.part`, `*.tmp`, …) are skipped; the
//!   rename that gives the file its final name is the event that scans it.
//! - **Bounded**: at most `--queue` paths wait; beyond that the kernel's events wait in its own
//!   queue (back-pressure), and if that overflows every root is scanned again (the result cache
//!   makes unchanged files cheap). `--jobs` threads scan.
//! - **Roots come and go**: a watched folder that is deleted is waited for; when it is back (or
//!   replaced by another folder of the same name) it is watched again and scanned whole.

use crate::inventory::RecordArgs;
use crate::{FailOn, PolicyArgs, gate, load_policy, targets};
use aigis_engine::{CacheMode, EngineOptions, NoProgress};
use aigis_scan::ScanOptions;
use anyhow::{Context, Result, bail};
use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{Event, EventKind, RecursiveMode, Watcher};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant, SystemTime};

#[derive(clap::Args)]
pub(crate) struct WatchArgs {
    /// Folders (watched recursively) or files to watch.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Also scan what is already there when the watch starts.
    #[arg(long)]
    initial: bool,
    /// How long a file must be quiet (no event, same size and time) before it is scanned.
    #[arg(long, value_name = "MILLISECONDS", default_value = "500")]
    settle: u64,
    /// Paths waiting to be scanned, at most; beyond, events wait (back-pressure).
    #[arg(long, value_name = "N", default_value = "10000")]
    queue: usize,
    /// Threads that scan [default: one per core].
    #[arg(long, value_name = "N", default_value = "0")]
    jobs: usize,
    /// Stop after this many results (for scripts and tests) [default: run until stopped].
    #[arg(long, value_name = "N")]
    count: Option<usize>,
    /// Alert (and, with --count, exit 1) when an unsuppressed finding reaches this severity
    /// [default: the policy's `fail_on`, else high].
    #[arg(long, env = "AIGIS_FAIL_ON", value_name = "SEVERITY|none")]
    fail_on: Option<FailOn>,
    /// Skip paths matching this glob (gitignore syntax, repeatable).
    #[arg(long, value_name = "GLOB", value_delimiter = ',')]
    exclude: Vec<String>,
    /// Trust this global in pickles (`module.Qualname` or `prefix.*`, repeatable).
    #[arg(long = "allow-global", value_name = "MODULE.NAME")]
    allow_global: Vec<String>,
    /// Wall-clock limit per file, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "60")]
    time_limit: f64,
    /// Cache folder [default: $XDG_CACHE_HOME/aigis or ~/.cache/aigis].
    #[arg(long, value_name = "DIR", env = "AIGIS_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Neither read nor write the result cache.
    #[arg(long)]
    no_cache: bool,
    /// Push each batch's report to this `aigis serve` inventory (its ingest endpoint), as CI
    /// jobs push theirs; the answer says what the inventory saw change.
    #[arg(long, value_name = "URL", env = "AIGIS_SERVER")]
    server: Option<String>,
    /// A token with the `ingest` scope for --server (`aigis serve token create`).
    #[arg(long, value_name = "TOKEN", env = "AIGIS_TOKEN")]
    token: Option<String>,
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    record: RecordArgs,
}

/// Names that are not (yet) the file a loader reads: download and editor temporaries.
fn is_temporary(path: &Path) -> bool {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy()) else {
        return true;
    };
    const SUFFIXES: &[&str] = &[
        ".incomplete",
        ".part",
        ".partial",
        ".tmp",
        ".temp",
        ".crdownload",
        ".download",
        ".swp",
        ".lock",
        "~",
    ];
    SUFFIXES.iter().any(|s| name.ends_with(s))
        || name.starts_with(".~lock.")
        || path.components().any(|c| c.as_os_str() == ".git")
}

/// Size and modification time: a file still being written changes one of them.
fn fingerprint(path: &Path) -> Option<(u64, SystemTime, bool)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?, meta.is_dir()))
}

/// A path waiting to be scanned.
struct Pending {
    last_event: Instant,
    seen: Option<(u64, SystemTime, bool)>,
    /// The last event said the writer is done (closed after writing, renamed into place):
    /// only a short quiet time is waited for.
    finished: bool,
}

/// Quiet time after a writer closed the file or renamed it into place.
const FINISHED_SETTLE: Duration = Duration::from_millis(30);

/// A watched root and what is known of it.
struct Root {
    path: PathBuf,
    /// (device, inode) of the folder being watched, when one is.
    watched: Option<(u64, u64)>,
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

struct Watch {
    args: WatchArgs,
    options: EngineOptions,
    webhooks: Vec<aigis_policy::Webhook>,
    /// Whether a result at or above the fail threshold is an alert (not with `--fail-on none`).
    alerting: bool,
    pending: HashMap<PathBuf, Pending>,
    roots: Vec<Root>,
    printed: usize,
    alerts: usize,
}

pub(crate) fn watch(args: WatchArgs) -> Result<ExitCode> {
    if !(args.time_limit.is_finite() && args.time_limit >= 0.0) {
        bail!("--time-limit must be a number of seconds");
    }
    if args.queue == 0 {
        bail!("--queue must be at least 1");
    }
    if args.server.is_some() && args.token.is_none() {
        bail!("--server needs --token (or AIGIS_TOKEN): a token with the `ingest` scope");
    }
    let policy = load_policy(&args.policy)?;
    let webhooks = policy.webhooks.clone();
    let mut scan = ScanOptions::default();
    scan.analysis.allow_globals = args.allow_global.clone();
    scan.analysis.limits.time_limit = Duration::from_secs_f64(args.time_limit);
    let fail_on = match args.fail_on {
        Some(FailOn::At(severity)) => Some(severity),
        _ => None,
    };
    let options = EngineOptions {
        scan,
        cache_dir: if args.no_cache {
            None
        } else {
            args.cache_dir
                .clone()
                .or_else(aigis_engine::default_cache_dir)
        },
        cache_mode: CacheMode::Stat,
        exclude: args.exclude.clone(),
        ignore_files: args.policy.ignore_files.clone(),
        fail_on,
        threads: args.jobs,
        policy,
        ..EngineOptions::default()
    };
    let mut roots = Vec::new();
    for path in &args.paths {
        let path =
            std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))?;
        if !path.exists() {
            eprintln!(
                "aigis watch: {} does not exist yet; waiting for it",
                aigis_report::terminal_safe(&path.to_string_lossy())
            );
        }
        roots.push(Root {
            path,
            watched: None,
        });
    }
    let alerting = args.fail_on != Some(FailOn::None);
    let (sender, events) = sync_channel(args.queue);
    let mut watcher = notify::recommended_watcher(Forward(sender)).context("starting the watch")?;
    let mut state = Watch {
        options,
        webhooks,
        alerting,
        pending: HashMap::new(),
        roots,
        printed: 0,
        alerts: 0,
        args,
    };
    state.check_roots(&mut watcher, true);
    if state.args.initial {
        let everything: Vec<PathBuf> = state.roots.iter().map(|r| r.path.clone()).collect();
        state.scan(everything)?;
    }
    eprintln!("aigis watch: watching {} path(s)", state.roots.len());
    state.run(&mut watcher, &events)
}

/// The `notify` handler: events into the bounded queue. A full queue blocks the watcher's
/// thread, so the kernel holds the events (back-pressure) until it overflows, which `notify`
/// reports as a rescan.
struct Forward(SyncSender<notify::Result<Event>>);

impl notify::EventHandler for Forward {
    fn handle_event(&mut self, event: notify::Result<Event>) {
        let _ = self.0.send(event);
    }
}

impl Watch {
    fn run(
        &mut self,
        watcher: &mut notify::RecommendedWatcher,
        events: &Receiver<notify::Result<Event>>,
    ) -> Result<ExitCode> {
        let mut last_root_check = Instant::now();
        loop {
            if self.done() {
                break;
            }
            // Idle: wake only to look at the roots; with paths waiting, often enough to scan
            // a finished file within a few tens of milliseconds.
            let tick = if self.pending.is_empty() {
                Duration::from_millis(250)
            } else {
                Duration::from_millis(10)
            };
            // Back-pressure: while the queue is full, only scanning makes room.
            if self.pending.len() < self.args.queue {
                match events.recv_timeout(tick) {
                    Ok(event) => {
                        self.take(event);
                        while self.pending.len() < self.args.queue {
                            match events.try_recv() {
                                Ok(event) => self.take(event),
                                Err(_) => break,
                            }
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => bail!("the watch stopped"),
                }
            }
            if last_root_check.elapsed() >= Duration::from_secs(1) {
                self.check_roots(watcher, false);
                last_root_check = Instant::now();
            }
            let ready = self.settled();
            if !ready.is_empty() {
                self.scan(ready)?;
            } else if self.pending.len() >= self.args.queue {
                std::thread::sleep(tick);
            }
        }
        Ok(ExitCode::from(u8::from(self.alerts > 0)))
    }

    fn done(&self) -> bool {
        self.args.count.is_some_and(|n| self.printed >= n)
    }

    /// One event: its paths wait to be scanned; an overflow rescans every root.
    fn take(&mut self, event: notify::Result<Event>) {
        let event = match event {
            Ok(event) => event,
            Err(err) => {
                eprintln!("aigis watch: {err}; scanning every root again");
                return self.rescan();
            }
        };
        if event.need_rescan() {
            eprintln!("aigis watch: events were lost; scanning every root again");
            return self.rescan();
        }
        // Content and names only: reading a file (aigis's own scan among them) raises access
        // and time-metadata events, which must not queue it again.
        let relevant = match event.kind {
            EventKind::Create(_) | EventKind::Any => true,
            EventKind::Modify(ModifyKind::Metadata(_)) => false,
            EventKind::Modify(_) => true,
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
            _ => false,
        };
        if !relevant {
            return;
        }
        let finished = matches!(
            event.kind,
            EventKind::Access(AccessKind::Close(AccessMode::Write))
                | EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
        );
        for path in event.paths {
            self.queue(path, finished);
        }
    }

    fn queue(&mut self, path: PathBuf, finished: bool) {
        if is_temporary(&path) {
            return;
        }
        let seen = fingerprint(&path);
        self.pending.insert(
            path,
            Pending {
                last_event: Instant::now(),
                seen,
                finished,
            },
        );
    }

    fn rescan(&mut self) {
        let roots: Vec<PathBuf> = self.roots.iter().map(|r| r.path.clone()).collect();
        for root in roots {
            self.queue(root, false);
        }
    }

    /// Paths quiet for the settle time whose size and time held still: ready to scan. Gone
    /// paths are dropped; a path that changed waits one more settle time.
    fn settled(&mut self) -> Vec<PathBuf> {
        let settle = Duration::from_millis(self.args.settle);
        let mut ready = Vec::new();
        let mut gone = Vec::new();
        for (path, pending) in &mut self.pending {
            let quiet = if pending.finished {
                FINISHED_SETTLE.min(settle)
            } else {
                settle
            };
            if pending.last_event.elapsed() < quiet {
                continue;
            }
            let now = fingerprint(path);
            match now {
                None => gone.push(path.clone()),
                Some(_) if now == pending.seen => ready.push(path.clone()),
                Some(_) => {
                    pending.seen = now;
                    pending.last_event = Instant::now();
                    pending.finished = false;
                }
            }
        }
        for path in gone.iter().chain(&ready) {
            self.pending.remove(path);
        }
        // A folder is scanned whole: what is under it need not be scanned again.
        let folders: Vec<PathBuf> = ready.iter().filter(|p| p.is_dir()).cloned().collect();
        ready.retain(|p| !folders.iter().any(|f| p != f && p.starts_with(f)));
        ready.sort();
        ready
    }

    /// Watches each root that exists and is not watched yet (or was replaced); forgets the ones
    /// that are gone. A root watched anew after the start is scanned whole.
    fn check_roots(&mut self, watcher: &mut notify::RecommendedWatcher, starting: bool) {
        let mut rescan = Vec::new();
        for root in &mut self.roots {
            let now = identity(&root.path);
            if now == root.watched {
                continue;
            }
            if root.watched.is_some() {
                let _ = watcher.unwatch(&root.path);
                root.watched = None;
                if now.is_none() {
                    eprintln!(
                        "aigis watch: {} is gone; waiting for it",
                        aigis_report::terminal_safe(&root.path.to_string_lossy())
                    );
                }
            }
            if now.is_none() {
                continue;
            }
            match watcher.watch(&root.path, RecursiveMode::Recursive) {
                Ok(()) => {
                    root.watched = now;
                    if !starting {
                        eprintln!(
                            "aigis watch: {} is back; scanning it",
                            aigis_report::terminal_safe(&root.path.to_string_lossy())
                        );
                        rescan.push(root.path.clone());
                    }
                }
                Err(err) => eprintln!(
                    "aigis watch: cannot watch {}: {err}",
                    aigis_report::terminal_safe(&root.path.to_string_lossy())
                ),
            }
        }
        for path in rescan {
            self.queue(path, false);
        }
    }

    /// One engine run over the paths; each result one JSON line.
    fn scan(&mut self, paths: Vec<PathBuf>) -> Result<()> {
        let targets = targets(&paths);
        let run = match aigis_engine::run(&targets, &self.options, &NoProgress) {
            Ok(run) => run,
            Err(err) => {
                // A path gone between settling and scanning: nothing to report.
                eprintln!("aigis watch: {err}");
                return Ok(());
            }
        };
        for warning in &run.warnings {
            // A watched folder that is (still) empty is not worth a warning.
            if !run
                .empty_targets
                .iter()
                .any(|t| warning.contains(t.as_str()))
            {
                crate::view::warn(warning);
            }
        }
        let report = crate::view::report(&run);
        let time = crate::view::rfc3339(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        );
        let mut out = std::io::stdout().lock();
        for result in &report.results {
            if self.done() {
                break;
            }
            let alert = self.alerting && result.max_severity.is_some_and(|s| s >= run.fail_on);
            let mut line = serde_json::to_value(result)?;
            if let serde_json::Value::Object(map) = &mut line {
                map.insert("event".into(), "scanned".into());
                map.insert("time".into(), time.clone().into());
                map.insert("alert".into(), alert.into());
            }
            writeln!(out, "{}", serde_json::to_string(&line)?)?;
            out.flush()?;
            self.printed += 1;
            if alert {
                self.alerts += 1;
                eprintln!(
                    "aigis watch: ALERT {} {}",
                    result.max_severity.map_or("?".into(), |s| s.to_string()),
                    aigis_report::terminal_safe(&result.path)
                );
            }
        }
        drop(out);
        let gate = gate(&self.args.policy, &self.options.policy);
        let code = crate::exit_code(&run, self.alerting, gate);
        let recorded = if self.args.record.record {
            match crate::inventory::record(&run, &targets, "watch", &self.args.record, true) {
                Ok(recorded) => Some(recorded),
                Err(err) => {
                    eprintln!("aigis watch: recording failed: {err:#}");
                    None
                }
            }
        } else {
            None
        };
        crate::announce(&run, code, "watch", &targets, recorded, &self.webhooks);
        if let (Some(server), Some(token)) = (&self.args.server, &self.args.token) {
            let mut report = report;
            report.targets = targets.clone();
            report.incomplete_fails = gate.incomplete;
            push(server, token, &report);
        }
        Ok(())
    }
}

/// Sends one batch's report to `aigis serve`; a server that cannot take it is a warning (the
/// results were printed and, with --record, recorded locally).
fn push(server: &str, token: &str, report: &aigis_report::ScanReport) {
    let body = match aigis_report::json::to_string(report) {
        Ok(body) => body,
        Err(err) => return crate::view::warn(&format!("report for {server} not made: {err}")),
    };
    let host = crate::view::host_name().unwrap_or_else(|| "localhost".to_owned());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let pushed = match runtime {
        Ok(rt) => rt.block_on(aigis_notify::push_report(
            server,
            token,
            &host,
            body.as_bytes(),
            3,
        )),
        Err(err) => return crate::view::warn(&format!("report not pushed: {err}")),
    };
    if let Err(err) = pushed {
        crate::view::warn(&format!("report not pushed to the server: {err}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporaries_wait_for_their_final_name() {
        for name in [
            "blobs/abc.incomplete",
            "model.bin.part",
            "x.safetensors.tmp",
            ".git/objects/ab/cd",
            "model.pt~",
        ] {
            assert!(is_temporary(Path::new(name)), "{name}");
        }
        for name in ["blobs/abc", "model.safetensors", "pytorch_model.bin"] {
            assert!(!is_temporary(Path::new(name)), "{name}");
        }
    }
}

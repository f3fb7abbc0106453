//! The one worker pool every artifact kind runs on.
//!
//! Jobs come from a shared queue (a job may add more: an image job adds one per layer); each
//! worker runs one job at a time. Every file a job analyses is timed from the moment the job
//! says so ([`JobCx::start`]): analysis is cooperative about the per-file time limit, and a file
//! that still has not finished shortly after it becomes a `TIME-LIMIT` `error` result — its
//! worker is abandoned (its later output is dropped) and replaced — while the run goes on. A job
//! that panics becomes an `ANALYSIS-CRASHED` `error` result with the panic message for the file it
//! was on; no result is ever lost.

use crate::Progress;
use aigis_scan::{FileResult, diagnostics};
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often the collecting thread looks for results and overdue workers.
const POLL: Duration = Duration::from_millis(1);

/// A unit of work: one file, one layer, one remote object…
pub(crate) trait Job: Send {
    /// The result path and size to report if the job dies before it names a file.
    fn label(&self) -> (String, u64);
    /// Does the work, reporting through `cx`.
    fn run(self: Box<Self>, cx: &JobCx);
}

/// What a running job talks to.
pub(crate) struct JobCx {
    shared: Arc<Shared>,
    worker: Arc<WorkerState>,
}

/// The file a worker is on, and since when.
#[derive(Default)]
struct Current {
    file: Option<(String, u64, Instant)>,
}

struct WorkerState {
    current: Mutex<Current>,
    /// Set by the watchdog: this worker's output no longer counts.
    abandoned: AtomicBool,
}

struct Queue {
    jobs: VecDeque<Box<dyn Job>>,
    /// Jobs queued or running (a running job may still add more).
    outstanding: usize,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    results: Mutex<mpsc::Sender<Message>>,
}

/// What workers tell the watchdog.
enum Message {
    /// A finished result.
    Result(Box<FileResult>),
    /// A large input is being hashed: (path, bytes hashed, total).
    Hashing(String, u64, u64),
    /// The last outstanding job finished.
    Done,
}

impl JobCx {
    /// Starts the time limit for the file `path` (`size` bytes): analysis of it begins now.
    pub(crate) fn start(&self, path: &str, size: u64) {
        lock(&self.worker.current).file = Some((path.to_string(), size, Instant::now()));
    }

    /// Stops timing: the job is between files (hashing, listing, decoding a layer stream).
    pub(crate) fn stop(&self) {
        lock(&self.worker.current).file = None;
    }

    /// Delivers a finished result.
    pub(crate) fn emit(&self, result: FileResult) {
        if self.worker.abandoned.load(Ordering::SeqCst) {
            return;
        }
        let _ = lock(&self.shared.results).send(Message::Result(Box::new(result)));
    }

    /// Reports how far the hash of a large input has got.
    pub(crate) fn hashing(&self, path: &str, done: u64, total: u64) {
        if !self.worker.abandoned.load(Ordering::SeqCst) {
            let _ =
                lock(&self.shared.results).send(Message::Hashing(path.to_string(), done, total));
        }
    }

    /// Queues another job (run by any worker).
    pub(crate) fn spawn(&self, job: Box<dyn Job>) {
        if self.worker.abandoned.load(Ordering::SeqCst) {
            return;
        }
        push(&self.shared, job);
    }
}

fn push(shared: &Shared, job: Box<dyn Job>) {
    let mut queue = lock(&shared.queue);
    queue.jobs.push_back(job);
    queue.outstanding += 1;
    shared.ready.notify_one();
}

/// Locks a mutex, recovering the data if a worker panicked while holding it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `jobs` (and the jobs they add) on `workers` threads; `progress` sees every result as it
/// arrives. Returns every result, in arrival order.
pub(crate) fn run(
    jobs: Vec<Box<dyn Job>>,
    workers: usize,
    time_limit: Duration,
    progress: &dyn Progress,
) -> Vec<FileResult> {
    if jobs.is_empty() {
        return Vec::new();
    }
    let give_up = time_limit + (time_limit / 4).max(Duration::from_secs(2));
    let (tx, rx) = mpsc::channel();
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue {
            jobs: VecDeque::new(),
            outstanding: 0,
        }),
        ready: Condvar::new(),
        results: Mutex::new(tx),
    });
    for job in jobs {
        push(&shared, job);
    }
    let mut states: Vec<Arc<WorkerState>> = (0..workers.max(1))
        .filter_map(|_| spawn_worker(&shared))
        .collect();
    if states.is_empty() {
        // No thread could be started: run everything here, without a watchdog.
        let state = Arc::new(WorkerState {
            current: Mutex::default(),
            abandoned: AtomicBool::new(false),
        });
        work(&shared, &state);
    }
    let mut results = Vec::new();
    let mut checked = Instant::now();
    loop {
        // Polled, not waited on: a receiver blocked in the channel makes every send a futex
        // wake-up and a context switch on the worker's core, which on a folder of small files
        // cost more than the channel itself (perf). Polling every millisecond keeps sends
        // free of wake-ups, at most a millisecond of latency for progress and the end.
        match rx.try_recv() {
            Ok(Message::Result(result)) => {
                progress.finished(&result);
                results.push(*result);
            }
            Ok(Message::Hashing(path, done, total)) => progress.hashing(&path, done, total),
            Ok(Message::Done) | Err(mpsc::TryRecvError::Disconnected) => break,
            Err(mpsc::TryRecvError::Empty) => std::thread::sleep(POLL),
        }
        if checked.elapsed() < Duration::from_millis(200) {
            continue;
        }
        checked = Instant::now();
        let mut replaced = Vec::new();
        for state in &states {
            let overdue = {
                let current = lock(&state.current);
                match &current.file {
                    Some((path, size, started)) if started.elapsed() > give_up => {
                        Some((path.clone(), *size))
                    }
                    _ => None,
                }
            };
            let Some((path, size)) = overdue else {
                continue;
            };
            if state.abandoned.swap(true, Ordering::SeqCst) {
                continue;
            }
            let result = timed_out(path, size, time_limit);
            progress.finished(&result);
            results.push(result);
            // The stuck job no longer counts; another worker takes its place.
            finish_job(&shared);
            if let Some(fresh) = spawn_worker(&shared) {
                replaced.push(fresh);
            }
        }
        states.retain(|s| !s.abandoned.load(Ordering::SeqCst));
        states.extend(replaced);
    }
    // Results sent before `Done` are already in the channel.
    while let Ok(message) = rx.try_recv() {
        if let Message::Result(result) = message {
            progress.finished(&result);
            results.push(*result);
        }
    }
    // Wake idle workers so they see the queue is finished and exit.
    shared.ready.notify_all();
    results
}

fn finish_job(shared: &Shared) {
    let mut queue = lock(&shared.queue);
    queue.outstanding = queue.outstanding.saturating_sub(1);
    if queue.outstanding == 0 {
        shared.ready.notify_all();
        let _ = lock(&shared.results).send(Message::Done);
    }
}

fn spawn_worker(shared: &Arc<Shared>) -> Option<Arc<WorkerState>> {
    let state = Arc::new(WorkerState {
        current: Mutex::default(),
        abandoned: AtomicBool::new(false),
    });
    let (thread_shared, thread_state) = (Arc::clone(shared), Arc::clone(&state));
    std::thread::Builder::new()
        .name("aigis-worker".into())
        .spawn(move || work(&thread_shared, &thread_state))
        .ok()
        .map(|_| state)
}

/// A worker: takes jobs until the queue is finished (or it is abandoned).
fn work(shared: &Arc<Shared>, state: &Arc<WorkerState>) {
    loop {
        let job = {
            let mut queue = lock(&shared.queue);
            loop {
                if let Some(job) = queue.jobs.pop_front() {
                    break Some(job);
                }
                if queue.outstanding == 0 {
                    break None;
                }
                queue = shared
                    .ready
                    .wait(queue)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        };
        let Some(job) = job else { return };
        let label = job.label();
        let cx = JobCx {
            shared: Arc::clone(shared),
            worker: Arc::clone(state),
        };
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| job.run(&cx)));
        if let Err(panic) = outcome {
            let (path, size) = lock(&state.current)
                .file
                .as_ref()
                .map_or(label, |(p, s, _)| (p.clone(), *s));
            cx.emit(crashed(path, size, &panic_message(&panic)));
        }
        cx.stop();
        if state.abandoned.load(Ordering::SeqCst) {
            // The watchdog already reported this job and accounted for it.
            return;
        }
        finish_job(shared);
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// The result for a file whose analysis never came back.
fn timed_out(path: String, size: u64, limit: Duration) -> FileResult {
    FileResult::failed(path, size, diagnostics::time_limit_abandoned(limit))
}

/// The result for a file whose analysis panicked.
fn crashed(path: String, size: u64, message: &str) -> FileResult {
    FileResult::failed(path, size, diagnostics::analysis_crashed(message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aigis_scan::{RuleId, Status};

    struct Sleepy(&'static str, Duration);
    impl Job for Sleepy {
        fn label(&self) -> (String, u64) {
            (self.0.into(), 0)
        }
        fn run(self: Box<Self>, cx: &JobCx) {
            cx.start(self.0, 0);
            std::thread::sleep(self.1);
            cx.emit(FileResult::new(
                self.0.into(),
                aigis_scan::Format::Unknown,
                0,
                Status::Ok,
                Vec::new(),
            ));
        }
    }

    struct Panics;
    impl Job for Panics {
        fn label(&self) -> (String, u64) {
            ("boom".into(), 7)
        }
        fn run(self: Box<Self>, _cx: &JobCx) {
            panic!("analyzer bug");
        }
    }

    struct Fans(usize);
    impl Job for Fans {
        fn label(&self) -> (String, u64) {
            ("fan".into(), 0)
        }
        fn run(self: Box<Self>, cx: &JobCx) {
            for i in 0..self.0 {
                cx.spawn(Box::new(Sleepy(
                    Box::leak(format!("child-{i}").into_boxed_str()),
                    Duration::ZERO,
                )));
            }
        }
    }

    #[test]
    fn panics_become_results_and_the_run_goes_on() {
        let jobs: Vec<Box<dyn Job>> = vec![
            Box::new(Panics),
            Box::new(Sleepy("a", Duration::ZERO)),
            Box::new(Sleepy("b", Duration::ZERO)),
        ];
        let results = run(jobs, 2, Duration::from_secs(5), &crate::NoProgress);
        assert_eq!(results.len(), 3, "{results:?}");
        let boom = results.iter().find(|r| r.path == "boom");
        let boom = boom.unwrap_or_else(|| panic!("no result for the panicking job"));
        assert_eq!(boom.status, Status::Error);
        assert_eq!(boom.findings[0].rule_id, RuleId::AnalysisCrashed);
        assert!(boom.findings[0].message.contains("analyzer bug"));
        assert_eq!(boom.size, 7);
    }

    #[test]
    fn stuck_files_time_out_and_jobs_may_add_jobs() {
        let jobs: Vec<Box<dyn Job>> = vec![
            Box::new(Sleepy("stuck", Duration::from_secs(4))),
            Box::new(Fans(5)),
        ];
        let results = run(jobs, 2, Duration::ZERO, &crate::NoProgress);
        let stuck = results.iter().find(|r| r.path == "stuck");
        let stuck = stuck.unwrap_or_else(|| panic!("no result: {results:?}"));
        assert_eq!(stuck.findings[0].rule_id, RuleId::TimeLimit);
        assert_eq!(
            results
                .iter()
                .filter(|r| r.path.starts_with("child-"))
                .count(),
            5
        );
        assert_eq!(results.len(), 6, "{results:?}");
    }
}

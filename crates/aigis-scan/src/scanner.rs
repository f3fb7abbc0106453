//! The scan pipeline driver: walk paths, open each file, hash it and analyze it in parallel.

use crate::analyzer::{AnalysisOptions, Context, Registry};
use crate::result::{FileResult, Status};
use crate::{ByteSource, FileSource, Format, MemorySource, RuleId};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

/// Files up to this size are read whole, once, and both hashed and analyzed from memory.
const READ_WHOLE: u64 = 8 << 20;
/// Chunk size for hashing large files.
const HASH_CHUNK: usize = 4 << 20;

/// Options for a scan run.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Options every analyzer sees.
    pub analysis: AnalysisOptions,
    /// Compute SHA-256 of every file.
    pub hash: bool,
}

impl Default for ScanOptions {
    fn default() -> ScanOptions {
        ScanOptions {
            analysis: AnalysisOptions::default(),
            hash: true,
        }
    }
}

/// Earlier results the scanner may reuse instead of analyzing a file again (an incremental
/// scan). Results are stored as the analyzers produced them, before any policy.
pub trait ResultCache: Send + Sync {
    /// A result recorded for this file whose metadata (size, times, inode) still matches, so
    /// the file need not even be read.
    fn by_metadata(&self, path: &Path, metadata: &std::fs::Metadata) -> Option<FileResult>;
    /// A result recorded for these bytes (lower-case hex SHA-256).
    fn by_content(&self, sha256: &str) -> Option<FileResult>;
    /// Records a fresh result; `result.sha256` is set. Results with
    /// `location_dependent` must only be reused for the same path.
    fn record(&self, path: &Path, metadata: &std::fs::Metadata, result: &FileResult);
}

/// Scans files and trees with a registry of analyzers.
pub struct Scanner {
    registry: Registry,
    options: ScanOptions,
    cache: Option<Arc<dyn ResultCache>>,
}

impl Scanner {
    /// A scanner with every built-in analyzer.
    pub fn new(options: ScanOptions) -> Scanner {
        Scanner {
            registry: crate::analyzers::registry(),
            options,
            cache: None,
        }
    }

    /// Consults `cache` before analyzing files and records fresh results in it. Needs hashing
    /// (ignored when [`ScanOptions::hash`] is off).
    pub fn with_cache(mut self, cache: Arc<dyn ResultCache>) -> Scanner {
        if self.options.hash {
            self.cache = Some(cache);
        }
        self
    }

    /// The options this scanner runs with.
    pub fn options(&self) -> &ScanOptions {
        &self.options
    }

    /// The analyzer registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Lists the regular files under each root (a root may itself be a file), sorted, with the
    /// display path each result will carry. Symbolic links are not followed.
    pub fn collect(&self, roots: &[PathBuf]) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for root in roots {
            let walker = ignore::WalkBuilder::new(root)
                .standard_filters(false)
                .follow_links(false)
                .build();
            for entry in walker.flatten() {
                if entry.file_type().is_some_and(|t| t.is_file()) {
                    files.push(entry.into_path());
                }
            }
        }
        files.sort();
        files.dedup();
        files
    }

    /// Scans files in parallel; `progress` is called once per finished file. Results keep the
    /// order of `files`.
    ///
    /// Files go to a pool of long-lived worker threads under a watchdog: analysis is cooperative
    /// about the time limit, and a file that still has not finished shortly after it is reported
    /// as `error` — its worker is abandoned and replaced — while the scan moves on.
    pub fn scan_files(
        self: &Arc<Self>,
        files: &[PathBuf],
        progress: &(dyn Fn(&FileResult) + Sync),
    ) -> Vec<FileResult> {
        let limit = self.options.analysis.limits.time_limit;
        let give_up = limit + (limit / 4).max(Duration::from_secs(2));
        let jobs = Arc::new(Mutex::new(
            files.iter().cloned().enumerate().collect::<VecDeque<_>>(),
        ));
        let running: Arc<Mutex<HashMap<usize, Instant>>> = Arc::default();
        let (done_tx, done_rx) = mpsc::channel();
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(files.len().max(1));
        for _ in 0..workers {
            self.spawn_worker(&jobs, &running, &done_tx);
        }
        let mut results: Vec<Option<FileResult>> = vec![None; files.len()];
        let mut pending = files.len();
        while pending > 0 {
            match done_rx.recv_timeout(Duration::from_millis(200)) {
                Ok((index, result)) => {
                    if let Some(slot) = results.get_mut(index)
                        && slot.is_none()
                    {
                        progress(&result);
                        *slot = Some(result);
                        pending -= 1;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let overdue: Vec<usize> = lock(&running)
                        .iter()
                        .filter(|(_, started)| started.elapsed() > give_up)
                        .map(|(index, _)| *index)
                        .collect();
                    for index in overdue {
                        lock(&running).remove(&index);
                        if let (Some(slot), Some(path)) = (results.get_mut(index), files.get(index))
                            && slot.is_none()
                        {
                            let result = timed_out(path, limit);
                            progress(&result);
                            *slot = Some(result);
                            pending -= 1;
                        }
                        // That worker is stuck inside a file: leave it and start another.
                        self.spawn_worker(&jobs, &running, &done_tx);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        results
            .into_iter()
            .zip(files)
            .map(|(result, path)| result.unwrap_or_else(|| timed_out(path, limit)))
            .collect()
    }

    fn spawn_worker(
        self: &Arc<Self>,
        jobs: &Arc<Mutex<VecDeque<(usize, PathBuf)>>>,
        running: &Arc<Mutex<HashMap<usize, Instant>>>,
        done: &mpsc::Sender<(usize, FileResult)>,
    ) {
        let (scanner, jobs, running, done) = (
            Arc::clone(self),
            Arc::clone(jobs),
            Arc::clone(running),
            done.clone(),
        );
        let work = move || {
            loop {
                let Some((index, path)) = lock(&jobs).pop_front() else {
                    break;
                };
                lock(&running).insert(index, Instant::now());
                let result = scanner.scan_file(&path);
                lock(&running).remove(&index);
                if done.send((index, result)).is_err() {
                    break;
                }
            }
        };
        if std::thread::Builder::new()
            .name("aigis-worker".into())
            .spawn(work)
            .is_err()
        {
            // No thread to be had: the remaining jobs are picked up by the other workers.
        }
    }

    /// Scans one local file (through the cache, when there is one).
    pub fn scan_file(&self, path: &Path) -> FileResult {
        let display = path.to_string_lossy().into_owned();
        let opened = File::open(path).and_then(|file| {
            let metadata = file.metadata()?;
            Ok((FileSource::new(file)?, metadata))
        });
        let (source, metadata) = match opened {
            Ok(opened) => opened,
            Err(err) => return self.error_result(display, 0, &err),
        };
        let cache = self.cache.as_deref();
        if let Some(mut cached) = cache.and_then(|c| c.by_metadata(path, &metadata)) {
            cached.path = display;
            return cached;
        }
        let size = source.len();
        let result = if size <= READ_WHOLE {
            let bytes = match source.read_vec(0, size as usize) {
                Ok(bytes) => bytes,
                Err(err) => return self.error_result(display, size, &err),
            };
            let sha = self
                .options
                .hash
                .then(|| hex::encode(Sha256::digest(&bytes)));
            if let Some(mut cached) = sha
                .as_deref()
                .and_then(|sha| reusable(cache?.by_content(sha)?, path))
            {
                cached.path = display;
                cache.inspect(|c| c.record(path, &metadata, &cached));
                return cached;
            }
            let mut result = self.scan_source_at(display, &MemorySource::new(bytes), Some(path));
            result.sha256 = sha;
            result.bytes_read = source.bytes_read();
            result
        } else if let Some(cache) = cache {
            // Hash first (at disk speed), so a known file is not analyzed at all.
            let sha = match hash_source(&source) {
                Ok(sha) => sha,
                Err(err) => return self.error_result(display, size, &err),
            };
            if let Some(mut cached) = cache.by_content(&sha).and_then(|r| reusable(r, path)) {
                cached.path = display;
                cache.record(path, &metadata, &cached);
                return cached;
            }
            let mut result = self.scan_source_at(display, &source, Some(path));
            result.sha256 = Some(sha);
            result.bytes_read = source.bytes_read().saturating_sub(size);
            result
        } else {
            let (sha, mut result) = rayon::join(
                || self.options.hash.then(|| hash_source(&source)),
                || self.scan_source_at(display.clone(), &source, Some(path)),
            );
            match sha {
                Some(Err(err)) => return self.error_result(display, size, &err),
                Some(Ok(sha)) => result.sha256 = Some(sha),
                None => {}
            }
            let hashed = if self.options.hash { size } else { 0 };
            result.bytes_read = source.bytes_read().saturating_sub(hashed);
            result
        };
        if let Some(cache) = cache
            && result.sha256.is_some()
            && result.status != Status::Error
        {
            cache.record(path, &metadata, &result);
        }
        result
    }

    /// Analyzes any byte source (no hashing): sniff, analyze, collect findings, set the status.
    pub fn scan_source(&self, path: String, source: &dyn ByteSource) -> FileResult {
        self.scan_source_at(path, source, None)
    }

    /// [`Scanner::scan_source`] for bytes read from `on_disk`, which folder-shaped formats
    /// (MLflow models) use to look at sibling files.
    fn scan_source_at(
        &self,
        path: String,
        source: &dyn ByteSource,
        on_disk: Option<&Path>,
    ) -> FileResult {
        let mut cx = Context::new(&self.registry, &self.options.analysis);
        if let Some(on_disk) = on_disk {
            cx.set_file_path(on_disk);
        }
        let format = self.registry.analyze(source, None, &mut cx);
        let status = if cx.read_failed() || cx.timed_out() {
            Status::Error
        } else if cx.is_invalid() {
            Status::Invalid
        } else if format == Format::Unknown && cx.findings().is_empty() {
            Status::Unsupported
        } else {
            Status::Ok
        };
        let location_dependent = cx.depends_on_location();
        let (findings, model) = cx.finish();
        let mut result = FileResult::new(path, format, source.len(), status, findings);
        result.location_dependent = location_dependent;
        result.model = model;
        result
    }

    fn error_result(&self, path: String, size: u64, err: &io::Error) -> FileResult {
        let finding = crate::Finding::new(RuleId::ReadError, format!("read failed: {err}"));
        FileResult::failed(path, size, finding)
    }
}

/// A cached result found by content is reusable unless it depended on where its file was.
fn reusable(result: FileResult, path: &Path) -> Option<FileResult> {
    let same_place = std::path::absolute(path)
        .ok()
        .zip(std::path::absolute(&result.path).ok())
        .is_some_and(|(a, b)| a == b);
    (!result.location_dependent || same_place).then_some(result)
}

/// Locks a mutex, recovering the data if a worker panicked while holding it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The result for a file whose analysis never came back.
fn timed_out(path: &Path, limit: Duration) -> FileResult {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let message = format!(
        "time limit of {} s exceeded; analysis abandoned",
        limit.as_secs_f64()
    );
    FileResult::failed(
        path.to_string_lossy().into_owned(),
        size,
        crate::Finding::new(RuleId::TimeLimit, message),
    )
}

/// Lower-case hex SHA-256 of a whole source, read sequentially in large chunks.
pub fn hash_source(source: &dyn ByteSource) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; HASH_CHUNK];
    let mut offset = 0u64;
    loop {
        let n = source.read_at(offset, &mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        offset += n as u64;
    }
    Ok(hex::encode(hasher.finalize()))
}

//! The scan pipeline driver: walk paths, open each file, hash it and analyze it in parallel.

use crate::analyzer::{AnalysisOptions, Context, Registry};
use crate::result::{FileResult, Status};
use crate::{ByteSource, FileSource, Format, MemorySource, RuleId};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::Duration;

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

/// Scans files and trees with a registry of analyzers.
pub struct Scanner {
    registry: Registry,
    options: ScanOptions,
}

impl Scanner {
    /// A scanner with every built-in analyzer.
    pub fn new(options: ScanOptions) -> Scanner {
        Scanner {
            registry: crate::analyzers::registry(),
            options,
        }
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
    /// order of `files`. Each file runs under a watchdog: analysis is cooperative about the time
    /// limit, and a file that still has not finished shortly after it is reported as `error`
    /// while the scan moves on.
    pub fn scan_files(
        self: &Arc<Self>,
        files: &[PathBuf],
        progress: &(dyn Fn(&FileResult) + Sync),
    ) -> Vec<FileResult> {
        files
            .par_iter()
            .map(|path| {
                let result = self.scan_file_watched(path);
                progress(&result);
                result
            })
            .collect()
    }

    /// Scans one file on its own thread and gives up waiting after the time limit plus grace.
    fn scan_file_watched(self: &Arc<Self>, path: &Path) -> FileResult {
        let limit = self.options.analysis.limits.time_limit;
        let grace = (limit / 4).max(Duration::from_secs(2));
        let (tx, rx) = mpsc::channel();
        let scanner = Arc::clone(self);
        let owned = path.to_path_buf();
        let spawned = std::thread::Builder::new()
            .name("aigis-file".into())
            .spawn(move || {
                let _ = tx.send(scanner.scan_file(&owned));
            });
        if spawned.is_err() {
            return self.scan_file(path);
        }
        match rx.recv_timeout(limit + grace) {
            Ok(result) => result,
            Err(_) => {
                let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                let message = format!(
                    "time limit of {} s exceeded; analysis abandoned",
                    limit.as_secs_f64()
                );
                failed_result(
                    path.to_string_lossy().into_owned(),
                    size,
                    crate::Finding::new(RuleId::TimeLimit, message),
                )
            }
        }
    }

    /// Scans one local file.
    pub fn scan_file(&self, path: &Path) -> FileResult {
        let display = path.to_string_lossy().into_owned();
        let opened = File::open(path).and_then(FileSource::new);
        let source = match opened {
            Ok(source) => source,
            Err(err) => return self.error_result(display, 0, &err),
        };
        let size = source.len();
        if size <= READ_WHOLE {
            return match source.read_vec(0, size as usize) {
                Ok(bytes) => {
                    let sha = self
                        .options
                        .hash
                        .then(|| hex::encode(Sha256::digest(&bytes)));
                    let mem = MemorySource::new(bytes);
                    let mut result = self.scan_source(display, &mem);
                    result.sha256 = sha;
                    result.bytes_read = source.bytes_read();
                    result
                }
                Err(err) => self.error_result(display, size, &err),
            };
        }
        let (sha, mut result) = rayon::join(
            || self.options.hash.then(|| hash_source(&source)),
            || self.scan_source(display.clone(), &source),
        );
        match sha {
            Some(Err(err)) => return self.error_result(display, size, &err),
            Some(Ok(sha)) => result.sha256 = Some(sha),
            None => {}
        }
        result.bytes_read =
            source
                .bytes_read()
                .saturating_sub(if self.options.hash { size } else { 0 });
        result
    }

    /// Analyzes any byte source (no hashing): sniff, analyze, collect findings, set the status.
    pub fn scan_source(&self, path: String, source: &dyn ByteSource) -> FileResult {
        let mut cx = Context::new(&self.registry, &self.options.analysis);
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
        let (findings, model) = cx.finish();
        let mut result = FileResult {
            path,
            format,
            size: source.len(),
            sha256: None,
            status,
            max_severity: None,
            findings,
            bytes_read: 0,
            model,
            source: None,
        };
        result.normalize();
        result
    }

    fn error_result(&self, path: String, size: u64, err: &io::Error) -> FileResult {
        let finding = crate::Finding::new(RuleId::ReadError, format!("read failed: {err}"));
        failed_result(path, size, finding)
    }
}

/// A result with status `error` and the one finding that says why.
fn failed_result(path: String, size: u64, finding: crate::Finding) -> FileResult {
    FileResult::failed(path, size, finding)
}

/// SHA-256 of a whole source, read sequentially in large chunks.
fn hash_source(source: &dyn ByteSource) -> io::Result<String> {
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

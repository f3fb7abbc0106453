//! Scanning one input, whatever artifact it came from: a local file (opened without blocking,
//! refused unless it is a regular file, answered from the cache when its metadata or content is
//! known), or bytes inside an artifact (an image member). Every input goes through
//! [`RunCx::analyze`]: hash, cache by content, analyze — or, for an inventory without findings
//! ([`Depth::Facts`]), header facts of model files only.

use crate::cache::Cache;
use crate::pool::{Job, JobCx};
use crate::{Depth, image};
use aigis_scan::analyzer::HEAD_LEN;
use aigis_scan::deep::Inspector;
use aigis_scan::{
    ByteSource, FileResult, FileSource, Format, MemorySource, Scanner, Status, diagnostics,
    hash_source,
};
use std::fs::{File, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Files up to this size are read whole, once, and both hashed and analyzed from memory.
const READ_WHOLE: u64 = 8 << 20;
/// Chunk read at a time while hashing.
const HASH_CHUNK: usize = 4 << 20;

/// Why hashing stopped.
enum HashStop {
    /// The budget ran out after this many bytes.
    Budget(u64),
    /// The file could not be read.
    Io(io::Error),
}

/// SHA-256 of a whole source, unless `deadline` passes first; reports progress to the run.
fn hash_until(
    source: &dyn ByteSource,
    deadline: Instant,
    job: &JobCx,
    display: &str,
) -> Result<String, HashStop> {
    pass_until(source, deadline, job, display, true, None).map(|sha| sha.unwrap_or_default())
}

/// One sequential pass over a whole source, unless `deadline` passes first: the SHA-256 (when
/// `hash`) and, from the same buffers, the deep checks' `inspector` (both on one chunk at a
/// time, side by side). Reports progress to the run.
fn pass_until(
    source: &dyn ByteSource,
    deadline: Instant,
    job: &JobCx,
    display: &str,
    hash: bool,
    mut inspector: Option<&mut Inspector>,
) -> Result<Option<String>, HashStop> {
    use sha2::Digest;
    let mut hasher = hash.then(sha2::Sha256::new);
    let mut buf = vec![0u8; HASH_CHUNK];
    let total = source.len();
    let mut offset = 0u64;
    loop {
        if Instant::now() > deadline {
            return Err(HashStop::Budget(offset));
        }
        let n = source.read_at(offset, &mut buf).map_err(HashStop::Io)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        match (&mut hasher, inspector.as_deref_mut()) {
            (Some(hasher), Some(inspector)) => {
                rayon::join(|| hasher.update(chunk), || inspector.feed(offset, chunk));
            }
            (Some(hasher), None) => hasher.update(chunk),
            (None, Some(inspector)) => inspector.feed(offset, chunk),
            (None, None) => {}
        }
        offset += n as u64;
        if offset % (256 << 20) < n as u64 {
            job.hashing(display, offset, total);
        }
    }
    Ok(hasher.map(|h| hex::encode(h.finalize())))
}

/// What every job of a run shares.
pub(crate) struct RunCx {
    /// The analyzers and their options.
    pub scanner: Scanner,
    /// The result cache, when on (needs hashing).
    pub cache: Option<Cache>,
    /// How deep the run looks.
    pub depth: Depth,
    /// Inputs analysed (not answered from the cache).
    pub analysed: std::sync::atomic::AtomicUsize,
}

/// The result for an input whose bytes could not be read.
pub(crate) fn read_error(path: String, size: u64, err: impl std::fmt::Display) -> FileResult {
    FileResult::failed(path, size, diagnostics::read_failed(err))
}

/// A result for a file that describes a model without being one, or that is not a model.
fn plain(path: String, size: u64) -> FileResult {
    FileResult::new(path, Format::Unknown, size, Status::Unsupported, Vec::new())
}

impl RunCx {
    /// Analyzes `source` (`display` in results; `on_disk` when it is a local file, which
    /// folder-shaped formats look around). `sha256` is its hash when already known.
    pub(crate) fn analyze(
        &self,
        job: &JobCx,
        display: String,
        source: &dyn ByteSource,
        on_disk: Option<&Path>,
        sha256: Option<String>,
    ) -> FileResult {
        job.start(&display, source.len());
        self.analysed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut result = self.scanner.scan_source_at(display, source, on_disk);
        result.sha256 = sha256;
        job.stop();
        result
    }

    /// `--deep` on a large file: the analysis first (it declares where the tensors lie; headers
    /// only, quick), then one pass over the bytes that hashes them and feeds the tensor ranges
    /// to the deep checks from the same buffers, on a budget of its own: no second read.
    fn deep_pass(
        &self,
        job: &JobCx,
        display: &str,
        real: &Path,
        source: &FileSource,
        limit: std::time::Duration,
    ) -> (Option<Result<String, HashStop>>, FileResult) {
        job.start(display, source.len());
        self.analysed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (mut result, tensors) =
            self.scanner
                .scan_source_tensors(display.to_string(), source, Some(real));
        job.stop();
        let hash = self.scanner.options().hash;
        let mut inspector = Inspector::new(tensors);
        if !hash && inspector.is_empty() {
            return (None, result);
        }
        let deadline = Instant::now() + limit;
        let inspect = (!inspector.is_empty()).then_some(&mut inspector);
        let sha = pass_until(source, deadline, job, display, hash, inspect);
        if !inspector.is_empty() {
            let size = source.len();
            if inspector.fed() < size && result.incomplete.is_none() {
                result.incomplete = Some(format!(
                    "deep checks: {} of {size} bytes read within the {} s budget",
                    inspector.fed(),
                    limit.as_secs_f64()
                ));
            }
            let options = &self.scanner.options().analysis;
            let findings = inspector.finish(source, self.scanner.registry(), options);
            self.scanner.add_deep_findings(&mut result, findings);
        }
        let sha = match sha {
            Ok(Some(sha)) => Some(Ok(sha)),
            Ok(None) => None,
            Err(stop) => hash.then_some(Err(stop)),
        };
        (sha, result)
    }

    /// Header facts only ([`Depth::Facts`]): a file a sniff takes for a model is analysed and
    /// its findings dropped (a partial look is not a verdict); a side file (`config.json`, a
    /// card) gets an empty result; anything else none.
    fn facts(
        &self,
        job: &JobCx,
        display: String,
        name: &Path,
        source: &dyn ByteSource,
        on_disk: Option<&Path>,
    ) -> Option<FileResult> {
        let size = source.len();
        if aigis_inventory::candidate::is_side_file(name) {
            return Some(plain(display, size));
        }
        let head = source.read_vec(0, HEAD_LEN).ok()?;
        if size == 0
            || !aigis_inventory::candidate::is_candidate(self.scanner.registry(), name, &head, size)
        {
            return None;
        }
        let mut result = self.analyze(job, display, source, on_disk, None);
        result.findings.clear();
        result.normalize();
        Some(result)
    }

    /// Scans bytes that are not a local file of their own (a file inside an image layer).
    pub(crate) fn scan_bytes(
        &self,
        job: &JobCx,
        display: String,
        name: &Path,
        source: &dyn ByteSource,
    ) -> Option<FileResult> {
        if self.depth == Depth::Facts {
            return self.facts(job, display, name, source, None);
        }
        let sha = if self.scanner.options().hash {
            match hash_source(source) {
                Ok(sha) => Some(sha),
                Err(err) => {
                    return Some(read_error(display, source.len(), err));
                }
            }
        } else {
            None
        };
        if let Some(cached) = sha
            .as_deref()
            .and_then(|sha| self.cache.as_ref()?.by_content(sha, None, &display))
        {
            return Some(FileResult {
                path: display,
                ..cached
            });
        }
        let result = self.analyze(job, display, source, None, sha);
        if let Some(cache) = &self.cache
            && result.status != Status::Error
        {
            cache.record(None, &result);
        }
        Some(result)
    }

    /// Scans the local file `real` (shown as `display`, open as `source`), through the
    /// cache. `None` in a facts run for files that are not models.
    fn scan_local(
        &self,
        job: &JobCx,
        display: String,
        real: &Path,
        source: &FileSource,
        metadata: &Metadata,
    ) -> Option<FileResult> {
        if self.depth == Depth::Facts {
            let name = PathBuf::from(&display);
            return self.facts(job, display, &name, source, Some(real));
        }
        // Bytes read before analysis (the image probe) are not the analysis's.
        let probe = source.bytes_read();
        let cache = self.cache.as_ref();
        if let Some(cached) = cache.and_then(|c| c.by_metadata(real, metadata)) {
            return Some(FileResult {
                path: display,
                ..cached
            });
        }
        let hash = self.scanner.options().hash;
        let size = source.len();
        let result = if size <= READ_WHOLE {
            let bytes = match source.read_vec(0, size as usize) {
                Ok(bytes) => bytes,
                Err(err) => return Some(read_error(display, size, err)),
            };
            let memory = MemorySource::new(bytes);
            let sha = if hash {
                hash_source(&memory).ok()
            } else {
                None
            };
            if let Some(cached) = sha
                .as_deref()
                .and_then(|sha| cache?.by_content(sha, Some(real), &display))
            {
                cache.inspect(|c| c.record(Some((real, metadata)), &cached));
                return Some(FileResult {
                    path: display,
                    ..cached
                });
            }
            let mut result = self.analyze(job, display, &memory, Some(real), sha);
            result.bytes_read = source.bytes_read().saturating_sub(probe);
            result
        } else {
            // Analysis first, on the per-file time limit; the hash beside it, on a budget of its
            // own: a file too large to hash in time still gets its verdict (without a hash), and
            // hashing never eats the analysis's time.
            let limit = self.scanner.options().analysis.limits.time_limit;
            let (sha, mut result) = if self.scanner.options().analysis.deep {
                self.deep_pass(job, &display, real, source, limit)
            } else {
                let deadline = Instant::now() + limit;
                rayon::join(
                    || hash.then(|| hash_until(source, deadline, job, &display)),
                    || self.analyze(job, display.clone(), source, Some(real), None),
                )
            };
            match sha {
                Some(Err(HashStop::Io(err))) => {
                    return Some(read_error(display, size, err));
                }
                Some(Err(HashStop::Budget(hashed))) => {
                    result.hash_skipped = Some(format!(
                        "not hashed: {hashed} of {size} bytes hashed within the {} s budget",
                        limit.as_secs_f64()
                    ));
                }
                Some(Ok(sha)) => result.sha256 = Some(sha),
                None => {}
            }
            let hashed = if hash { size } else { 0 };
            result.bytes_read = source.bytes_read().saturating_sub(hashed + probe);
            result
        };
        if let Some(cache) = cache
            && result.sha256.is_some()
            && result.status != Status::Error
        {
            cache.record(Some((real, metadata)), &result);
        }
        Some(result)
    }
}

/// Why a path was not opened for reading.
#[derive(Debug, thiserror::Error)]
enum OpenError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("not a regular file ({0})")]
    NotRegular(&'static str),
}

impl OpenError {
    fn finding(&self) -> aigis_scan::Finding {
        match self {
            OpenError::Io(err) => diagnostics::read_failed(err),
            OpenError::NotRegular(kind) => diagnostics::not_regular_file(kind),
        }
    }
}

/// Opens `path` for reading without ever blocking (a FIFO swapped in after listing opens at
/// once with `O_NONBLOCK`), and refuses anything but a regular file after `fstat`.
fn open_regular(path: &Path) -> Result<(File, Metadata), OpenError> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let metadata = file.metadata()?;
    let kind = metadata.file_type();
    if kind.is_file() {
        return Ok((file, metadata));
    }
    Err(OpenError::NotRegular(if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_dir() {
        "a folder"
    } else {
        "a special file"
    }))
}

/// Whether a local file is a `docker save` tarball (scanned as an image).
fn is_image(source: &FileSource) -> bool {
    let head = source.read_vec(0, 512).unwrap_or_default();
    head.get(257..262) == Some(b"ustar") && image::is_docker_archive(source)
}

/// One local file, under every path the walk found it by.
pub(crate) struct LocalJob {
    /// The run.
    pub cx: Arc<RunCx>,
    /// Paths as found (results carry these).
    pub paths: Vec<String>,
    /// What to read.
    pub real: PathBuf,
}

impl Job for LocalJob {
    fn label(&self) -> (String, u64) {
        (self.paths.first().cloned().unwrap_or_default(), 0)
    }

    fn run(self: Box<Self>, job: &JobCx) {
        let Some(first) = self.paths.first() else {
            return;
        };
        let opened = open_regular(&self.real).and_then(|(file, metadata)| {
            Ok((FileSource::new(file).map_err(OpenError::Io)?, metadata))
        });
        let result = match opened {
            Err(err) => Some(FileResult::failed(first.clone(), 0, err.finding())),
            Ok((source, _)) if is_image(&source) => {
                image::scan(&self.cx, job, first, &self.real);
                return;
            }
            Ok((source, metadata)) => {
                self.cx
                    .scan_local(job, first.clone(), &self.real, &source, &metadata)
            }
        };
        let Some(result) = result else {
            return;
        };
        for path in self.paths.iter().skip(1) {
            job.emit(FileResult {
                path: path.clone(),
                ..result.clone()
            });
        }
        job.emit(result);
    }
}

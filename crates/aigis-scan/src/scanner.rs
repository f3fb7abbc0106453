//! Analysis of one byte source: sniff, analyze, findings, status.

use crate::analyzer::{AnalysisOptions, Context, Registry};
use crate::result::{FileResult, Status};
use crate::{ByteSource, Format};
use sha2::{Digest, Sha256};
use std::io;
use std::path::Path;

/// Chunk size for hashing large files.
const HASH_CHUNK: usize = 4 << 20;
/// Version of what the scanner itself decides around its analyzers (so far: names that claim
/// a model, content that is not one). Part of the cache key with every analyzer's version.
pub const PIPELINE_VERSION: u32 = 2;
/// Bytes read to say what a file named like a model is instead (an LFS pointer, a web page).
const CLAIM_HEAD: usize = 64;

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

/// Analyzes byte sources with a registry of analyzers. Deciding which files to read, hashing,
/// caching and running many files at once belong to the run around it (`aigis-engine`).
pub struct Scanner {
    registry: Registry,
    options: ScanOptions,
}

impl Scanner {
    /// A scanner with every built-in analyzer.
    pub fn new(options: ScanOptions) -> Scanner {
        Scanner::with_registry(crate::analyzers::registry(), options)
    }

    /// A scanner with a registry of one's own (tests, embedders).
    pub fn with_registry(registry: Registry, options: ScanOptions) -> Scanner {
        Scanner { registry, options }
    }

    /// The options this scanner runs with.
    pub fn options(&self) -> &ScanOptions {
        &self.options
    }

    /// The analyzer registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Analyzes any byte source (no hashing): sniff, analyze, collect findings, set the status.
    pub fn scan_source(&self, path: String, source: &dyn ByteSource) -> FileResult {
        self.scan_source_at(path, source, None)
    }

    /// [`Scanner::scan_source`] for bytes read from the local file `on_disk`, which
    /// folder-shaped formats (MLflow models) use to look at sibling files.
    pub fn scan_source_at(
        &self,
        path: String,
        source: &dyn ByteSource,
        on_disk: Option<&Path>,
    ) -> FileResult {
        let (mut result, tensors) = self.scan_source_tensors(path, source, on_disk);
        if !tensors.is_empty() {
            // Nobody fed the tensor bytes from a pass of their own: read them here (no read
            // for an in-memory source).
            let findings = crate::deep::inspect_source(
                source,
                tensors,
                &self.registry,
                &self.options.analysis,
            );
            self.add_deep_findings(&mut result, findings);
        }
        result
    }

    /// Adds the findings of the deep checks ([`crate::deep::Inspector::finish`]) to a result.
    pub fn add_deep_findings(&self, result: &mut FileResult, findings: Vec<crate::Finding>) {
        for finding in findings {
            if !result.findings.contains(&finding) {
                result.findings.push(finding);
            }
        }
        result.normalize();
    }

    /// [`Scanner::scan_source_at`] without the deep checks' read: the result, and the tensors
    /// declared for them (with [`AnalysisOptions::deep`]), for a caller that feeds an
    /// [`crate::deep::Inspector`] from its own pass over the bytes (the engine's hashing).
    pub fn scan_source_tensors(
        &self,
        path: String,
        source: &dyn ByteSource,
        on_disk: Option<&Path>,
    ) -> (FileResult, Vec<crate::deep::TensorSpan>) {
        let mut cx = Context::new(&self.registry, &self.options.analysis);
        if let Some(on_disk) = on_disk {
            cx.set_file_path(on_disk);
        }
        let format = self.registry.analyze(source, None, &mut cx);
        // The name matters only now: content no analyzer claims, under a model's name. The
        // result then holds for these bytes under this name only (`x.pkl` is `invalid` where
        // the same bytes as `x` are `unsupported`), so a cache must not hand it to other names.
        let name_dependent =
            format == Format::Unknown && cx.findings().is_empty() && !cx.read_failed();
        if name_dependent {
            match source.read_vec(0, CLAIM_HEAD) {
                Ok(head) => crate::claimed::judge_unrecognised(&path, &head, source.len(), &mut cx),
                Err(err) => cx.read_error(&err),
            }
        }
        let status = if cx.read_failed() || cx.timed_out() {
            Status::Error
        } else if cx.is_invalid() {
            Status::Invalid
        } else if format == Format::Unknown && cx.findings().is_empty() {
            Status::Unsupported
        } else {
            Status::Ok
        };
        let location_dependent = cx.depends_on_location() || name_dependent;
        let timed_out = cx.timed_out().then(|| cx.limits().time_limit);
        let consulted = cx.consulted().to_vec();
        let read_failed = cx.read_failed();
        let programs = cx.take_programs();
        let tensors = cx.take_tensors();
        let (findings, model, incomplete) = cx.finish();
        let mut result = FileResult::new(path, format, source.len(), status, findings);
        result.location_dependent = location_dependent;
        result.model = model;
        result.consulted = consulted;
        result.programs = programs;
        result.incomplete = incomplete.or_else(|| {
            if let Some(limit) = timed_out {
                Some(format!("time limit of {} s reached", limit.as_secs_f64()))
            } else {
                read_failed.then(|| "the input could not be read to its end".to_string())
            }
        });
        (result, tensors)
    }
}

/// Lower-case hex SHA-256 of a whole source, read sequentially in large chunks.
pub fn hash_source(source: &dyn ByteSource) -> io::Result<String> {
    let mut hasher = Sha256::new();
    // No larger than the source: zeroing a 4 MiB buffer for each small file was half the cost
    // of scanning a folder of small pickles. A source that grows is still read to its end.
    let size = usize::try_from(source.len()).unwrap_or(HASH_CHUNK);
    let mut buf = vec![0u8; size.clamp(1, HASH_CHUNK)];
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

#[cfg(test)]
mod tests {
    use super::{HASH_CHUNK, hash_source};
    use crate::MemorySource;
    use sha2::{Digest, Sha256};

    #[test]
    fn hashes_match_whatever_the_size() {
        for size in [
            0,
            1,
            4096,
            HASH_CHUNK - 1,
            HASH_CHUNK,
            HASH_CHUNK + 5,
            2 * HASH_CHUNK + 3,
        ] {
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let expected = hex::encode(Sha256::digest(&data));
            let got = hash_source(&MemorySource::new(data)).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(got, expected, "{size}");
        }
    }
}

//! The AI model inventory: which models are on a host or in a tree, where they came from, who
//! can replace them, and an AI-BOM of them.
//!
//! ```no_run
//! use aigis_inventory::{InventoryOptions, discover};
//! use aigis_scan::{ScanOptions, Scanner};
//! use std::sync::Arc;
//!
//! let scanner = Arc::new(Scanner::new(ScanOptions { hash: false, ..ScanOptions::default() }));
//! let inventory = discover(&["models/".into()], &InventoryOptions::default(), &scanner);
//! for model in &inventory.models {
//!     println!("{} {:?} {:?}", model.name, model.architecture, model.max_severity);
//! }
//! ```
//!
//! The pipeline: [`walk`] sniffs every file's head in parallel and keeps model candidates and
//! side files; candidates get header facts (or, with [`InventoryOptions::scan`], a full scan);
//! [`host`] adds who-can-write findings; [`model::group`] turns files into models with
//! [`provenance`] and model cards; [`bom`] writes CycloneDX 1.6 and SPDX 3.0.

pub mod bom;
pub mod card;
pub mod facts;
pub mod host;
pub mod image;
pub mod model;
pub mod provenance;
pub mod walk;

pub use card::ModelCard;
pub use host::{HostChecker, SymlinkEscape};
pub use model::{Entry, Model, ModelFile, Role};
pub use provenance::{Provenance, SourceKind};
pub use walk::WalkOptions;

use aigis_scan::{FileResult, FileSource, Format, Scanner, Status};
use rayon::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;

/// Options of [`discover`].
#[derive(Debug, Clone, Default)]
pub struct InventoryOptions {
    /// Walk options (excludes, threads).
    pub walk: WalkOptions,
    /// Fully scan (hash and analyze) the model files found, not just read header facts.
    pub scan: bool,
}

/// What [`discover`] found.
#[derive(Debug, Default)]
pub struct Inventory {
    /// Models, sorted by path.
    pub models: Vec<Model>,
    /// Links leading out of the scanned tree.
    pub escapes: Vec<SymlinkEscape>,
    /// Regular files looked at.
    pub files_visited: u64,
}

/// An empty result for a side file (`config.json`, a card…): not a model format.
fn side_result(path: String, size: u64) -> FileResult {
    FileResult::new(path, Format::Unknown, size, Status::Unsupported, Vec::new())
}

/// SHA-256 of a file.
fn sha256_file(path: &std::path::Path) -> std::io::Result<String> {
    let source = aigis_scan::FileSource::new(std::fs::File::open(path)?)?;
    aigis_scan::hash_source(&source)
}

/// Walks `roots`, reads facts (or scans, see [`InventoryOptions::scan`]) of the candidates,
/// checks host context and groups the files into models.
pub fn discover(
    roots: &[PathBuf],
    options: &InventoryOptions,
    scanner: &Arc<Scanner>,
) -> Inventory {
    let walked = walk::walk(roots, &options.walk, scanner.registry());
    let (candidates, side): (Vec<_>, Vec<_>) = walked
        .files
        .into_iter()
        .partition(|f| f.kept == walk::Kept::Candidate);
    let results: Vec<FileResult> = if options.scan {
        let real: Vec<PathBuf> = candidates.iter().map(|f| f.real.clone()).collect();
        scanner.scan_files(&real, &|_| {})
    } else {
        candidates
            .par_iter()
            .map(|f| {
                let display = f.path.to_string_lossy().into_owned();
                match std::fs::File::open(&f.real).and_then(FileSource::new) {
                    Ok(source) => scanner.scan_source(display, &source),
                    Err(_) => side_result(display, f.size),
                }
            })
            .collect()
    };
    let host = HostChecker::new();
    let mut entries = Vec::with_capacity(candidates.len() + side.len());
    for (found, mut result) in candidates.into_iter().zip(results) {
        result.path = found.path.to_string_lossy().into_owned();
        if !options.scan {
            // Header facts only: findings of a partial look are not a verdict.
            result.findings.clear();
            result.normalize();
        }
        if result.format != Format::Unknown {
            host.annotate(&mut result, &found.real);
        }
        entries.push(Entry {
            path: found.path,
            real: found.real,
            result,
            scanned: options.scan,
        });
    }
    let side_hashes: Vec<Option<String>> = side
        .par_iter()
        .map(|f| options.scan.then(|| sha256_file(&f.real).ok()).flatten())
        .collect();
    for (found, sha256) in side.into_iter().zip(side_hashes) {
        let mut result = side_result(found.path.to_string_lossy().into_owned(), found.size);
        result.sha256 = sha256;
        entries.push(Entry {
            path: found.path,
            real: found.real,
            result,
            scanned: false,
        });
    }
    Inventory {
        models: model::group(entries),
        escapes: walked.escapes,
        files_visited: walked.visited,
    }
}

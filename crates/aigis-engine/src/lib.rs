//! The aigis engine: one run for every command.
//!
//! **artifact source → select → sniff → analyze → findings → context → policy → run result**
//!
//! ```no_run
//! use aigis_engine::{EngineOptions, NoProgress, run};
//!
//! let run = run(&["models/".into()], &EngineOptions::default(), &NoProgress)?;
//! for result in &run.results {
//!     println!("{} {} {:?}", result.path, result.format, result.max_severity);
//! }
//! for model in &run.models {
//!     println!("{} {:?}", model.name, model.max_severity);
//! }
//! # Ok::<(), aigis_engine::EngineError>(())
//! ```
//!
//! Artifacts are local trees and files, container images (a `docker save` tarball anywhere in a
//! tree, or an OCI layout folder), and remote locations (buckets, HTTPS, the Hugging Face Hub).
//! Each yields inputs through one selection rule (every file, its format decided from content)
//! onto one worker pool (a per-file time limit, panics caught), through the same analyzers,
//! limits, cache and policy. `aigis scan`, `discover` and `bom` are views of the [`Run`].

mod cache;
mod changed;
mod file;
mod image;
mod licenses;
mod load_sites;
mod locations;
mod pool;
#[cfg(feature = "remote")]
mod remote;
mod select;
mod signatures;
pub use signatures::SignatureOptions;

pub use cache::{Cache, CacheError, CacheMode, default_dir as default_cache_dir, ruleset_version};
pub use locations::standard_model_locations;
pub use select::IGNORE_FILE;

use aigis_inventory::{Entry, HostChecker, Model, model};
use aigis_policy::{Date, Policy};
use aigis_scan::{FileResult, Format, Registry, ScanOptions, Scanner, Severity, Status};
use file::{LocalJob, RunCx};
use pool::{Job, JobCx};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a run could not start (problems with single inputs are results, not errors).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A local path given as a target does not exist.
    #[error("no such file or directory: {}", .0.display())]
    NotFound(PathBuf),
    /// `--changed-since` could not ask git.
    #[error("{0}")]
    Git(String),
    /// A remote target could not be listed, or remote support is not built in.
    #[error("{0}")]
    Remote(String),
}

/// How deep a run looks at each file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Depth {
    /// Hash and fully analyze every file (`scan`, `bom`, `discover --scan`).
    #[default]
    Full,
    /// Header facts of model files only, findings dropped (`discover`): an inventory, not a
    /// verdict. Files that are not models get no result.
    Facts,
}

/// Everything that shapes a run.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Analysis options and hashing.
    pub scan: ScanOptions,
    /// How deep to look.
    pub depth: Depth,
    /// The result cache folder; `None` runs uncached (needs hashing either way). A folder that
    /// is not the current user's alone is not used.
    pub cache_dir: Option<PathBuf>,
    /// How the cache may answer (by metadata, or by content only).
    pub cache_mode: CacheMode,
    /// Paths to skip (gitignore syntax).
    pub exclude: Vec<String>,
    /// Ignore files the operator names, obeyed wherever they are (`--ignore-file`); the
    /// `.aigisignore` files of the working directory's project are obeyed too, no others.
    pub ignore_files: Vec<PathBuf>,
    /// Read only the files git reports changed since this revision (under the local targets).
    pub changed_since: Option<String>,
    /// The policy: allow/deny lists join the analysis options, include/exclude globs select,
    /// severity overrides and suppressions are applied to the results.
    pub policy: Policy,
    /// Fail threshold given by the operator (wins over the policy's).
    pub fail_on: Option<Severity>,
    /// Worker threads for local inputs (0: one per core).
    pub threads: usize,
    /// Model signatures: keys, identity, trusted root (`aigis-sign`).
    pub signatures: SignatureOptions,
    /// Remote access.
    #[cfg(feature = "remote")]
    pub remote: aigis_remote::RemoteOptions,
    /// Remote targets name objects exactly (a fleet worker's shard, from a listing): they are
    /// read without listing each, with one read of each bucket's access configuration.
    pub remote_exact: bool,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions {
            scan: ScanOptions::default(),
            depth: Depth::Full,
            cache_dir: None,
            cache_mode: CacheMode::Stat,
            exclude: Vec::new(),
            ignore_files: Vec::new(),
            changed_since: None,
            policy: Policy::default(),
            fail_on: None,
            threads: 0,
            signatures: SignatureOptions::default(),
            #[cfg(feature = "remote")]
            remote: aigis_remote::RemoteOptions::default(),
            remote_exact: false,
        }
    }
}

/// Cache use of a run.
#[derive(Debug, Clone)]
pub struct CacheStats {
    /// The cache folder.
    pub dir: PathBuf,
    /// Inputs answered from the cache.
    pub hits: usize,
    /// Inputs analysed.
    pub misses: usize,
}

/// One run's result: what every command shows.
#[derive(Debug)]
pub struct Run {
    /// One result per input (file, image file, remote object), plus results for what could not
    /// be read and for links leading out of the tree; sorted by path within local and remote.
    pub results: Vec<FileResult>,
    /// The results grouped into models.
    pub models: Vec<Model>,
    /// Run-level notes (expired suppressions, a cache that could not be saved…).
    pub warnings: Vec<String>,
    /// The run fails when an unsuppressed finding reaches this severity.
    pub fail_on: Severity,
    /// How deep the run looked.
    pub depth: Depth,
    /// Local files looked at.
    pub files_visited: u64,
    /// Paths skipped by `--exclude` globs.
    pub excluded: u64,
    /// Paths skipped by the operator's ignore files.
    pub ignored: u64,
    /// The policy file applied, if any.
    pub policy_file: Option<PathBuf>,
    /// Targets that held nothing to scan (an empty folder, a prefix with no objects): a run
    /// that scanned nothing is not a pass, unless the operator allows it.
    pub empty_targets: Vec<String>,
    /// Cache use, when the cache was on.
    pub cache: Option<CacheStats>,
}

impl Run {
    /// Highest severity of any unsuppressed finding in any result.
    pub fn max_severity(&self) -> Option<Severity> {
        self.results.iter().filter_map(|r| r.max_severity).max()
    }

    /// Whether an unsuppressed finding reaches the fail threshold.
    pub fn fails(&self) -> bool {
        self.max_severity().is_some_and(|max| max >= self.fail_on)
    }

    /// Results whose analysis did not cover the whole input (see [`FileResult::incomplete`]).
    pub fn incomplete(&self) -> impl Iterator<Item = &FileResult> {
        self.results.iter().filter(|r| r.incomplete.is_some())
    }

    /// Results that belong to no model (files that are not models, unreadable paths, …).
    pub fn loose(&self) -> Vec<FileResult> {
        let claimed: HashSet<&str> = self
            .models
            .iter()
            .flat_map(|m| m.files.iter().map(|f| f.path.as_str()))
            .collect();
        self.results
            .iter()
            .filter(|r| !claimed.contains(r.path.as_str()))
            .cloned()
            .collect()
    }
}

/// Dependency files were checked against an advisory database: every report names it and its
/// date, and warns when it is more than [`ADVISORY_DB_MAX_AGE_DAYS`] days old.
fn advisory_database_notes(results: &[FileResult], today: Date) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    for r in results {
        if r.format == aigis_scan::Format::PythonDependencies
            && let Some(db) = r.model.metadata.get("advisory_database")
        {
            let date = r
                .model
                .metadata
                .get("advisory_database_date")
                .cloned()
                .unwrap_or_default();
            seen.insert((db.clone(), date));
        }
    }
    seen.into_iter()
        .map(|(db, date)| {
            let age = Date::parse(&date).map(|d| today.days_since_epoch() - d.days_since_epoch());
            match age {
                Some(days) if days > ADVISORY_DB_MAX_AGE_DAYS => format!(
                    "dependencies were checked against the advisory database {db}, {days} days old: advisories published since are not known; refresh it with `aigis db update --from FILE`"
                ),
                Some(_) => format!("dependencies were checked against the advisory database {db}"),
                None => format!(
                    "dependencies were checked against the advisory database {db}, which carries no date: how current it is is unknown"
                ),
            }
        })
        .collect()
}

/// Age past which the advisory database is reported as stale.
const ADVISORY_DB_MAX_AGE_DAYS: i64 = 30;

/// Watches a run as it goes.
pub trait Progress: Sync {
    /// `inputs` more inputs are known.
    fn planned(&self, _inputs: u64) {}
    /// One result is in.
    fn finished(&self, _result: &FileResult) {}
    /// A large input is being hashed, `done` of `total` bytes so far.
    fn hashing(&self, _path: &str, _done: u64, _total: u64) {}
}

/// A run nobody watches.
pub struct NoProgress;

impl Progress for NoProgress {}

/// Whether `target` names a remote location rather than a local path.
pub fn is_remote(target: &str) -> bool {
    #[cfg(feature = "remote")]
    {
        aigis_remote::is_remote(target)
    }
    #[cfg(not(feature = "remote"))]
    {
        [
            "s3://", "gs://", "az://", "abfs://", "abfss://", "https://", "http://", "hf://",
        ]
        .iter()
        .any(|s| target.to_ascii_lowercase().starts_with(s))
    }
}

/// An OCI image layout folder given as a target.
struct ImageDirJob {
    cx: Arc<RunCx>,
    path: PathBuf,
}

impl Job for ImageDirJob {
    fn label(&self) -> (String, u64) {
        (self.path.to_string_lossy().into_owned(), 0)
    }

    fn run(self: Box<Self>, job: &JobCx) {
        let display = self.path.to_string_lossy().into_owned();
        image::scan(&self.cx, job, &display, &self.path);
    }
}

/// A path shown relative to the current folder when it lies under it.
fn display_path(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}

/// The local files to read: the walk of `roots`, or git's changed files under them.
fn select_local(roots: &[PathBuf], options: &EngineOptions) -> Result<select::Walked, EngineError> {
    let Some(reference) = &options.changed_since else {
        let project = std::env::current_dir()
            .ok()
            .and_then(|d| std::fs::canonicalize(d).ok());
        return Ok(select::walk(
            roots,
            &select::WalkOptions {
                exclude: options.exclude.clone(),
                ignore_files: options.ignore_files.clone(),
                project,
                threads: options.threads,
            },
        ));
    };
    let canonical: Vec<PathBuf> = roots
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    let start = canonical.first().map_or_else(
        || PathBuf::from("."),
        |r| {
            if r.is_dir() {
                r.clone()
            } else {
                r.parent().map_or_else(|| r.clone(), Path::to_path_buf)
            }
        },
    );
    let files: Vec<select::Selected> = changed::changed_files(&start, reference)?
        .into_iter()
        .filter(|f| canonical.is_empty() || canonical.iter().any(|r| f.starts_with(r)))
        .map(|f| {
            let shown = display_path(&f);
            select::Selected {
                paths: vec![shown.clone()],
                real: shown,
            }
        })
        .collect();
    Ok(select::Walked {
        visited: files.len() as u64,
        files,
        ..select::Walked::default()
    })
}

/// Runs the engine over `targets` (local paths and remote URLs) with every built-in analyzer.
pub fn run(
    targets: &[String],
    options: &EngineOptions,
    progress: &dyn Progress,
) -> Result<Run, EngineError> {
    run_with_registry(
        targets,
        options,
        aigis_scan::analyzers::registry(),
        progress,
    )
}

/// [`run`] with analyzers of one's own (embedders, tests).
pub fn run_with_registry(
    targets: &[String],
    options: &EngineOptions,
    registry: Registry,
    progress: &dyn Progress,
) -> Result<Run, EngineError> {
    let policy = &options.policy;
    let mut scan = options.scan.clone();
    scan.analysis
        .allow_globals
        .extend(policy.allow_globals.iter().cloned());
    scan.analysis
        .deny_globals
        .extend(policy.deny_globals.iter().cloned());
    let scanner = Scanner::with_registry(registry, scan);
    let mut warnings = Vec::new();
    let cache = match &options.cache_dir {
        Some(dir) if scanner.options().hash => {
            let ruleset = ruleset_version(&scanner, scanner.options());
            match Cache::open(dir, &ruleset, options.cache_mode) {
                Ok(cache) => Some(cache),
                Err(err) => {
                    warnings.push(format!(
                        "cache {} not used ({err}); scanning without it",
                        dir.display()
                    ));
                    None
                }
            }
        }
        _ => None,
    };
    let time_limit = scanner.options().analysis.limits.time_limit;
    let cx = Arc::new(RunCx {
        scanner,
        cache,
        depth: options.depth,
        analysed: Default::default(),
    });

    let mut local_roots = Vec::new();
    let mut remote_targets = Vec::new();
    for target in targets {
        if is_remote(target) {
            remote_targets.push(target.clone());
            continue;
        }
        let path = PathBuf::from(target);
        if std::fs::symlink_metadata(&path).is_err() {
            return Err(EngineError::NotFound(path));
        }
        local_roots.push(path);
    }
    #[cfg(not(feature = "remote"))]
    if let Some(url) = remote_targets.first() {
        return Err(EngineError::Remote(format!(
            "{url}: this aigis was built without the `remote` feature"
        )));
    }

    // Select: OCI layout folders are images; everything else is walked (a `docker save`
    // tarball found on the way is recognised by content when it is read).
    let (image_dirs, roots): (Vec<PathBuf>, Vec<PathBuf>) = local_roots
        .into_iter()
        .partition(|r| r.is_dir() && image::is_oci_layout(r));
    let walked = if roots.is_empty() && options.changed_since.is_none() {
        select::Walked::default()
    } else {
        select_local(&roots, options)?
    };
    let mut empty_targets = Vec::new();
    if options.changed_since.is_none() {
        for root in &roots {
            let found = walked
                .files
                .iter()
                .flat_map(|f| &f.paths)
                .chain(walked.unreadable.iter().map(|u| &u.path))
                .any(|p| p.starts_with(root));
            if !found {
                empty_targets.push(root.to_string_lossy().into_owned());
            }
        }
    }
    let mut jobs: Vec<Box<dyn Job>> = Vec::new();
    let mut on_disk: HashMap<String, PathBuf> = HashMap::new();
    for file in walked.files {
        let paths: Vec<String> = file
            .paths
            .iter()
            .filter(|p| policy.includes(p))
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        if paths.is_empty() {
            continue;
        }
        for path in &paths {
            on_disk.insert(path.clone(), file.real.clone());
        }
        jobs.push(Box::new(LocalJob {
            cx: Arc::clone(&cx),
            paths,
            real: file.real,
        }));
    }
    for dir in image_dirs {
        jobs.push(Box::new(ImageDirJob {
            cx: Arc::clone(&cx),
            path: dir,
        }));
    }
    progress.planned(jobs.len() as u64);
    let workers = match options.threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let mut results = pool::run(jobs, workers, time_limit, progress);
    results.sort_by(|a, b| a.path.cmp(&b.path));

    #[cfg(feature = "remote")]
    if !remote_targets.is_empty() {
        let client = aigis_remote::RemoteScanner::new(options.remote.clone())
            .map_err(|e| EngineError::Remote(e.to_string()))?;
        let client = Arc::new(client);
        let batches: Vec<(String, Vec<aigis_remote::RemoteObject>)> = if options.remote_exact {
            let objects = client
                .objects(&remote_targets)
                .map_err(|e| EngineError::Remote(e.to_string()))?;
            vec![(String::new(), objects)]
        } else {
            let mut batches = Vec::with_capacity(remote_targets.len());
            for url in &remote_targets {
                let objects = client
                    .list(url)
                    .map_err(|e| EngineError::Remote(e.to_string()))?;
                batches.push((url.clone(), objects));
            }
            batches
        };
        for (url, objects) in batches {
            progress.planned(objects.len() as u64);
            if objects.is_empty() && !options.remote_exact {
                empty_targets.push(url);
            }
            let jobs: Vec<Box<dyn Job>> = objects
                .into_iter()
                .map(|object| {
                    Box::new(remote::RemoteJob {
                        cx: Arc::clone(&cx),
                        client: Arc::clone(&client),
                        object,
                    }) as Box<dyn Job>
                })
                .collect();
            let mut found = pool::run(jobs, client.concurrency(), time_limit, progress);
            found.sort_by(|a, b| a.path.cmp(&b.path));
            results.extend(found);
        }
    }

    // Context: who can replace a local model, links out of the tree, what could not be read.
    let host = HostChecker::new();
    for result in &mut results {
        if result.format != Format::Unknown
            && let Some(real) = on_disk.get(&result.path)
        {
            host.annotate(result, real);
        }
    }
    // A link leading out of the tree is context on what it reaches (or a result of its own for
    // a folder link).
    for escape in walked.escapes {
        let path = escape.link.to_string_lossy().into_owned();
        let finding = aigis_inventory::SymlinkEscape {
            link: escape.link,
            target: escape.target,
        }
        .finding();
        match results.iter_mut().find(|r| r.path == path) {
            Some(result) => {
                result.findings.push(finding);
                result.location_dependent = true;
                result.normalize();
            }
            None => {
                let mut result =
                    FileResult::new(path, Format::Unknown, 0, Status::Ok, vec![finding]);
                result.location_dependent = true;
                results.push(result);
            }
        }
    }
    // Configuration that came with the content is never applied: say so where it sits.
    let applied_policy = policy
        .origin
        .as_ref()
        .and_then(|p| std::fs::canonicalize(p).ok());
    for result in &mut results {
        let Some(real) = on_disk.get(&result.path) else {
            continue;
        };
        let name = real.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let planted = match name {
            aigis_policy::FILE_NAME => std::fs::canonicalize(real).ok() != applied_policy,
            select::IGNORE_FILE => walked
                .untrusted_ignore_files
                .iter()
                .any(|f| std::fs::canonicalize(f).ok() == std::fs::canonicalize(real).ok()),
            _ => false,
        };
        if planted {
            result
                .findings
                .push(aigis_scan::diagnostics::config_not_applied(name));
            result.location_dependent = true;
            result.normalize();
        }
    }
    // Load sites in code, linked to the verdicts of the models they name.
    let roots: Vec<PathBuf> = targets
        .iter()
        .filter(|t| !is_remote(t))
        .map(|t| {
            let p = PathBuf::from(t);
            if p.is_file() {
                p.parent().map(Path::to_path_buf).unwrap_or(p)
            } else {
                p
            }
        })
        .collect();
    load_sites::link(&mut results, &on_disk, &roots);
    warnings.extend(advisory_database_notes(&results, Date::today()));
    for unreadable in walked.unreadable {
        results.push(FileResult::failed(
            unreadable.path.to_string_lossy().into_owned(),
            0,
            aigis_scan::diagnostics::unreadable_path(&unreadable.reason),
        ));
    }

    // License conditions per model.
    licenses::check(policy, &mut results, &on_disk, options.depth == Depth::Full);

    // Model signatures, on the digests just computed (before the policy, which may raise them).
    let signed = signatures::check(
        &mut results,
        &on_disk,
        &options.signatures,
        policy,
        &mut warnings,
    );

    // Policy: overrides and suppressions over everything.
    let applied = policy.apply(&mut results, Date::today());
    warnings.extend(applied.warnings);
    for target in &empty_targets {
        warnings.push(format!("{target}: nothing to scan there"));
    }

    let cache = cx
        .cache
        .as_ref()
        .zip(options.cache_dir.as_ref())
        .map(|(cache, dir)| {
            if let Err(err) = cache.save() {
                warnings.push(format!("cache not saved in {}: {err}", dir.display()));
            }
            CacheStats {
                dir: dir.clone(),
                hits: cache.hits(),
                misses: cx.analysed.load(std::sync::atomic::Ordering::Relaxed),
            }
        });

    let entries = inventory_entries(&results, &on_disk, options.depth == Depth::Full);
    let mut models = model::group(entries);
    for model in &mut models {
        model.signature = signed.get(&model.path).cloned();
    }
    Ok(Run {
        models,
        results,
        warnings,
        fail_on: options.fail_on.or(policy.fail_on).unwrap_or(Severity::High),
        depth: options.depth,
        files_visited: walked.visited,
        excluded: walked.excluded,
        ignored: walked.ignored,
        policy_file: policy.origin.clone(),
        empty_targets,
        cache,
    })
}

/// The `image` fuzz target's entry point (shared with the test that replays its regressions).
#[doc(hidden)]
pub mod fuzzing {
    use std::sync::OnceLock;

    /// A container image tarball through the whole engine: the outer tar, `manifest.json`, the
    /// config, every layer (gzip/zstd or plain) and its whiteouts, then every file of the final
    /// tree. The engine reads paths, so the input is written to a scratch file first.
    pub fn image(data: &[u8]) {
        static PATH: OnceLock<std::path::PathBuf> = OnceLock::new();
        let path = PATH.get_or_init(|| {
            let shm = std::path::Path::new("/dev/shm");
            let dir = if shm.is_dir() {
                shm.to_path_buf()
            } else {
                std::env::temp_dir()
            };
            dir.join(format!("aigis-fuzz-image-{}.tar", std::process::id()))
        });
        if std::fs::write(path, data).is_ok() {
            let mut options = crate::EngineOptions::default();
            options.scan.analysis = aigis_scan::fuzzing::options();
            options.scan.hash = false;
            options.threads = 1;
            let target = path.to_string_lossy().into_owned();
            let _ = crate::run(&[target], &options, &crate::NoProgress);
        }
    }
}

/// The inventory's entry for each result: the path reported and the file on disk it was read
/// from (the same path when it was not a local file), for grouping into models.
pub(crate) fn inventory_entries<'r>(
    results: impl IntoIterator<Item = &'r FileResult>,
    on_disk: &HashMap<String, PathBuf>,
    scanned: bool,
) -> Vec<Entry> {
    results
        .into_iter()
        .map(|r| {
            let path = PathBuf::from(&r.path);
            Entry {
                real: on_disk
                    .get(&r.path)
                    .cloned()
                    .unwrap_or_else(|| path.clone()),
                path,
                result: r.clone(),
                scanned,
            }
        })
        .collect()
}

//! Selection: which files of a local tree a run reads. One rule for every command: every file
//! (its format is decided later, from content), walked in parallel, never entering `/proc`,
//! `/sys`, `/dev`.
//!
//! - **Links are followed the way loaders follow them.** A link to a file is read as its target
//!   wherever that is, a link to a folder is walked (loops are detected and reported); a link
//!   leading out of the walked trees is context (`HOST-SYMLINK-ESCAPE` on what it reaches), not a
//!   reason to skip — except the links of a Hugging Face hub cache (`snapshots/<rev>/x` →
//!   `../../blobs/<hash>`), which are its normal layout. Paths reaching the same file (device,
//!   inode) are read once and reported under each path.
//! - **What the operator excludes is excluded, and counted**: `--exclude` globs, and the
//!   `.aigisignore` files (gitignore syntax) of the operator's own project — the working
//!   directory's tree — or given with `--ignore-file`. An `.aigisignore` inside a scanned target
//!   elsewhere (a downloaded model folder) is not obeyed: it is read as a file like any other and
//!   reported, so a planted one is visible.
//! - **Nothing unreadable passes silently**: a folder that cannot be read, a broken link and a
//!   link loop are results of their own.

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// The ignore file read in the operator's folders (gitignore syntax).
pub const IGNORE_FILE: &str = ".aigisignore";
/// Pseudo file systems never entered.
const PSEUDO: &[&str] = &["/proc", "/sys", "/dev"];

/// Options of a walk.
#[derive(Debug, Clone, Default)]
pub(crate) struct WalkOptions {
    /// Globs (gitignore syntax) of paths to skip.
    pub exclude: Vec<String>,
    /// Ignore files the operator names (obeyed wherever they are, for paths below their folder).
    pub ignore_files: Vec<PathBuf>,
    /// The operator's project folder (canonical): `.aigisignore` files inside it are obeyed.
    pub project: Option<PathBuf>,
    /// Worker threads (0: one per core).
    pub threads: usize,
}

/// One file to read, under every path it was found by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selected {
    /// Paths as found (a link keeps its own path), sorted.
    pub paths: Vec<PathBuf>,
    /// What to read: the file, or the target of a link.
    pub real: PathBuf,
}

/// A link that leads out of the walked trees: (the link, where it leads).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Escape {
    pub link: PathBuf,
    pub target: PathBuf,
}

/// Something the walk could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unreadable {
    /// The path.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

/// What a walk found.
#[derive(Debug, Default)]
pub(crate) struct Walked {
    /// Files, sorted by first path.
    pub files: Vec<Selected>,
    /// Links that lead out of the walked trees (followed).
    pub escapes: Vec<Escape>,
    /// Folders and entries that could not be read.
    pub unreadable: Vec<Unreadable>,
    /// `.aigisignore` files found and not obeyed (inside a scanned target, outside the project).
    pub untrusted_ignore_files: Vec<PathBuf>,
    /// Files looked at (links to files included).
    pub visited: u64,
    /// Paths skipped by `--exclude`.
    pub excluded: u64,
    /// Paths skipped by the operator's `.aigisignore` files / `--ignore-file`.
    pub ignored: u64,
}

fn is_pseudo(path: &Path) -> bool {
    PSEUDO.iter().any(|fs| path == Path::new(fs))
}

/// Whether the link at `link` (absolute) reaching `target` (canonical) is a Hugging Face hub
/// cache's own link: `…/models--org--name/snapshots/<rev>/…` → `…/models--org--name/blobs/…`.
fn is_hub_cache_link(link: &Path, target: &Path) -> bool {
    let Some(repo) = link.ancestors().find(|a| {
        a.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
            ["models--", "datasets--", "spaces--"]
                .iter()
                .any(|p| n.starts_with(p))
        })
    }) else {
        return false;
    };
    let in_snapshots = link
        .strip_prefix(repo)
        .is_ok_and(|rest| rest.starts_with("snapshots"));
    let repo = std::fs::canonicalize(repo).unwrap_or_else(|_| repo.to_path_buf());
    in_snapshots && target.starts_with(repo.join("blobs"))
}

/// The exclusion rules of one walk, applied while it goes, with what they skipped counted.
struct Rules {
    exclude: Option<Gitignore>,
    /// Folder (absolute) → its obeyed ignore file.
    ignore_files: RwLock<HashMap<PathBuf, Gitignore>>,
    project: Option<PathBuf>,
    untrusted: Mutex<Vec<PathBuf>>,
    excluded: AtomicU64,
    ignored: AtomicU64,
}

impl Rules {
    fn new(options: &WalkOptions) -> Rules {
        let exclude = (!options.exclude.is_empty()).then(|| {
            let mut builder = GitignoreBuilder::new("/");
            for glob in &options.exclude {
                let _ = builder.add_line(None, glob);
            }
            builder.build().unwrap_or_else(|_| Gitignore::empty())
        });
        let mut ignore_files = HashMap::new();
        for file in &options.ignore_files {
            let file = std::path::absolute(file).unwrap_or_else(|_| file.clone());
            let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
            let mut builder = GitignoreBuilder::new(&dir);
            if builder.add(&file).is_none()
                && let Ok(built) = builder.build()
            {
                ignore_files.insert(dir, built);
            }
        }
        Rules {
            exclude,
            ignore_files: RwLock::new(ignore_files),
            project: options.project.clone(),
            untrusted: Mutex::default(),
            excluded: AtomicU64::new(0),
            ignored: AtomicU64::new(0),
        }
    }

    /// Reads the `.aigisignore` of folder `dir` (absolute), obeying it only inside the project.
    fn enter(&self, dir: &Path) {
        let file = dir.join(IGNORE_FILE);
        if !file.is_file() {
            return;
        }
        let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let trusted = self
            .project
            .as_ref()
            .is_some_and(|p| canonical.starts_with(p));
        if !trusted {
            lock(&self.untrusted).push(file);
            return;
        }
        let mut builder = GitignoreBuilder::new(dir);
        if builder.add(&file).is_none()
            && let Ok(built) = builder.build()
        {
            write(&self.ignore_files).insert(dir.to_path_buf(), built);
        }
    }

    /// Whether the entry at `path` (absolute) is kept; counts what is skipped.
    fn keep(&self, path: &Path, is_dir: bool) -> bool {
        if let Some(exclude) = &self.exclude
            && exclude.matched(path, is_dir).is_ignore()
        {
            self.excluded.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let files = read(&self.ignore_files);
        if !files.is_empty() {
            let mut ignored = false;
            // Outermost folder first: a deeper ignore file has the last word.
            let mut dirs: Vec<&Path> = path.ancestors().skip(1).collect();
            dirs.reverse();
            for dir in dirs {
                if let Some(rules) = files.get(dir) {
                    let matched = rules.matched(path, is_dir);
                    if matched.is_ignore() {
                        ignored = true;
                    } else if matched.is_whitelist() {
                        ignored = false;
                    }
                }
            }
            if ignored {
                self.ignored.fetch_add(1, Ordering::Relaxed);
                return false;
            }
        }
        true
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|p| p.into_inner())
}

/// One entry of the walk, before grouping paths by file.
struct Raw {
    path: PathBuf,
    real: PathBuf,
    /// (device, inode) of the file read, when known.
    id: Option<(u64, u64)>,
}

#[derive(Default)]
struct Collected {
    raw: Vec<Raw>,
    escapes: Vec<Escape>,
    unreadable: Vec<Unreadable>,
}

fn file_id(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

/// Walks `roots` (files or folders) in parallel.
pub(crate) fn walk(roots: &[PathBuf], options: &WalkOptions) -> Walked {
    let Some((first, rest)) = roots.split_first() else {
        return Walked::default();
    };
    let canonical: Vec<PathBuf> = roots
        .iter()
        .filter_map(|r| std::fs::canonicalize(r).ok())
        .collect();
    let rules = Arc::new(Rules::new(options));
    for root in roots {
        let root = std::path::absolute(root).unwrap_or_else(|_| root.clone());
        if !root.is_dir() {
            continue;
        }
        // The root's own ignore file, and those of the project folders above it.
        rules.enter(&root);
        for dir in root.ancestors().skip(1) {
            let in_project = options
                .project
                .as_ref()
                .is_some_and(|p| std::fs::canonicalize(dir).is_ok_and(|c| c.starts_with(p)));
            if in_project {
                rules.enter(dir);
            }
        }
    }
    let mut builder = ignore::WalkBuilder::new(first);
    for root in rest {
        builder.add(root);
    }
    let filter_rules = Arc::clone(&rules);
    builder
        .standard_filters(false)
        .follow_links(true)
        .threads(options.threads)
        .filter_entry(move |e| {
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            let path = std::path::absolute(e.path()).unwrap_or_else(|_| e.path().to_path_buf());
            if is_dir && is_pseudo(&path) {
                return false;
            }
            if e.depth() > 0 && !filter_rules.keep(&path, is_dir) {
                return false;
            }
            if is_dir && e.depth() > 0 {
                filter_rules.enter(&path);
            }
            true
        });
    let found = Mutex::new(Collected::default());
    builder.build_parallel().run(|| {
        let canonical = &canonical;
        let mut collector = Collector {
            local: Collected::default(),
            found: &found,
        };
        Box::new(move |entry| {
            let local = &mut collector.local;
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    local.unreadable.push(unreadable(&err));
                    return ignore::WalkState::Continue;
                }
            };
            let path = entry.path();
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            let mut real = path.to_path_buf();
            if entry.path_is_symlink() {
                let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
                match std::fs::canonicalize(path) {
                    Ok(target) => {
                        let inside = canonical.iter().any(|r| target.starts_with(r));
                        if !inside && !is_hub_cache_link(&absolute, &target) {
                            local.escapes.push(Escape {
                                link: path.to_path_buf(),
                                target: target.clone(),
                            });
                        }
                        real = target;
                    }
                    Err(err) => {
                        local.unreadable.push(Unreadable {
                            path: path.to_path_buf(),
                            reason: format!("symbolic link cannot be resolved: {err}"),
                        });
                        return ignore::WalkState::Continue;
                    }
                }
            }
            if is_dir {
                return ignore::WalkState::Continue;
            }
            // Regular files and everything else that is not a folder (FIFOs, sockets, devices):
            // the scan decides what it can read.
            let id = std::fs::metadata(&real).ok().map(|m| file_id(&m));
            local.raw.push(Raw {
                path: path.to_path_buf(),
                real,
                id,
            });
            ignore::WalkState::Continue
        })
    });
    let collected = found.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut walked = Walked {
        visited: collected.raw.len() as u64,
        escapes: collected.escapes,
        unreadable: collected.unreadable,
        untrusted_ignore_files: std::mem::take(&mut *lock(&rules.untrusted)),
        excluded: rules.excluded.load(Ordering::Relaxed),
        ignored: rules.ignored.load(Ordering::Relaxed),
        files: Vec::new(),
    };
    // One entry per file: a link and its target are read once.
    let mut by_id: BTreeMap<(u64, u64), Selected> = BTreeMap::new();
    for raw in collected.raw {
        match raw.id {
            Some(id) => {
                let selected = by_id.entry(id).or_insert_with(|| Selected {
                    paths: Vec::new(),
                    real: raw.real.clone(),
                });
                // Read the file through a path that is not a link when there is one.
                if raw.real == raw.path {
                    selected.real = raw.real;
                }
                selected.paths.push(raw.path);
            }
            None => walked.files.push(Selected {
                paths: vec![raw.path],
                real: raw.real,
            }),
        }
    }
    walked.files.extend(by_id.into_values());
    for file in &mut walked.files {
        file.paths.sort();
        file.paths.dedup();
    }
    walked.files.sort_by(|a, b| a.paths.cmp(&b.paths));
    walked.escapes.sort();
    walked.escapes.dedup();
    walked.unreadable.sort_by(|a, b| a.path.cmp(&b.path));
    walked.unreadable.dedup();
    walked.untrusted_ignore_files.sort();
    walked.untrusted_ignore_files.dedup();
    walked
}

/// The unreadable path and reason of a walk error.
fn unreadable(err: &ignore::Error) -> Unreadable {
    fn path_of(err: &ignore::Error) -> Option<PathBuf> {
        match err {
            ignore::Error::WithPath { path, .. } => Some(path.clone()),
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                path_of(err)
            }
            ignore::Error::Loop { child, .. } => Some(child.clone()),
            _ => None,
        }
    }
    Unreadable {
        path: path_of(err).unwrap_or_default(),
        reason: err.to_string(),
    }
}

/// One walker thread's findings, merged into the shared list when the thread is done.
struct Collector<'a> {
    local: Collected,
    found: &'a Mutex<Collected>,
}

impl Drop for Collector<'_> {
    fn drop(&mut self) {
        let mut all = self.found.lock().unwrap_or_else(|p| p.into_inner());
        all.raw.append(&mut self.local.raw);
        all.escapes.append(&mut self.local.escapes);
        all.unreadable.append(&mut self.local.unreadable);
    }
}

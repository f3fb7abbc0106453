//! Selection: which files of a local tree a run reads. One rule for every command: every regular
//! file (its format is decided later, from content), walked in parallel; `--exclude` globs
//! (gitignore syntax) and `.aigisignore` files skip paths; pseudo file systems (`/proc`, `/sys`,
//! `/dev`) are never entered. A symbolic link is read as its target when the target stays inside
//! the walked trees (a hub-cache snapshot → its blobs); a link leading out is reported, not
//! followed. A folder that cannot be read is a result of its own, never silently dropped.
//! Paths reaching the same file (a link and its target) are analysed once.

use aigis_inventory::host::{SymlinkEscape, resolve_link};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The ignore file read in every folder (gitignore syntax).
pub const IGNORE_FILE: &str = ".aigisignore";
/// Pseudo file systems never entered.
const PSEUDO: &[&str] = &["/proc", "/sys", "/dev"];

/// Options of a walk.
#[derive(Debug, Clone, Default)]
pub(crate) struct WalkOptions {
    /// Globs (gitignore syntax) of paths to skip.
    pub exclude: Vec<String>,
    /// Worker threads (0: one per core).
    pub threads: usize,
}

/// One file to read, under every path it was found by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selected {
    /// Paths as found (a link keeps its own path), sorted.
    pub paths: Vec<PathBuf>,
    /// What to read: the file, or the target of a link inside the walked trees.
    pub real: PathBuf,
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
    /// Links that lead out of the walked trees (not followed).
    pub escapes: Vec<SymlinkEscape>,
    /// Folders and entries that could not be read.
    pub unreadable: Vec<Unreadable>,
    /// Regular files looked at (links to files included).
    pub visited: u64,
}

fn is_pseudo(path: &Path) -> bool {
    std::path::absolute(path).is_ok_and(|p| PSEUDO.iter().any(|fs| p == Path::new(fs)))
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
    escapes: Vec<SymlinkEscape>,
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
    let mut builder = ignore::WalkBuilder::new(first);
    for root in rest {
        builder.add(root);
    }
    builder
        .standard_filters(false)
        .follow_links(false)
        .add_custom_ignore_filename(IGNORE_FILE)
        .threads(options.threads)
        .filter_entry(|e| !(e.file_type().is_some_and(|t| t.is_dir()) && is_pseudo(e.path())));
    if !options.exclude.is_empty() {
        let mut overrides = ignore::overrides::OverrideBuilder::new("/");
        for glob in &options.exclude {
            // Overrides are whitelists; `!` turns a glob into an exclusion.
            let _ = overrides.add(&format!("!{glob}"));
        }
        if let Ok(built) = overrides.build() {
            builder.overrides(built);
        }
    }
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
            if entry.path_is_symlink() {
                match resolve_link(path, canonical) {
                    Ok(target) => match std::fs::metadata(&target) {
                        Ok(meta) if meta.is_file() => local.raw.push(Raw {
                            path: path.to_path_buf(),
                            real: target,
                            id: Some(file_id(&meta)),
                        }),
                        // A link to a folder inside the tree: the folder is walked anyway.
                        _ => {}
                    },
                    Err(escape) => local.escapes.push(escape),
                }
                return ignore::WalkState::Continue;
            }
            let Some(file_type) = entry.file_type() else {
                return ignore::WalkState::Continue;
            };
            if file_type.is_dir() {
                return ignore::WalkState::Continue;
            }
            // Regular files and everything else that is not a folder (FIFOs, sockets, devices):
            // the scan decides what it can read.
            let id = entry.metadata().ok().map(|m| file_id(&m));
            local.raw.push(Raw {
                path: path.to_path_buf(),
                real: path.to_path_buf(),
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
        files: Vec::new(),
    };
    // One entry per file: a link inside the tree and its target are read once.
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
    walked.escapes.sort_by(|a, b| a.link.cmp(&b.link));
    walked.escapes.dedup();
    walked.unreadable.sort_by(|a, b| a.path.cmp(&b.path));
    walked.unreadable.dedup();
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

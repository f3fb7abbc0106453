//! The discovery walk: a parallel walk (the `ignore` crate) that *sniffs* each file's first
//! bytes with the analyzers' `sniff`s and keeps model candidates plus the side files that
//! describe models (`config.json`, model cards, manifests…). Nothing is fully analyzed here.

use crate::host::{SymlinkEscape, resolve_link};
use aigis_scan::Registry;
use aigis_scan::analyzer::HEAD_LEN;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The ignore file read in every folder (gitignore syntax).
pub const IGNORE_FILE: &str = ".aigisignore";
/// Pseudo file systems never entered.
const PSEUDO: &[&str] = &["/proc", "/sys", "/dev"];
/// Executables smaller than this are not looked at for an embedded model (llamafiles are large).
const MIN_EXECUTABLE_MODEL: u64 = 16 << 20;
/// Extensions under which a protocol 0/1 pickle (no header to sniff) is a candidate.
const PICKLE_EXTENSIONS: &[&str] = &[
    "pkl", "pickle", "pt", "pth", "bin", "ckpt", "joblib", "sav", "dill", "model",
];
/// File names that describe a model without being one.
const SIDE_FILES: &[&str] = &[
    "config.json",
    "README.md",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "modules.json",
    "config_sentence_transformers.json",
    "sentence_bert_config.json",
    "meta.json",
    "config.cfg",
    "MLmodel",
    "config.pbtxt",
    "hubconf.py",
    "model_index.json",
];

/// Options of a discovery walk.
#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    /// Globs (gitignore syntax) of paths to skip.
    pub exclude: Vec<String>,
    /// Worker threads (0: one per core).
    pub threads: usize,
}

/// Why a file was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// A sniff accepted its head: possibly a model.
    Candidate,
    /// Describes a model (`config.json`, a card, a manifest…).
    Side,
}

/// A file the walk kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFile {
    /// Path as found (a hub-cache snapshot entry keeps its link path).
    pub path: PathBuf,
    /// What to read: `path`, or the target of a link inside the scanned tree.
    pub real: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Why it was kept.
    pub kept: Kept,
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct Walked {
    /// Kept files, sorted by path.
    pub files: Vec<FoundFile>,
    /// Links that lead out of the scanned tree (not followed).
    pub escapes: Vec<SymlinkEscape>,
    /// Regular files looked at.
    pub visited: u64,
}

fn is_side_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    SIDE_FILES.contains(&name)
        || name.ends_with(".index.json")
        || path
            .parent()
            .is_some_and(|p| p.iter().any(|c| c == "manifests"))
            && !name.starts_with('.')
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Whether the head of a file makes it a model candidate.
pub fn is_candidate(registry: &Registry, path: &Path, head: &[u8], len: u64) -> bool {
    let Some(id) = registry
        .analyzers()
        .find(|a| a.sniff(head, len))
        .map(|a| a.id())
    else {
        return false;
    };
    match id {
        // Archives are `aigis scan`'s business; a NeMo model is a tar.
        "tar" => extension(path) == "nemo",
        "7z" | "compressed" => false,
        "executable" => len >= MIN_EXECUTABLE_MODEL,
        // Protocol 2+ pickles start with PROTO. Older ones have no signature: when the head is
        // the whole file, the content decides (the pickle analyzer parses it); larger files are
        // candidates only under a pickle extension, which a full `aigis scan` then confirms.
        "pickle" => {
            if matches!(head, [0x80, 2..=5, ..]) {
                true
            } else if len <= head.len() as u64 {
                let scanner = aigis_scan::Scanner::new(aigis_scan::ScanOptions {
                    hash: false,
                    ..aigis_scan::ScanOptions::default()
                });
                let source = aigis_scan::MemorySource::new(head.to_vec());
                scanner.scan_source(String::new(), &source).format != aigis_scan::Format::Unknown
            } else {
                PICKLE_EXTENSIONS.contains(&extension(path).as_str())
            }
        }
        _ => true,
    }
}

fn head_of(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(HEAD_LEN);
    std::fs::File::open(path)?
        .take(HEAD_LEN as u64)
        .read_to_end(&mut head)?;
    Ok(head)
}

fn is_pseudo(path: &Path) -> bool {
    std::path::absolute(path).is_ok_and(|p| PSEUDO.iter().any(|fs| p == Path::new(fs)))
}

/// Walks `roots` in parallel and keeps candidates and side files.
pub fn walk(roots: &[PathBuf], options: &WalkOptions, registry: &Registry) -> Walked {
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
    let found = Mutex::new(Walked::default());
    builder.build_parallel().run(|| {
        let canonical = &canonical;
        let mut collector = Collector {
            local: Walked::default(),
            found: &found,
        };
        Box::new(move |entry| {
            let local = &mut collector.local;
            let Ok(entry) = entry else {
                return ignore::WalkState::Continue;
            };
            let path = entry.path();
            let real = if entry.path_is_symlink() {
                match resolve_link(path, canonical) {
                    Ok(target) if target.is_file() => target,
                    Ok(_) => return ignore::WalkState::Continue,
                    Err(escape) => {
                        local.escapes.push(escape);
                        return ignore::WalkState::Continue;
                    }
                }
            } else if entry.file_type().is_some_and(|t| t.is_file()) {
                path.to_path_buf()
            } else {
                return ignore::WalkState::Continue;
            };
            local.visited += 1;
            let size = std::fs::metadata(&real).map_or(0, |m| m.len());
            let kept = if is_side_file(path) {
                Some(Kept::Side)
            } else if size > 0
                && head_of(&real).is_ok_and(|head| is_candidate(registry, path, &head, size))
            {
                Some(Kept::Candidate)
            } else {
                None
            };
            if let Some(kept) = kept {
                local.files.push(FoundFile {
                    path: path.to_path_buf(),
                    real,
                    size,
                    kept,
                });
            }
            ignore::WalkState::Continue
        })
    });
    let mut walked = found.into_inner().unwrap_or_else(|p| p.into_inner());
    walked.files.sort_by(|a, b| a.path.cmp(&b.path));
    walked.files.dedup_by(|a, b| a.path == b.path);
    walked.escapes.sort_by(|a, b| a.link.cmp(&b.link));
    walked.escapes.dedup();
    walked
}

/// One walker thread's findings, merged into the shared list when the thread is done.
struct Collector<'a> {
    local: Walked,
    found: &'a Mutex<Walked>,
}

impl Drop for Collector<'_> {
    fn drop(&mut self) {
        let mut all = self.found.lock().unwrap_or_else(|p| p.into_inner());
        all.files.append(&mut self.local.files);
        all.escapes.append(&mut self.local.escapes);
        all.visited += self.local.visited;
    }
}

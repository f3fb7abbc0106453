//! Python module names resolved to files as the import system resolves them (`importlib`'s
//! `PathFinder` and `FileFinder`), for loaders that import code shipped with a model (MLflow's
//! `loader_module` from its `code` paths, Hydra targets in local modules).
//!
//! For each dotted part, each folder of the search path is tried in order; in one folder a
//! regular package (`name/__init__` with any loader suffix) wins over a module file, and module
//! files are tried extensions first (in the interpreter's `EXTENSION_SUFFIXES` order: its own
//! tagged `.cpython-*.so`, then `.abi3.so`, `.so`), then source (`.py`), then sourceless bytecode
//! (`.pyc` beside where the source would be). A folder without `__init__` is a namespace portion,
//! used only when no folder has anything else. A source module also runs from its cached bytecode
//! (`__pycache__/name.*.pyc`) when the cache is valid — which the model's author controls (an
//! unchecked hash-based pyc is used whatever the source says) — so those files are listed with it.
//!
//! Which interpreter loads the model is not known, and interpreters differ only in the extension
//! suffixes they load, so the name is resolved once per interpreter the folders name (every tagged
//! suffix seen: `.cpython-*.so` on Linux, `.cp*.pyd` on Windows) and once for a Linux and a Windows
//! interpreter whose tagged files are absent. The answer is the reading that runs the most code
//! (extension, then sourceless, then source, then namespace), and `runs` lists every file any
//! reading runs. Checked against CPython's own finder by `tests_pymodule.rs`
//! (`scripts/differential/module_resolution.py`).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// How a module would be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleKind {
    /// Python source.
    Source,
    /// Compiled bytecode without source (`name.pyc`).
    Sourceless,
    /// A native extension module.
    Extension,
    /// A folder without `__init__`: nothing runs from it.
    Namespace,
}

/// Where a module resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedModule {
    /// How it is loaded.
    pub kind: ModuleKind,
    /// The file (or, for a namespace package, the folder).
    pub path: PathBuf,
    /// Every file that runs when the module is imported: the `__init__` of each package on the
    /// way, the module itself, and cached bytecode that can stand in for a source file.
    pub runs: Vec<PathBuf>,
}

/// The tagged extension suffix of one interpreter in `file`, a module `stem`:
/// `.cpython-311-x86_64-linux-gnu.so` (Linux) or `.cp311-win_amd64.pyd` (Windows).
fn interpreter_tag<'a>(file: &'a str, stem: &str) -> Option<&'a str> {
    let rest = file.strip_prefix(stem)?;
    ((rest.starts_with(".cpython-") && rest.ends_with(".so"))
        || (rest.starts_with(".cp") && rest.ends_with(".pyd")))
    .then_some(rest)
}

/// One interpreter's extension suffixes, in its order (`importlib.machinery.EXTENSION_SUFFIXES`);
/// `tag` `None` for one whose own tagged files are absent.
fn extension_suffixes(tag: Option<&str>, windows: bool) -> Vec<String> {
    let untagged: &[&str] = if windows {
        &[".pyd"]
    } else {
        &[".abi3.so", ".so"]
    };
    tag.into_iter()
        .chain(untagged.iter().copied())
        .map(str::to_string)
        .collect()
}

/// At most this many tagged interpreters are read.
const MAX_INTERPRETERS: usize = 16;

/// The files in `dir`, listed once per resolution (every interpreter's walk reads the same folders).
fn listing<'m>(listings: &'m mut HashMap<PathBuf, Vec<String>>, dir: &Path) -> &'m [String] {
    listings
        .entry(dir.to_path_buf())
        .or_insert_with(|| files_in(dir))
}

fn files_in(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Cached bytecode of `dir/stem.py` that the import system may load instead of the source.
fn cached_bytecode(dir: &Path, stem: &str, python: &mut Interpreter<'_>) -> Vec<PathBuf> {
    let cache = dir.join("__pycache__");
    listing(python.listings, &cache)
        .iter()
        .filter(|f| {
            f.strip_prefix(stem)
                .and_then(|r| r.strip_prefix('.'))
                .is_some_and(|r| r.ends_with(".pyc"))
        })
        .map(|f| cache.join(f))
        .collect()
}

/// How one interpreter loads: its extension suffixes; the tagged suffixes seen on the way are
/// added to `tags`.
struct Interpreter<'a> {
    extensions: &'a [String],
    tags: &'a mut BTreeSet<String>,
    listings: &'a mut HashMap<PathBuf, Vec<String>>,
}

/// One folder's answer for `stem` (`FileFinder.find_spec`): a package's `__init__`, else a
/// module file; `Err(folder)` when the folder has only a namespace portion.
fn find_in(
    dir: &Path,
    stem: &str,
    python: &mut Interpreter<'_>,
) -> Option<Result<(ModuleKind, PathBuf, bool), PathBuf>> {
    let package = dir.join(stem);
    if package.is_dir()
        && let Some(found) = module_file(&package, "__init__", python)
    {
        return Some(Ok((found.0, found.1, true)));
    }
    if let Some((kind, path)) = module_file(dir, stem, python) {
        return Some(Ok((kind, path, false)));
    }
    package.is_dir().then_some(Err(package))
}

/// A module file `stem` directly in `dir`, in the loaders' order.
fn module_file(
    dir: &Path,
    stem: &str,
    python: &mut Interpreter<'_>,
) -> Option<(ModuleKind, PathBuf)> {
    let files = listing(python.listings, dir);
    for file in files {
        if let Some(tag) = interpreter_tag(file, stem) {
            python.tags.insert(tag.to_string());
        }
    }
    for suffix in python.extensions {
        let file = format!("{stem}{suffix}");
        if files.contains(&file) {
            return Some((ModuleKind::Extension, dir.join(file)));
        }
    }
    let source = format!("{stem}.py");
    if files.contains(&source) {
        return Some((ModuleKind::Source, dir.join(source)));
    }
    let bytecode = format!("{stem}.pyc");
    if files.contains(&bytecode) {
        return Some((ModuleKind::Sourceless, dir.join(bytecode)));
    }
    None
}

/// One interpreter's import of `parts`: what it finds, and every file it runs on the way (also
/// when the import fails after running a parent).
fn walk(
    parts: &[&str],
    search_path: &[PathBuf],
    python: &mut Interpreter<'_>,
) -> (Option<(ModuleKind, PathBuf)>, Vec<PathBuf>) {
    let mut path: Vec<PathBuf> = search_path.to_vec();
    let mut runs = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let mut namespace: Vec<PathBuf> = Vec::new();
        let mut found = None;
        for dir in &path {
            match find_in(dir, part, python) {
                Some(Ok(hit)) => {
                    found = Some(hit);
                    break;
                }
                Some(Err(portion)) => namespace.push(portion),
                None => {}
            }
        }
        match found {
            Some((kind, file, is_package)) => {
                if kind == ModuleKind::Source
                    && let (Some(dir), Some(stem)) = (file.parent(), file.file_stem())
                {
                    runs.extend(cached_bytecode(dir, &stem.to_string_lossy(), python));
                }
                runs.push(file.clone());
                if last {
                    return (Some((kind, file)), runs);
                }
                if !is_package {
                    break;
                }
                path = file.parent().map(Path::to_path_buf).into_iter().collect();
            }
            None if !namespace.is_empty() => {
                if last {
                    return (
                        Some((ModuleKind::Namespace, namespace.swap_remove(0))),
                        runs,
                    );
                }
                path = namespace;
            }
            None => break,
        }
    }
    (None, runs)
}

/// How much code a reading runs: extension, sourceless, source, namespace.
fn rank(kind: &ModuleKind) -> u8 {
    match kind {
        ModuleKind::Extension => 3,
        ModuleKind::Sourceless => 2,
        ModuleKind::Source => 1,
        ModuleKind::Namespace => 0,
    }
}

/// Resolves the dotted `module` against `search_path` (the folders of `sys.path` that matter:
/// the model's own). `None` when no folder has it for any interpreter (it would come from the
/// environment).
pub fn resolve(module: &str, search_path: &[PathBuf]) -> Option<ResolvedModule> {
    let parts: Vec<&str> = module.split('.').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || p.contains(['/', '\\']))
    {
        return None;
    }
    let mut tags = BTreeSet::new();
    let mut readings = Vec::new();
    let mut listings = HashMap::new();
    let mut read = |tag: Option<&str>, windows: bool, tags: &mut BTreeSet<String>| {
        let extensions = extension_suffixes(tag, windows);
        let mut python = Interpreter {
            extensions: &extensions,
            tags,
            listings: &mut listings,
        };
        // Tie-break: Linux before Windows, an interpreter's own tagged files before none.
        let order = (windows, tag.is_none(), tag.map(str::to_string));
        readings.push((order, walk(&parts, search_path, &mut python)));
    };
    read(None, false, &mut tags);
    read(None, true, &mut tags);
    let mut done = BTreeSet::new();
    while done.len() < MAX_INTERPRETERS {
        let Some(tag) = tags.difference(&done).next().cloned() else {
            break;
        };
        read(Some(&tag), tag.ends_with(".pyd"), &mut tags);
        done.insert(tag);
    }
    readings.sort_by(|a, b| a.0.cmp(&b.0));
    // The reading that runs the most code; the first of those.
    let (chosen, (kind, path)) = readings
        .iter()
        .enumerate()
        .filter_map(|(i, (_, (found, _)))| Some((i, found.as_ref()?)))
        .max_by_key(|(i, found)| (rank(&found.0), std::cmp::Reverse(*i)))?;
    let (kind, path) = (kind.clone(), path.clone());
    let mut runs: Vec<PathBuf> = Vec::new();
    for i in std::iter::once(chosen).chain(0..readings.len()) {
        for file in &readings[i].1.1 {
            if !runs.contains(file) {
                runs.push(file.clone());
            }
        }
    }
    Some(ResolvedModule { kind, path, runs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_win_over_modules_and_extensions_over_source() {
        let root = std::env::temp_dir().join(format!("aigis-pymodule-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let touch = |rel: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap_or(&root)).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(&p, b"").unwrap_or_else(|e| panic!("{e}"));
        };
        touch("a/loader.py");
        touch("a/loader/__init__.py");
        touch("a/native.py");
        touch("a/native.cpython-312-x86_64-linux-gnu.so");
        touch("a/bare.pyc");
        touch("a/ns/inner.py");
        touch("a/__pycache__/plain.cpython-311.pyc");
        touch("a/plain.py");
        let path = [root.join("a")];
        let r = resolve("loader", &path).unwrap_or_else(|| panic!("loader"));
        assert!(r.path.ends_with("loader/__init__.py"));
        assert_eq!(
            resolve("native", &path).map(|r| r.kind),
            Some(ModuleKind::Extension)
        );
        assert_eq!(
            resolve("bare", &path).map(|r| r.kind),
            Some(ModuleKind::Sourceless)
        );
        let r = resolve("ns.inner", &path).unwrap_or_else(|| panic!("ns.inner"));
        assert_eq!(r.kind, ModuleKind::Source);
        assert_eq!(
            resolve("ns", &path).map(|r| r.kind),
            Some(ModuleKind::Namespace)
        );
        let r = resolve("plain", &path).unwrap_or_else(|| panic!("plain"));
        assert_eq!(r.runs.len(), 2, "{r:?}");
        assert!(resolve("missing", &path).is_none());
        let _ = std::fs::remove_dir_all(&root);
    }
}

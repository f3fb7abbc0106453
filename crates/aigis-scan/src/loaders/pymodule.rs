//! Python module names resolved to files as the import system resolves them (`importlib`'s
//! `PathFinder` and `FileFinder`), for loaders that import code shipped with a model (MLflow's
//! `loader_module` from its `code` paths, Hydra targets in local modules).
//!
//! For each dotted part, each folder of the search path is tried in order; in one folder a
//! regular package (`name/__init__` with any loader suffix) wins over a module file, and module
//! files are tried extensions first (`.cpython-*.so`, `.abi3.so`, `.so`), then source (`.py`),
//! then sourceless bytecode (`.pyc` beside where the source would be). A folder without
//! `__init__` is a namespace portion, used only when no folder has anything else. A source
//! module also runs from its cached bytecode (`__pycache__/name.*.pyc`) when the cache is valid
//! — which the model's author controls (an unchecked hash-based pyc is used whatever the source
//! says) — so those files are listed with it.

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

/// Suffixes an extension module may carry on Linux for any CPython 3 (which Python loads the
/// model is not known, so every one counts).
fn is_extension_name(file: &str, stem: &str) -> bool {
    let Some(rest) = file.strip_prefix(stem) else {
        return false;
    };
    rest == ".so"
        || rest == ".abi3.so"
        || rest == ".pyd"
        || (rest.starts_with(".cpython-") && rest.ends_with(".so"))
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
fn cached_bytecode(dir: &Path, stem: &str) -> Vec<PathBuf> {
    let cache = dir.join("__pycache__");
    files_in(&cache)
        .into_iter()
        .filter(|f| {
            f.strip_prefix(stem)
                .and_then(|r| r.strip_prefix('.'))
                .is_some_and(|r| r.ends_with(".pyc"))
        })
        .map(|f| cache.join(f))
        .collect()
}

/// One folder's answer for `stem` (`FileFinder.find_spec`): a package's `__init__`, else a
/// module file; `Err(folder)` when the folder has only a namespace portion.
fn find_in(dir: &Path, stem: &str) -> Option<Result<(ModuleKind, PathBuf, bool), PathBuf>> {
    let package = dir.join(stem);
    if package.is_dir()
        && let Some(found) = module_file(&package, "__init__")
    {
        return Some(Ok((found.0, found.1, true)));
    }
    if let Some((kind, path)) = module_file(dir, stem) {
        return Some(Ok((kind, path, false)));
    }
    package.is_dir().then_some(Err(package))
}

/// A module file `stem` directly in `dir`, in the loaders' order.
fn module_file(dir: &Path, stem: &str) -> Option<(ModuleKind, PathBuf)> {
    let files = files_in(dir);
    if let Some(ext) = files.iter().find(|f| is_extension_name(f, stem)) {
        return Some((ModuleKind::Extension, dir.join(ext)));
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

/// Resolves the dotted `module` against `search_path` (the folders of `sys.path` that matter:
/// the model's own). `None` when no folder has it (it would come from the environment).
pub fn resolve(module: &str, search_path: &[PathBuf]) -> Option<ResolvedModule> {
    let parts: Vec<&str> = module.split('.').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || p.contains(['/', '\\']))
    {
        return None;
    }
    let mut path: Vec<PathBuf> = search_path.to_vec();
    let mut runs = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let mut namespace: Vec<PathBuf> = Vec::new();
        let mut found = None;
        for dir in &path {
            match find_in(dir, part) {
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
                    runs.extend(cached_bytecode(dir, &stem.to_string_lossy()));
                }
                runs.push(file.clone());
                if last {
                    return Some(ResolvedModule {
                        kind,
                        path: file,
                        runs,
                    });
                }
                if !is_package {
                    return None;
                }
                path = file.parent().map(Path::to_path_buf).into_iter().collect();
            }
            None if !namespace.is_empty() => {
                if last {
                    let folder = namespace[0].clone();
                    return Some(ResolvedModule {
                        kind: ModuleKind::Namespace,
                        path: folder,
                        runs,
                    });
                }
                path = namespace;
            }
            None => return None,
        }
    }
    None
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

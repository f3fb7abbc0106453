//! The module-resolution differential: every case of `fixtures/differential/pymodule.jsonl.gz`
//! (made by `scripts/differential/module_resolution.py`, which records where CPython's
//! `PathFinder`/`FileFinder` find a dotted name in a generated folder layout, nothing imported) is
//! laid out in a temporary folder and resolved by [`super::pymodule::resolve`].
//!
//! Each case holds four readings: CPython 3.11 itself, and the same finder given the loader
//! suffixes of CPython 3.12, of a Linux CPython whose tagged extensions the layout does not hold
//! (3.13), and of Windows. aigis does not know which interpreter loads the model, so:
//! - it finds nothing exactly when no reading finds anything;
//! - its kind and path are CPython 3.11's, or another reading's when that reading runs more code
//!   (extension > sourceless > source > namespace) — a file 3.11 ignores but that interpreter
//!   loads; never a path no reading resolves to;
//! - `runs` holds every file any reading runs: each package `__init__` on the way and the module,
//!   with the cached bytecode of a source file when it exists (also the `__init__`s a reading runs
//!   before its import fails). The only files it may add are cached bytecode of a listed source
//!   file (`dir/__pycache__/stem.<tag>.pyc`, the cache of some interpreter or optimisation level).

use super::pymodule::{ModuleKind, resolve};
use super::tests::{cases, report};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The interpreter that recorded the cases; the others are its finder with their suffixes.
const CPYTHON: &str = "cpython-311";

/// What one interpreter's walk finds.
struct Reading {
    name: String,
    found: Option<(ModuleKind, String)>,
    runs: BTreeSet<String>,
}

fn rank(found: Option<&(ModuleKind, String)>) -> u8 {
    match found.map(|f| &f.0) {
        None => 0,
        Some(ModuleKind::Namespace) => 1,
        Some(ModuleKind::Source) => 2,
        Some(ModuleKind::Sourceless) => 3,
        Some(ModuleKind::Extension) => 4,
    }
}

fn reading(name: &str, v: &Value, files: &BTreeSet<String>) -> Reading {
    let mut runs = BTreeSet::new();
    let mut last = None;
    for part in v["parts"].as_array().into_iter().flatten() {
        let origin = part["origin"].as_str().map(str::to_string);
        let kind = match part["loader"].as_str() {
            Some("SourceFileLoader") => ModuleKind::Source,
            Some("SourcelessFileLoader") => ModuleKind::Sourceless,
            Some("ExtensionFileLoader") => ModuleKind::Extension,
            None | Some("NamespaceLoader") => ModuleKind::Namespace,
            Some(other) => panic!("loader {other}"),
        };
        let path = match (&kind, origin) {
            (ModuleKind::Namespace, _) => part["locations"][0].as_str().unwrap_or("").to_string(),
            (_, Some(origin)) => origin,
            (_, None) => panic!("{part}: no origin"),
        };
        if kind != ModuleKind::Namespace {
            runs.insert(path.clone());
        }
        if let Some(cached) = part["cached"].as_str()
            && kind == ModuleKind::Source
            && files.contains(cached)
        {
            runs.insert(cached.to_string());
        }
        last = Some((kind, path));
    }
    let found = if v["found"].as_bool().unwrap_or(false) {
        last
    } else {
        None
    };
    Reading {
        name: name.to_string(),
        found,
        runs,
    }
}

/// `run` is the cached bytecode of a source file in `runs`: `dir/__pycache__/stem.<tag>.pyc`.
fn is_cache_of_listed_source(run: &str, runs: &BTreeSet<String>) -> bool {
    let (dir, file) = match run.rsplit_once('/') {
        Some((dir, file)) => (dir, file),
        None => return false,
    };
    let Some(dir) = dir
        .strip_suffix("__pycache__")
        .filter(|d| d.is_empty() || d.ends_with('/'))
    else {
        return false;
    };
    let Some((stem, tag)) = file
        .strip_suffix(".pyc")
        .and_then(|rest| rest.split_once('.'))
    else {
        return false;
    };
    !tag.is_empty() && runs.contains(&format!("{dir}{stem}.py"))
}

/// Lays out a case: folders, and files left empty — resolution never reads a file (and empty
/// files are quick to delete).
fn materialise(root: &Path, layout: &[&str]) {
    std::fs::create_dir_all(root).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
    for entry in layout {
        let path = root.join(entry.trim_end_matches('/'));
        let made = if entry.ends_with('/') {
            std::fs::create_dir_all(&path)
        } else {
            std::fs::create_dir_all(path.parent().unwrap_or(root))
                .and_then(|()| std::fs::write(&path, b""))
        };
        made.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// Where `PathFinder.find_spec` finds each dotted name, part by part, in every interpreter's
/// reading: aigis resolves as one of them and lists every file any of them runs.
#[test]
fn modules_resolve_as_the_import_system_resolves_them() {
    let all = cases("pymodule.jsonl.gz");
    // In memory where there is a tmpfs: on a disk that discards freed blocks, deleting the
    // 40,000 folders and files of the layouts takes tens of seconds.
    let name = format!("aigis-pymodule-differential-{}", std::process::id());
    let base = [PathBuf::from("/dev/shm"), std::env::temp_dir()]
        .iter()
        .filter(|tmp| tmp.is_dir())
        .map(|tmp| tmp.join(&name))
        .find(|base| {
            let _ = std::fs::remove_dir_all(base);
            std::fs::create_dir_all(base).is_ok()
        })
        .unwrap_or_else(|| panic!("no temporary folder for {name}"));
    let (mut exact, mut wider, mut failing_after_runs) = (0, 0, 0);
    let mut divergences = Vec::new();
    for case in &all {
        let id = case["id"].as_u64().unwrap_or(0);
        let module = case["module"].as_str().unwrap_or("");
        let layout: Vec<&str> = case["layout"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let files: BTreeSet<String> = layout
            .iter()
            .filter(|e| !e.ends_with('/'))
            .map(|e| e.to_string())
            .collect();
        let root = base.join(id.to_string());
        materialise(&root, &layout);
        // "" on Python's search path is the current directory: the case root.
        let search: Vec<PathBuf> = case["path"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|e| {
                if e.is_empty() {
                    root.clone()
                } else {
                    root.join(e)
                }
            })
            .collect();
        let ours = resolve(module, &search);

        let readings: Vec<Reading> = case["readings"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, v)| reading(name, v, &files))
            .collect();
        let real = readings
            .iter()
            .find(|r| r.name == CPYTHON)
            .unwrap_or_else(|| panic!("case {id}: no {CPYTHON} reading"));
        let most = readings
            .iter()
            .map(|r| rank(r.found.as_ref()))
            .max()
            .unwrap_or(0);
        let shown = format!("case {id} `{module}` in {} {layout:?}", case["path"]);
        let Some(ours) = ours else {
            if let Some(r) = readings.iter().find(|r| r.found.is_some()) {
                divergences.push(format!(
                    "{shown}: aigis finds nothing, {} finds {:?}",
                    r.name, r.found
                ));
            } else if readings.iter().any(|r| !r.runs.is_empty()) {
                failing_after_runs += 1;
            }
            continue;
        };
        let got = (ours.kind.clone(), relative(&root, &ours.path));
        let runs: BTreeSet<String> = ours.runs.iter().map(|p| relative(&root, p)).collect();
        if real.found.as_ref() == Some(&got) {
            exact += 1;
        } else if let Some(other) = readings.iter().find(|r| r.found.as_ref() == Some(&got)) {
            // A file CPython 3.11 ignores here, loaded by another interpreter: only the reading
            // that runs the most code may be preferred over 3.11's.
            if rank(Some(&got)) < most || rank(Some(&got)) < rank(real.found.as_ref()) {
                divergences.push(format!(
                    "{shown}: aigis takes {}'s {got:?} over {CPYTHON}'s {:?}, which runs more",
                    other.name, real.found
                ));
            } else {
                wider += 1;
            }
        } else {
            divergences.push(format!(
                "{shown}: aigis resolves to {got:?}, no interpreter does ({CPYTHON}: {:?})",
                real.found
            ));
        }
        for r in &readings {
            let missing: Vec<&String> = r.runs.difference(&runs).collect();
            if !missing.is_empty() {
                divergences.push(format!(
                    "{shown}: {} runs {missing:?}, not in aigis's runs {runs:?}",
                    r.name
                ));
            }
        }
        let extra: Vec<&String> = runs
            .iter()
            .filter(|run| {
                !readings.iter().any(|r| r.runs.contains(*run))
                    && !is_cache_of_listed_source(run, &runs)
            })
            .collect();
        if !extra.is_empty() {
            divergences.push(format!(
                "{shown}: aigis lists {extra:?} as run, which no interpreter runs"
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&base);
    eprintln!(
        "pymodule: {exact} as CPython 3.11, {wider} as another interpreter that runs more, \
         {failing_after_runs} imports that fail after running a parent"
    );
    report("module resolution", all.len(), &divergences);
}

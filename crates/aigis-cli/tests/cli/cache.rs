//! The result cache: a second scan answers from the cache with identical results, changed
//! files are rescanned, corrupt entries are ignored, and a policy change needs no rescan.

use crate::support::{aigis_command, repo_root, temp_dir};
use serde_json::Value;
use std::path::Path;

fn scan(cache: &Path, paths: &[&Path], extra: &[&str]) -> (Value, String) {
    let out = aigis_command()
        .args([
            "scan",
            "--format",
            "json",
            "--verbose",
            "--no-policy",
            "--cache-dir",
        ])
        .arg(cache)
        .args(extra)
        .args(paths)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    (doc, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn hits(stderr: &str) -> (usize, usize) {
    let line = stderr.lines().find(|l| l.contains("cache")).unwrap_or("");
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    match numbers.as_slice() {
        [.., h, m] => (*h, *m),
        _ => panic!("no cache statistics in {stderr}"),
    }
}

pub(crate) fn cache_hit_returns_identical_results() {
    let cache = temp_dir();
    let fixtures = repo_root().join("fixtures");
    let (first, err) = scan(cache.path(), &[&fixtures], &[]);
    // Every input whose bytes were read has a hash (container image files included: they are
    // cached by content like any file); what could not be read has none and is never cached.
    let files = first["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["sha256"].is_string())
        .count();
    // A fresh cache analyzes every distinct content once; files with identical bytes after the
    // first are answered from it.
    let distinct: std::collections::HashSet<&str> = first["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["sha256"].as_str())
        .collect();
    // Paths that reach the same file (a hub-cache snapshot link and its blob) are read once.
    let (first_hits, first_misses) = hits(&err);
    assert!(first_hits + first_misses <= files, "{err}");
    assert!(
        first_misses >= distinct.len() && first_hits <= files - distinct.len(),
        "{err}"
    );
    let (second, err) = scan(cache.path(), &[&fixtures], &[]);
    assert_eq!(hits(&err), (first_hits + first_misses, 0), "{err}");
    assert_eq!(first, second);
    // The same verdicts without the cache. `bytes_read` is an I/O count of the analysis that
    // produced a result, so a result reused for the same bytes elsewhere (a model file that is
    // also inside an image) carries the count of the analysis it came from.
    let (uncached, _) = scan(cache.path(), &[&fixtures], &["--no-cache"]);
    assert_eq!(without_io(first), without_io(uncached));
}

/// A JSON report without the `bytes_read` I/O counts.
fn without_io(mut doc: Value) -> Value {
    for result in doc["results"].as_array_mut().into_iter().flatten() {
        if let Some(result) = result.as_object_mut() {
            result.remove("bytes_read");
        }
    }
    doc
}

pub(crate) fn changed_and_corrupt_entries_are_rescanned() {
    let cache = temp_dir();
    let work = temp_dir();
    let model = work.path().join("m.pkl");
    std::fs::copy(repo_root().join("fixtures/pickle/os_system_p2.pkl"), &model)
        .unwrap_or_else(|e| panic!("{e}"));
    let (first, _) = scan(cache.path(), &[&model], &[]);
    assert_eq!(first["results"][0]["max_severity"], "critical");
    // Corrupt every stored result: the next scan ignores them and rescans.
    let mut stored = 0;
    for entry in walk(cache.path()) {
        if entry.extension().is_some_and(|e| e == "json") {
            std::fs::write(&entry, b"{not json").unwrap_or_else(|e| panic!("{e}"));
            stored += 1;
        }
    }
    assert_eq!(stored, 1);
    let (second, err) = scan(cache.path(), &[&model], &[]);
    assert_eq!(hits(&err), (0, 1), "{err}");
    assert_eq!(first, second);
    // New content under the same name is a different result.
    std::fs::copy(repo_root().join("fixtures/torch/state_dict.pt"), &model)
        .unwrap_or_else(|e| panic!("{e}"));
    let (third, _) = scan(cache.path(), &[&model], &[]);
    assert_eq!(third["results"][0]["format"], "pytorch-zip", "{third}");
    // The allow-list is part of the cache key; a policy suppression is applied after.
    let (allowed, err) = scan(cache.path(), &[&model], &["--allow-global", "x.y"]);
    assert_eq!(hits(&err), (0, 1), "{err}");
    assert_eq!(allowed["results"][0]["format"], "pytorch-zip");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

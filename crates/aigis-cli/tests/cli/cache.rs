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

#[test]
fn cache_hit_returns_identical_results() {
    let cache = temp_dir();
    let fixtures = repo_root().join("fixtures");
    let (first, err) = scan(cache.path(), &[&fixtures], &[]);
    // Container image members (`image.tar!/layer:…/path`) are not files on disk: not cached.
    let files = first["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| !r["path"].as_str().unwrap_or("").contains("!/"))
        .count();
    // A fresh cache analyzes every distinct content once; files with identical bytes after the
    // first are answered from it.
    let distinct: std::collections::HashSet<&str> = first["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| !r["path"].as_str().unwrap_or("").contains("!/"))
        .filter_map(|r| r["sha256"].as_str())
        .collect();
    let (first_hits, first_misses) = hits(&err);
    assert_eq!(first_hits + first_misses, files, "{err}");
    assert!(
        first_misses >= distinct.len() && first_hits <= files - distinct.len(),
        "{err}"
    );
    let (second, err) = scan(cache.path(), &[&fixtures], &[]);
    assert_eq!(hits(&err).0, files, "{err}");
    assert_eq!(first, second);
    let (uncached, _) = scan(cache.path(), &[&fixtures], &["--no-cache"]);
    assert_eq!(first, uncached);
}

#[test]
fn changed_and_corrupt_entries_are_rescanned() {
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

//! The result cache: a second scan answers from the cache with identical results, changed
//! files are rescanned, corrupt entries are ignored, and a policy change needs no rescan.

use crate::support::{aigis_command, repo_root, temp_dir};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
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

/// Bytes no analyzer claims are `unsupported` under a neutral name and `invalid` under a
/// model's name: a result for the first is never the answer for the second, in the same run
/// (identical bytes are otherwise analysed once) or from an earlier run's cache.
pub(crate) fn a_model_name_is_judged_whatever_the_cache_holds() {
    let cache = temp_dir();
    let work = temp_dir();
    // An extension code first, then bytes no loader gets far in: no format aigis reads.
    let bytes = b"\x82\x01\x8c\x05numpS\"ndarray\"\n\x93(NtR.";
    let neutral = work.path().join("blob");
    let named = work.path().join("weights.pkl");
    std::fs::write(&neutral, bytes).unwrap_or_else(|e| panic!("{e}"));
    let status = |doc: &Value, name: &str| {
        doc["results"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["path"].as_str().is_some_and(|p| p.ends_with(name)))
            .map(|r| {
                let rules: Vec<String> = r["findings"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f["rule_id"].as_str().map(str::to_owned))
                    .collect();
                (r["status"].as_str().unwrap_or_default().to_owned(), rules)
            })
            .unwrap_or_else(|| panic!("no result for {name}: {doc}"))
    };
    let (first, _) = scan(cache.path(), &[&neutral], &[]);
    assert_eq!(status(&first, "blob").0, "unsupported", "{first}");
    std::fs::write(&named, bytes).unwrap_or_else(|e| panic!("{e}"));
    let claimed = ("invalid".to_owned(), vec!["MODEL-UNRECOGNISED".to_owned()]);
    // The neutral file's result is in the cache: the model-named copy is judged by its name.
    let (second, _) = scan(cache.path(), &[&named], &[]);
    assert_eq!(status(&second, "weights.pkl"), claimed, "{second}");
    // Both in one run, and again from the cache that run left.
    let fresh = temp_dir();
    for _ in 0..2 {
        let (both, _) = scan(fresh.path(), &[work.path()], &[]);
        assert_eq!(status(&both, "weights.pkl"), claimed, "{both}");
        assert_eq!(status(&both, "blob").0, "unsupported", "{both}");
    }
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

/// The cache believes only what this user's aigis wrote: a verdict planted in the folder is
/// ignored, a folder others can write is not used, a result that looked at other files is not
/// reused once they change, and `--cache content` re-hashes what a shared mapping could change.
pub(crate) fn the_cache_cannot_be_told_what_to_say() {
    let cache = temp_dir();
    let work = temp_dir();
    let benign = work.path().join("benign.pkl");
    let evil = work.path().join("evil.pkl");
    std::fs::copy(
        repo_root().join("fixtures/pickle/ordered_dict.pkl"),
        &benign,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(repo_root().join("fixtures/pickle/os_system_p2.pkl"), &evil)
        .unwrap_or_else(|e| panic!("{e}"));
    let (clean, _) = scan(cache.path(), &[&benign], &[]);
    let (dirty, _) = scan(cache.path(), &[&evil], &["--no-cache"]);
    let evil_sha = dirty["results"][0]["sha256"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let clean_sha = clean["results"][0]["sha256"]
        .as_str()
        .unwrap_or("")
        .to_string();
    // Plant the benign verdict under the payload's hash, as an attacker with write access to a
    // shared or restored cache folder would: with the stored tag, and with a JSON of its own.
    let entry = walk(cache.path())
        .into_iter()
        .find(|p| p.to_string_lossy().contains(&clean_sha))
        .unwrap_or_else(|| panic!("no entry for the benign file"));
    let stored = std::fs::read_to_string(&entry).unwrap_or_default();
    let planted = entry
        .parent()
        .and_then(|d| d.parent())
        .map(|d| d.join(&evil_sha[..2]).join(format!("{evil_sha}.json")))
        .unwrap_or_default();
    std::fs::create_dir_all(planted.parent().unwrap_or(Path::new(".")))
        .unwrap_or_else(|e| panic!("{e}"));
    for forged in [
        stored.replace(&clean_sha, &evil_sha),
        stored
            .split_once(' ')
            .map(|(_, json)| json.replace(&clean_sha, &evil_sha))
            .unwrap_or_default(),
    ] {
        std::fs::write(&planted, forged).unwrap_or_else(|e| panic!("{e}"));
        let (doc, err) = scan(cache.path(), &[&evil], &[]);
        assert_eq!(
            doc["results"][0]["max_severity"], "critical",
            "planted verdict believed: {err}"
        );
    }

    // A folder others can write is not used.
    let shared = temp_dir();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o777))
        .unwrap_or_else(|e| panic!("{e}"));
    let (doc, err) = scan(shared.path(), &[&evil], &[]);
    assert!(err.contains("not used"), "{err}");
    assert_eq!(doc["results"][0]["max_severity"], "critical");

    // A result that looked at other files is not served once they change: a Python file is
    // model code only when an MLmodel above it says so (before, it is code scanned for its load
    // sites, of which it has none).
    let model = work.path().join("model");
    std::fs::create_dir_all(model.join("code")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(
        repo_root().join("fixtures/mlflow/evil_pyfunc/code/loader.py"),
        model.join("code/loader.py"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let code = model.join("code/loader.py");
    let (before, _) = scan(cache.path(), &[&code], &[]);
    assert_eq!(before["results"][0]["format"], "python", "{before}");
    assert_eq!(before["results"][0]["max_severity"], "none", "{before}");
    std::fs::copy(
        repo_root().join("fixtures/mlflow/evil_pyfunc/MLmodel"),
        model.join("MLmodel"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (after, _) = scan(cache.path(), &[&code], &[]);
    assert!(
        after["results"][0]["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| f["rule_id"] == "MLFLOW-CODE"),
        "stale verdict served after MLmodel appeared: {after}"
    );

    // Content mode: every file re-hashed, so bytes changed behind the metadata are seen.
    let (doc, err) = scan(cache.path(), &[&benign], &["--cache", "content"]);
    assert_eq!(hits(&err), (1, 0), "{err}");
    assert_eq!(
        doc["results"][0]["max_severity"],
        clean["results"][0]["max_severity"]
    );
}

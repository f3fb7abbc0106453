//! Golden outputs: every fixture's whole result (format, status, hash, every finding with its
//! rule, severity, message, location and indicators, the model facts) is pinned in
//! `crates/aigis-cli/tests/golden/<path under fixtures/>.json`. A change in what aigis says about any fixture shows up
//! as a diff of those files, to be reviewed like code.
//!
//! Regenerate after an intended change with `AIGIS_BLESS=1 cargo test -p aigis-cli --test cli
//! golden` (stale golden files are removed), then read the diff; bump the `version()` of every
//! analyzer whose output changed (it keys the result cache).
//!
//! The scan is hermetic: no policy, no cache, and the findings that describe the machine rather
//! than the bytes (`HOST-*`: who can write the checkout's folders) are left out.

use crate::support::{repo_root, scan_json};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The folder of golden files (outside `fixtures/`, so that scanning the fixtures does not scan
/// them).
fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Where a result's golden file lives: its path under `fixtures/`, with characters some file
/// systems refuse (`:` of image layer ids) replaced.
fn golden_path(relative: &str) -> PathBuf {
    golden_dir().join(format!("{}.json", relative.replace(':', "_")))
}

/// The pinned part of a result: everything but I/O counts and machine context.
fn pinned(result: &Value) -> Value {
    let mut out = Map::new();
    for key in [
        "format",
        "size",
        "sha256",
        "status",
        "incomplete",
        "model",
        "source",
    ] {
        if let Some(v) = result.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    let findings: Vec<Value> = result["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| !f["rule_id"].as_str().unwrap_or("").starts_with("HOST-"))
        .cloned()
        .collect();
    let rank = |s: &str| {
        ["info", "low", "medium", "high", "critical"]
            .iter()
            .position(|x| *x == s)
    };
    let max = findings
        .iter()
        .filter_map(|f| f["severity"].as_str())
        .max_by_key(|s| rank(s))
        .unwrap_or("none");
    out.insert("max_severity".into(), Value::from(max));
    out.insert("findings".into(), Value::from(findings));
    Value::Object(out)
}

pub(crate) fn every_fixture_result_matches_its_golden_file() {
    let root = repo_root().join("fixtures");
    let (_, doc) = scan_json(&[&root], &["--no-cache", "--no-policy"]);
    let mut expected: BTreeMap<PathBuf, String> = BTreeMap::new();
    for result in doc["results"].as_array().into_iter().flatten() {
        let path = result["path"].as_str().unwrap_or("");
        let relative = Path::new(path)
            .strip_prefix(&root)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| panic!("{path} is not under {}", root.display()));
        // The manifests and the README describe the fixtures; they are not fixtures.
        if relative.starts_with("manifest") || relative == "README.md" {
            continue;
        }
        let text = serde_json::to_string_pretty(&pinned(result)).unwrap_or_default() + "\n";
        expected.insert(golden_path(&relative), text);
    }
    assert!(expected.len() > 300, "{} results", expected.len());
    let existing = aigis_testkit::files_under(&golden_dir());
    if std::env::var_os("AIGIS_BLESS").is_some() {
        for stale in existing.iter().filter(|p| !expected.contains_key(*p)) {
            std::fs::remove_file(stale).unwrap_or_else(|e| panic!("{e}"));
        }
        for (path, text) in &expected {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
            }
            std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
        }
        return;
    }
    let mut problems = Vec::new();
    for (path, text) in &expected {
        match std::fs::read_to_string(path) {
            Ok(golden) if golden == *text => {}
            Ok(golden) => problems.push(format!(
                "{} differs:\n--- golden\n{golden}\n+++ now\n{text}",
                path.display()
            )),
            Err(_) => problems.push(format!("{} missing; now:\n{text}", path.display())),
        }
    }
    for stale in existing.iter().filter(|p| !expected.contains_key(*p)) {
        problems.push(format!("{} has no fixture any more", stale.display()));
    }
    assert!(
        problems.is_empty(),
        "{} golden file(s) out of date (AIGIS_BLESS=1 regenerates them; review the diff):\n{}",
        problems.len(),
        problems
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

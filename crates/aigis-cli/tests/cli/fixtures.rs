//! Golden expectations: every fixture in `fixtures/manifest.jsonl` (made by
//! `scripts/fixtures/make_fixtures.py` with the real framework calls) is scanned once, and each
//! result must match what the manifest says a correct scanner reports.

use crate::support::{finding_text, repo_root, scan_json};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;

/// Rows of every `fixtures/manifest*.jsonl` (one per generator script).
fn manifest() -> Vec<Value> {
    let dir = repo_root().join("fixtures");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.starts_with("manifest") && name.ends_with(".jsonl")
        })
        .collect();
    paths.sort();
    let mut rows = Vec::new();
    for path in paths {
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            rows.push(
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("bad manifest line {line}: {e}")),
            );
        }
    }
    rows
}

#[test]
fn every_fixture_matches_its_manifest_row() {
    let rows = manifest();
    assert!(
        rows.len() > 50,
        "manifest unexpectedly small: {}",
        rows.len()
    );
    let root = repo_root().join("fixtures");
    let (_, doc) = scan_json(&[&root], &[]);
    let results: HashMap<PathBuf, &Value> = doc["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| (PathBuf::from(r["path"].as_str().unwrap_or("")), r))
        .collect();
    let mut failures = Vec::new();
    for row in &rows {
        let file = row["file"].as_str().unwrap_or("");
        let expect = &row["expect"];
        let Some(result) = results.get(&root.join(file)) else {
            failures.push(format!("{file}: no result"));
            continue;
        };
        let text = finding_text(result);
        for key in ["status", "max_severity", "format"] {
            if let Some(want) = expect[key].as_str()
                && result[key].as_str() != Some(want)
            {
                failures.push(format!(
                    "{file}: {key} is {}, expected {want}\n{text}",
                    result[key]
                ));
            }
        }
        for key in ["status", "max_severity"] {
            let options = &expect[format!("{key}_in")];
            if let Some(options) = options.as_array()
                && !options.iter().any(|o| o.as_str() == result[key].as_str())
            {
                failures.push(format!(
                    "{file}: {key} is {}, expected one of {options:?}\n{text}",
                    result[key]
                ));
            }
        }
        for key in ["message_contains", "location_contains"] {
            for needle in expect[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !text.contains(needle) {
                    failures.push(format!("{file}: no finding mentions `{needle}`\n{text}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures wrong:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n\n")
    );
}

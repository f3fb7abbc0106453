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

pub(crate) fn every_fixture_matches_its_manifest_row() {
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
    let mut timed = Vec::new();
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
        // Each needle must appear in the part of a finding it names: a message needle in a
        // message (its rule id or indicators), a location needle in a location.
        for (key, field) in [
            ("message_contains", "message"),
            ("location_contains", "location"),
        ] {
            let haystack: Vec<String> = result["findings"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| {
                    let mut text = f[field].as_str().unwrap_or("").to_string();
                    if field == "message" {
                        text.push('\n');
                        text.push_str(f["rule_id"].as_str().unwrap_or(""));
                        for indicator in f["indicators"].as_array().into_iter().flatten() {
                            text.push('\n');
                            text.push_str(indicator.as_str().unwrap_or(""));
                        }
                    }
                    text
                })
                .collect();
            for needle in expect[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !haystack.iter().any(|h| h.contains(needle)) {
                    failures.push(format!("{file}: no finding {field} has `{needle}`\n{text}"));
                }
            }
        }
        if let Some(limit) = row["time_limit_s"].as_f64() {
            timed.push((file.to_string(), limit));
        }
    }
    // Rows with a time limit: scanned alone under that limit, the analysis must finish (no
    // TIME-LIMIT, not `error`) and the whole process must end within it.
    for (file, limit) in timed {
        let path = root.join(&file);
        let started = std::time::Instant::now();
        let (_, doc) = scan_json(
            &[&path],
            &[
                "--no-cache",
                "--no-policy",
                "--time-limit",
                &limit.to_string(),
            ],
        );
        let elapsed = started.elapsed().as_secs_f64();
        let result = &doc["results"][0];
        let text = finding_text(result);
        if result["status"] == "error" || text.contains("TIME-LIMIT") || elapsed > limit {
            failures.push(format!(
                "{file}: not analysed within its {limit} s limit ({elapsed:.2} s)\n{text}"
            ));
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

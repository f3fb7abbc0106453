//! The rule catalogue is the one source of rule ids, their docs and SARIF rules: every rule is
//! exercised by a real file (or, for rules about the environment, by the test named below), the
//! committed `docs/rules.md` is what `aigis rules --format markdown` prints, and `aigis rules`
//! explains each.

use crate::support::{aigis, repo_root, scan_json};
use serde_json::Value;
use std::collections::BTreeSet;

fn catalogue() -> Vec<Value> {
    let out = aigis(&["rules", "--format", "json"]);
    assert!(out.status.success());
    serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_else(|| panic!("rules JSON: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Rules no fixture can produce, because they describe where a file is or what happened while
/// reading it, with the test file that produces each for real.
const FROM_THE_ENVIRONMENT: &[(&str, &str)] = &[
    (
        "HOST-WRITABLE-PATH",
        "crates/aigis-cli/tests/cli/inventory.rs",
    ),
    (
        "HOST-SYMLINK-ESCAPE",
        "crates/aigis-cli/tests/cli/inventory.rs",
    ),
    (
        "STORAGE-PUBLIC-WRITE",
        "crates/aigis-cli/tests/cli/remote.rs",
    ),
    (
        "STORAGE-PUBLIC-READ",
        "crates/aigis-cli/tests/cli/remote.rs",
    ),
    (
        "STORAGE-ACCESS-UNKNOWN",
        "crates/aigis-cli/tests/cli/remote.rs",
    ),
    (
        "STORAGE-PUBLIC-ACCESS-BLOCK-OFF",
        "crates/aigis-remote/src/exposure.rs",
    ),
    ("TIME-LIMIT", "crates/aigis-cli/tests/cli/contract.rs"),
    ("RUNTIME-EXEC", "crates/aigis-cli/tests/cli/detonate.rs"),
    ("RUNTIME-CONNECT", "crates/aigis-cli/tests/cli/detonate.rs"),
    (
        "RUNTIME-FILE-WRITE",
        "crates/aigis-cli/tests/cli/detonate.rs",
    ),
    ("RUNTIME-CRASH", "crates/aigis-cli/tests/cli/detonate.rs"),
    (
        "RUNTIME-SYSCALL-DENIED",
        "crates/aigis-cli/tests/cli/detonate.rs",
    ),
    ("ANALYSIS-CRASHED", "crates/aigis-engine/tests/engine.rs"),
    (
        "CONFIG-NOT-APPLIED",
        "crates/aigis-cli/tests/cli/fail_closed.rs",
    ),
    ("MODEL-REPLACED", "crates/aigis-cli/tests/cli/record.rs"),
    ("LICENSE-DENIED", "crates/aigis-cli/tests/cli/metadata.rs"),
    ("MODEL-UNSIGNED", "crates/aigis-cli/tests/cli/signature.rs"),
    (
        "SIGNATURE-MISMATCH",
        "crates/aigis-cli/tests/cli/signature.rs",
    ),
    ("LICENSE-UNKNOWN", "crates/aigis-cli/tests/cli/metadata.rs"),
    // `--deep` only (the fixtures scan runs without it).
    (
        "WEIGHTS-EMBEDDED-PAYLOAD",
        "crates/aigis-cli/tests/cli/deep.rs",
    ),
    ("WEIGHTS-NAN-INF", "crates/aigis-cli/tests/cli/deep.rs"),
    (
        "WEIGHTS-LAYOUT-MISMATCH",
        "crates/aigis-cli/tests/cli/deep.rs",
    ),
    (
        "WEIGHTS-LOWBIT-ANOMALY",
        "crates/aigis-cli/tests/cli/deep.rs",
    ),
];

pub(crate) fn every_rule_is_produced_by_a_fixture_or_a_named_test() {
    let ids: BTreeSet<String> = catalogue()
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect();
    let (_, doc) = scan_json(
        &[&repo_root().join("fixtures"), &repo_root().join("examples")],
        &["--no-cache", "--no-policy"],
    );
    let emitted: BTreeSet<String> = doc["results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["findings"].as_array().into_iter().flatten())
        .filter_map(|f| f["rule_id"].as_str().map(str::to_string))
        .collect();
    let mut missing = Vec::new();
    for id in &ids {
        if emitted.contains(id) {
            continue;
        }
        match FROM_THE_ENVIRONMENT.iter().find(|(rule, _)| rule == id) {
            Some((_, test)) => {
                let text = std::fs::read_to_string(repo_root().join(test)).unwrap_or_default();
                if !text.contains(id.as_str()) {
                    missing.push(format!("{id} (not in {test})"));
                }
            }
            None => missing.push(id.clone()),
        }
    }
    assert!(
        missing.is_empty(),
        "rules no fixture or named test produces: {missing:?}"
    );
    for (rule, _) in FROM_THE_ENVIRONMENT {
        assert!(ids.contains(*rule), "{rule} is not in the catalogue");
    }
}

pub(crate) fn docs_rules_md_is_generated_from_the_catalogue() {
    let out = aigis(&["rules", "--format", "markdown"]);
    assert!(out.status.success());
    let generated = String::from_utf8_lossy(&out.stdout).into_owned();
    let path = repo_root().join("docs/rules.md");
    if std::env::var_os("AIGIS_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap_or_else(|e| panic!("{e}"));
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/rules.md is out of date: `aigis rules --format markdown > docs/rules.md` (or \
         AIGIS_BLESS=1) and commit it"
    );
    for rule in catalogue() {
        let id = rule["id"].as_str().unwrap_or("");
        assert!(
            committed.contains(&format!("## {id}\n")),
            "{id} has no section"
        );
    }
}

pub(crate) fn catalogue_lists_and_explains_rules() {
    let rules = catalogue();
    for rule in &rules {
        for key in [
            "id",
            "default_severity",
            "title",
            "explanation",
            "remediation",
        ] {
            assert!(
                rule[key].as_str().is_some_and(|s| !s.is_empty()),
                "{key} in {rule}"
            );
        }
    }
    let list = aigis(&["rules"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert_eq!(text.lines().count(), rules.len() + 1, "{text}");
    assert!(text.contains("PICKLE-CALL-DANGEROUS") && text.contains("critical"));
    let one = aigis(&["rules", "pickle-call-dangerous"]);
    let text = String::from_utf8_lossy(&one.stdout);
    for needle in [
        "Remediation:",
        "CWE-502",
        "MITRE ATLAS",
        "OWASP",
        "NIST AI RMF",
    ] {
        assert!(text.contains(needle), "{needle} missing in {text}");
    }
    assert_eq!(aigis(&["rules", "NO-SUCH-RULE"]).status.code(), Some(2));
}

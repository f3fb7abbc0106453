//! The rule catalogue: `aigis rules` lists every rule, and every rule id any fixture produces
//! has an entry there.

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

#[test]
fn every_emitted_rule_id_is_in_the_catalogue() {
    let ids: BTreeSet<String> = catalogue()
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect();
    let (_, doc) = scan_json(
        &[&repo_root().join("fixtures"), &repo_root().join("examples")],
        &["--no-cache", "--no-policy"],
    );
    let mut emitted = BTreeSet::new();
    for result in doc["results"].as_array().into_iter().flatten() {
        for finding in result["findings"].as_array().into_iter().flatten() {
            emitted.insert(finding["rule_id"].as_str().unwrap_or("").to_string());
        }
    }
    assert!(
        emitted.len() >= 5,
        "fixtures exercise few rules: {emitted:?}"
    );
    let missing: Vec<&String> = emitted.difference(&ids).collect();
    assert!(
        missing.is_empty(),
        "rule ids without catalogue entry: {missing:?}"
    );
}

#[test]
fn catalogue_lists_and_explains_rules() {
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

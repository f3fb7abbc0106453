//! Dependency scanning: requirement and lock files against the advisory database, the
//! database's date in every report, and `aigis db update` replacing it.

use crate::support::{aigis_command, repo_root, scan_json, temp_dir};
use serde_json::Value;

fn rules_of(doc: &Value) -> Vec<String> {
    doc["results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["findings"].as_array().into_iter().flatten())
        .filter_map(|f| f["rule_id"].as_str().map(str::to_owned))
        .collect()
}

pub(crate) fn the_shipped_database_flags_a_vulnerable_pin_and_says_how_old_it_is() {
    let project = repo_root().join("fixtures/deps/vulnerable");
    let (code, doc) = scan_json(&[&project], &["--no-cache"]);
    assert_eq!(code, 1, "{doc}");
    let rules = rules_of(&doc);
    assert!(rules.iter().any(|r| r == "DEP-VULNERABLE"), "{rules:?}");
    assert!(rules.iter().any(|r| r == "DEP-UNPINNED"), "{rules:?}");
    let warnings = doc["warnings"].to_string();
    // The shipped database is dated 2026-07-23: more than 30 days before any run of this test.
    assert!(
        warnings.contains("PyPA advisory database (OSV) 2026-07-23")
            && warnings.contains("days old")
            && warnings.contains("aigis db update"),
        "{warnings}"
    );
    // The included file's line is reported where it is.
    let text = doc.to_string();
    assert!(
        text.contains("common/base-deps.txt (included) @ line 1"),
        "{text}"
    );
    // A folder without dependency files says nothing about the database.
    let models = repo_root().join("fixtures/code/torch26_project");
    let (_, doc) = scan_json(&[&models.join("train.py")], &["--no-cache"]);
    assert!(
        !doc["warnings"].to_string().contains("advisory database"),
        "{doc}"
    );
}

pub(crate) fn db_update_installs_a_validated_osv_export() {
    let dir = temp_dir();
    let installed = dir.path().join("data/advisories.json");
    let run = |args: &[&str]| {
        aigis_command()
            .env("AIGIS_ADVISORY_DB", &installed)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("aigis: {e}"))
    };
    // Not a database: refused, nothing installed.
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, b"{\"hello\": 1}").unwrap_or_else(|e| panic!("{e}"));
    let out = run(&["db", "update", "--from", &junk.to_string_lossy()]);
    assert_ne!(out.status.code(), Some(0));
    assert!(!installed.exists());

    // An OSV export (a list of entries) with one advisory for numpy below 9.9.
    let osv = dir.path().join("osv.json");
    let entry = serde_json::json!([{
        "id": "TEST-2099-1",
        "modified": "2026-01-02T00:00:00Z",
        "summary": "numpy test advisory",
        "aliases": ["CVE-2099-0001"],
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": "NumPy"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9.9"}]}]
        }]
    }]);
    std::fs::write(&osv, entry.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let out = run(&["db", "update", "--from", &osv.to_string_lossy()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(installed.exists());
    let out = run(&["db", "info"]);
    let info = String::from_utf8_lossy(&out.stdout);
    assert!(
        info.contains("installed") && info.contains("advisories: 1") && info.contains("2026-01-02"),
        "{info}"
    );

    // The clean fixture (numpy 2.3.4, no advisory in the shipped database) now matches.
    let clean = repo_root().join("fixtures/deps/clean/requirements.txt");
    let out = run(&[
        "scan",
        "--no-cache",
        "--format",
        "json",
        &clean.to_string_lossy(),
    ]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1), "{doc}");
    let text = doc["results"][0]["findings"].to_string();
    assert!(
        text.contains("TEST-2099-1 (CVE-2099-0001)") && text.contains("numpy==2.3.4"),
        "{text}"
    );
    assert!(
        doc["warnings"]
            .to_string()
            .contains("OSV export 2026-01-02"),
        "{doc}"
    );
}

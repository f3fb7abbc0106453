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

pub(crate) fn requirements_includes_are_followed_as_pip_does_and_never_skipped_quietly() {
    let dir = temp_dir();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        path
    };
    // A nested include is relative to the file that names it (pip's rule): sub/base.txt
    // includes sub/pins.txt as `pins.txt`, which pins a vulnerable torch.
    let top = write("requirements.txt", "numpy==2.1.0\n-r sub/base.txt\n");
    write("sub/base.txt", "-c pins.txt\n");
    write("sub/pins.txt", "torch==2.5.1\n");
    // A decoy at the top level that a reading relative to the first file would pick instead.
    write("pins.txt", "torch==2.6.0\n");
    let (code, doc) = scan_json(&[&top], &["--no-cache"]);
    assert_eq!(code, 1, "{doc}");
    let text = doc.to_string();
    assert!(
        rules_of(&doc).iter().any(|r| r == "DEP-VULNERABLE")
            && text.contains("pins.txt (included) @ line 1"),
        "{text}"
    );
    assert_eq!(doc["summary"]["incomplete"], 0, "{doc}");

    // Scanned alone, a requirements file still says what its dependency-file include
    // installs (the include is not assumed to be scanned beside it).
    let alone = write("alone/requirements.txt", "-r requirements-gpu.txt\n");
    write("alone/requirements-gpu.txt", "torch==2.5.1\n");
    let (_, doc) = scan_json(&[&alone], &["--no-cache"]);
    assert!(
        rules_of(&doc).iter().any(|r| r == "DEP-VULNERABLE"),
        "{doc}"
    );

    // An include aigis cannot read (missing, a URL, too large) leaves the result incomplete:
    // the run fails even with nothing found, and says which include.
    let broken = write(
        "broken/requirements.txt",
        "numpy==2.1.0\n-r missing.txt\n-r https://example.invalid/reqs.txt\n",
    );
    let big = "# padding\n".repeat(1 << 20);
    write("broken/big.txt", &big);
    let with_big = write("broken2/requirements.txt", "-r ../broken/big.txt\n");
    for target in [&broken, &with_big] {
        let (code, doc) = scan_json(&[target], &["--no-cache"]);
        assert_ne!(code, 0, "{doc}");
        assert_eq!(doc["summary"]["incomplete"], 1, "{doc}");
        let reason = doc["results"][0]["incomplete"].as_str().unwrap_or_default();
        assert!(
            reason.contains("include") && reason.contains("not read"),
            "{reason}"
        );
    }
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

/// Runs `aigis bom` over the code fixture project (a script loading a pickle beside it) and two
/// dependency files; returns the document.
fn pipeline_bom(format: &str, out: &std::path::Path) -> Value {
    let root = repo_root();
    let targets = [
        root.join("fixtures/code/project"),
        root.join("fixtures/deps/clean/requirements.txt"),
        root.join("fixtures/deps/poetry"),
    ];
    let mut args = vec![
        "bom".to_owned(),
        "--format".to_owned(),
        format.to_owned(),
        "--output".to_owned(),
        out.to_string_lossy().into_owned(),
    ];
    args.extend(targets.iter().map(|t| t.to_string_lossy().into_owned()));
    let result = aigis_command()
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("aigis: {e}"));
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    serde_json::from_slice(&std::fs::read(out).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) fn the_bom_lists_ml_libraries_and_links_code_to_the_models_it_loads() {
    let tmp = temp_dir();
    let doc = pipeline_bom("cyclonedx", &tmp.path().join("bom.cdx.json"));
    crate::reports::validate("bom-1.6.schema.json", &doc);
    let components = doc["components"].as_array().cloned().unwrap_or_default();
    let by_name = |suffix: &str| {
        components
            .iter()
            .find(|c| c["name"].as_str().is_some_and(|n| n.ends_with(suffix)))
            .unwrap_or_else(|| panic!("no component {suffix}: {components:#?}"))
    };
    let numpy = components
        .iter()
        .find(|c| c["type"] == "library" && c["purl"] == "pkg:pypi/numpy@2.3.4")
        .unwrap_or_else(|| panic!("no numpy library: {components:#?}"));
    let keras = components
        .iter()
        .find(|c| c["type"] == "library" && c["purl"] == "pkg:pypi/keras@3.8.0")
        .unwrap_or_else(|| panic!("no keras library: {components:#?}"));
    // requests is not an ML library: not listed.
    assert!(
        !components.iter().any(|c| c["name"] == "requests"),
        "{components:#?}"
    );
    let serve = by_name("serve.py");
    // Code and dependency files are linked to models, never grouped into models themselves.
    assert_eq!(serve["type"], "file", "{serve}");
    assert!(
        !components
            .iter()
            .any(|c| c["type"] == "machine-learning-model"
                && c["name"].as_str().is_some_and(|n| n.ends_with(".py")
                    || n.ends_with(".txt")
                    || n.ends_with(".lock"))),
        "{components:#?}"
    );
    let model = components
        .iter()
        .find(|c| {
            c["type"] == "machine-learning-model"
                && c["components"].as_array().into_iter().flatten().any(|f| {
                    f["name"]
                        .as_str()
                        .is_some_and(|n| n.ends_with("classifier.pkl"))
                })
        })
        .unwrap_or_else(|| panic!("no classifier model: {components:#?}"));
    let dependencies = doc["dependencies"].as_array().cloned().unwrap_or_default();
    let depends = |from: &Value| -> Vec<Value> {
        dependencies
            .iter()
            .find(|d| d["ref"] == *from)
            .and_then(|d| d["dependsOn"].as_array().cloned())
            .unwrap_or_default()
    };
    assert_eq!(
        depends(&serve["bom-ref"]),
        vec![model["bom-ref"].clone()],
        "{dependencies:#?}"
    );
    let clean = by_name("clean/requirements.txt");
    assert!(
        depends(&clean["bom-ref"]).contains(&numpy["bom-ref"]),
        "{dependencies:#?}"
    );
    let lock = by_name("poetry.lock");
    assert!(
        depends(&lock["bom-ref"]).contains(&keras["bom-ref"]),
        "{dependencies:#?}"
    );
}

pub(crate) fn the_spdx_bom_carries_the_same_links_and_reads_back() {
    let tmp = temp_dir();
    let out = tmp.path().join("bom.spdx.json");
    let doc = pipeline_bom("spdx", &out);
    let graph = doc["@graph"].as_array().cloned().unwrap_or_default();
    let numpy = graph
        .iter()
        .find(|e| {
            e["type"] == "software_Package" && e["software_packageUrl"] == "pkg:pypi/numpy@2.3.4"
        })
        .unwrap_or_else(|| panic!("no numpy package: {graph:#?}"));
    assert_eq!(numpy["software_primaryPurpose"], "library");
    let depends: Vec<&Value> = graph
        .iter()
        .filter(|e| e["type"] == "Relationship" && e["relationshipType"] == "dependsOn")
        .collect();
    assert!(
        depends.iter().any(|r| r["to"]
            .as_array()
            .is_some_and(|to| to.contains(&numpy["spdxId"]))),
        "{depends:#?}"
    );
    let python = aigis_testkit::Tool::SpdxPython.path();
    let check = std::process::Command::new(python)
        .arg(repo_root().join("scripts/check_spdx.py"))
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

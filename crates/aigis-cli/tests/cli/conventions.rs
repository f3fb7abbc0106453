//! The habits of people who run Trivy, Grype and picklescan: `--severity`, `--fail-on none`,
//! `AIGIS_*` variables, a `--quiet` that still says why a run failed, a file's verdict apart
//! from its location's exposure, and SARIF that code scanning takes as it is meant.

use crate::support::{aigis, aigis_command, repo_root, temp_dir};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;

fn evil() -> std::path::PathBuf {
    repo_root().join("fixtures/pickle/os_system_p2.pkl")
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub(crate) fn severity_filter_fail_on_none_and_environment_variables() {
    let target = evil().to_string_lossy().into_owned();
    let out = aigis(&[
        "scan",
        "--no-cache",
        "--no-policy",
        "--format",
        "json",
        "--severity",
        "info",
        &target,
    ]);
    let doc = json(&out);
    let findings = doc["results"][0]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !findings.is_empty() && findings.iter().all(|f| f["severity"] == "info"),
        "{doc}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "the exit code still follows --fail-on"
    );
    let out = aigis(&[
        "scan",
        "--no-cache",
        "--no-policy",
        "--fail-on",
        "none",
        &target,
    ]);
    assert_eq!(out.status.code(), Some(0));
    // Variables stand in for flags; flags win.
    let out = aigis_command()
        .env("AIGIS_FORMAT", "json")
        .env("AIGIS_FAIL_ON", "none")
        .args(["scan", "--no-cache", "--no-policy", &target])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0));
    let doc = json(&out);
    assert_eq!(doc["results"][0]["max_severity"], "critical");
    let out = aigis_command()
        .env("AIGIS_FAIL_ON", "none")
        .args([
            "scan",
            "--no-cache",
            "--no-policy",
            "--fail-on",
            "high",
            &target,
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "the flag wins over the variable"
    );
}

pub(crate) fn quiet_is_silent_on_success_and_says_why_on_failure() {
    let clean = repo_root().join("fixtures/safetensors/good_single.safetensors");
    let out = aigis(&[
        "scan",
        "-q",
        "--no-cache",
        "--no-policy",
        &clean.to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    let out = aigis(&[
        "scan",
        "-q",
        "--no-cache",
        "--no-policy",
        &evil().to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("FAILED") && err.contains("os_system_p2.pkl"),
        "{err}"
    );
}

/// A world-writable folder is the location's problem, not the content's: the file's verdict is
/// CLEAN, the exposure is reported once for the folder with the number of files under it, and
/// it still fails the run.
pub(crate) fn the_verdict_is_about_content_exposure_is_about_location() {
    let dir = temp_dir();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap_or_else(|e| panic!("{e}"));
    for name in ["a.safetensors", "b.safetensors"] {
        std::fs::copy(
            repo_root().join("fixtures/safetensors/good_single.safetensors"),
            shared.join(name),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777))
        .unwrap_or_else(|e| panic!("{e}"));
    let target = shared.to_string_lossy().into_owned();
    let out = aigis(&[
        "scan",
        "--no-cache",
        "--no-policy",
        "--format",
        "json",
        &target,
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "exposure still counts for the exit code"
    );
    let doc = json(&out);
    for result in doc["results"].as_array().into_iter().flatten() {
        assert_eq!(result["content_severity"], "none", "{result}");
        assert_eq!(result["max_severity"], "high", "{result}");
    }
    let locations = doc["locations"].as_array().cloned().unwrap_or_default();
    let writable: Vec<&Value> = locations
        .iter()
        .filter(|l| l["rule_id"] == "HOST-WRITABLE-PATH" && l["severity"] == "high")
        .collect();
    assert_eq!(writable.len(), 1, "{locations:?}");
    assert_eq!(writable[0]["files"], 2);
    let out = aigis(&["scan", "--no-cache", "--no-policy", &target]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().filter(|l| l.starts_with("CLEAN")).count() == 2,
        "{text}"
    );
    assert!(
        text.contains("Where the files are:") && text.contains("2 file(s)"),
        "{text}"
    );
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
}

/// SARIF: informational notes are not alerts unless asked for, and a finding keeps its
/// fingerprint across checkouts (byte offsets and the folder it was scanned from left out).
pub(crate) fn sarif_alerts_are_findings_and_survive_reruns() {
    let sarif_of = |dir: &std::path::Path, extra: &[&str]| -> Value {
        let model = dir.join("models/evil.pkl");
        std::fs::create_dir_all(dir.join("models")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::copy(evil(), &model).unwrap_or_else(|e| panic!("{e}"));
        let out = aigis_command()
            .current_dir(dir)
            .args(["scan", "--no-cache", "--no-policy", "--format", "sarif"])
            .args(extra)
            .arg("models")
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        json(&out)
    };
    let (one, two) = (temp_dir(), temp_dir());
    let first = sarif_of(one.path(), &[]);
    let second = sarif_of(two.path(), &[]);
    let results = first["runs"][0]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!results.is_empty());
    assert!(
        results.iter().all(|r| r["level"] != "note"),
        "info findings became alerts"
    );
    let prints = |doc: &Value| -> Vec<Value> {
        doc["runs"][0]["results"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r["partialFingerprints"].clone())
            .collect()
    };
    assert_eq!(
        prints(&first),
        prints(&second),
        "fingerprints moved between checkouts"
    );
    let with_info = sarif_of(one.path(), &["--severity", "critical,high,medium,low,info"]);
    assert!(
        with_info["runs"][0]["results"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["properties"]["severity"] == "info"),
        "{with_info}"
    );
}

//! Policy files end to end: allow-lists, deny-lists, suppressions (active and expired),
//! thresholds, path filters, and `aigis policy check` errors with line and column.

use crate::support::{aigis, aigis_command, repo_root, scan_json, temp_dir};
use serde_json::Value;
use std::path::Path;

fn findings<'a>(doc: &'a Value, rule: &str) -> Vec<&'a Value> {
    doc["results"][0]["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["rule_id"] == rule)
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
}

fn main_class_fixture() -> std::path::PathBuf {
    repo_root().join("fixtures/torch/whole_model_main_class.pt")
}

pub(crate) fn policy_allowing_a_team_class_turns_its_medium_finding_off() {
    let dir = temp_dir();
    let fixture = main_class_fixture();
    let (code, before) = scan_json(&[&fixture], &["--no-policy", "--fail-on", "medium"]);
    assert_eq!(code, 1);
    assert_eq!(
        findings(&before, "PICKLE-CLASS-UNKNOWN").len(),
        1,
        "{before}"
    );
    let policy = write(
        dir.path(),
        "team.toml",
        "fail_on = \"medium\"\nallow_globals = [\"__main__.TinyNet\"]\n",
    );
    let (code, after) = scan_json(&[&fixture], &["--policy", &policy.to_string_lossy()]);
    assert!(
        findings(&after, "PICKLE-CLASS-UNKNOWN").is_empty(),
        "{after}"
    );
    assert_eq!(after["results"][0]["max_severity"], "info");
    assert_eq!(after["fail_on"], "medium");
    assert_eq!(code, 0);
}

/// The policy is the operator's: found from the current folder up, never inside the content.
pub(crate) fn policy_is_discovered_from_the_current_folder() {
    let dir = temp_dir();
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(main_class_fixture(), models.join("net.pt")).unwrap_or_else(|e| panic!("{e}"));
    write(
        dir.path(),
        "aigis.toml",
        "allow_globals = [\"__main__.*\"]\n",
    );
    let scan_from = |cwd: &Path, extra: &[&str]| -> Value {
        let mut args = vec!["scan", "--format", "json", "--no-cache"];
        args.extend_from_slice(extra);
        let models = models.to_string_lossy().into_owned();
        args.push(&models);
        let out = aigis_command()
            .current_dir(cwd)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"))
    };
    let doc = scan_from(dir.path(), &[]);
    assert!(findings(&doc, "PICKLE-CLASS-UNKNOWN").is_empty(), "{doc}");
    assert!(
        doc["policy"]
            .as_str()
            .is_some_and(|p| p.ends_with("aigis.toml")),
        "{doc}"
    );
    let doc = scan_from(dir.path(), &["--no-policy"]);
    assert_eq!(findings(&doc, "PICKLE-CLASS-UNKNOWN").len(), 1, "{doc}");
    // From elsewhere, the same tree's policy is not the operator's.
    let doc = scan_from(&repo_root(), &[]);
    assert_eq!(findings(&doc, "PICKLE-CLASS-UNKNOWN").len(), 1, "{doc}");
}

pub(crate) fn denied_callable_becomes_critical() {
    let dir = temp_dir();
    let policy = write(
        dir.path(),
        "p.toml",
        "deny_globals = [\"__main__.TinyNet\"]\n",
    );
    let (code, doc) = scan_json(
        &[&main_class_fixture()],
        &["--policy", &policy.to_string_lossy()],
    );
    assert_eq!(doc["results"][0]["max_severity"], "critical", "{doc}");
    assert!(
        findings(&doc, "PICKLE-CALL-DANGEROUS")
            .iter()
            .any(|f| f["message"]
                .as_str()
                .is_some_and(|m| m.contains("denied by policy"))),
        "{doc}"
    );
    assert_eq!(code, 1);
}

pub(crate) fn suppressions_stay_visible_and_expired_ones_are_reported() {
    let dir = temp_dir();
    let fixture = main_class_fixture();
    let active = write(
        dir.path(),
        "active.toml",
        r#"fail_on = "medium"
[[suppress]]
rule = "PICKLE-CLASS-UNKNOWN"
path = "**/whole_model_main_class.pt"
reason = "TinyNet is our own class (SEC-7)"
expires = "2999-12-31"
"#,
    );
    let (code, doc) = scan_json(&[&fixture], &["--policy", &active.to_string_lossy()]);
    let class = findings(&doc, "PICKLE-CLASS-UNKNOWN");
    assert_eq!(
        class.len(),
        1,
        "suppressed findings are never dropped: {doc}"
    );
    assert_eq!(
        class[0]["suppressed"]["reason"],
        "TinyNet is our own class (SEC-7)"
    );
    assert_eq!(class[0]["suppressed"]["expires"], "2999-12-31");
    assert_eq!(doc["summary"]["suppressed"], 1);
    assert_eq!(doc["results"][0]["max_severity"], "info");
    assert_eq!(code, 0, "a suppressed finding does not fail the run");
    assert!(doc["warnings"].is_null(), "{doc}");

    let expired = write(
        dir.path(),
        "expired.toml",
        r#"fail_on = "medium"

[[suppress]]
rule = "PICKLE-CLASS-UNKNOWN"
reason = "temporary exception"
expires = "2020-01-31"
"#,
    );
    let (code, doc) = scan_json(&[&fixture], &["--policy", &expired.to_string_lossy()]);
    let class = findings(&doc, "PICKLE-CLASS-UNKNOWN");
    assert!(class[0]["suppressed"].is_null(), "{doc}");
    assert_eq!(code, 1);
    let warnings = doc["warnings"].to_string();
    assert!(
        warnings.contains("expired on 2020-01-31")
            && warnings.contains("temporary exception")
            && warnings.contains("expired.toml:3"),
        "{warnings}"
    );
}

pub(crate) fn severity_overrides_and_path_filters() {
    let dir = temp_dir();
    let policy = write(
        dir.path(),
        "p.toml",
        "exclude = [\"**/pickle/**\"]\n[severity]\nPICKLE-FORMAT = \"low\"\n",
    );
    let torch = repo_root().join("fixtures/torch/state_dict.pt");
    let pickles = repo_root().join("fixtures/pickle");
    let (_, doc) = scan_json(
        &[&torch, &pickles],
        &["--policy", &policy.to_string_lossy()],
    );
    let results = doc["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 1, "{doc}");
    assert_eq!(results[0]["max_severity"], "low", "{doc}");
}

pub(crate) fn invalid_policy_reports_line_and_column() {
    let dir = temp_dir();
    let syntax = write(
        dir.path(),
        "syntax.toml",
        "fail_on = \"high\"\nallow_globals = [\n  \"a.b\" \"c.d\"]\n",
    );
    let out = aigis(&["policy", "check", &syntax.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("syntax.toml:3:9:"), "{err}");

    let semantic = write(
        dir.path(),
        "semantic.toml",
        "[severity]\nPICKLE-BOGUS = \"high\"\n\n[[suppress]]\nrule = \"PICKLE-FORMAT\"\nexpires = \"2024-02-30\"\n",
    );
    let out = aigis(&["policy", "check", &semantic.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("semantic.toml:2:1: severity: unknown rule id `PICKLE-BOGUS`"),
        "{err}"
    );
    assert!(
        err.contains("semantic.toml:6:11: suppress[0].expires"),
        "{err}"
    );
    assert!(
        err.contains("semantic.toml:4:1: suppress[0]: missing `reason`"),
        "{err}"
    );

    // A scan with an invalid policy is a usage error.
    let out = aigis(&[
        "scan",
        "--policy",
        &semantic.to_string_lossy(),
        &main_class_fixture().to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(2));

    let good = write(dir.path(), "good.toml", "fail_on = \"critical\"\n");
    let out = aigis(&["policy", "check", &good.to_string_lossy()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) fn changed_since_scans_only_changed_files() {
    let dir = temp_dir();
    let repo = dir.path();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(repo)
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("git: {e}"));
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q", "-b", "base"]);
    std::fs::copy(
        repo_root().join("fixtures/torch/state_dict.pt"),
        repo.join("old.pt"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "base"]);
    git(&["checkout", "-q", "-b", "feature"]);
    std::fs::copy(
        repo_root().join("fixtures/pickle/os_system_p2.pkl"),
        repo.join("new.pkl"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    write(repo, "notes.txt", "not a model");
    git(&["add", "new.pkl"]);
    git(&["commit", "-q", "-m", "add"]);
    let (code, doc) = scan_json(&[repo], &["--changed-since", "base"]);
    let mut paths: Vec<String> = doc["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["path"].as_str().map(str::to_string))
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 2, "{doc}");
    assert!(
        paths[0].ends_with("new.pkl") && paths[1].ends_with("notes.txt"),
        "{paths:?}"
    );
    assert_eq!(doc["results"][1]["status"], "unsupported");
    assert_eq!(code, 1);
}

/// `bom` and `discover --scan` run the same engine as `scan`: the policy's severity overrides,
/// suppressions and fail threshold apply to them too.
pub(crate) fn the_policy_applies_to_bom_and_discover_as_to_scan() {
    let dir = temp_dir();
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(main_class_fixture(), models.join("net.pt")).unwrap_or_else(|e| panic!("{e}"));
    let evil = repo_root().join("fixtures/pickle/os_system_p2.pkl");
    std::fs::copy(evil, models.join("evil.pkl")).unwrap_or_else(|e| panic!("{e}"));
    let policy = write(
        dir.path(),
        "team.toml",
        "fail_on = \"critical\"\n\
         [severity]\nPICKLE-CLASS-UNKNOWN = \"critical\"\n\
         [[suppress]]\nrule = \"PICKLE-CALL-DANGEROUS\"\npath = \"**/evil.pkl\"\nreason = \"SEC-1\"\n",
    );
    let policy = policy.to_string_lossy().into_owned();
    let models_arg = models.to_string_lossy().into_owned();

    let out = aigis(&[
        "discover",
        "--scan",
        "--format",
        "json",
        "--policy",
        &policy,
        &models_arg,
    ]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let severity_of = |name: &str| {
        doc["models"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["path"].as_str().is_some_and(|p| p.ends_with(name)))
            .map(|m| m["max_severity"].clone())
            .unwrap_or_else(|| panic!("{name} not in {doc}"))
    };
    assert_eq!(
        severity_of("net.pt"),
        "critical",
        "severity override ignored"
    );
    assert_ne!(severity_of("evil.pkl"), "critical", "suppression ignored");
    assert_eq!(
        out.status.code(),
        Some(1),
        "the policy's fail_on = critical"
    );

    let out = aigis(&["bom", "--policy", &policy, &models_arg]);
    assert!(out.status.success());
    let bom: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let vulns = bom["vulnerabilities"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let by_rule = |rule: &str| {
        vulns
            .iter()
            .find(|v| v["id"] == rule)
            .cloned()
            .unwrap_or_else(|| panic!("{rule} not in {bom}"))
    };
    assert_eq!(
        by_rule("PICKLE-CLASS-UNKNOWN")["ratings"][0]["severity"],
        "critical"
    );
    assert_eq!(
        by_rule("PICKLE-CALL-DANGEROUS")["analysis"]["state"],
        "not_affected"
    );
}

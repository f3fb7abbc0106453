//! `--record` and `aigis inventory`: a model replaced in a world-writable folder between two
//! recorded scans is a critical MODEL_REPLACED change; triage survives a re-scan; saved reports
//! ingest; a database that cannot be opened fails the command.

use crate::support::{aigis_command, repo_root, temp_dir};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

fn run(db: &str, cwd: &Path, args: &[&str]) -> Output {
    aigis_command()
        .current_dir(cwd)
        .env("AIGIS_DB", db)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("aigis: {e}"))
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub(crate) fn a_model_replaced_in_a_writable_folder_is_a_critical_change() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir();
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap_or_else(|e| panic!("{e}"));
    // Anyone on the host can write here (no sticky bit).
    std::fs::set_permissions(&models, std::fs::Permissions::from_mode(0o777))
        .unwrap_or_else(|e| panic!("{e}"));
    let examples = repo_root().join("examples");
    let model = models.join("resnet.pt");
    std::fs::copy(examples.join("resnet-tiny.pt"), &model).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(
        examples.join("embeddings.npy"),
        models.join("embeddings.npy"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let db = format!("sqlite:{}", dir.path().join("inventory.db").display());

    let first = run(
        &db,
        dir.path(),
        &["scan", "--no-cache", "--record", "models"],
    );
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr.contains("recorded scan 1 in the inventory"),
        "{stderr}"
    );

    // The clean model is swapped for a malicious pickle at the same path.
    std::fs::copy(examples.join("rigged-model.pkl"), &model).unwrap_or_else(|e| panic!("{e}"));
    std::fs::remove_file(models.join("embeddings.npy")).unwrap_or_else(|e| panic!("{e}"));
    let second = run(
        &db,
        dir.path(),
        &["scan", "--no-cache", "--record", "models"],
    );
    assert_eq!(second.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("MODEL_REPLACED [critical]") && stderr.contains("MODEL_DISAPPEARED"),
        "{stderr}"
    );

    let out = run(
        &db,
        dir.path(),
        &["inventory", "changes", "--since", "2", "--format", "json"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = json_of(&out);
    let replaced = events
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["kind"] == "MODEL_REPLACED")
        .unwrap_or_else(|| panic!("{events}"));
    let real = std::fs::canonicalize(&model).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        replaced["location"]
            .as_str()
            .is_some_and(|l| l.ends_with("/models/resnet.pt") && l.starts_with("file://")),
        "{replaced} ({})",
        real.display()
    );
    assert_eq!(replaced["severity"], "critical");
    assert!(
        matches!(
            replaced["old_verdict"].as_str(),
            Some("none" | "info" | "low")
        ),
        "{replaced}"
    );
    assert!(
        matches!(replaced["new_verdict"].as_str(), Some("critical" | "high")),
        "{replaced}"
    );

    // The replacement is an open finding, and it can be triaged; the mark survives a re-scan.
    let out = run(
        &db,
        dir.path(),
        &[
            "inventory",
            "findings",
            "--rule",
            "MODEL-REPLACED",
            "--format",
            "json",
        ],
    );
    let findings = json_of(&out);
    let id = findings[0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{findings}"));
    let out = run(
        &db,
        dir.path(),
        &[
            "inventory",
            "triage",
            &id.to_string(),
            "--state",
            "in_triage",
            "--reason",
            "ticket SEC-1",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    run(
        &db,
        dir.path(),
        &["scan", "--no-cache", "--record", "models"],
    );
    let out = run(
        &db,
        dir.path(),
        &[
            "inventory",
            "findings",
            "--rule",
            "MODEL-REPLACED",
            "--all",
            "--format",
            "json",
        ],
    );
    let findings = json_of(&out);
    assert_eq!(findings[0]["triage"], "in_triage", "{findings}");
    let out = run(
        &db,
        dir.path(),
        &["inventory", "findings", "--rule", "MODEL-REPLACED"],
    );
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty());

    let out = run(&db, dir.path(), &["inventory", "scans", "--format", "json"]);
    assert_eq!(json_of(&out).as_array().map(Vec::len), Some(3));

    // The attack path: others can write the folder → resnet.pt → a critical finding, first.
    let out = run(&db, dir.path(), &["graph", "--paths"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("1. [critical]") && first.ends_with("/models/resnet.pt"),
        "{text}"
    );
    assert!(
        text.contains("other users of the host can write")
            && text.contains("PICKLE-CALL-DANGEROUS"),
        "{text}"
    );
    let out = run(&db, dir.path(), &["graph", "--format", "dot"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("-> \"file:"));
}

pub(crate) fn a_saved_report_ingests_and_a_bad_database_fails_the_run() {
    let dir = temp_dir();
    let report = dir.path().join("report.json");
    let out = aigis_command()
        .args(["scan", "--no-cache", "--format", "json", "-o"])
        .arg(&report)
        .arg(repo_root().join("examples"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let db = format!("sqlite:{}", dir.path().join("inv.db").display());
    let out = run(
        &db,
        dir.path(),
        &[
            "inventory",
            "ingest",
            &report.to_string_lossy(),
            "--host",
            "ci-runner-7",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("recorded scan 1"), "{text}");
    let out = run(
        &db,
        dir.path(),
        &["inventory", "changes", "--format", "json"],
    );
    let events = json_of(&out);
    assert!(
        events
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["kind"] == "NEW_UNSAFE_MODEL"
                && e["location"].as_str().is_some_and(
                    |l| l.starts_with("file://ci-runner-7/") && l.ends_with("rigged-model.pkl")
                )),
        "{events}"
    );
    // Not a report: refused, nothing recorded.
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"results\": 5}").unwrap_or_else(|e| panic!("{e}"));
    let out = run(
        &db,
        dir.path(),
        &["inventory", "ingest", &junk.to_string_lossy()],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = run(&db, dir.path(), &["inventory", "scans", "--format", "json"]);
    assert_eq!(json_of(&out).as_array().map(Vec::len), Some(1));

    // A database that cannot be opened fails the scan that was asked to record (exit 2),
    // whatever the scan found.
    let missing = format!(
        "sqlite:{}",
        dir.path().join("no/such/folder/inv.db").display()
    );
    let out = run(
        &missing,
        dir.path(),
        &[
            "scan",
            "--no-cache",
            "--record",
            &repo_root()
                .join("examples/embeddings.npy")
                .to_string_lossy(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    // `discover --record` without --scan is refused: unscanned models must not look clean.
    let out = run(
        &db,
        dir.path(),
        &[
            "discover",
            "--record",
            &repo_root().join("examples").to_string_lossy(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
}

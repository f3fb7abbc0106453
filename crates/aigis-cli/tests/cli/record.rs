//! `--record` and `aigis inventory`: a model replaced in a world-writable folder between two
//! recorded scans is a critical MODEL_REPLACED change, delivered to the policy's webhook
//! (signed) on a local receiver; triage survives a re-scan; saved reports ingest; a database
//! that cannot be opened fails the command.

use crate::support::{aigis_command, repo_root, temp_dir};
use hmac::{KeyInit, Mac};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

const HOOK_SECRET: &str = "test-webhook-secret";

fn run(db: &str, cwd: &Path, args: &[&str]) -> Output {
    aigis_command()
        .current_dir(cwd)
        .env("AIGIS_DB", db)
        .env("AIGIS_TEST_HOOK_SECRET", HOOK_SECRET)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("aigis: {e}"))
}

/// A webhook receiver on loopback: answers 200 and keeps each request's headers and body.
/// Each request's head and body, in arrival order.
type Requests = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

fn receiver() -> (String, Requests) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let url = format!(
        "http://{}/hooks/aigis",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap_or_else(|e| panic!("{e}")));
            let mut head = String::new();
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && !line.trim().is_empty() {
                head.push_str(&line);
                line.clear();
            }
            let length = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            log.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((head, body));
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, seen)
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
    // The operator's policy, beside (not inside) what is scanned: one signed webhook.
    let (hook, deliveries) = receiver();
    std::fs::write(
        dir.path().join("aigis.toml"),
        format!(
            "[[webhook]]\nurl = \"{hook}\"\nsecret_env = \"AIGIS_TEST_HOOK_SECRET\"\nevents = [\"MODEL_REPLACED\", \"NEW_UNSAFE_MODEL\"]\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));

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

    // The webhook got the replacement, once, signed over the exact body; the first scan (a
    // clean model) sent nothing it subscribed to, and MODEL_DISAPPEARED is not subscribed.
    let deliveries = deliveries.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(deliveries.len(), 1, "{stderr}");
    let (head, body) = &deliveries[0];
    let signature = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case("x-aigis-signature-256"))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| panic!("unsigned: {head}"));
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(HOOK_SECRET.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    mac.update(body);
    assert_eq!(
        signature,
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    );
    let delivered: Value = serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(delivered["collector"], "scan");
    assert_eq!(delivered["scan_id"], 2);
    let kinds: Vec<&str> = delivered["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["MODEL_REPLACED"], "{delivered}");
    assert_eq!(delivered["events"][0]["severity"], "critical");
    assert!(
        delivered["events"][0]["location"]
            .as_str()
            .is_some_and(|l| l.ends_with("/models/resnet.pt")),
        "{delivered}"
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
    // Around one place at depth 1: the place, its host, its exposure, the content it holds and
    // the model there, each one edge from it; nothing further.
    let out = run(&db, dir.path(), &["graph", "--format", "json"]);
    let graph = json_of(&out);
    let place = graph["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|n| {
            n["kind"] == "location"
                && n["label"]
                    .as_str()
                    .is_some_and(|l| l.ends_with("/models/resnet.pt"))
        })
        .and_then(|n| n["id"].as_str())
        .unwrap_or_else(|| panic!("{graph}"))
        .to_owned();
    let out = run(
        &db,
        dir.path(),
        &[
            "graph", "--around", &place, "--depth", "1", "--format", "json",
        ],
    );
    let around = json_of(&out);
    let nodes: Vec<&Value> = around["nodes"].as_array().into_iter().flatten().collect();
    let kinds: std::collections::BTreeSet<&str> =
        nodes.iter().filter_map(|n| n["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        ["exposure", "file", "host", "location", "model"].into(),
        "{around}"
    );
    let edges: Vec<&Value> = around["edges"].as_array().into_iter().flatten().collect();
    for node in &nodes {
        let id = node["id"].as_str().unwrap_or_default();
        assert!(
            id == place
                || edges
                    .iter()
                    .any(|e| (e["from"] == id && e["to"] == place.as_str())
                        || (e["to"] == id && e["from"] == place.as_str())),
            "{id} is not next to {place}: {around}"
        );
    }
    assert!(nodes.len() < graph["nodes"].as_array().map_or(0, Vec::len));
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

pub(crate) fn webhooks_hear_of_policy_violations_and_failed_scans_without_an_inventory() {
    let dir = temp_dir();
    let (hook, deliveries) = receiver();
    std::fs::write(
        dir.path().join("aigis.toml"),
        format!(
            "[[webhook]]\nurl = \"{hook}\"\nformat = \"slack\"\n\n\
             [[webhook]]\nurl = \"{hook}\"\nsecret_env = \"AIGIS_UNSET_SECRET\"\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir(dir.path().join("empty")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(
        repo_root().join("examples/rigged-model.pkl"),
        dir.path().join("rigged-model.pkl"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = aigis_command()
        .current_dir(dir.path())
        .env_remove("AIGIS_UNSET_SECRET")
        .args(["scan", "--no-cache", "rigged-model.pkl", "empty"])
        .output()
        .unwrap_or_else(|e| panic!("aigis: {e}"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // A signed webhook whose secret is missing is not sent unsigned; the run says so.
    assert!(
        stderr.contains("not sent: its secret variable AIGIS_UNSET_SECRET is not set")
            && !stderr.contains("/hooks/aigis"),
        "{stderr}"
    );
    let deliveries = deliveries.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(deliveries.len(), 1, "{stderr}");
    let message: Value = serde_json::from_slice(&deliveries[0].1).unwrap_or_else(|e| panic!("{e}"));
    let text = message["text"].as_str().unwrap_or_default();
    assert!(text.contains("2 events"), "{text}");
    assert!(
        text.contains("*POLICY_VIOLATION* [critical] 1 file with findings at or above"),
        "{text}"
    );
    assert!(
        text.contains("*SCAN_FAILED* [high]") && text.contains("1 target held nothing to scan"),
        "{text}"
    );
}

/// `aigis bom`'s ML-BOM and another tool's go into the inventory (what aigis did not analyse
/// is recorded as not analysed, never as clean); the inventory comes out as one CycloneDX 1.6
/// ML-BOM that validates, and that reads back in with the same verdicts.
pub(crate) fn boms_go_in_and_the_inventory_comes_out_as_one_ml_bom() {
    let dir = temp_dir();
    let db = format!("sqlite:{}", dir.path().join("inv.db").display());
    let bom = dir.path().join("bom.cdx.json");
    let out = aigis_command()
        .current_dir(repo_root())
        .args(["bom", "--format", "cyclonedx", "--output"])
        .arg(&bom)
        .arg("examples")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        &db,
        dir.path(),
        &[
            "inventory",
            "ingest",
            &bom.to_string_lossy(),
            "--host",
            "ml-01",
            "--root",
            "/srv/app",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Another tool's ML-BOM: a model with a digest and nothing aigis said about it.
    let foreign = dir.path().join("syft.cdx.json");
    let sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let doc = serde_json::json!({
        "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
        "metadata": {"tools": [{"vendor": "anchore", "name": "syft", "version": "1.0"}]},
        "components": [{
            "type": "machine-learning-model", "bom-ref": "m1", "name": "resnet50.pt",
            "purl": "pkg:huggingface/acme/resnet50@abc123",
            "hashes": [{"alg": "SHA-256", "content": sha}],
        }],
    });
    std::fs::write(&foreign, doc.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let out = run(
        &db,
        dir.path(),
        &["inventory", "ingest", &foreign.to_string_lossy()],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let models = json_of(&run(
        &db,
        dir.path(),
        &["inventory", "models", "--format", "json"],
    ));
    let verdict_of = |models: &Value, name: &str| -> String {
        models
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["name"].as_str().is_some_and(|n| n.contains(name)))
            .map(|m| m["verdict"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_else(|| panic!("no model {name}: {models:#}"))
    };
    assert_eq!(
        verdict_of(&models, "resnet50.pt"),
        "incomplete",
        "{models:#}"
    );
    let findings = json_of(&run(
        &db,
        dir.path(),
        &["inventory", "findings", "--format", "json"],
    ));
    let rigged = findings
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| {
            f["severity"] == "critical"
                && f["locations"].as_array().into_iter().flatten().any(|l| {
                    l.as_str().is_some_and(|l| {
                        l.starts_with("file://ml-01/srv/app/") && l.ends_with("rigged-model.pkl")
                    })
                })
        })
        .unwrap_or_else(|| panic!("the rigged pickle's finding, on ml-01: {findings:#}"));
    let rule = rigged["rule_id"].as_str().unwrap_or_default().to_owned();

    let export = dir.path().join("inventory.cdx.json");
    let out = run(
        &db,
        dir.path(),
        &["inventory", "export", "--output", &export.to_string_lossy()],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exported: Value = serde_json::from_slice(&std::fs::read(&export).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    crate::reports::validate("bom-1.6.schema.json", &exported);
    let components = exported["components"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let resnet = components
        .iter()
        .find(|c| c["name"] == "resnet50.pt")
        .unwrap_or_else(|| panic!("{exported:#}"));
    assert_eq!(resnet["type"], "machine-learning-model");
    assert_eq!(resnet["purl"], "pkg:huggingface/acme/resnet50@abc123");
    let vulnerability = exported["vulnerabilities"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["id"] == rule.as_str())
        .unwrap_or_else(|| panic!("{rule} in {exported:#}"));
    assert_eq!(vulnerability["ratings"][0]["severity"], "critical");

    // Read back into a fresh inventory: the same verdicts, the same places.
    let again = format!("sqlite:{}", dir.path().join("again.db").display());
    let out = run(
        &again,
        dir.path(),
        &["inventory", "ingest", &export.to_string_lossy()],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let models_again = json_of(&run(
        &again,
        dir.path(),
        &["inventory", "models", "--format", "json"],
    ));
    assert_eq!(verdict_of(&models_again, "resnet50.pt"), "incomplete");
    let findings_again = json_of(&run(
        &again,
        dir.path(),
        &["inventory", "findings", "--format", "json"],
    ));
    assert!(
        findings_again
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| f["rule_id"] == rule.as_str()
                && f["locations"].as_array().into_iter().flatten().any(|l| l
                    .as_str()
                    .is_some_and(|l| l.starts_with("file://ml-01/srv/app/")
                        && l.ends_with("rigged-model.pkl")))),
        "{findings_again:#}"
    );
}

//! `aigis detonate`: fixtures loaded with the real `pickle` loader in the bubblewrap sandbox,
//! observed by strace. What the payload attempts is reported (RUNTIME-EXEC, RUNTIME-CONNECT,
//! RUNTIME-FILE-WRITE, RUNTIME-CRASH) and nothing reaches the host.

use crate::support::{aigis_command, repo_root};
use serde_json::Value;

fn detonate(fixture: &str) -> (i32, Value) {
    let out = aigis_command()
        .args([
            "detonate",
            "--no-policy",
            "--format",
            "json",
            "--timeout",
            "60",
        ])
        .arg(repo_root().join("fixtures").join(fixture))
        .output()
        .unwrap_or_else(|e| panic!("cannot run aigis detonate: {e}"));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), doc)
}

/// (rule, severity, message) of the runtime findings.
fn runtime(doc: &Value) -> Vec<(String, String, String)> {
    doc["result"]["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| {
            f["rule_id"]
                .as_str()
                .is_some_and(|r| r.starts_with("RUNTIME-"))
        })
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("").to_owned();
            (s("rule_id"), s("severity"), s("message"))
        })
        .collect()
}

pub(crate) fn a_detonated_payload_is_seen_running_and_reaches_nothing() {
    // The payload touches this path on the host if it escapes the sandbox.
    let escaped = std::path::Path::new("/tmp/aigis-fixture-exec");
    let _ = std::fs::remove_file(escaped);
    let (code, doc) = detonate("pickle/builtins_exec.pkl");
    assert_eq!(code, 1, "{doc}");
    let found = runtime(&doc);
    assert!(
        found
            .iter()
            .any(|(rule, severity, message)| rule == "RUNTIME-EXEC"
                && severity == "critical"
                && message.contains("touch /tmp/aigis-fixture-exec")),
        "{found:?}"
    );
    assert!(!escaped.exists(), "the payload ran outside the sandbox");
    assert_eq!(doc["detonation"]["loader"], "pickle", "{doc}");

    let (_, doc) = detonate("pickle/socket_create_connection.pkl");
    let found = runtime(&doc);
    assert!(
        found
            .iter()
            .any(|(rule, severity, message)| rule == "RUNTIME-CONNECT"
                && severity == "critical"
                && message.contains("192.0.2.1:4444")),
        "{found:?}"
    );
    // No network in the sandbox: the connection fails, and so does the load.
    assert!(
        found
            .iter()
            .any(|(rule, _, message)| rule == "RUNTIME-CRASH"
                && message.contains("Network is unreachable")),
        "{found:?}"
    );

    let (_, doc) = detonate("pickle/builtins_open_write.pkl");
    let found = runtime(&doc);
    assert!(
        found
            .iter()
            .any(|(rule, _, message)| rule == "RUNTIME-FILE-WRITE"
                && message.contains("/tmp/aigis-fixture-open")),
        "{found:?}"
    );
}

pub(crate) fn a_detonated_clean_model_attempts_nothing() {
    let (code, doc) = detonate("pickle/plain_data_p4.pkl");
    assert_eq!(runtime(&doc), Vec::new(), "{doc}");
    assert_eq!(doc["detonation"]["exit"]["code"], 0, "{doc}");
    assert_eq!(code, 0, "{doc}");
}

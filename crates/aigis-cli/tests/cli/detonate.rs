//! `aigis detonate`: fixtures loaded with the real `pickle` loader in the bubblewrap sandbox,
//! observed by strace. What the payload attempts is reported (RUNTIME-EXEC, RUNTIME-CONNECT,
//! RUNTIME-FILE-WRITE, RUNTIME-CRASH) and nothing reaches the host.

use crate::support::{aigis_command, repo_root};
use serde_json::Value;

fn detonate(fixture: &str) -> (i32, Value) {
    let (code, doc, _) = detonate_with(fixture, &["--timeout", "60"]);
    (code, doc)
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

    // A new user namespace (a container escape's first step): refused by the seccomp filter.
    let (_, doc) = detonate("detonate/unshare_namespace.pkl");
    let found = runtime(&doc);
    assert!(
        found
            .iter()
            .any(|(rule, severity, message)| rule == "RUNTIME-SYSCALL-DENIED"
                && severity == "high"
                && message.contains("`unshare`")
                && message.contains("refused by the sandbox's seccomp filter")),
        "{found:?}"
    );

    // Landlock, where the kernel has it (asked of the kernel by python3, the test's own probe):
    // the loader may not write its own /proc entries, which the mounts allow.
    let (_, doc) = detonate("detonate/rename_process.pkl");
    if kernel_has_landlock() {
        assert_eq!(doc["detonation"]["landlock"], "fully enforced", "{doc}");
        let found = runtime(&doc);
        assert!(
            found
                .iter()
                .any(|(rule, _, message)| rule == "RUNTIME-CRASH"
                    && message.contains("Permission denied: '/proc/self/comm'")),
            "{found:?}"
        );
    } else {
        assert!(
            doc["detonation"]["landlock"]
                .as_str()
                .is_some_and(|s| s.starts_with("not enforced")),
            "{doc}"
        );
    }

    let (_, doc) = detonate("pickle/builtins_open_write.pkl");
    let found = runtime(&doc);
    assert!(
        found
            .iter()
            .any(|(rule, _, message)| rule == "RUNTIME-FILE-WRITE"
                && message.contains("/tmp/aigis-fixture-open")),
        "{found:?}"
    );

    // `aigis scan --detonate`: the same findings join the scan's results.
    let out = aigis_command()
        .args([
            "scan",
            "--no-policy",
            "--no-cache",
            "--format",
            "json",
            "--detonate",
        ])
        .arg(repo_root().join("fixtures/pickle/builtins_exec.pkl"))
        .arg(repo_root().join("fixtures/pickle/plain_data_p4.pkl"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let results = doc["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 2, "{doc}");
    for result in &results {
        let wrapped = serde_json::json!({ "result": result });
        let path = result["path"].as_str().unwrap_or("");
        let found = runtime(&wrapped);
        if path.ends_with("builtins_exec.pkl") {
            assert!(
                found.iter().any(|(rule, _, _)| rule == "RUNTIME-EXEC"),
                "{found:?}"
            );
        } else {
            assert!(found.is_empty(), "{path}: {found:?}");
        }
    }
    assert!(!escaped.exists(), "the payload ran outside the sandbox");
}

pub(crate) fn a_detonated_clean_model_attempts_nothing() {
    let (code, doc) = detonate("pickle/plain_data_p4.pkl");
    assert_eq!(runtime(&doc), Vec::new(), "{doc}");
    assert_eq!(doc["detonation"]["exit"]["code"], 0, "{doc}");
    assert_eq!(code, 0, "{doc}");
}

/// Processes on this host whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push(cmdline);
        }
    }
    found
}

/// `aigis detonate` on a fixture with extra arguments: exit code, JSON report, wall time.
fn detonate_with(fixture: &str, extra: &[&str]) -> (i32, Value, std::time::Duration) {
    let start = std::time::Instant::now();
    let out = aigis_command()
        .args(["detonate", "--no-policy", "--format", "json"])
        .args(extra)
        .arg(repo_root().join("fixtures").join(fixture))
        .output()
        .unwrap_or_else(|e| panic!("cannot run aigis detonate: {e}"));
    let took = start.elapsed();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), doc, took)
}

/// Containment: a payload that sleeps forever is killed at the time limit, one that leaves a
/// process behind has it torn down with the sandbox, one that asks for a terabyte is stopped by
/// the memory limit — and nothing of them is left running on the host.
pub(crate) fn the_sandbox_is_torn_down_whatever_the_payload_does() {
    let (_, doc, took) = detonate_with("detonate/sleep_forever.pkl", &["--timeout", "3"]);
    assert_eq!(doc["detonation"]["exit"]["kind"], "timed_out", "{doc}");
    assert!(
        runtime(&doc)
            .iter()
            .any(|(rule, _, message)| rule == "RUNTIME-CRASH" && message.contains("time limit")),
        "{doc}"
    );
    assert!(took < std::time::Duration::from_secs(20), "took {took:?}");
    eprintln!(
        "aigis detonate: sleep_forever killed after {} ms",
        took.as_millis()
    );

    let (_, doc, took) = detonate_with("detonate/linger_in_background.pkl", &["--timeout", "30"]);
    assert!(
        runtime(&doc)
            .iter()
            .any(|(rule, _, message)| rule == "RUNTIME-EXEC" && message.contains("sleep 3600")),
        "{doc}"
    );
    assert!(took < std::time::Duration::from_secs(20), "took {took:?}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let left = processes_with("sleep 3600");
    assert!(left.is_empty(), "left running on the host: {left:?}");
    eprintln!(
        "aigis detonate: linger_in_background in {} ms",
        took.as_millis()
    );

    let (_, doc, _) = detonate_with("detonate/fill_memory.pkl", &["--memory", "512"]);
    assert!(
        runtime(&doc)
            .iter()
            .any(|(rule, _, message)| rule == "RUNTIME-CRASH" && message.contains("MemoryError")),
        "{doc}"
    );
    // (Other tests' sandboxes may be running: only this fixture's count.)
    let left = processes_with("/tmp/aigis-model/fill_memory.pkl");
    assert!(left.is_empty(), "left running on the host: {left:?}");
}

/// The severity's rank (none 0 … critical 5).
fn rank(severity: &str) -> usize {
    ["none", "info", "low", "medium", "high", "critical"]
        .iter()
        .position(|s| *s == severity)
        .unwrap_or(0)
}

/// `aigis scan --detonate` over the pickle, joblib and NumPy fixtures with the real frameworks
/// (numpy, joblib, scikit-learn): every benign fixture loads and attempts nothing; every payload
/// of the joblib and NumPy fixtures is seen running; a name lookup is recorded by name; no load
/// does at run time what the static scan did not rate high; nothing reaches the host. The
/// static-versus-runtime table is printed (the closing note's comparison).
pub(crate) fn every_fixture_detonated_runtime_never_sees_what_static_missed() {
    let python = aigis_testkit::Tool::FrameworkPython.path();
    let fixtures = repo_root().join("fixtures");
    let started = std::time::Instant::now();
    let out = aigis_command()
        .args([
            "scan",
            "--no-policy",
            "--no-cache",
            "--format",
            "json",
            "--detonate",
            "--detonate-python",
        ])
        .arg(&python)
        .args(["pickle", "joblib", "numpy"].map(|d| fixtures.join(d)))
        .arg(fixtures.join("detonate/resolve_pool.pkl"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let elapsed = started.elapsed();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}; stderr: {}", String::from_utf8_lossy(&out.stderr)));
    let results = doc["results"].as_array().cloned().unwrap_or_default();
    assert!(results.len() > 100, "{}", results.len());
    let mut disagree = Vec::new();
    for result in &results {
        let path = result["path"].as_str().unwrap_or("");
        let shown = path.split("fixtures/").nth(1).unwrap_or(path);
        let findings = result["findings"].as_array().cloned().unwrap_or_default();
        let (runtime, static_): (Vec<&Value>, Vec<&Value>) = findings.iter().partition(|f| {
            f["rule_id"]
                .as_str()
                .is_some_and(|r| r.starts_with("RUNTIME-"))
        });
        let worst = |fs: &[&Value]| {
            fs.iter()
                .map(|f| rank(f["severity"].as_str().unwrap_or("")))
                .max()
                .unwrap_or(0)
        };
        let (s, r) = (worst(&static_), worst(&runtime));
        let rules: std::collections::BTreeSet<&str> = runtime
            .iter()
            .filter_map(|f| f["rule_id"].as_str())
            .collect();
        // Every file was detonated: none is left incomplete.
        assert!(result["incomplete"].is_null(), "{shown}: {result}");
        // What the load did at run time, the static scan had already rated high.
        assert!(r < 4 || s >= 4, "{shown}: runtime {rules:?} but static {s}");
        // A file the static scan calls benign loads cleanly and attempts nothing.
        if s <= 1 {
            assert!(runtime.is_empty(), "{shown}: {runtime:?}");
        }
        if (s >= 4) != (r >= 4) {
            disagree.push(format!("{shown}: static {s}, runtime {r} {rules:?}"));
        }
        let payload = (shown.starts_with("joblib/") || shown.starts_with("numpy/")) && s >= 4;
        if payload {
            assert!(rules.contains("RUNTIME-EXEC"), "{shown}: {rules:?}");
        }
        if shown == "detonate/resolve_pool.pkl" {
            let lookup = runtime.iter().any(|f| {
                f["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("`pool.minexmr.example` (DNS)"))
            });
            assert!(lookup, "{runtime:?}");
        }
    }
    eprintln!(
        "detonation sweep: {} files in {:.1} s; static and runtime disagree on {}:\n  {}",
        results.len(),
        elapsed.as_secs_f64(),
        disagree.len(),
        disagree.join("\n  ")
    );
    for marker in [
        "/tmp/aigis-fixture-joblib-array-then-payload",
        "/tmp/aigis-fixture-npy-object",
        "/tmp/aigis-fixture-npz-object",
        "/tmp/aigis-fixture-exec",
    ] {
        assert!(
            !std::path::Path::new(marker).exists(),
            "{marker}: a payload ran outside the sandbox"
        );
    }
}

/// Whether this kernel has Landlock (`landlock_create_ruleset` with the version flag answers).
fn kernel_has_landlock() -> bool {
    let probe = "import ctypes, sys\n\
                 libc = ctypes.CDLL(None)\n\
                 abi = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))\n\
                 sys.exit(0 if abi >= 1 else 1)\n";
    std::process::Command::new("python3")
        .args(["-c", probe])
        .status()
        .is_ok_and(|s| s.success())
}

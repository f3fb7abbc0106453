//! The JSON contract (`shared/CONTRACT.md`) and exit codes, on the bundled examples.

use crate::support::{aigis, repo_root, scan_json, temp_dir};
use serde_json::Value;

pub(crate) fn json_has_contract_fields_and_exit_code_reflects_threshold() {
    let examples = repo_root().join("examples");
    let (code, doc) = scan_json(&[&examples], &[]);
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["tool"]["name"], "aigis");
    let results = doc["results"].as_array().cloned().unwrap_or_default();
    assert!(results.len() >= 4);
    for result in &results {
        for key in [
            "path",
            "format",
            "size",
            "status",
            "max_severity",
            "findings",
        ] {
            assert!(!result[key].is_null(), "{key} missing in {result}");
        }
        assert_eq!(result["sha256"].as_str().map(str::len), Some(64));
    }
    assert_eq!(doc["summary"]["files"].as_u64(), Some(results.len() as u64));
    // The examples hold a malicious model: default threshold `high` fails the run.
    assert_eq!(code, 1);
    let (code, _) = scan_json(&[&examples], &["--fail-on", "critical", "--no-hash"]);
    assert_eq!(code, 1);
    let clean = examples.join("resnet-tiny.pt");
    let (code, doc) = scan_json(&[&clean], &["--no-hash"]);
    assert_eq!(code, 0, "{doc}");
    assert!(doc["results"][0]["sha256"].is_null());
}

pub(crate) fn usage_errors_exit_2() {
    let out = aigis(&["scan", "/definitely/not/here"]);
    assert_eq!(out.status.code(), Some(2));
    let out = aigis(&["scan", "--fail-on", "severe", "."]);
    assert_eq!(out.status.code(), Some(2));
}

pub(crate) fn terminal_report_lists_verdict_and_summary() {
    let examples = repo_root().join("examples");
    let out = aigis(&["scan", &examples.to_string_lossy()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("MALICIOUS"), "{text}");
    assert!(text.contains("files scanned"), "{text}");
    assert!(
        !text.contains("\x1b["),
        "no colour when stdout is not a terminal"
    );
}

pub(crate) fn allow_global_turns_a_class_finding_off() {
    let fixture = repo_root().join("fixtures/torch/whole_model_main_class.pt");
    if !fixture.exists() {
        panic!("fixture missing: {}", fixture.display());
    }
    let (_, doc) = scan_json(&[&fixture], &["--no-hash"]);
    let classes: Vec<String> = doc["results"][0]["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["rule_id"] == "PICKLE-CLASS-UNKNOWN")
        .filter_map(|f| f["message"].as_str().map(str::to_string))
        .collect();
    assert!(!classes.is_empty(), "{doc}");
    let (_, allowed) = scan_json(&[&fixture], &["--no-hash", "--allow-global", "__main__.*"]);
    let still: Vec<&Value> = allowed["results"][0]["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["rule_id"] == "PICKLE-CLASS-UNKNOWN")
        .collect();
    assert!(still.is_empty(), "{allowed}");
}

pub(crate) fn time_limit_reports_error_and_scan_goes_on() {
    let slow = repo_root().join("fixtures/pickle/big_memo_10k.pkl");
    let quick = repo_root().join("fixtures/pickle/os_system_p2.pkl");
    let (code, doc) = scan_json(&[&slow, &quick], &["--time-limit", "0", "--no-hash"]);
    let results = doc["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 2, "{doc}");
    let slow_result = results.iter().find(|r| {
        r["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("big_memo_10k.pkl"))
    });
    let slow_result = slow_result.unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(slow_result["status"], "error", "{slow_result}");
    assert!(
        slow_result["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| f["rule_id"] == "TIME-LIMIT")
    );
    // The small payload file is below the check interval and still gets its verdict.
    let quick_result = results.iter().find(|r| {
        r["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("os_system_p2.pkl"))
    });
    assert_eq!(
        quick_result.map(|r| r["max_severity"].clone()),
        Some(Value::from("critical"))
    );
    assert_eq!(code, 1);
}

/// Strings from files — here a file name carrying terminal escape sequences and a newline that
/// would forge a `CLEAN` line — are printed escaped, piped or on a terminal; colours come only
/// on a terminal, and never with `NO_COLOR`.
pub(crate) fn content_never_reaches_the_terminal_raw() {
    let dir = temp_dir();
    let hostile = "evil\u{1b}]0;pwned\u{7}\u{1b}[2J\nCLEAN     ok.pkl (pickle)\r.pkl";
    let model = dir.path().join(hostile);
    std::fs::copy(repo_root().join("fixtures/pickle/os_system_p2.pkl"), &model)
        .unwrap_or_else(|e| panic!("{e}"));
    let target = dir.path().to_string_lossy().into_owned();
    // `on_terminal`: the output went to a pseudo-terminal, where the progress bar redraws its
    // line with `\r` (the content never does); `colours`: colour codes may appear.
    let check = |out: &[u8], on_terminal: bool, colours: bool, shows_name: bool| {
        let text = String::from_utf8_lossy(out);
        assert!(
            !text.contains("\u{1b}]0;") && !text.contains("\u{1b}[2J"),
            "{text:?}"
        );
        assert!(!text.contains('\u{7}'), "{text:?}");
        assert!(on_terminal || !text.contains('\r'), "{text:?}");
        assert!(
            !text.split(['\n', '\r']).any(|l| l.starts_with("CLEAN")),
            "a file name forged a line: {text:?}"
        );
        if shows_name {
            assert!(text.contains("\\x1b]0;pwned"), "{text:?}");
        }
        // Colour codes end with a reset; the progress bar's cursor moves are no colour.
        assert_eq!(text.contains("\u{1b}[0m"), colours, "{text:?}");
    };
    let piped = aigis(&["scan", "--no-cache", "--no-policy", &target]);
    assert_eq!(piped.status.code(), Some(1));
    check(&piped.stdout, false, false, true);
    check(&piped.stderr, false, false, false);
    let discover = aigis(&["discover", &target]);
    check(&discover.stdout, false, false, true);
    // On a terminal (a pseudo-terminal from `script`), with and without NO_COLOR.
    let bin = env!("CARGO_BIN_EXE_aigis");
    for (no_color, colours) in [(false, true), (true, false)] {
        let mut cmd = std::process::Command::new("script");
        cmd.args([
            "-qec",
            &format!("'{bin}' scan --no-cache --no-policy '{target}'"),
            "/dev/null",
        ]);
        cmd.env("XDG_CACHE_HOME", dir.path().join("cache"));
        if no_color {
            cmd.env("NO_COLOR", "1");
        } else {
            cmd.env_remove("NO_COLOR");
        }
        let out = cmd.output().unwrap_or_else(|e| panic!("script: {e}"));
        let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
        check(text.as_bytes(), true, colours, true);
    }
}

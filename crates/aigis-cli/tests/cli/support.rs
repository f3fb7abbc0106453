//! Helpers: run the binary, parse its JSON, locate the repository's fixtures.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

pub use aigis_testkit::repo_root;

/// A fresh temporary folder for one test.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("aigis-test-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap_or_else(|err| panic!("temp dir: {err}"))
}

/// The `aigis` command, with its default result cache inside the target folder (tests never
/// touch the user's cache) and the shipped advisory database (never one the user installed).
pub fn aigis_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aigis"));
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    cmd.env("XDG_CACHE_HOME", tmp.join("xdg-cache"));
    cmd.env("XDG_DATA_HOME", tmp.join("xdg-data"));
    cmd.env_remove("AIGIS_DB");
    cmd.env(
        "AIGIS_ADVISORY_DB",
        tmp.join("no-installed-advisory-db.json"),
    );
    cmd
}

/// Runs `aigis` with `args`.
pub fn aigis(args: &[&str]) -> Output {
    aigis_command()
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("cannot run aigis: {err}"))
}

/// Runs `aigis scan --format json` on `paths` and returns (exit code, document).
pub fn scan_json(paths: &[&Path], extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["scan", "--format", "json"];
    args.extend_from_slice(extra);
    let owned: Vec<String> = paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    args.extend(owned.iter().map(String::as_str));
    let out = aigis(&args);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| {
        panic!(
            "stdout is not JSON ({err}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), doc)
}

/// All findings' messages and locations of a result, joined, for substring assertions.
pub fn finding_text(result: &Value) -> String {
    result["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            format!(
                "{} | {} | {}",
                f["rule_id"].as_str().unwrap_or(""),
                f["message"].as_str().unwrap_or(""),
                f["location"].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

//! `aigis inspect`: the program a pickle runs, the objects a config instantiates and the members
//! of an archive, each with its verdicts, as text and JSON — from the same run as `scan`.

use crate::support::{aigis, repo_root, temp_dir};
use serde_json::Value;

fn inspect_json(path: &std::path::Path) -> Value {
    let out = aigis(&["inspect", "--format", "json", &path.to_string_lossy()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn steps(program: &Value) -> Vec<(u64, String, String)> {
    program["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .map(|s| {
                    (
                        s["offset"].as_u64().unwrap_or(u64::MAX),
                        s["kind"].as_str().unwrap_or_default().to_owned(),
                        s["text"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn a_pickle_is_shown_as_the_program_it_runs() {
    let path = repo_root().join("examples/rigged-model.pkl");
    let doc = inspect_json(&path);
    let file = &doc["files"][0];
    assert_eq!(file["format"], "pickle");
    let program = &file["programs"][0];
    assert_eq!(program["language"], "pickle");
    let got = steps(program);
    // pickletools.dis of the example: GLOBAL 'posix system' at 123, REDUCE at 151, STOP at 154.
    assert_eq!(
        got.first(),
        Some(&(
            123,
            "import".to_owned(),
            "from posix import system".to_owned()
        ))
    );
    assert!(
        got.contains(&(
            151,
            "call".to_owned(),
            "posix.system('touch /tmp/aigis-demo')".to_owned()
        )),
        "{got:?}"
    );
    assert_eq!(got.last().map(|s| s.1.as_str()), Some("result"));
    // Text: the call at its offset, its finding right under it.
    let out = aigis(&["inspect", &path.to_string_lossy()]);
    let text = String::from_utf8_lossy(&out.stdout);
    let call = text
        .lines()
        .position(|l| l.trim() == "@151  posix.system('touch /tmp/aigis-demo')")
        .unwrap_or_else(|| panic!("{text}"));
    let under = text.lines().nth(call + 1).unwrap_or_default();
    assert!(under.contains("^ critical PICKLE-CALL-DANGEROUS"), "{text}");
    // A scan of the same file carries no program: tracing is inspect's alone.
    let out = aigis(&[
        "scan",
        "--no-cache",
        "--format",
        "json",
        &path.to_string_lossy(),
    ]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("\"programs\""));
}

pub(crate) fn an_archive_lists_its_members_with_verdicts_and_every_pickle_program() {
    let doc = inspect_json(&repo_root().join("examples/checkpoint.bin"));
    let file = &doc["files"][0];
    let members = file["members"].as_array().cloned().unwrap_or_default();
    let severity = |name: &str| {
        members
            .iter()
            .find(|m| m["name"] == name)
            .map(|m| m["max_severity"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(
        severity("checkpoint/extra/config.json").as_deref(),
        Some("critical")
    );
    assert_eq!(severity("checkpoint/data.pkl").as_deref(), Some("info"));
    assert_eq!(severity("checkpoint/data/0").as_deref(), Some("none"));
    let programs = file["programs"].as_array().cloned().unwrap_or_default();
    let at = |member: &str| {
        programs
            .iter()
            .find(|p| p["location"] == member)
            .map(steps)
            .unwrap_or_default()
    };
    let data = at("checkpoint/data.pkl");
    assert!(
        data.iter().any(|s| s.1 == "persistent-load"
            && s.2 == "persistent_load(('storage', torch.FloatStorage, '0', 'cpu', 64))"),
        "{data:?}"
    );
    assert!(
        data.iter()
            .any(|s| s.1 == "call" && s.2.starts_with("torch._utils._rebuild_tensor_v2(")),
        "{data:?}"
    );
    let hidden = at("checkpoint/extra/config.json");
    assert!(
        hidden
            .iter()
            .any(|s| s.1 == "call" && s.2 == "posix.system('touch /tmp/aigis-demo')"),
        "{hidden:?}"
    );
}

pub(crate) fn a_config_is_shown_as_the_objects_it_instantiates() {
    let doc = inspect_json(&repo_root().join("fixtures/config/hydra_file_handler.yaml"));
    let program = &doc["files"][0]["programs"][0];
    assert_eq!(program["language"], "config");
    let got = steps(program);
    assert!(
        got.iter()
            .any(|s| s.1 == "instantiate" && s.2.starts_with("model = logging.FileHandler(")),
        "{got:?}"
    );
    let doc = inspect_json(&repo_root().join("fixtures/config/keras_benign_utf16.keras"));
    let file = &doc["files"][0];
    let program = &file["programs"][0];
    assert_eq!(program["location"], "config.json");
    let got = steps(program);
    assert!(
        got.iter().any(|s| s.2.contains("keras.layers.Dense")),
        "{got:?}"
    );
    assert_eq!(file["max_severity"], "none");
}

pub(crate) fn what_a_pickle_says_cannot_drive_the_terminal() {
    let dir = temp_dir();
    let path = dir.path().join("model.pkl");
    // os.system('\x1b[2J\x1b]0;pwned\x07ok'): escape sequences inside a constant.
    std::fs::write(&path, b"cos\nsystem\n(S'\\x1b[2J\\x1b]0;pwned\\x07ok'\ntR.")
        .expect("write fixture");
    // And a file name that would forge a line of the report.
    let forged = dir.path().join("a.pkl\n\x1b[32mCLEAN b.pkl");
    std::fs::copy(&path, &forged).expect("copy fixture");
    let out = aigis(&["inspect", &dir.path().to_string_lossy()]);
    assert!(!out.stdout.contains(&0x1b), "{:?}", out.stdout);
    assert!(String::from_utf8_lossy(&out.stdout).contains("a.pkl\\n\\x1b[32mCLEAN b.pkl"));
    assert!(!out.stdout.contains(&0x07));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("os.system('\\\\x1b[2J"), "{text}");
}

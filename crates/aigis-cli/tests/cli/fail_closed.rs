//! The run fails closed: nothing the scanned content supplies weakens the verdict, and nothing
//! that was not scanned passes.

use crate::support::{aigis_command, finding_text, repo_root, temp_dir};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

fn evil() -> std::path::PathBuf {
    repo_root().join("fixtures/pickle/os_system_p2.pkl")
}

fn copy(from: &Path, to: &Path) {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
}

/// `aigis scan --format json ARGS` run from `cwd`.
fn scan_in(cwd: &Path, args: &[&str]) -> (i32, Value, Output) {
    let out = aigis_command()
        .current_dir(cwd)
        .args(["scan", "--format", "json", "--no-cache"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), doc, out)
}

fn all_text(doc: &Value) -> String {
    doc["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| format!("{}\n{}\n", r["path"], finding_text(r)))
        .collect()
}

/// Every kind of policy a downloaded folder could ship to talk aigis out of its verdict — allow
/// the payload's global, exclude it, suppress or downgrade its rule, raise the threshold — is
/// not applied, and is reported where it sits.
pub(crate) fn a_policy_inside_the_scanned_content_is_not_applied() {
    let planted = [
        "allow_globals = [\"posix.*\", \"os.*\", \"builtins.*\"]\n",
        "exclude = [\"*.bin\", \"**\"]\n",
        "[[suppress]]\nrule = \"PICKLE-CALL-DANGEROUS\"\nreason = \"trust me\"\n",
        "[severity]\nPICKLE-CALL-DANGEROUS = \"info\"\n",
        "fail_on = \"critical\"\n[severity]\nPICKLE-CALL-DANGEROUS = \"high\"\n",
    ];
    let cwd = temp_dir();
    for text in planted {
        let download = temp_dir();
        let model = download.path().join("model");
        copy(&evil(), &model.join("pytorch_model.bin"));
        std::fs::write(model.join("aigis.toml"), text).unwrap_or_else(|e| panic!("{e}"));
        let target = model.to_string_lossy().into_owned();
        let (code, doc, _) = scan_in(cwd.path(), &[&target]);
        assert_eq!(code, 1, "planted {text:?} weakened the verdict: {doc}");
        let text_all = all_text(&doc);
        assert!(text_all.contains("PICKLE-CALL-DANGEROUS"), "{text_all}");
        assert!(
            text_all.contains("CONFIG-NOT-APPLIED") && text_all.contains("aigis.toml"),
            "the planted policy is not reported: {text_all}"
        );
        assert!(doc["policy"].is_null(), "{doc}");
    }
}

/// An `.aigisignore` that came with the content is not obeyed (and is reported); one of the
/// operator's own project, or named with `--ignore-file`, is — and the skipped count says so.
pub(crate) fn ignore_files_are_obeyed_only_from_the_operator() {
    let download = temp_dir();
    let model = download.path().join("model");
    copy(&evil(), &model.join("pytorch_model.bin"));
    std::fs::write(model.join(".aigisignore"), "*.bin\n").unwrap_or_else(|e| panic!("{e}"));
    let target = model.to_string_lossy().into_owned();
    let elsewhere = temp_dir();
    let (code, doc, _) = scan_in(elsewhere.path(), &[&target]);
    assert_eq!(code, 1, "a planted .aigisignore hid the payload: {doc}");
    assert!(all_text(&doc).contains("CONFIG-NOT-APPLIED"), "{doc}");

    // The operator's own: run from the project that holds it.
    let (code, doc, _) = scan_in(download.path(), &["model"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["summary"]["ignored"], 1, "{doc}");
    assert!(!all_text(&doc).contains("CONFIG-NOT-APPLIED"), "{doc}");

    // Or named on the command line.
    let ignore = elsewhere.path().join("team.ignore");
    std::fs::write(&ignore, "pytorch_model.bin\n").unwrap_or_else(|e| panic!("{e}"));
    let (code, doc, _) = scan_in(
        elsewhere.path(),
        &["--ignore-file", &ignore.to_string_lossy(), &target],
    );
    assert_eq!(
        code, 1,
        "--ignore-file covers only paths below its own folder: {doc}"
    );
    let ignore = model.join("team.ignore");
    std::fs::write(&ignore, "pytorch_model.bin\n").unwrap_or_else(|e| panic!("{e}"));
    let (code, doc, _) = scan_in(
        elsewhere.path(),
        &["--ignore-file", &ignore.to_string_lossy(), &target],
    );
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["summary"]["ignored"], 1, "{doc}");
}

/// `snapshot_download()` returns a folder of links into `../../blobs/`: scanned like any folder
/// (the hub cache's own links are no escape), and `discover` lists the model with its provenance.
pub(crate) fn a_hugging_face_snapshot_folder_is_scanned_through_its_links() {
    let cache = temp_dir();
    let repo = cache.path().join("hub/models--evil-org--tiny");
    let blob = repo.join("blobs/0123456789abcdef0123456789abcdef01234567");
    copy(&evil(), &blob);
    let rev = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
    let snapshot = repo.join("snapshots").join(rev);
    std::fs::create_dir_all(&snapshot).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(
        "../../blobs/0123456789abcdef0123456789abcdef01234567",
        snapshot.join("pytorch_model.bin"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(repo.join("refs")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(repo.join("refs/main"), rev).unwrap_or_else(|e| panic!("{e}"));
    let target = snapshot.to_string_lossy().into_owned();
    let (code, doc, _) = scan_in(cache.path(), &["--no-policy", &target]);
    assert_eq!(code, 1, "{doc}");
    let result = &doc["results"][0];
    assert_eq!(result["max_severity"], "critical", "{doc}");
    assert!(
        !finding_text(result).contains("HOST-SYMLINK-ESCAPE"),
        "{doc}"
    );
    let out = aigis_command()
        .args(["discover", "--scan", "--format", "json", &target])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let inv: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let model = &inv["models"][0];
    assert_eq!(model["provenance"]["name"], "evil-org/tiny", "{inv}");
    assert_eq!(model["max_severity"], "critical", "{inv}");
}

/// What could not be read — a FIFO, a device, a link loop, a broken link — is a result that
/// fails the run (exit 3) unless the operator allows it; a FIFO never blocks the scan.
pub(crate) fn what_was_not_scanned_fails_the_run() {
    let dir = temp_dir();
    let tree = dir.path().join("tree");
    copy(
        &repo_root().join("fixtures/safetensors/good_single.safetensors"),
        &tree.join("ok.safetensors"),
    );
    let fifo = tree.join("pipe.pkl");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap_or_else(|e| panic!("mkfifo: {e}"));
    assert!(made.success());
    std::os::unix::fs::symlink(&tree, tree.join("loop")).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(tree.join("gone.pt"), tree.join("broken.pt"))
        .unwrap_or_else(|e| panic!("{e}"));
    let target = tree.to_string_lossy().into_owned();
    let (code, doc, _) = scan_in(dir.path(), &["--no-policy", &target]);
    assert_eq!(code, 3, "{doc}");
    let not_scanned: Vec<&str> = doc["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["incomplete"].is_string())
        .filter_map(|r| r["path"].as_str())
        .collect();
    for name in ["pipe.pkl", "loop", "broken.pt"] {
        assert!(
            not_scanned.iter().any(|p| p.ends_with(name)),
            "{name} not reported as not scanned: {doc}"
        );
    }
    assert_eq!(doc["summary"]["incomplete"], 3, "{doc}");
    let (code, _, _) = scan_in(dir.path(), &["--no-policy", "--allow-incomplete", &target]);
    assert_eq!(code, 0);
    let policy = dir.path().join("aigis.toml");
    std::fs::write(&policy, "on_incomplete = \"warn\"\n").unwrap_or_else(|e| panic!("{e}"));
    let (code, _, _) = scan_in(dir.path(), &[&target]);
    assert_eq!(code, 0, "policy on_incomplete = warn");
    std::fs::remove_file(&policy).unwrap_or_else(|e| panic!("{e}"));

    // Named directly: a FIFO (process substitution is one) and a device.
    for special in [fifo.to_string_lossy().into_owned(), "/dev/zero".to_string()] {
        let started = std::time::Instant::now();
        let (code, doc, _) = scan_in(dir.path(), &["--no-policy", &special]);
        assert!(
            started.elapsed().as_secs() < 10,
            "{special} blocked the scan"
        );
        assert_eq!(code, 3, "{special}: {doc}");
        assert_eq!(doc["results"][0]["status"], "error", "{doc}");
        assert!(
            finding_text(&doc["results"][0]).contains("not a regular file"),
            "{doc}"
        );
    }
}

/// Analysis comes first and hashing has its own budget: a payload at the start of a 1 TB
/// (sparse) file is found within the time limit, and the missing hash says why.
pub(crate) fn a_huge_file_is_analysed_before_it_is_hashed() {
    let dir = temp_dir();
    let huge = dir.path().join("huge.pkl");
    copy(&evil(), &huge);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&huge)
        .and_then(|f| f.set_len(1 << 40))
        .unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let target = huge.to_string_lossy().into_owned();
    let (code, doc, _) = scan_in(dir.path(), &["--no-policy", "--time-limit", "2", &target]);
    let elapsed = started.elapsed().as_secs_f64();
    assert!(elapsed < 8.0, "{elapsed} s");
    assert_eq!(code, 1, "{doc}");
    let result = &doc["results"][0];
    assert_eq!(result["max_severity"], "critical", "{doc}");
    assert!(result["sha256"].is_null(), "{doc}");
    assert!(
        result["hash_skipped"]
            .as_str()
            .is_some_and(|s| s.contains("not hashed")),
        "{doc}"
    );
}

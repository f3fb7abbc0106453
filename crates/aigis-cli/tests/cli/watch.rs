//! `aigis watch` on a real folder with real kernel events: files that land by atomic rename (as
//! the Hugging Face hub writes them), files written slowly in pieces, a new folder tree, and the
//! watched folder deleted and made again.

use crate::support::{aigis_command, repo_root, temp_dir};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

/// The watch's JSON lines, read on a thread so a test can wait with a timeout.
fn lines(child: &mut Child) -> Receiver<Value> {
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            if tx.send(value).is_err() {
                break;
            }
        }
    });
    rx
}

fn next(rx: &Receiver<Value>, child: &mut Child, what: &str) -> Value {
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(v) => v,
        Err(_) => {
            let _ = child.kill();
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                use std::io::Read;
                let _ = stderr.read_to_string(&mut err);
            }
            panic!("no result for {what} within 30 s; stderr: {err}")
        }
    }
}

fn settle() {
    std::thread::sleep(Duration::from_millis(1200));
}

fn fixture(name: &str) -> Vec<u8> {
    let path = repo_root().join("fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn file_name(result: &Value) -> String {
    let path = result["path"].as_str().unwrap_or("");
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub(crate) fn files_are_scanned_once_when_complete_and_the_folder_may_come_and_go() {
    let dir = temp_dir();
    let root = dir.path().join("models");
    std::fs::create_dir_all(&root).unwrap_or_else(|e| panic!("{e}"));
    let mut child = aigis_command()
        .args([
            "watch",
            "--no-policy",
            "--no-cache",
            "--settle",
            "1000",
            "--count",
            "4",
        ])
        .arg(&root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run aigis watch: {e}"));
    let rx = lines(&mut child);
    settle();

    // A hub-style download: written in two pieces under a temporary name, then renamed.
    let evil = fixture("pickle/builtins_exec.pkl");
    let partial = root.join("evil.pkl.incomplete");
    let mut f = std::fs::File::create(&partial).unwrap_or_else(|e| panic!("{e}"));
    f.write_all(&evil[..evil.len() / 2])
        .unwrap_or_else(|e| panic!("{e}"));
    f.flush().unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(500));
    f.write_all(&evil[evil.len() / 2..])
        .unwrap_or_else(|e| panic!("{e}"));
    drop(f);
    std::fs::rename(&partial, root.join("evil.pkl")).unwrap_or_else(|e| panic!("{e}"));
    let first = next(&rx, &mut child, "the renamed download");
    assert_eq!(file_name(&first), "evil.pkl", "{first}");
    assert_eq!(first["max_severity"], "critical", "{first}");
    assert_eq!(first["alert"], true, "{first}");
    assert_eq!(first["event"], "scanned", "{first}");

    // Written in place, in pieces closer together than the settle time: scanned once, whole.
    let benign = fixture("safetensors/good_mixed.safetensors");
    let slow = root.join("nested/deeper/slow.safetensors");
    std::fs::create_dir_all(slow.parent().unwrap_or(&root)).unwrap_or_else(|e| panic!("{e}"));
    let mut f = std::fs::File::create(&slow).unwrap_or_else(|e| panic!("{e}"));
    for piece in benign.chunks(benign.len().div_ceil(3)) {
        f.write_all(piece).unwrap_or_else(|e| panic!("{e}"));
        f.flush().unwrap_or_else(|e| panic!("{e}"));
        std::thread::sleep(Duration::from_millis(120));
    }
    drop(f);
    let second = next(&rx, &mut child, "the slowly written file");
    assert_eq!(file_name(&second), "slow.safetensors", "{second}");
    assert_eq!(second["status"], "ok", "{second}");
    assert_eq!(second["size"], benign.len(), "{second}");
    assert_eq!(second["alert"], false, "{second}");

    // The watched folder deleted and made again, with a model copied in: still watched.
    std::fs::remove_dir_all(&root).unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(1500));
    std::fs::create_dir_all(&root).unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(1500));
    std::fs::write(root.join("again.pkl"), &evil).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(root.join("notes.pkl.part"), &evil).unwrap_or_else(|e| panic!("{e}"));
    let third = next(&rx, &mut child, "a file in the folder made again");
    assert_eq!(file_name(&third), "again.pkl", "{third}");
    assert_eq!(third["max_severity"], "critical", "{third}");

    // The temporary name never produced a result; the slow file was scanned once.
    std::fs::rename(root.join("notes.pkl.part"), root.join("notes.pkl"))
        .unwrap_or_else(|e| panic!("{e}"));
    let fourth = next(&rx, &mut child, "the renamed part file");
    assert_eq!(file_name(&fourth), "notes.pkl", "{fourth}");
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.code(), Some(1), "alerts make the exit code 1");
}

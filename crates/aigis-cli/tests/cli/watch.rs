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

/// `aigis watch --no-policy --no-cache EXTRA… ROOT`, its output piped.
fn spawn_watch(extra: &[&str], root: &Path) -> Child {
    aigis_command()
        .args(["watch", "--no-policy", "--no-cache"])
        .args(extra)
        .arg(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run aigis watch: {e}"))
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
    let mut child = spawn_watch(&["--settle", "1000", "--count", "4"], &root);
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

/// CPU ticks (user + system) the process has used, from `/proc/PID/stat`.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// Latency from a rename into place to the JSON line (what an alert waits for), over twenty
/// small pickles, and the CPU an idle watch uses. Printed for the closing notes; the bounds
/// asserted are loose enough for a loaded CI machine.
pub(crate) fn a_finished_file_is_reported_quickly_and_an_idle_watch_costs_nothing() {
    const FILES: usize = 20;
    let dir = temp_dir();
    let root = dir.path().join("models");
    std::fs::create_dir_all(&root).unwrap_or_else(|e| panic!("{e}"));
    let mut child = spawn_watch(&["--count", &FILES.to_string()], &root);
    let rx = lines(&mut child);
    std::thread::sleep(Duration::from_millis(1000));
    let before = cpu_ticks(child.id());
    std::thread::sleep(Duration::from_secs(2));
    let idle = cpu_ticks(child.id()).saturating_sub(before);
    let evil = fixture("pickle/os_system_p4.pkl");
    let mut latencies = Vec::new();
    for i in 0..FILES {
        let staged = root.join(format!("m{i}.pkl.incomplete"));
        std::fs::write(&staged, &evil).unwrap_or_else(|e| panic!("{e}"));
        let start = std::time::Instant::now();
        std::fs::rename(&staged, root.join(format!("m{i}.pkl"))).unwrap_or_else(|e| panic!("{e}"));
        let result = next(&rx, &mut child, "a renamed pickle");
        latencies.push(start.elapsed());
        assert_eq!(result["alert"], true, "{result}");
    }
    latencies.sort();
    let p50 = latencies[FILES / 2];
    let p95 = latencies[FILES * 95 / 100 - 1];
    eprintln!(
        "aigis watch: rename → alert p50 {} ms, p95 {} ms over {FILES} pickles; idle CPU {idle} ticks in 2 s",
        p50.as_millis(),
        p95.as_millis()
    );
    assert!(p95 < Duration::from_secs(2), "p95 {p95:?}");
    assert!(idle <= 10, "an idle watch used {idle} CPU ticks in 2 s");
    let _ = child.wait();
}

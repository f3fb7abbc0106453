//! Replays every input that a fuzzer once found (`fuzz/regressions/`) and every project fixture
//! through the full pipeline: each must finish without panicking, within its limits, and give the
//! same result twice.

use aigis_scan::{MemorySource, ScanOptions, Scanner};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else if path.extension().is_none_or(|e| e != "md") {
            out.push(path);
        }
    }
}

#[test]
fn fuzz_regressions_and_fixtures_are_deterministic_and_bounded() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    files_under(&root.join("fuzz/regressions"), &mut files);
    files_under(&root.join("fixtures"), &mut files);
    assert!(
        files.len() > 50,
        "fixtures not found under {}",
        root.display()
    );
    let scanner = Scanner::new(ScanOptions {
        hash: false,
        ..ScanOptions::default()
    });
    for path in files {
        let bytes = std::fs::read(&path).unwrap_or_default();
        let source = MemorySource::new(bytes);
        let started = Instant::now();
        let first = scanner.scan_source(path.display().to_string(), &source);
        let elapsed = started.elapsed();
        let second = scanner.scan_source(path.display().to_string(), &source);
        assert!(
            elapsed < Duration::from_secs(10),
            "{} took {elapsed:?}",
            path.display()
        );
        assert_eq!(
            serde_json::to_string(&first).ok(),
            serde_json::to_string(&second).ok(),
            "{} is not deterministic",
            path.display()
        );
    }
}

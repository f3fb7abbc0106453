//! Replays every input that a fuzzer once found (`fuzz/regressions/<target>/`) through the target
//! that found it, and every project fixture through the full pipeline: each must finish without
//! panicking, within its limits, and give the same result twice.

use aigis_scan::{MemorySource, ScanOptions, Scanner};
use std::path::Path;
use std::time::{Duration, Instant};

#[test]
fn fuzz_regressions_replay_through_the_target_that_found_them() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions");
    let mut replayed = 0;
    for dir in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        let target = dir.file_name().to_string_lossy().into_owned();
        if !dir.path().is_dir() || target == "image" {
            // `image` is the engine's target; its inputs replay in `aigis-engine`'s tests.
            continue;
        }
        for file in aigis_testkit::files_under(&dir.path()) {
            let data = std::fs::read(&file).unwrap_or_default();
            let started = Instant::now();
            assert!(
                aigis_scan::fuzzing::run(&target, &data),
                "fuzz/regressions/{target}: no fuzz target of that name"
            );
            let elapsed = started.elapsed();
            assert!(
                elapsed < Duration::from_secs(10),
                "{}: {elapsed:?}",
                file.display()
            );
            replayed += 1;
        }
    }
    assert!(
        replayed >= 4,
        "only {replayed} regression inputs under {}",
        root.display()
    );
}

#[test]
fn fixtures_are_deterministic_and_bounded() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let files = aigis_testkit::files_under(&root.join("fixtures"));
    assert!(
        files.len() > 50,
        "fixtures not found under {}",
        root.display()
    );
    let options = ScanOptions {
        hash: false,
        ..ScanOptions::default()
    };
    // Bounded means bounded by the scanner's own deadline, not by a wall-clock guess: a debug
    // build on a busy CI machine is slow, and speed is measured by `scripts/bench`, not here.
    let bound = options.analysis.limits.time_limit + Duration::from_secs(5);
    let scanner = Scanner::new(options);
    for path in files {
        let bytes = std::fs::read(&path).unwrap_or_default();
        let source = MemorySource::new(bytes);
        let started = Instant::now();
        let first = scanner.scan_source(path.display().to_string(), &source);
        let elapsed = started.elapsed();
        let second = scanner.scan_source(path.display().to_string(), &source);
        assert!(
            elapsed < bound,
            "{} took {elapsed:?}, past the time limit",
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
